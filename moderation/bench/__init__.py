"""Benchmarks for `manage.py bench`: one sibling module per benchmark.

Each module has `run(context) -> list[Result]` and a one-line docstring. Add a benchmark by
writing the module and naming it in BENCHMARKS; `--only a,b,c` picks among them. The shared
pieces (a gunicorn on loopback, load generators, results) are in `moderation.bench.common`.
"""

BENCHMARKS = {
    "bancheck": "moderation.bench.bancheck",
    # Planned by others: "throughput", "click", "expiry", "history", "memory".
}

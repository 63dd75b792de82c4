"""Benchmarks for `manage.py bench`: one sibling module per benchmark.

Each module has `run(context) -> list[Result]` and a one-line docstring. Add a benchmark by
writing the module and naming it in BENCHMARKS; `--only a,b,c` picks among them. The shared
pieces (a gunicorn on loopback, load generators, results, and the run's `Stack` of real
processes: emulator, RQ workers, web server) are in `bench.common`. A module names
what it uses of the Stack in STACK; whatever else runs is stopped before it starts.
"""

BENCHMARKS = {
    "throughput": "bench.throughput",
    "click": "bench.click",
    "interactive": "bench.interactive",
    "expiry": "bench.expiry",
    "history": "bench.history",
    "bans_list": "bench.bans_list",
    "room": "bench.room",
    "bancheck": "bench.bancheck",
    "memory": "bench.memory",  # last: its peaks cover the whole run
}

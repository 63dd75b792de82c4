"""`manage.py bench [--only a,b] [--duration S] [--bans N]`: run benchmarks, print and keep
their figures.

Prints one line per figure, `name: value unit (target ...)`, and merges the figures into
var/bench/latest.json (or --output), keeping the keys other benchmarks wrote. Benchmarks live in
bench/, one module each (see bench.BENCHMARKS). They run in a database and
a Redis database of their own (see bench.common.bench_environment), or with
--in-place in the configured ones, removing what they made.
"""

import importlib
import math
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bench import BENCHMARKS
from bench.common import Context, bench_environment, merge_results

MAX_DURATION = 600.0
MIN_BANS, MAX_BANS = 10, 10_000_000


class Command(BaseCommand):
    help = "Run benchmarks on this machine (loopback only) and record their figures."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            default=",".join(BENCHMARKS),
            help=f"Comma-separated benchmarks to run, of: {', '.join(BENCHMARKS)}.",
        )
        parser.add_argument(
            "--duration",
            type=float,
            default=20.0,
            help="Seconds per measured phase (default 20; shorter for a quick look).",
        )
        parser.add_argument(
            "--output",
            type=Path,
            help="JSON file to merge the figures into (default: var/bench/latest.json).",
        )
        parser.add_argument(
            "--bans",
            type=int,
            default=1_000_000,
            help="Bans in the history benchmark's large table (default 1000000).",
        )
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="Use the configured database and Redis as they are, instead of a database "
            "<name>_bench and Redis database 12 made for the run (the test suite does).",
        )

    def handle(self, *args, only, duration, output, bans, in_place, **options):
        names = [name.strip() for name in only.split(",") if name.strip()]
        unknown = [name for name in names if name not in BENCHMARKS]
        if unknown or not names:
            raise CommandError(
                f"--only: unknown benchmark {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(BENCHMARKS)}.",
                returncode=2,
            )
        if not (math.isfinite(duration) and 0 < duration <= MAX_DURATION):
            raise CommandError(
                f"--duration: give seconds above 0 and at most {MAX_DURATION:g}.", returncode=2
            )
        if not MIN_BANS <= bans <= MAX_BANS:
            raise CommandError(
                f"--bans: give a number of bans from {MIN_BANS} to {MAX_BANS}.", returncode=2
            )
        names.sort(key=lambda name: name == "memory")  # its peaks cover what ran before it
        output = output or Path(settings.VAR_DIR) / "bench" / "latest.json"
        results = []
        with bench_environment(in_place=in_place, write=self.stderr.write) as stack:
            context = Context(
                duration=duration,
                write=self.stderr.write,
                extra={"stack": stack, "bans": bans},
            )
            for name in names:
                module = importlib.import_module(BENCHMARKS[name])
                # Nothing it does not use runs beside it (STACK: what it uses of the Stack).
                stack.release(keep=getattr(module, "STACK", ()))
                for result in module.run(context):
                    self.stdout.write(result.line())
                    results.append(result)
        merge_results(output, results)
        self.stderr.write(f"Figures merged into {output}.")

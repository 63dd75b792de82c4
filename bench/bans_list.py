"""`manage.py bans list --csv` over 100,000 bans: its peak resident memory and how long it takes.

The bans are the history benchmark's (bench.history.HistoryData: three apps of the benchmark's
own, kicks and bans of each scope and status over months), loaded in bulk. The command runs as
an operator runs it, `python manage.py bans list --csv` in a process of its own on the run's
database, its output read (and its rows counted) by this process. Peak memory is the child's own
high-water mark (ru_maxrss, as wait4 reports it), first with 10,000 bans and then with 100,000:
paging holds one page (2,000 bans) in memory at any size, so the two peaks should be the same.
The loaded bans are deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from django.conf import settings

from moderation.models import Ban

from .common import Context, Result, Stack, child_environment, die_with_parent
from .history import HistoryData

BANS = 100_000
SMALL = 10_000  # five full pages: the page it holds is as large as at BANS
# The child may use this much more memory at BANS than at SMALL: no more than noise.
GROWTH_TARGET_MB = 10.0

STACK = ()  # none of the run's processes: the command runs alone


def bans_list_csv(write) -> tuple[float, float, int]:
    """Runs `manage.py bans list --csv`; (seconds, peak RSS in MiB, data rows printed)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "manage.py", "bans", "list", "--csv"],
            cwd=settings.BASE_DIR,
            env=child_environment(LOG_LEVEL="WARNING"),
            stdout=subprocess.PIPE,
            stderr=errors,
            preexec_fn=die_with_parent,  # dies with the bench
        )
        lines = 0
        with process.stdout:
            while chunk := process.stdout.read1(1 << 16):
                lines += chunk.count(b"\n")
        # wait4, not wait: the rusage of this one child (RUSAGE_CHILDREN would be the largest
        # of every child the run has waited for, gunicorn's included).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(
                f"bans list --csv exited {process.returncode}: {errors.read().decode()[-2000:]}"
            )
    peak_mb = usage.ru_maxrss / 1024  # kB on Linux
    rows = lines - 1  # the header
    # Its CPU time beside the wall time: on a busy machine the difference is waiting for a core.
    cpu = usage.ru_utime + usage.ru_stime
    write(
        f"bans_list: {rows} rows in {seconds:.1f} s ({cpu:.1f} s of CPU), "
        f"peak RSS {peak_mb:.1f} MiB"
    )
    return seconds, peak_mb, rows


def run(context: Context) -> list[Result]:
    stack: Stack = context.extra["stack"]
    data = HistoryData(stack)
    try:
        data.grow_to(SMALL, write=context.write)
        _, small_peak, _ = bans_list_csv(context.write)
        data.grow_to(BANS, write=context.write)
        expected = Ban.objects.count()  # with any that other benchmarks left
        seconds, peak, rows = bans_list_csv(context.write)
    finally:
        started = time.monotonic()
        data.remove()
        context.write(f"bans_list: bans deleted in {time.monotonic() - started:.1f} s")
    if rows != expected:
        raise RuntimeError(f"bans list --csv printed {rows} bans of {expected}")
    return [
        Result(
            "bans_list_csv_100k_peak_rss_mb",
            peak,
            "MiB",
            f"≤ {GROWTH_TARGET_MB:g} MiB over the 10k run's",
        ),
        Result("bans_list_csv_100k_seconds", seconds, "s", "none"),
        Result("bans_list_csv_10k_peak_rss_mb", small_peak, "MiB", "none"),
    ]

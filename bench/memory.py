"""Memory: the peak resident memory of an RQ worker and of the web server during the run.

Sampled all along the run (bench.common.MemorySampler): a worker process (jobs
run in the worker itself, and the clock schedules), the web server (gunicorn, 2 workers of 2
threads, serving the moderate form, the history and the export) with its workers; resident
memory is added up over each process tree, so pages a forked process shares with its parent
count twice. Runs last. On its own (`--only memory`) it first runs a short load of its own: a
bulk ban, a few confirmed bans through the web, and the history pages over a small table.
"""

from __future__ import annotations

from .common import Context, Result, Stack

STACK = ("emulator", "workers", "web")  # what it uses of the run's Stack


def run(context: Context) -> list[Result]:
    stack: Stack = context.extra["stack"]
    if not stack.memory.available:
        context.write("memory: no /proc on this system: not measured")
        return []
    if stack.memory.peak_mb("worker") is None or stack.memory.peak_mb("web") is None:
        _short_load(stack, context)
    stack.memory.sample()
    worker, web = stack.memory.peak_mb("worker"), stack.memory.peak_mb("web")
    context.write(
        f"memory: the largest single process peaked at {stack.memory.process_peak_mb('worker'):.0f}"
        f" MiB (worker) and {stack.memory.process_peak_mb('web'):.0f} MiB (web)"
    )
    return [
        Result("worker_peak_rss_mb", worker, "MiB", "none"),
        Result("web_peak_rss_mb", web, "MiB", "none"),
    ]


def _short_load(stack: Stack, context: Context) -> None:
    from . import click, history, throughput

    context.write("memory: nothing ran before it; a short load first …")
    plan = throughput.Plan("zego", 500, 5, 50, "memory-room")
    throughput.ban_many(stack, plan, actor=stack.user(superuser=True), write=context.write)
    click.measure(stack, 5, write=context.write)
    history.run(Context(context.duration, context.write, {**context.extra, "bans": 2_000}))

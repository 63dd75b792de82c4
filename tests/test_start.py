"""`make run`'s command (`manage.py start`) for real: every Procfile process runs (both workers
hold a lease), a command typed in a second terminal with nothing set reaches them, and a signal
to the group stops all of it."""

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests

from tests.support.processes import free_port
from tests.support.workers import ROOT, wait_until


class MakeRun:
    """`manage.py start` as `make run` runs it, on a VAR_DIR, SQLite file and ports of its own."""

    def __init__(self, var: Path):
        self.var = var
        self.web, self.emulator = free_port(), free_port()
        self.log = var / "make-run.log"
        self.process = None

    def start(self):
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(self.var)),
            "DEBUG": "true",  # as the Makefile exports it
            "VAR_DIR": str(self.var),
            "DATABASE_URL": f"sqlite:///{self.var / 'db.sqlite3'}",
            "WEB_BIND": f"127.0.0.1:{self.web}",
            "EMULATOR_PORT": str(self.emulator),
            "DEMO_PASSWORD": "demo-password-for-tests",
        }
        with open(self.log, "w") as log:  # a file: a pipe nobody reads would fill and stall it
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "start"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as in a terminal
                # As a terminal's Ctrl-C finds it, even if the suite runs from a background job
                # (which inherits SIGINT ignored).
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        login = _wait_for(f"http://127.0.0.1:{self.web}/admin/login/", self)
        assert "Log in" in login.text
        state = _wait_for(f"http://127.0.0.1:{self.emulator}/_emulator/state", self).json()
        assert len(state["apps"]) == 3
        assert state["rooms"]["zego"]["1234567890"]["live-1001"]

    def output(self) -> str:
        return self.log.read_text()

    def second_terminal(self, *args) -> subprocess.CompletedProcess:
        """`python manage.py ARGS` in a new shell: no DEBUG, REDIS_URL or DATABASE_URL."""
        bare = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(self.var)),
            "VAR_DIR": str(self.var),
        }
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=bare,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def remaining(self) -> list[str]:
        """Live processes of the group, or anywhere with this run's VAR_DIR in their environment
        (honcho starts each Procfile process in a session of its own) or in their command line
        (redis-server's title overwrites its environment)."""
        marker = f"VAR_DIR={self.var}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                environment = (entry / "environ").read_bytes().split(b"\0")
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue  # gone, or not ours
            state, pgid = fields[0], int(fields[2])
            ours = marker in environment or str(self.var) in command
            if state != "Z" and (pgid == self.process.pid or ours):
                found.append(f"{entry.name} {command}")
        return found

    def redis_answers(self) -> bool:
        client = redis.Redis(unix_socket_path=str(self.var / "redis.sock"), socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def kill_what_is_left(self):
        """After a failed test: SIGKILL whatever this run left, found as `remaining` finds it."""
        for line in self.remaining():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


@pytest.fixture
def make_run(tmp_path):
    run = MakeRun(tmp_path)
    yield run
    if run.process is not None:
        run.kill_what_is_left()


def test_a_ban_from_a_second_terminal_is_applied_and_expires_on_time_and_sigterm_stops_all(
    make_run,
):
    make_run.start()
    # The Procfile's worker and its interactive worker each hold a worker lease.
    wait_until(
        lambda: _workers_alive(make_run) == 2, timeout=30, interval=0.3, message="two workers"
    )
    made = make_run.second_terminal(
        "bans",
        "ban",
        "--app",
        "Demo ZEGO",
        "--room",
        "live-1001",
        "--user",
        "user001",
        "--duration",
        "3s",
        "--reason",
        "test",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    (ban_id,) = (ban["id"] for ban in json.loads(made.stdout))

    def expired():
        shown = make_run.second_terminal("bans", "show", str(ban_id), "--json")
        assert shown.returncode == 0, shown.stderr
        (ban,) = json.loads(shown.stdout)
        return ban if ban["status"] == "expired" else None

    ban = wait_until(expired, timeout=30, interval=0.2, message=f"ban {ban_id} to expire")
    # The worker applied it (the vendor's answer starts its 3 s), the clock ended it.
    assert ban["vendor_message"].startswith("ZEGO accepted")
    log = _log_of(make_run.var / "db.sqlite3", ban_id)
    assert [event for event, _ in log] == ["created", "applied", "expired"]
    lag = log[-1][1] - datetime.fromisoformat(ban["expires_at"])
    assert timedelta(0) <= lag <= timedelta(seconds=2), lag

    _stop_and_assert_all_stopped(make_run, signal.SIGTERM)
    output = make_run.output()
    assert "Redis: started redis-server" in output
    assert "Starting web, worker, interactive-worker, clock, emulator (Procfile)." in output
    assert f"Open http://127.0.0.1:{make_run.web}/admin/" in output
    assert "demo-password-for-tests" in output


def test_ctrl_c_stops_all_of_it(make_run):
    make_run.start()
    _stop_and_assert_all_stopped(make_run, signal.SIGINT)


def test_the_web_access_log_shows_a_ban_check_with_its_token_value_redacted(make_run):
    make_run.start()
    canary = "canary-query-token-5d1e8b"
    check = f"http://127.0.0.1:{make_run.web}/api/v1/bans/check?room=r&user=u&token={canary}"

    assert requests.get(check, timeout=10).status_code == 401
    line = '"GET /api/v1/bans/check?room=r&user=u&token=[redacted] HTTP/1.1" 401'
    wait_until(lambda: line in make_run.output(), timeout=10, message="the access log line")

    _stop_and_assert_all_stopped(make_run, signal.SIGTERM)
    assert canary not in make_run.output()


def _stop_and_assert_all_stopped(run, signum):
    assert run.redis_answers()
    os.killpg(run.process.pid, signum)
    try:
        returncode = run.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"manage.py start still running:\n{run.output()}") from None
    assert returncode == 0, run.output()
    assert not run.redis_answers()
    wait_until(lambda: not run.remaining(), timeout=10, message="the run's processes to exit")
    for port in (run.web, run.emulator):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def _workers_alive(run) -> int:
    checks = requests.get(f"http://127.0.0.1:{run.web}/healthz", timeout=10).json()["checks"]
    return checks.get("workers", {}).get("alive", 0)


def _log_of(database: Path, ban_id: int) -> list[tuple[str, datetime]]:
    """The ban's moderation log, oldest first: (event, time)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT event, created_at FROM moderation_moderationlog WHERE ban_id = ? ORDER BY id",
            (ban_id,),
        ).fetchall()
    return [(event, datetime.fromisoformat(at).replace(tzinfo=UTC)) for event, at in rows]


def _wait_for(url, run, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        if run.process.poll() is not None:
            raise AssertionError(f"manage.py start exited:\n{run.output()}")
        try:
            response = requests.get(url, timeout=10)
            if response.status_code == 200:
                return response
        except (requests.ConnectionError, requests.Timeout):
            pass  # still starting: a first request may wait for a worker to load Django
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s:\n{run.output()}")
        time.sleep(0.3)

"""`make run`'s command for real: web, worker, cron and emulator start and stop together."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_serves_the_login_page_with_demo_data_and_stops_on_ctrl_c(tmp_path):
    web, emulator = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "WEB_BIND": f"127.0.0.1:{web}",
        "EMULATOR_PORT": str(emulator),
        "DEMO_PASSWORD": "demo-password-for-tests",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "start"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal's Ctrl-C reaches the whole process group
    )
    try:
        login = _wait_for(f"http://127.0.0.1:{web}/admin/login/")
        assert "Log in" in login.text
        state = _wait_for(f"http://127.0.0.1:{emulator}/_emulator/state").json()
        assert len(state["apps"]) == 3
        assert state["rooms"]["zego"]["1234567890"]["live-1001"]
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "Redis: using the embedded Redis" in output
    assert f"Open http://127.0.0.1:{web}/admin/" in output
    assert "demo-password-for-tests" in output
    _assert_closed(web)
    _assert_closed(emulator)


def _wait_for(url, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = requests.get(url, timeout=10)
            if response.status_code == 200:
                return response
        except (requests.ConnectionError, requests.Timeout):
            pass  # still starting: a first request may wait for a worker to load Django
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(0.3)


def _assert_closed(port):
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open after Ctrl-C"

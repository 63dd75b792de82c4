"""`manage.py vendor_emulator`: serves on loopback until interrupted, one log line per call."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.processes import free_port

from .signed import ZEGO, Vendors, zego_code

ROOT = Path(__file__).resolve().parents[2]


def default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def command(*args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "moderation_site.settings",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "vendor_emulator", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A terminal's Ctrl-C works even when the suite was started from a background job,
        # which inherits SIGINT ignored (POSIX: `cmd &` in a non-interactive shell).
        preexec_fn=default_sigint,
    )


def started(process: subprocess.Popen) -> tuple[str, dict[str, str]]:
    """The main URL and each vendor's own URL, from the lines the command prints as it listens."""
    first = process.stdout.readline()  # blocks until the server listens
    assert "listening on" in first, process.stderr.read()
    own = {}
    for _ in range(3):
        vendor, _, url = process.stdout.readline().strip().partition(" alone, at /: ")
        own[vendor] = url
    return first.rsplit(" ", 1)[1].strip(), own


@pytest.fixture
def served(tmp_path):
    apps = tmp_path / "apps.json"
    apps.write_text(json.dumps([{"vendor": "zego", **ZEGO}]))
    process = command("--host", "127.0.0.1", "--port", "0", "--apps", str(apps))
    base, _ = started(process)
    yield process, base
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)


def test_it_serves_the_apps_file_and_logs_each_call_without_secrets(served):
    process, base = served
    response = Vendors(base).zego("KickoutUser", [("RoomId", "r"), ("UserId[]", "alice")])
    assert zego_code(response) == 0
    line = process.stdout.readline()
    assert "zego" in line and "KickoutUser" in line and "alice" in line
    assert ZEGO["secret"] not in line
    assert 'Signature"' not in line


def test_it_stops_cleanly_on_ctrl_c(served):
    process, base = served
    assert requests.get(f"{base}/_emulator/state", timeout=5).status_code == 200
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Stopping" in out


def test_it_serves_each_vendor_alone_at_slash_on_the_port_its_option_names(tmp_path):
    apps = tmp_path / "apps.json"
    apps.write_text(json.dumps([{"vendor": "zego", **ZEGO}]))
    zego_port = free_port()
    process = command("--port", "0", "--port-zego", str(zego_port), "--apps", str(apps))
    try:
        base, own = started(process)

        assert own["zego"] == f"http://127.0.0.1:{zego_port}"
        assert set(own) == {"volcengine", "zego", "tencent"}
        kicked = Vendors(own["zego"]).zego(
            "KickoutUser", [("RoomId", "r"), ("UserId[]", "alice")], path="/"
        )
        assert zego_code(kicked) == 0
        # The prefix on the main port still answers as before.
        prefixed = Vendors(base).zego("KickoutUser", [("RoomId", "r"), ("UserId[]", "bob")])
        assert zego_code(prefixed) == 0
    finally:
        process.kill()
        process.communicate(timeout=10)


def test_it_refuses_a_host_that_is_not_loopback():
    process = command("--host", "0.0.0.0", "--port", "0")  # noqa: S104 (it must be refused)
    out, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "loopback only" in err


def test_it_refuses_an_unreadable_apps_file(tmp_path):
    apps = tmp_path / "apps.json"
    apps.write_text(json.dumps([{"vendor": "zego", "app_id": "x", "secret": "s"}]))
    process = command("--port", "0", "--apps", str(apps))
    out, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "entry 1" in err and "uint32" in err


def test_an_apps_file_with_publishing_has_each_listed_user_publish_a_main_stream(tmp_path):
    apps = tmp_path / "apps.json"
    entry = {"members": {"r": ["alice", "bob"]}, "publishing": {"r": ["alice"]}}
    apps.write_text(json.dumps([{"vendor": "zego", **ZEGO, **entry}]))
    process = command("--port", "0", "--apps", str(apps))
    try:
        base, _ = started(process)
        query = {"vendor": "zego", "app_id": ZEGO["app_id"]}

        streams = requests.get(f"{base}/_emulator/streams", params=query, timeout=5).json()

        assert streams == {
            "streams": [
                {"stream_id": "alice_main", "room_id": "r", "user_id": "alice", "forbidden": False}
            ]
        }
    finally:
        process.kill()
        process.communicate(timeout=10)


def test_it_refuses_publishing_by_a_user_the_apps_file_does_not_seat(tmp_path):
    apps = tmp_path / "apps.json"
    apps.write_text(json.dumps([{"vendor": "zego", **ZEGO, "publishing": {"r": ["alice"]}}]))
    process = command("--port", "0", "--apps", str(apps))
    out, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "entry 1" in err and "join before publishing" in err

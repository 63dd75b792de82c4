"""Access logs never show a token's value: gunicorn as the Procfile starts it, Django's runserver,
and the django.request logger; the parameter's name and the rest of the line stay."""

import http.client
import logging
import os
import shlex
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests
from honcho.environ import parse_procfile

from moderation.accesslog import REDACTED, redact

from .support.processes import free_port
from .support.workers import ROOT, child_database_url, wait_until

CANARIES = [f"canary-secret-{n}-7f3a9c" for n in range(6)]
CHECK = "/api/v1/bans/check"


def send_tokens_in_every_place(base: str) -> None:
    """Requests that carry a token where access logs look: the query string (plain, named
    access_token, with a percent-encoded name), the Referer and the Authorization header."""
    with requests.Session() as session:
        session.get(f"{base}{CHECK}?room=r&user=u&token={CANARIES[0]}", timeout=10)
        session.get(
            f"{base}{CHECK}?access_token={CANARIES[1]}&room=r&user=u",
            headers={
                "Referer": f"https://app.example/join?token={CANARIES[2]}&x=1",
                "Authorization": f"Bearer {CANARIES[3]}",
            },
            timeout=10,
        )
        session.get(f"{base}{CHECK}?room=r;token={CANARIES[5]}&user=u", timeout=10)
    # As sent: requests would turn the percent-encoded name back into `token`.
    connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
    try:
        connection.request("GET", f"{CHECK}?room=r&user=u&tok%65n={CANARIES[4]}")
        connection.getresponse().read()
    finally:
        connection.close()


def assert_no_canary(output: str) -> None:
    for canary in CANARIES:
        assert canary not in output, f"{canary} in the log:\n{output}"


def answers(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the server exited: {process.communicate()[0]}")
    try:
        requests.get(url, timeout=5)
    except requests.ConnectionError:
        return False
    return True


def stop(process: subprocess.Popen, signum=signal.SIGTERM) -> str:
    if process.poll() is None:
        process.send_signal(signum)
    return process.communicate(timeout=30)[0]


def server_env(**extra) -> dict:
    return {
        **os.environ,
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "moderation_site.settings_test",
        "DATABASE_URL": child_database_url(),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.mark.django_db(transaction=True)
def test_gunicorn_started_by_the_procfile_logs_every_atom_with_token_values_redacted():
    """The Procfile's `web` line, run by a shell as honcho runs it, with an access log format
    that names every atom a token can reach: the request line, the query string, the referer,
    the Authorization header and the raw URI. None shows a canary; the request line keeps its
    path, its other parameters and the redacted parameter's name."""
    web = parse_procfile((ROOT / "Procfile").read_text()).processes["web"]
    log_format = (
        '"%(r)s" %(s)s q=%(q)s f="%(f)s" ref="%({referer}i)s" auth="%({authorization}i)s" '
        'qs="%({query_string}e)s" raw="%({raw_uri}e)s"'
    )
    port = free_port()
    process = subprocess.Popen(
        # No control socket: its default path is one per user, shared with any other gunicorn.
        [
            "sh",
            "-c",
            f"exec {web} --access-logformat {shlex.quote(log_format)} --no-control-socket",
        ],
        cwd=ROOT,
        env=server_env(WEB_BIND=f"127.0.0.1:{port}", WEB_WORKERS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}{CHECK}", process), timeout=30, message="gunicorn")
        send_tokens_in_every_place(base)
    finally:
        output = stop(process)

    assert_no_canary(output)
    assert f'"GET {CHECK}?room=r&user=u&token={REDACTED} HTTP/1.1" 401' in output
    assert f"q=access_token={REDACTED}&room=r&user=u" in output
    assert f'f="https://app.example/join?token={REDACTED}&x=1"' in output
    assert f'auth="{REDACTED}"' in output
    assert f"room=r;token={REDACTED}&user=u" in output
    assert f'"GET {CHECK}?room=r&user=u&tok%65n={REDACTED} HTTP/1.1" 401' in output


@pytest.mark.django_db(transaction=True)
def test_runserver_access_log_shows_the_request_line_with_token_values_redacted():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--skip-checks",
        ],
        cwd=ROOT,
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}{CHECK}", process), timeout=30, message="runserver")
        send_tokens_in_every_place(base)
    finally:
        output = stop(process, signal.SIGINT)

    assert_no_canary(output)
    assert f'"GET {CHECK}?room=r&user=u&token={REDACTED} HTTP/1.1" 401' in output
    assert f'"GET {CHECK}?access_token={REDACTED}&room=r&user=u HTTP/1.1" 401' in output
    assert f'"GET {CHECK}?room=r&user=u&tok%65n={REDACTED} HTTP/1.1" 401' in output


def test_the_django_request_logger_redacts_a_url_in_its_message(caplog):
    caplog.set_level(logging.WARNING, logger="django.request")

    logging.getLogger("django.request").warning(
        "Not Found: %s", f"/api/v1/bans/check?room=r&token={CANARIES[0]}"
    )

    assert_no_canary(caplog.text)
    assert f"Not Found: /api/v1/bans/check?room=r&token={REDACTED}" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token=abc", f"token={REDACTED}"),
        ("/p?a=1&token=abc==&b=2", f"/p?a=1&token={REDACTED}&b=2"),
        ("/p?Access_Token=abc", f"/p?Access_Token={REDACTED}"),
        ("/p?refresh_token=abc&id_token=def", f"/p?refresh_token={REDACTED}&id_token={REDACTED}"),
        ("/p?tok%65n=abc", f"/p?tok%65n={REDACTED}"),
        ("/p?token=abc#frag", f"/p?token={REDACTED}"),
        ('"GET /p?token=abc HTTP/1.1" 401', f'"GET /p?token={REDACTED} HTTP/1.1" 401'),
        ("/p?room=r&user=u", "/p?room=r&user=u"),
        ("/p?tokenless", "/p?tokenless"),
    ],
)
def test_redact_replaces_the_value_of_every_parameter_named_like_a_token_and_nothing_else(
    text, expected
):
    assert redact(text) == expected

"""LOG_FORMAT=json: one JSON object a line from web (gunicorn's own lines too), worker and clock,
with the request's id (the response's X-Request-ID) or the job's, and never a secret."""

import io
import json
import logging
import os
import re
import subprocess
import sys

import django_rq
import pytest
import requests
from django.test import Client

from moderation import clock as moderation_clock
from moderation import logs, redaction, services
from moderation.models import VendorApp

from .support.canary import Search, make_canaries
from .support.processes import free_port, start_web
from .support.workers import ROOT, child_database_url, start_clock, stop_worker, wait_until
from .test_settings import production_env, run_django

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines():
    """What the root logger writes through the site's JSON formatter, line by line, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)

    def lines():
        handler.flush()
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    lines.raw = stream.getvalue
    yield lines
    root.removeHandler(handler)


def parsed(output: str) -> list[dict]:
    """Every line of a process's output as JSON: a line that is not fails the test here."""
    found = []
    for number, line in enumerate(output.splitlines(), start=1):
        try:
            found.append(json.loads(line))
        except ValueError:
            pytest.fail(f"line {number} is not JSON: {line!r}\n\n{output[-3000:]}")
    return found


def test_it_refuses_a_log_format_it_does_not_know_and_names_those_it_does():
    result = run_django("check", **production_env(LOG_FORMAT="xml"))

    assert result.returncode != 0
    assert "LOG_FORMAT is 'xml': set it to plain (the default) or json." in result.stderr


def test_a_request_s_lines_carry_the_id_the_proxy_sent_and_the_response_echoes(db, json_lines):
    response = Client().get("/nothing-here/", headers={"X-Request-ID": "lb-7f3a-0001"})

    assert response.status_code == 404
    assert response["X-Request-ID"] == "lb-7f3a-0001"
    (line,) = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["message"] == "Not Found: /nothing-here/"
    assert line["request_id"] == "lb-7f3a-0001"
    assert set(line) == {"time", "level", "logger", "message", "request_id"}
    assert line["level"] == "WARNING" and line["time"].endswith("+00:00")


def test_a_request_without_an_id_gets_one_of_its_own_on_its_lines_and_its_response(db, json_lines):
    first = Client().get("/nothing-here/")
    second = Client().get("/nothing-here/")

    ids = [line["request_id"] for line in json_lines() if line["logger"] == "django.request"]
    assert ids == [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(GENERATED_ID.fullmatch(request_id) for request_id in ids)
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    "sent",
    ["two words", "x" * 129, 'quote"d', "-leading-dash", "semi;colon", "new\\nline", "é"],
)
def test_an_id_that_does_not_look_like_one_is_replaced(db, sent):
    response = Client().get("/healthz", headers={"X-Request-ID": sent})

    assert GENERATED_ID.fullmatch(response["X-Request-ID"]), response["X-Request-ID"]


def test_lines_outside_requests_and_jobs_carry_neither_id(db, json_lines):
    Client().get("/nothing-here/")
    logging.getLogger("moderation").warning("after the request")

    (line,) = [line for line in json_lines() if line["message"] == "after the request"]
    assert "request_id" not in line and "job_id" not in line


def test_a_secret_logged_by_mistake_is_taken_out_of_json_and_plain_lines(db, json_lines):
    canaries = make_canaries()
    app = VendorApp(name="z", vendor="zego", vendor_app_id="1")
    app.secret = canaries["zego"]
    app.save()
    redaction.forget_all()  # a process that has not read the secret yet
    secret = VendorApp.objects.get(pk=app.pk).secret  # this one has now
    plain = io.StringIO()
    plain_handler = logging.StreamHandler(plain)
    plain_handler.setFormatter(logs.PlainFormatter(logs.PLAIN_FORMAT))
    log = logging.getLogger("moderation.careless")
    log.addHandler(plain_handler)
    try:
        log.warning("the vendor said %s", secret)
        log.warning("url-encoded %s, in JSON %s", secret.encode().hex(), json.dumps(secret))
        try:
            raise RuntimeError(f"refused: {secret}")
        except RuntimeError:
            log.exception("a job failed")
    finally:
        log.removeHandler(plain_handler)

    search = Search(canaries)
    search.add("json lines", json_lines.raw())
    search.add("plain lines", plain.getvalue())
    assert search.hits() == []
    lines = json_lines()
    assert lines[0]["message"] == "the vendor said [redacted]"
    assert "RuntimeError: refused: [redacted]" in lines[2]["exception"]
    assert "the vendor said [redacted]" in plain.getvalue()


def test_gunicorn_and_the_site_write_only_json_lines_with_the_request_s_id(transactional_db):
    port = free_port()
    web = start_web(port, LOG_FORMAT="json")
    try:
        base = f"http://127.0.0.1:{port}"
        found = requests.get(
            f"{base}/nothing-here/", headers={"X-Request-ID": "edge-42"}, timeout=10
        )
        login = requests.get(f"{base}/admin/login/", timeout=10)
    finally:
        web.terminate()
        output, _ = web.communicate(timeout=30)

    lines = parsed(output)
    assert found.headers["X-Request-ID"] == "edge-42"
    assert GENERATED_ID.fullmatch(login.headers["X-Request-ID"])
    by_id = {}
    for line in lines:
        by_id.setdefault(line.get("request_id"), []).append(line)
    assert {line["logger"] for line in by_id["edge-42"]} == {"django.request", "gunicorn.access"}
    (access,) = [line for line in by_id["edge-42"] if line["logger"] == "gunicorn.access"]
    assert '"GET /nothing-here/ HTTP/1.1" 404' in access["message"]
    assert [line["logger"] for line in by_id[login.headers["X-Request-ID"]]] == ["gunicorn.access"]
    assert any(line["message"].startswith("Booting worker") for line in by_id[None])


@pytest.mark.django_db(transaction=True)
def test_a_worker_s_lines_inside_a_job_carry_the_job_s_id(emulated_app, redis_connection):
    app = emulated_app("zego")
    services.kick(
        app=app,
        room=services.room_for(app=app, room_id="live-1"),
        user_ids=["troll1"],
        reason="spam",
        actor=None,
    )
    # One user: the interactive queue's job.
    (job_id,) = django_rq.get_queue("moderation-interactive", connection=redis_connection).job_ids

    worker = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "manage.py",
            "rqworker",
            "moderation-interactive",
            "moderation",
            "--burst",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "moderation_site.settings_test",
            "DATABASE_URL": child_database_url(),
            "LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert worker.returncode == 0, worker.stdout + worker.stderr
    lines = parsed(worker.stdout + worker.stderr)
    in_job = [line for line in lines if line.get("job_id") == job_id]
    vendor_calls = [line for line in in_job if line["logger"].startswith("moderation.vendors")]
    assert vendor_calls and "zego KickoutUser" in vendor_calls[0]["message"], in_job
    assert any("Job OK" in line["message"] for line in in_job), in_job
    started = [line for line in lines if "started with PID" in line["message"]]
    assert started and "job_id" not in started[0]


def test_the_clock_writes_only_json_lines(transactional_db, redis_connection):
    clock = start_clock(LOG_FORMAT="json")
    try:
        wait_until(
            lambda: redis_connection.exists(moderation_clock.RECONCILED_AT),
            timeout=30,
            message="the clock's first reconcile",
        )
    finally:
        output = stop_worker(clock)

    messages = [line["message"] for line in parsed(output)]
    assert messages[0].startswith("Clock started") and messages[-1] == "Clock stopped.", messages

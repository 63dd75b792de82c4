"""Error reports (SENTRY_DSN): a real Sentry client whose transport keeps what it would send.
An exception in a view and one in an RQ job both reach it, with their request or job id, and
no canary secret is anywhere in it: not the vendor secrets the failing code held in its
variables, logged and raised, nor the token, password, cookie and query parameter sent to it."""

import base64
import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from urllib.parse import quote

import django_rq
import pytest
import sentry_sdk
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from sentry_sdk.transport import Transport

from moderation import redaction, sentry
from moderation.models import VendorApp
from moderation.worker import Worker

from .support.canary import Search, make_canaries
from .support.workers import ROOT

DSN = "https://public@errors.example.invalid/1"


class KeptEnvelopes(Transport):
    """Keeps each envelope instead of sending it."""

    def __init__(self):
        super().__init__()
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def events(self) -> list[dict]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event"
        ]

    def sent(self) -> bytes:
        """The bytes that would go over the wire."""
        return b"".join(envelope.serialize() for envelope in self.envelopes)


@pytest.fixture
def reports():
    transport = KeptEnvelopes()
    sentry.init(DSN, transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def canaries():
    tag = secrets.token_hex(6)
    return make_canaries() | {
        "api_token": f"CanaryApiToken{tag}",
        "password": f"CanaryPassword{tag}",
        "session": f"CanarySession{tag}",
        "query_token": f"CanaryQueryToken{tag}",
    }


@pytest.fixture
def canary_app(canaries):
    app = VendorApp(name="zego canary", vendor="zego", vendor_app_id="86420")
    app.secret = canaries["zego"]
    app.callback_secret = canaries["zego_callback"]
    app.full_clean()
    app.save()
    redaction.forget_all()  # as in a web or worker process that has not read them yet
    return app


def assert_no_canary(reports, canaries):
    search = Search(canaries)
    search.add("what would be sent", reports.sent())
    for number, event in enumerate(reports.events()):
        search.add(f"event {number}", json.dumps(event))
    hits = search.hits()
    assert hits == [], "\n".join(hits[:20])


def frame_vars(event, function: str) -> dict:
    for value in event["exception"]["values"]:
        for frame in value["stacktrace"]["frames"]:
            if frame["function"] == function:
                return frame["vars"]
    raise AssertionError(f"no frame of {function}")


def wsgi_request(method: str, path: str, data: dict, **headers) -> tuple[str, dict, bytes]:
    """A request through Django's WSGI handler, as gunicorn makes it (the Sentry integration
    reads the request's URL, headers and cookies there): (status, headers, body)."""
    environ = getattr(RequestFactory(), method.lower())(path, data, headers=headers).environ
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer.update(status=status, headers=dict(response_headers))

    body = WSGIHandler()(environ, start_response)
    try:
        content = b"".join(body)
    finally:
        body.close()
    return answer["status"], answer["headers"], content


# Both through the real request and job machinery, which close the database connection around
# each request and job: transactional tests.
@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.support.failing")
def test_an_exception_in_a_view_reaches_sentry_without_a_secret(reports, canaries, canary_app):
    status, headers, _ = wsgi_request(
        "POST",
        f"/test-only/fail/{canary_app.pk}/?token={canaries['query_token']}&page=2",
        {"password": canaries["password"], "note": "hello"},
        authorization=f"Bearer {canaries['api_token']}",
        cookie=f"sessionid={canaries['session']}; tz=Asia%2FShanghai",
        x_request_id="lb-1",
    )

    assert status.startswith("500")
    (event,) = reports.events()
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "the vendor refused [redacted] for 86420"
    assert event["tags"]["request_id"] == headers["X-Request-ID"] == "lb-1"
    request = event["request"]
    assert request["url"].endswith(f"/test-only/fail/{canary_app.pk}/")
    assert request["method"] == "POST"
    assert request["data"] == {"password": "[Filtered]", "note": "hello"}
    assert request["query_string"] == "token=[Filtered]&page=2"
    assert request["headers"]["Authorization"] == "[Filtered]"
    assert request["headers"]["X-Request-Id"] == "lb-1"
    assert "cookies" not in request
    variables = frame_vars(event, "_fail")
    assert variables["secret"] == variables["callback_secret"] == "[Filtered]"
    assert variables["material"] == "'86420nonce[redacted]1700000000'"
    assert variables["headers"] == {
        "Authorization": "[Filtered]",
        "X-Note": "'signed with [redacted]'",
    }
    (crumb,) = [c for c in event["breadcrumbs"]["values"] if c["category"] == "moderation.careless"]
    assert crumb["message"].startswith(
        "calling the vendor with [redacted] and 86420nonce[redacted]"
    )
    assert_no_canary(reports, canaries)


@pytest.mark.django_db(transaction=True)
def test_an_exception_in_an_rq_job_reaches_sentry_without_a_secret(
    reports, canaries, canary_app, redis_connection
):
    queue = django_rq.get_queue("moderation", connection=redis_connection)
    job = queue.enqueue("tests.support.failing.job_failing_holding_a_secret", canary_app.pk)

    Worker([queue], connection=redis_connection).work(burst=True)

    assert job.get_status(refresh=True) == "failed"
    (event,) = reports.events()
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "the vendor refused [redacted] for 86420"
    assert exception["mechanism"]["type"] == "rq"
    assert event["tags"]["job_id"] == job.id == event["extra"]["rq-job"]["job_id"]
    assert "[redacted]" in frame_vars(event, "_fail")["material"]
    assert_no_canary(reports, canaries)


def _sentry_in(settings_module: str, **env) -> dict:
    """Whether a process with these variables reports errors, and through which integrations."""
    script = (
        "import django, json, sentry_sdk; django.setup(); client = sentry_sdk.get_client(); "
        "print(json.dumps({'active': client.is_active(), "
        "'integrations': sorted(client.integrations), "
        "'pii': client.options.get('send_default_pii')}))"
    )
    keep = ("PATH", "HOME", "DATABASE_URL", "REDIS_URL", "VAR_DIR")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **{k: os.environ[k] for k in keep if k in os.environ},
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DEBUG": "true",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_with_sentry_dsn_every_process_reports_through_django_and_rq():
    found = _sentry_in("moderation_site.settings", SENTRY_DSN=DSN)

    assert found["active"] is True
    assert {"django", "rq", "logging"} <= set(found["integrations"])
    assert found["pii"] is False


def test_without_sentry_dsn_nothing_is_set_up():
    assert _sentry_in("moderation_site.settings", SENTRY_DSN="")["active"] is False
    # Nor in the tests, whatever a .env says.
    assert _sentry_in("moderation_site.settings_test", SENTRY_DSN=DSN)["active"] is False


# --- The scrubber on its own -----------------------------------------------------------------


def test_it_filters_secret_fields_and_takes_their_values_out_of_every_other_string():
    event = {
        "request": {
            "query_string": "token=Tok3nValue99&page=2",
            "headers": {"Cookie": "sessionid=S3ssionValue; tz=UTC", "X-Api-Key": "K3yValue000"},
        },
        "extra": {"settings": {"SECRET_KEY": "Secr3tKeyValue", "DEBUG": False}},
        "message": "saw Tok3nValue99, S3ssionValue, K3yValue000 and Secr3tKeyValue",
        "exception": {"values": [{"value": "sent 'Authorization': 'Bearer abc123def456'"}]},
    }

    sentry.scrub(event)

    assert event["request"]["query_string"] == "token=[Filtered]&page=2"
    assert event["request"]["headers"] == {"Cookie": "[Filtered]", "X-Api-Key": "[Filtered]"}
    assert event["extra"]["settings"] == {"SECRET_KEY": "[Filtered]", "DEBUG": False}
    assert event["message"] == "saw [redacted], [redacted], [redacted] and [redacted]"
    assert event["exception"]["values"][0]["value"] == "sent 'Authorization': '[Filtered]'"


def test_it_takes_out_a_secret_this_process_holds_in_each_encoded_form():
    redaction.forget_all()
    secret = "CanaryHeldSecret" + secrets.token_hex(6)
    redaction.remember(secret)
    encoded = [
        secret,
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
        secret.encode().hex(),
    ]
    event = {"extra": {"seen": [f"<{form}>" for form in encoded]}}

    sentry.scrub(event)

    assert event["extra"]["seen"] == ["<[redacted]>"] * len(encoded)


def test_it_leaves_source_lines_packages_redis_keys_and_plain_words_alone():
    frame = {
        "function": "sign",
        "lineno": 3,
        "context_line": "    key = secret_access_key.encode()",
        "vars": {"secret_access_key": "Secr3tAccessKey", "region": "cn-north-1"},
    }
    crumb = {
        "category": "redis",
        "data": {"redis.key": "rq:job:1", "redis.command": "HGET"},
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
    }
    event = {
        "exception": {
            "values": [{"value": "Basic authentication", "stacktrace": {"frames": [frame]}}]
        },
        "modules": {"keyring": "25.0"},
        "breadcrumbs": {"values": [crumb]},
    }

    sentry.scrub(event)

    assert frame["context_line"] == "    key = secret_access_key.encode()"
    assert frame["vars"] == {"secret_access_key": "[Filtered]", "region": "cn-north-1"}
    assert event["exception"]["values"][0]["value"] == "Basic authentication"
    assert event["modules"] == {"keyring": "25.0"}
    assert crumb["data"]["redis.key"] == "rq:job:1"
    assert crumb["timestamp"] == datetime(2026, 1, 1, tzinfo=UTC)

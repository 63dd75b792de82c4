"""The site's WSGI handler: the ban check's short path answers as Django's full path does, and
everything else still takes the full path.

Each comparison sends the same WSGI request to Django's own handler (every middleware) and to
the site's (moderation_site.handler.Handler); one test goes through a real gunicorn.
"""

import contextlib
import io
import json
import logging
import re
import sys
from dataclasses import dataclass

import pytest
import requests
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.test import override_settings
from django.urls import resolve, reverse
from django.utils.module_loading import import_string

from moderation import bancheck, services
from moderation.checks import bench_noop_off
from moderation_site.handler import BAN_CHECK_PATH, GATES_KEPT, NOOP_BODY, NOOP_PATH, Handler

from .support.bans import active_ban
from .support.processes import free_port, start_web, stop_gracefully

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/bans/check"
# The headers a token server acts on, and those SecurityMiddleware adds.
HEADERS_THAT_MATTER = (
    "Content-Type",
    "Cache-Control",
    "WWW-Authenticate",
    "Retry-After",
    "Allow",
    "Content-Length",
    "Location",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[0] if values else None

    def headers_that_matter(self) -> dict[str, str | None]:
        return {name: self.header(name) for name in HEADERS_THAT_MATTER}


def call(app, path=URL, *, method="GET", query="", headers=None, https=True, host="localhost"):
    """One request through a WSGI application, as gunicorn would hand it over."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if https:  # as the HTTPS proxy in front says (SECURE_PROXY_SSL_HEADER)
        environ["HTTP_X_FORWARDED_PROTO"] = "https"
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), response_headers

    body = app(environ, start_response)
    try:
        content = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return Answer(started["status"], started["headers"], content)


def both(**request) -> tuple[Answer, Answer]:
    """The same request through Django's full path, then through the site's handler."""
    return call(WSGIHandler(), **request), call(Handler(), **request)


@pytest.fixture
def app(emulated_app, redis_connection):
    return emulated_app("zego")


@pytest.fixture
def bearer(app, api_token):
    return {"Authorization": f"Bearer {api_token(app)}"}


def assert_same(full: Answer, short: Answer) -> None:
    assert short.status == full.status
    assert short.body == full.body
    assert short.headers_that_matter() == full.headers_that_matter()


def test_a_clear_answer_is_the_same_as_djangos(bearer):
    full, short = both(query="room=live-1&user=troll", headers=bearer)

    assert short.status == 200
    assert json.loads(short.body) == {
        "banned": False,
        "until": None,
        "ban_id": None,
        "muted": False,
        "mute_until": None,
    }
    assert short.header("Cache-Control") == "no-store"
    assert short.header("Content-Type") == "application/json"
    assert_same(full, short)


def test_a_banned_answer_is_the_same_as_djangos(app, bearer):
    ban = active_ban(app, "live-1", "troll")

    full, short = both(query="room=live-1&user=troll", headers=bearer)

    assert short.status == 200
    assert json.loads(short.body)["ban_id"] == ban.pk
    assert_same(full, short)


def test_a_muted_answer_is_the_same_as_djangos(app, bearer, moderator):
    room = services.room_for(app=app, room_id="live-1")
    services.mute(
        app=app, room=room, user_ids=["troll"], seconds=600, reason="noise", actor=moderator
    )

    full, short = both(query="room=live-1&user=troll", headers=bearer)

    assert short.status == 200
    assert json.loads(short.body)["muted"] is True
    assert_same(full, short)


@pytest.mark.parametrize(
    "authorization", [None, "Basic dXNlcjpwYXNz", "Bearer ", "Bearer rtcm_not-a-token"]
)
def test_a_401_is_the_same_as_djangos_with_its_www_authenticate(app, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}

    full, short = both(query="room=r&user=u", headers=headers)

    assert short.status == 401
    assert short.header("WWW-Authenticate") == 'Bearer realm="ban-check"'
    assert_same(full, short)


def test_a_429_is_the_same_as_djangos_with_its_retry_after(app, api_token):
    headers = {"Authorization": f"Bearer {api_token(app, rate_per_second=1)}"}
    # The first answer may skip the limiter (a token cache built on demand); then the burst.
    statuses = [call(Handler(), query="room=r&user=u", headers=headers).status for _ in range(3)]
    assert statuses[-1] == 429

    full, short = both(query="room=r&user=u", headers=headers)

    assert short.status == 429
    assert int(short.header("Retry-After")) >= 1
    assert_same(full, short)


@pytest.mark.parametrize(
    "query", ["user=u", "room=r", "room=&user=u", "room=r&user=" + "x" * 129, "room=r%00&user=u"]
)
def test_a_400_is_the_same_as_djangos_and_names_the_field(bearer, query):
    full, short = both(query=query, headers=bearer)

    assert short.status == 400
    assert json.loads(short.body)["field"] in ("room", "user")
    assert_same(full, short)


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE"])
def test_a_405_is_the_same_as_djangos_with_its_allow(bearer, method):
    # Methods CSRF lets through on the full path too, so that both reach the view.
    full, short = both(method=method, query="room=r&user=u", headers=bearer)

    assert short.status == 405
    assert short.header("Allow") == "GET, HEAD"
    assert_same(full, short)


def test_a_post_gets_the_views_405_without_a_csrf_check(bearer):
    answer = call(Handler(), method="POST", query="room=r&user=u", headers=bearer)

    assert answer.status == 405
    assert answer.header("Content-Type") == "application/json"
    assert answer.header("Allow") == "GET, HEAD"


def test_an_error_in_the_check_is_djangos_500_on_both_paths(bearer, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("broken")

    monkeypatch.setattr(bancheck, "check", broken)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        full, short = both(query="room=r&user=u", headers=bearer)

    assert short.status == 500
    assert_same(full, short)
    assert [r.getMessage() for r in caplog.records if r.name == "django.request"] == [
        f"Internal Server Error: {URL}"
    ] * 2


def test_https_answers_carry_hsts_and_nosniff_as_securitymiddleware_adds_them(bearer):
    full, short = both(query="room=r&user=u", headers=bearer)

    assert short.header("Strict-Transport-Security").startswith("max-age=")
    assert short.header("X-Content-Type-Options") == "nosniff"
    assert_same(full, short)


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_is_redirected_to_https_as_on_the_full_path(bearer):
    full, short = both(query="room=r&user=u", headers=bearer, https=False)

    assert short.status == 301
    assert short.header("Location") == f"https://localhost{URL}?room=r&user=u"
    assert short.header("Strict-Transport-Security") is None  # HSTS only over https
    assert_same(full, short)


def test_a_host_outside_allowed_hosts_gets_djangos_400_and_security_log(bearer, caplog):
    with caplog.at_level(logging.ERROR, logger="django.security.DisallowedHost"):
        full, short = both(query="room=r&user=u", headers=bearer, host="evil.example")

    assert short.status == 400
    assert_same(full, short)
    logged = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert len(logged) == 2


def test_a_user_agent_that_disallowed_user_agents_names_gets_djangos_403(bearer):
    with override_settings(DISALLOWED_USER_AGENTS=[re.compile("evilbot")]):
        full, short = both(query="room=r&user=u", headers={**bearer, "User-Agent": "evilbot/1"})
        allowed = call(Handler(), query="room=r&user=u", headers={**bearer, "User-Agent": "ok"})

    # Both are the full path's 403 page, whose nonce differs from one answer to the next.
    assert short.status == full.status == 403
    assert short.headers_that_matter() == full.headers_that_matter()
    assert allowed.status == 200


def test_hosts_past_those_the_handler_remembers_are_still_each_decided_by_allowed_hosts(bearer):
    handler = Handler()
    with override_settings(ALLOWED_HOSTS=[".example.com"]):
        for n in range(GATES_KEPT + 5):
            answer = call(handler, query="room=r&user=u", headers=bearer, host=f"t{n}.example.com")
            assert answer.status == 200
        refused = call(handler, query="room=r&user=u", headers=bearer, host="evil.example")

    assert len(handler.gates) == GATES_KEPT
    assert refused.status == 400


def test_4xx_answers_are_logged_to_django_request_as_on_the_full_path(app, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        both(query="room=r&user=u")

    assert [r.getMessage() for r in caplog.records if r.name == "django.request"] == [
        f"Unauthorized: {URL}"
    ] * 2


@contextlib.contextmanager
def request_signals_sent():
    """The names of the request signals Django sends within the block, in order."""
    sent = []
    receivers = {
        name: lambda name=name, **kwargs: sent.append(name)
        for name in ("request_started", "request_finished")
    }
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver)
    try:
        yield sent
    finally:
        for name, receiver in receivers.items():
            getattr(signals, name).disconnect(receiver)


def test_the_ban_check_sends_neither_request_started_nor_request_finished(bearer):
    with request_signals_sent() as sent:
        answer = call(Handler(), query="room=r&user=u", headers=bearer)

    assert answer.status == 200
    assert sent == []


def test_a_check_answered_from_the_database_closes_its_connection_as_the_full_path_does(
    app, bearer, monkeypatch
):
    """With CONN_MAX_AGE 0, a check that read the database (the app's cache not built yet)
    leaves no connection open after its answer, as request_finished does on the full path."""
    active_ban(app, "live-1", "troll")
    connection = connections["default"]
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)

    def ask_the_database(handler) -> list:
        bancheck._redis().delete(bancheck.PREFIX + bancheck.app_key(app))
        connection.close()
        queries = []
        with connection.execute_wrapper(lambda execute, *args: queries.append(1) or execute(*args)):
            answer = call(handler, query="room=live-1&user=troll", headers=bearer)
        assert json.loads(answer.body)["banned"] is True
        return queries

    assert ask_the_database(Handler())
    assert connection.connection is None
    assert ask_the_database(WSGIHandler())
    assert connection.connection is None


def test_the_urlconfs_ban_check_is_the_path_the_handler_answers():
    """Django's path and the short path serve the same URL, so either answers a token server."""
    assert resolve(BAN_CHECK_PATH).url_name == "ban_check"
    assert reverse("ban_check") == BAN_CHECK_PATH


SKIPPED_MIDDLEWARE = [
    ("django.contrib.sessions.middleware", "SessionMiddleware", "process_request"),
    ("django.middleware.locale", "LocaleMiddleware", "process_request"),
    ("django.middleware.common", "CommonMiddleware", "process_request"),
    ("django.middleware.csrf", "CsrfViewMiddleware", "process_view"),
    ("django.contrib.auth.middleware", "AuthenticationMiddleware", "process_request"),
    ("django.contrib.messages.middleware", "MessageMiddleware", "process_request"),
    ("moderation.middleware", "ViewerTimezoneMiddleware", "__call__"),
    ("axes.middleware", "AxesMiddleware", "__call__"),
]


@pytest.mark.parametrize(("module", "name", "method"), SKIPPED_MIDDLEWARE)
def test_the_ban_check_runs_no_left_out_middleware_that_the_admin_login_runs(
    bearer, monkeypatch, module, name, method
):
    """Session, locale, common, CSRF, auth, messages, time zone and axes middleware: the hook is
    not called for the ban check, and is for the admin's login page."""
    ran = []
    original = getattr(import_string(f"{module}.{name}"), method)

    def spy(self, request, *args):
        ran.append(request.path)
        return original(self, request, *args)

    monkeypatch.setattr(f"{module}.{name}.{method}", spy)

    answer = call(Handler(), query="room=r&user=u", headers=bearer)
    assert answer.status == 200
    assert ran == []
    assert call(Handler(), "/admin/login/").status == 200
    assert set(ran) == {"/admin/login/"}  # CSRF's also runs in the login view's decorator


def test_the_ban_check_sends_no_content_language_or_vary_while_the_full_path_does(bearer):
    full, short = both(query="room=r&user=u", headers=bearer)

    assert full.header("Content-Language") == "en"
    assert short.header("Content-Language") is None
    assert short.header("Vary") is None


def test_the_ban_check_leaves_out_the_page_headers_x_frame_options_and_csp(bearer):
    full, short = both(query="room=r&user=u", headers=bearer)

    assert full.header("X-Frame-Options") == "DENY"
    assert full.header("Content-Security-Policy")
    assert short.header("X-Frame-Options") is None
    assert short.header("Content-Security-Policy") is None


def test_other_urls_take_the_full_path_and_the_admin_sets_its_csrf_cookie():
    answer = call(Handler(), "/admin/login/")

    assert answer.status == 200
    cookies = [value for name, value in answer.headers if name == "Set-Cookie"]
    assert any(cookie.strip().startswith("csrftoken=") for cookie in cookies)
    assert answer.header("Content-Language") == "en"


def test_a_path_that_only_starts_like_the_ban_check_takes_the_full_path(bearer):
    answer = call(Handler(), URL + "/", query="room=r&user=u", headers=bearer)

    assert answer.status == 404
    assert answer.header("Content-Language") == "en"  # LocaleMiddleware ran


def test_the_noop_path_is_absent_unless_bench_noop_is_on():
    answer = call(Handler(), NOOP_PATH)

    assert answer.status == 404


@override_settings(BENCH_NOOP=True)
def test_with_bench_noop_on_the_noop_path_answers_200_without_django():
    """200 with the fixed body, and Django never hears of the request (no request_started)."""
    with request_signals_sent() as sent:
        answer = call(Handler(), NOOP_PATH)

    assert "request_started" not in sent
    assert answer.status == 200
    assert answer.body == NOOP_BODY
    assert answer.header("Content-Length") == str(len(NOOP_BODY))


def test_gunicorn_serves_the_short_path_and_the_full_path(app, bearer):
    """The Procfile's application (moderation_site.wsgi) in a real gunicorn: the ban check
    answers with its headers, the admin sets its CSRF cookie, and there is no no-op path."""
    active_ban(app, "live-1", "troll")
    port = free_port()
    web = start_web(port)
    base = f"http://127.0.0.1:{port}"
    https = {"X-Forwarded-Proto": "https"}
    try:
        banned = requests.get(
            base + URL, {"room": "live-1", "user": "troll"}, headers={**bearer, **https}, timeout=10
        )
        refused = requests.get(base + URL, {"room": "r", "user": "u"}, headers=https, timeout=10)
        login = requests.get(base + "/admin/login/", headers=https, timeout=10)
        noop = requests.get(base + NOOP_PATH, headers=https, timeout=10)
    finally:
        stop_gracefully(web)
        output = web.communicate()[0]

    assert banned.status_code == 200, output[-3000:]
    assert banned.json()["banned"] is True
    assert banned.headers["Cache-Control"] == "no-store"
    assert banned.headers["Content-Type"] == "application/json"
    assert banned.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Language" not in banned.headers  # the short path
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="ban-check"'
    assert login.status_code == 200
    assert "csrftoken" in login.cookies
    assert noop.status_code == 404


def test_check_deploy_warns_while_bench_noop_is_on():
    with override_settings(BENCH_NOOP=True):
        (warning,) = bench_noop_off()
    assert warning.id == "moderation.W001"
    assert "/bench/noop" in warning.msg
    assert bench_noop_off() == []

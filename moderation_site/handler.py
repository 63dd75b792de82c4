"""The site's WSGI handler: Django's own, with a short path for the ban check.

Token servers ask `GET /api/v1/bans/check` before every join, with a bearer token and no cookie.
Django's request and response objects, its signals and most of its middleware do nothing for
such a request, but cost more CPU than the answer itself. So exactly that path (PATH_INFO ==
BAN_CHECK_PATH) is answered here from `api.reply`, the same function the URLconf's view
answers with, straight into WSGI; every other request goes through Django's handler.

What the short path keeps of Django's:
- Hosts that ALLOWED_HOSTS does not name, user agents that DISALLOWED_USER_AGENTS names, and
  plain HTTP that SECURE_SSL_REDIRECT sends to https all take Django's full path, and are
  answered there (400 logged to `django.security.DisallowedHost`, 403, 301). Which hosts and
  schemes pass is decided by Django's own `get_host` and SecurityMiddleware, once per host and
  scheme (`_gate`).
- SecurityMiddleware's headers (HSTS on https, nosniff, the referrer and opener policies),
  taken from SecurityMiddleware itself, and Content-Length.
- 4xx and 5xx answers logged to `django.request`; an exception turned into Django's 500 (with
  `got_request_exception`, which Sentry listens to).
- Database connections: a check answered from the database (a cold or flushed cache) closes
  them as request_finished would (`close_old_connections`, CONN_MAX_AGE).

Left out: the request_started and request_finished signals, sessions, CSRF (the token comes in a
header, never from a cookie, so there is nothing for another site to forge), locale (the answers
are not translated, so neither `Content-Language` nor `Vary: Accept-Language`), authentication,
messages, the viewer's time zone, axes (logins only), whitenoise (static files), RejectNul (it
passes /api/ by), the request id, the health check and /metrics (paths of their own); and
X-Frame-Options and the Content Security Policy, which govern how a browser shows a page: a
JSON answer with nosniff is never shown as one.

With BENCH_NOOP on (only `manage.py bench` sets it) the handler also answers NOOP_PATH itself,
before Django: the web server's own floor, which the ban check is measured against.
"""

from __future__ import annotations

import io
import sys
from http.client import responses

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest, get_bytes_from_wsgi
from django.db import close_old_connections
from django.http import HttpResponse, QueryDict
from django.middleware.security import SecurityMiddleware
from django.utils.log import log_response

BAN_CHECK_PATH = "/api/v1/bans/check"
# What `_gate` decides from: every environ value get_host() and is_secure() may read.
GATE_KEYS = (
    "HTTP_HOST",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
)
# Hosts and schemes remembered; past that (a client making up Host headers) each is decided anew.
GATES_KEPT = 64

NOOP_PATH = "/bench/noop"
NOOP_BODY = b'{"ok": true}'
NOOP_HEADERS = (("Content-Type", "application/json"), ("Content-Length", str(len(NOOP_BODY))))


class Handler(WSGIHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from moderation import api  # wsgi.py imports this module before django.setup()

        self.api = api
        self.noop = settings.BENCH_NOOP
        proxy_ssl = settings.SECURE_PROXY_SSL_HEADER
        self.gate_keys = GATE_KEYS + ((proxy_ssl[0],) if proxy_ssl else ())
        self.gates: dict[tuple, tuple | None] = {}
        self.security = SecurityMiddleware(lambda request: HttpResponse())

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        if path == BAN_CHECK_PATH:
            security_headers = self._gate(environ)
            if security_headers is not None and self._agent_allowed(environ):
                return self._ban_check(environ, start_response, security_headers)
        elif self.noop and path == NOOP_PATH:
            start_response("200 OK", list(NOOP_HEADERS))
            return [NOOP_BODY]
        return super().__call__(environ, start_response)

    def _ban_check(self, environ, start_response, security_headers):
        try:
            reply = self.api.reply(
                environ["REQUEST_METHOD"].upper(),
                environ.get("HTTP_AUTHORIZATION", ""),
                QueryDict(get_bytes_from_wsgi(environ, "QUERY_STRING", "")),
            )
            body = reply.body()
            headers = [*reply.header_items(), *security_headers, ("Content-Length", str(len(body)))]
            if reply.status >= 400:
                log_response(
                    "%s: %s",
                    responses[reply.status],
                    BAN_CHECK_PATH,
                    response=HttpResponse(status=reply.status),
                    request=WSGIRequest(environ),
                )
        except Exception as exc:  # noqa: BLE001 - Django's 500, as on the full path
            return self._internal_error(environ, start_response, security_headers, exc)
        finally:
            close_old_connections()
        start_response(f"{reply.status} {responses[reply.status]}", headers)
        return [body]

    def _internal_error(self, environ, start_response, security_headers, exc):
        response = response_for_exception(WSGIRequest(environ), exc)
        for name, value in security_headers:
            response.setdefault(name, value)
        response.headers["Content-Length"] = str(len(response.content))
        start_response(f"{response.status_code} {response.reason_phrase}", [*response.items()])
        return response

    def _gate(self, environ) -> tuple | None:
        """SecurityMiddleware's headers for a ban check's answer to this host and scheme, or None
        where Django's full path must answer it (a host not allowed, a redirect to https)."""
        key = tuple(map(environ.get, self.gate_keys))
        try:
            return self.gates[key]
        except KeyError:
            pass
        gate = self._decide_gate(environ)
        if len(self.gates) < GATES_KEPT:
            self.gates[key] = gate
        return gate

    def _decide_gate(self, environ) -> tuple | None:
        # A request of the gate's keys alone: nothing else of this request may shape the gate.
        request = WSGIRequest(
            {
                **{name: environ[name] for name in self.gate_keys if name in environ},
                "REQUEST_METHOD": "GET",
                "PATH_INFO": BAN_CHECK_PATH,
                "wsgi.input": io.BytesIO(),
                "wsgi.errors": sys.stderr,
            }
        )
        try:
            request.get_host()
        except DisallowedHost:
            return None  # the full path refuses it and logs it
        if self.security.process_request(request) is not None:
            return None  # the full path redirects it
        answer = self.security.process_response(request, HttpResponse())
        return tuple((name, value) for name, value in answer.items() if name != "Content-Type")

    def _agent_allowed(self, environ) -> bool:
        if not settings.DISALLOWED_USER_AGENTS:
            return True
        agent = environ.get("HTTP_USER_AGENT", "")
        return not any(pattern.search(agent) for pattern in settings.DISALLOWED_USER_AGENTS)

"""The site's WSGI handler: Django's own, with a short path for the ban check.

Token servers ask `GET /api/v1/bans/check` before every join, with a bearer token and no cookie.
Most of Django's middleware does nothing for such a request (no session, CSRF token, language,
message, login or time zone is read) but costs as much CPU as the answer itself. So exactly that
path (PATH_INFO == BAN_CHECK_PATH) goes to the view the URLconf names `ban_check` (with the
wrappers urls.py puts around it) through a short chain; every other request goes through
Django's handler as before.

What the short path keeps of Django's handler: the request_started and request_finished
signals (database connections are closed and checked as on any request), the URLconf, the
WSGIRequest, an exception turned into Django's 500, and 4xx/5xx answers logged to
`django.request`. Of MIDDLEWARE it keeps, in MIDDLEWARE's order, what still acts on an API
answer (SHORT_PATH_MIDDLEWARE): SecurityMiddleware (the SECURE_SSL_REDIRECT redirect to https,
HSTS on https, nosniff, the referrer and opener policies) and, in CommonMiddleware's place,
Content-Length.

A request the full path would refuse before any view takes the full path, so it is refused the
same way: a Host that ALLOWED_HOSTS does not name (400, logged to
`django.security.DisallowedHost`), a User-Agent that DISALLOWED_USER_AGENTS names (403).

Left out: sessions, CSRF (the token comes in a header, never from a cookie, so there is nothing
for another site to forge), locale (the answers are not translated, so neither
`Content-Language` nor `Vary: Accept-Language`), authentication, messages, the viewer's time
zone, axes (logins only), whitenoise (static files), RejectNul (it passes /api/ by), the health
check and /metrics (paths of their own); and X-Frame-Options and the Content Security Policy,
which govern how a browser shows a page: a JSON answer with nosniff is never shown as one, and
each header costs CPU on every check.

With BENCH_NOOP on (only `manage.py bench` sets it) the handler also answers NOOP_PATH itself,
before Django: the web server's own floor, which the ban check is measured against.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost, ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.urls import get_resolver, set_urlconf
from django.utils.log import log_response
from django.utils.module_loading import import_string

BAN_CHECK_PATH = "/api/v1/bans/check"
BAN_CHECK_URL_NAME = "ban_check"
# What the short path runs in place of an entry of MIDDLEWARE; it leaves out the others.
SHORT_PATH_MIDDLEWARE = {
    "django.middleware.security.SecurityMiddleware": (
        "django.middleware.security.SecurityMiddleware"
    ),
    "django.middleware.common.CommonMiddleware": "moderation_site.handler.ContentLength",
}

NOOP_PATH = "/bench/noop"
NOOP_BODY = b'{"ok": true}'
NOOP_HEADERS = (("Content-Type", "application/json"), ("Content-Length", str(len(NOOP_BODY))))


class Handler(WSGIHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.noop = settings.BENCH_NOOP
        self._ban_check = None  # built at the first ban check, once the URLconf can load

    def __call__(self, environ, start_response):
        if self.noop and environ.get("PATH_INFO") == NOOP_PATH:
            start_response("200 OK", list(NOOP_HEADERS))
            return [NOOP_BODY]
        return super().__call__(environ, start_response)

    def get_response(self, request):
        if request.path_info != BAN_CHECK_PATH or not _short_path_serves(request):
            return super().get_response(request)
        # What BaseHandler.get_response does around its middleware chain.
        set_urlconf(settings.ROOT_URLCONF)
        if self._ban_check is None:
            self._ban_check = self._ban_check_chain()
        response = self._ban_check(request)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response

    def _ban_check_chain(self):
        match = get_resolver(settings.ROOT_URLCONF).resolve(BAN_CHECK_PATH)
        if match.url_name != BAN_CHECK_URL_NAME:
            raise ImproperlyConfigured(
                f"{BAN_CHECK_PATH} resolves to {match.view_name!r}, not {BAN_CHECK_URL_NAME!r}: "
                f"change BAN_CHECK_PATH in {__name__} to where the ban check is served."
            )
        view = self.make_view_atomic(match.func)

        def answer(request):
            request.resolver_match = match
            response = view(request, *match.args, **match.kwargs)
            self.check_response(response, match.func)
            return response

        chain = convert_exception_to_response(answer)
        for path in reversed(settings.MIDDLEWARE):
            if path in SHORT_PATH_MIDDLEWARE:
                middleware = import_string(SHORT_PATH_MIDDLEWARE[path])
                chain = convert_exception_to_response(middleware(chain))
        return chain


class ContentLength:
    """CommonMiddleware's part that acts on an API answer: Content-Length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response


def _short_path_serves(request) -> bool:
    """Whether the full path would pass this request to a view (host and user agent allowed)."""
    try:
        request.get_host()
    except DisallowedHost:
        return False
    if settings.DISALLOWED_USER_AGENTS:
        agent = request.META.get("HTTP_USER_AGENT", "")
        return not any(pattern.search(agent) for pattern in settings.DISALLOWED_USER_AGENTS)
    return True

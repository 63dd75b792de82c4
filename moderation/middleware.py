import contextlib
import zoneinfo
from urllib.parse import unquote

from django.core.signals import request_finished
from django.http import HttpResponseBadRequest
from django.utils import timezone

from . import logs


class RequestIdMiddleware:
    """Gives each request an id: the X-Request-ID header a proxy sent when it looks like an id,
    else a new one. Every log line of the request carries it (`logs.request_id`), and so does
    the response's X-Request-ID header, which gunicorn's access line reads.

    The id stays set until the response is closed: Django logs a 4xx or 5xx answer after the
    middleware has returned, and gunicorn writes its access line before it closes the response.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        request_finished.connect(_forget_request_id, dispatch_uid="moderation.request_id")

    def __call__(self, request):
        request_id = logs.request_id_from(request.headers.get(logs.REQUEST_ID_HEADER))
        logs.request_id.set(request_id)
        response = self.get_response(request)
        response[logs.REQUEST_ID_HEADER] = request_id
        return response


def _forget_request_id(**kwargs):
    logs.request_id.set(None)


class ViewerTimezoneMiddleware:
    """Shows times in the viewer's own time zone, which their browser reports in a cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.deactivate()
        # site.js writes the name URL-encoded ("Asia%2FShanghai").
        name = unquote(request.COOKIES.get("tz", ""))
        # A cookie we cannot read leaves the site's own time zone.
        # Anything a browser (or an attacker) sends: names, paths, NUL bytes.
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            if name and len(name) <= 64:
                timezone.activate(zoneinfo.ZoneInfo(name))
        return self.get_response(request)


# Everything the pages load comes from this site; inline styles are Django admin's own.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """No script from anywhere else, and none inline: an injected <script> does not run."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class RejectNulMiddleware:
    """A NUL byte in the query string is refused up front: no field of ours may hold one, and
    PostgreSQL cannot even compare with it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            return self.get_response(request)  # the ban check checks its own two parameters
        if any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                "A parameter contains a NUL character: remove it and try again.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)

import contextlib
import zoneinfo

from django.utils import timezone


class ViewerTimezoneMiddleware:
    """Shows times in the viewer's own time zone, which their browser reports in a cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.deactivate()
        name = request.COOKIES.get("tz", "")
        # A cookie we cannot read leaves the site's own time zone.
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            if name:
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

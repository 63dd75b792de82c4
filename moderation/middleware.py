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

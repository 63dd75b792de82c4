"""Room callbacks from the vendors: one URL per vendor app, /callbacks/<callback id>/.

Each delivery is verified with the app's callback secret, refused unless the vendor signed it
within the acceptance window (CALLBACK_MAX_AGE_SECONDS), stored (delivery, presence and, where
the signature leaves the body out, its signed pair, in one transaction) and answered at once; a
re-kick, if one is due, goes to a job. What must be kept is the delivery and the presence it
implies: once they are in the database the answer is 200, even if Redis is down (`reconcile`
re-kicks later from presence). If the database cannot keep them the answer is 503, so that the
vendor delivers again.
"""

from __future__ import annotations

import logging
import re
import time
from functools import wraps

from django.db import DatabaseError
from django.http import HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import metrics, services
from .credentials import CredentialError
from .models import VendorApp
from .presence import SignatureReused, acceptance_window
from .vendors import CallbackInvalid, CallbackRefused, read_callback

CALLBACK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
LATEST_EVENT_MS = 253402300799000  # 9999-12-31T23:59:59Z: later than any datetime can hold
log = logging.getLogger(__name__)

# Room events are a few hundred bytes; anything much larger is not one.
MAX_BODY_BYTES = 64 * 1024


def _answer(status: int, **payload) -> JsonResponse:
    # Tencent asks for a JSON body with code 0 (and at most 2000 bytes); the others ignore it.
    response = JsonResponse({"code": 0 if status == 200 else status, **payload}, status=status)
    response.answer = payload  # what was said, for the count: no need to parse it back
    return response


VERDICTS = {
    400: "invalid",
    403: "refused",
    404: "unknown",
    405: "method",
    411: "chunked",
    413: "too_large",
    503: "unavailable",
}


def _counted(view):
    """Counts each delivery by vendor and verdict (rtc_moderation_callback_deliveries_total)."""

    @wraps(view)
    def counted(request, callback_id: str):
        response = view(request, callback_id)
        verdict = VERDICTS.get(response.status_code, "other")
        if response.status_code == 200:
            answer = getattr(response, "answer", {})
            verdict = next((k for k in ("duplicate", "ignored") if answer.get(k)), "accepted")
        metrics.callback(getattr(request, "callback_vendor", ""), verdict)
        return response

    return counted


@csrf_exempt
@_counted
def room_callback(request, callback_id: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not CALLBACK_ID.fullmatch(callback_id):
        return _answer(404, error="no such callback URL")  # ours are url-safe base64
    try:
        app = VendorApp.objects.filter(callback_id=callback_id).first()
    except DatabaseError:
        log.exception("Room callback: the database is unavailable.")
        return _answer(503, error="unavailable, deliver again later")
    if app is None:
        return _answer(404, error="no such callback URL")
    request.callback_vendor = app.vendor
    length = request.META.get("CONTENT_LENGTH") or ""
    if not length and "HTTP_TRANSFER_ENCODING" in request.META:
        # A chunked body: WSGI servers (gunicorn) pass it without a length, and Django then
        # reads it as empty. Vendors send a Content-Length; 411 says what to do instead.
        return _answer(411, error="a callback body needs a Content-Length (not chunked)")
    if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        return _answer(413, error=f"a callback body is at most {MAX_BODY_BYTES} bytes")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, error=f"a callback body is at most {MAX_BODY_BYTES} bytes")
    try:
        secret = app.callback_secret
    except CredentialError:
        log.error("Room callback for app %s: its callback secret cannot be decrypted.", app.pk)
        return _answer(503, error="unavailable, deliver again later")
    if not secret:
        log.warning("Room callback for app %s refused: no callback secret is set.", app.pk)
        return _answer(403, error="no callback secret is set for this app")
    try:
        delivery = read_callback(
            app.vendor, request.headers, body, secret=secret, app_id=app.vendor_app_id
        )
    except CallbackRefused as exc:
        log.warning("Room callback for app %s refused: %s.", app.pk, exc)
        return _answer(403, error=str(exc))
    except CallbackInvalid as exc:
        return _answer(400, error=str(exc))
    except (ValueError, TypeError, KeyError, RecursionError, OverflowError):
        # The readers check every field; this is the net under them, never a 500.
        return _answer(400, error="the callback cannot be read")
    window = acceptance_window().total_seconds()
    if abs(time.time() - delivery.sent_at) > window:
        log.warning(
            "Room callback for app %s refused: not signed in the last %d s.", app.pk, window
        )
        return _answer(
            403, error=f"the delivery was signed too long ago (over {window:.0f} s from our clock)"
        )
    event = delivery.event
    if event is not None and not 0 <= event.at_ms <= LATEST_EVENT_MS:
        return _answer(400, error="the event time is not a real time")
    if event is None and delivery.signature_covers_body:
        return _answer(200, ignored=True)  # nothing to keep
    try:
        fresh = services.receive_room_event(app=app, delivery=delivery)
    except SignatureReused:
        log.warning(
            "Room callback for app %s refused: its signature came with another body.", app.pk
        )
        return _answer(403, error="the signature was already used for another delivery")
    except DatabaseError:
        log.exception("Room callback for app %s not kept: the database is unavailable.", app.pk)
        return _answer(503, error="unavailable, deliver again later")
    if event is None:
        return _answer(200, ignored=True)
    return _answer(200) if fresh else _answer(200, duplicate=True)

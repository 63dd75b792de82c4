"""One vendor call: the client, the requests for a group of bans, the send, and what came back.

Every call is recorded as a `VendorCall` and goes through the app's rate limit, ahead of bulk
calls when interactive work makes it (`queue.running_from`). `outcome` is the one place that
reads a vendor's answer as done, nobody there, try again, or failed.
"""

from __future__ import annotations

import enum

from django.conf import settings

from .. import liveness, metrics, redis
from ..models import Ban, Vendor, VendorApp, VendorCall
from ..ratelimit import vendor_call_slot
from ..vendors import capabilities_for, client_for
from ..vendors.base import CallResult, Capabilities, VendorRequest
from .queue import interactive_now


class Outcome(enum.Enum):
    DONE = "done"
    NOBODY_THERE = "nobody_there"  # the vendor found no such room or user
    RETRY = "retry"
    FAILED = "failed"


def outcome(client, result: CallResult, attempt: int) -> Outcome:
    """How to go on after `attempt`: the vendor's retryable errors get VENDOR_MAX_ATTEMPTS."""
    if result.ok:
        return Outcome.DONE
    if result.vendor_code in client.MISSING_TARGET_CODES:
        return Outcome.NOBODY_THERE
    if result.retryable and attempt < settings.VENDOR_MAX_ATTEMPTS:
        return Outcome.RETRY
    return Outcome.FAILED


def vendor_client(app: VendorApp):
    """A client for the app's vendor, with the configured timeouts; raises CredentialError."""
    timeout = (settings.VENDOR_CONNECT_TIMEOUT_SECONDS, settings.VENDOR_READ_TIMEOUT_SECONDS)
    return client_for(app.connection(), timeout=timeout)


def test_connection(app: VendorApp):
    """The vendor's answer to a harmless signed call (a kick of a user nobody uses from a room
    nobody uses); raises CredentialError or VendorInputError when no client can be made."""
    client = vendor_client(app)
    try:
        return client.test_connection()
    finally:
        client.close()


def capabilities(app: VendorApp) -> Capabilities:
    """What this app's vendor account can do (ZEGO's own ban only where it was enabled)."""
    return capabilities_for(
        app.vendor, native_ban=app.vendor == Vendor.ZEGO and app.zego_native_ban
    )


def vendor_window(caps: Capabilities, seconds: int | None) -> int:
    """The ban window to ask for: the vendor's longest for a permanent ban."""
    if seconds is None:
        return caps.max_ban_seconds
    return min(seconds, caps.max_ban_seconds)


def requests_for(client, *, kind, scope, room_id, user_ids, reason, seconds, media=""):
    """The vendor calls for one group of bans: [(request, user ids it covers)].

    A mute on a vendor that mutes streams (ZEGO) has no call of its own here: its calls are
    one per stream the user publishes (`streams`); only its ids are checked.
    """
    caps = client.capabilities
    if kind == Ban.Kind.MUTE:
        client.check_media(media)
        if caps.mute_by == "stream":
            client.check_room_id(room_id)
            client.check_user_ids(user_ids)
            return []
        return [
            (client.mute_request(room_id=room_id, user_id=u, media=media, seconds=seconds), [u])
            for u in user_ids
        ]
    if kind == Ban.Kind.BAN and caps.native_ban:
        window = vendor_window(caps, seconds)
        if scope == Ban.Scope.WHOLE_ROOM:
            return [(client.ban_request(room_id=room_id, user_id=None, seconds=window), [""])]
        return [
            (client.ban_request(room_id=room_id, user_id=u, seconds=window), [u]) for u in user_ids
        ]
    if scope == Ban.Scope.WHOLE_ROOM:
        return [(client.close_room_request(room_id=room_id, reason=reason), [""])]
    if scope == Ban.Scope.USER_EVERYWHERE:
        # Kick-only vendors: no call knows every room; presence and the ban check enforce it.
        return []
    return [
        (request, list(request.user_ids))
        for request in client.kick_requests(room_id=room_id, user_ids=user_ids, reason=reason)
    ]


def send(client, app: VendorApp, request: VendorRequest, bans: list[Ban], attempt: int):
    """Makes the call within the app's rate limit and records it against `bans`."""
    # A worker that cannot renew its lease may have had its bans handed to another.
    liveness.ensure_held()
    # An action without a documented limit (none today) goes at one call a second.
    rate = app.rate_limits.get(request.action) or client.capabilities.rate_limits.get(
        request.action, 1
    )
    slot = vendor_call_slot(
        redis.connection(),
        app_pk=app.pk,
        action=request.action,
        rate=rate,
        interactive=interactive_now(),
    )
    with slot:
        result = client.send(request)
    metrics.vendor_call(client, result)
    call = VendorCall.objects.create(
        app=app,
        action=result.action,
        request_params=result.params,
        ok=result.ok,
        retryable=result.retryable,
        http_status=result.http_status,
        vendor_code=str(result.vendor_code)[:128],
        vendor_message=result.vendor_message,
        vendor_request_id=result.request_id[:128],
        latency_ms=result.latency_ms,
        attempt=attempt,
    )
    if bans:
        call.bans.add(*bans)
    return result

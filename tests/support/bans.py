"""Bans in tests: made active without a worker, or waited for until a worker settled them."""

from moderation import services
from moderation.models import Ban

from .workers import wait_until


def active_ban(app, room_id, user_id, *, scope=Ban.Scope.USER_IN_ROOM, seconds=3600):
    everywhere = scope == Ban.Scope.USER_EVERYWHERE
    (ban,) = services.ban(
        app=app,
        scope=scope,
        room=None if everywhere else services.room_for(app=app, room_id=room_id),
        user_ids=[] if scope == Ban.Scope.WHOLE_ROOM else [user_id],
        seconds=seconds,
        reason="abuse",
        actor=None,
    )
    services.apply(ban_ids=[ban.pk])
    ban.refresh_from_db()
    assert ban.status == Ban.Status.ACTIVE, ban.vendor_message
    return ban


def final(bans, timeout=15.0):
    """Waits until no ban is pending any more; returns them fresh from the database."""
    ids = [b.pk for b in bans]

    def settled():
        fresh = list(Ban.objects.filter(pk__in=ids).order_by("pk"))
        return fresh if all(b.status != Ban.Status.PENDING for b in fresh) else None

    return wait_until(settled, timeout=timeout, message="the bans' final states")


def actions(emulator):
    return [call.action for call in emulator.calls]

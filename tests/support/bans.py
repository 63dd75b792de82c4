"""Bans made active without a worker: the test runs the apply job itself."""

from moderation import services
from moderation.models import Ban


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

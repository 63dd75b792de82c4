"""What reconcile catches when Redis lost the work (services.reconciliation)."""

import pytest
import redis

from moderation import redis as moderation_redis
from moderation import services
from moderation.models import Ban

from ..support.bans import final

pytestmark = pytest.mark.django_db(transaction=True)


def test_with_redis_unreachable_a_ban_is_kept_pending_and_reconcile_dispatches_it(
    emulated_app, emulator, worker, moderator, monkeypatch, settings
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-5")
    monkeypatch.setattr(
        moderation_redis, "_connection", redis.Redis(port=1, socket_connect_timeout=0.2)
    )

    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["u1"],
        seconds=600,
        reason="spam",
        actor=moderator,
    )

    ban.refresh_from_db()
    assert (ban.status, ban.dispatched_at) == (Ban.Status.PENDING, None)
    monkeypatch.setattr(moderation_redis, "_connection", None)  # Redis is back
    settings.DISPATCH_GRACE_SECONDS = 0
    assert services.reconcile()["dispatched"] == 1
    assert final([ban])[0].status == Ban.Status.ACTIVE

"""Bans end on time (services.expiry)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moderation import services
from moderation.models import Ban, ModerationLog

from ..support.bans import actions, final
from ..support.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_12_second_ban_is_marked_expired_within_2_seconds_of_its_end(
    emulated_app, emulator, worker, clock, moderator
):
    app = emulated_app("volcengine")
    room = services.room_for(app=app, room_id="quick")
    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["u1"],
        seconds=12,
        reason="cool down",
        actor=moderator,
    )
    (ban,) = final([ban])
    assert ban.status == Ban.Status.ACTIVE

    wait_until(
        lambda: Ban.objects.get(pk=ban.pk).status == Ban.Status.EXPIRED,
        timeout=20,
        message="expiry",
    )

    expired = ModerationLog.objects.get(ban=ban, event="expired")
    assert timedelta(0) <= expired.created_at - ban.expires_at <= timedelta(seconds=2)
    assert "UpdateBanRoomUserRule" not in actions(emulator)  # the vendor's window ends by itself


def test_expiry_ends_only_the_bans_whose_time_is_up_as_changed_since(
    emulated_app, redis_connection, moderator
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-6")
    extended, ended = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["u1", "u2"],
        seconds=60,
        reason="spam",
        actor=moderator,
    )
    now = timezone.now()
    Ban.objects.filter(pk__in=[extended.pk, ended.pk]).update(
        status=Ban.Status.ACTIVE,
        starts_at=now - timedelta(seconds=120),
        expires_at=now - timedelta(seconds=60),
    )
    services.change(
        ban=Ban.objects.get(pk=extended.pk), seconds=86400, reason="extend", actor=moderator
    )

    assert services.expire_due() == 1
    assert Ban.objects.get(pk=extended.pk).status == Ban.Status.ACTIVE
    assert Ban.objects.get(pk=ended.pk).status == Ban.Status.EXPIRED
    assert ModerationLog.objects.filter(ban=ended, event="expired").count() == 1
    assert services.expire_due() == 0

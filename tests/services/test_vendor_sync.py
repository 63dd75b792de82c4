"""The vendor's own ban kept in step with lifts, changes and renewals (services.vendor_sync)."""

from datetime import timedelta

import pytest

from moderation import services
from moderation.models import Ban

from ..support.bans import final
from ..support.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_lift_and_change_on_volcengine_call_update_ban_room_user_rule(
    emulated_app, emulator, worker, moderator
):
    app = emulated_app("volcengine")
    room = services.room_for(app=app, room_id="karaoke")
    first, second = final(
        services.ban(
            app=app,
            scope=Ban.Scope.USER_IN_ROOM,
            room=room,
            user_ids=["u1", "u2"],
            seconds=3600,
            reason="abuse",
            actor=moderator,
        )
    )

    services.lift(ban=first, reason="appeal accepted", actor=moderator)
    services.change(ban=second, seconds=7200, reason="repeat offender", actor=moderator)

    wait_until(lambda: not Ban.objects.filter(vendor_sync_due=True).exists(), message="sync")
    updates = [c for c in emulator.calls if c.action == "UpdateBanRoomUserRule"]
    assert sorted(c.params["ForbiddenInterval"] for c in updates)[0] == 0
    assert 7100 < sorted(c.params["ForbiddenInterval"] for c in updates)[1] <= 7200
    assert emulator.join(
        vendor="volcengine", app_id=app.vendor_app_id, room_id="karaoke", user_id="u1"
    )
    assert Ban.objects.get(pk=second.pk).expires_at == second.starts_at + timedelta(hours=2)


def test_a_permanent_volcengine_ban_is_reapplied_before_the_vendor_window_ends(
    emulated_app, emulator, redis_connection, moderator
):
    import time_machine

    app = emulated_app("volcengine")
    room = services.room_for(app=app, room_id="lobby")
    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["u1"],
        seconds=None,
        reason="ban evader",
        actor=moderator,
    )
    services.apply(ban_ids=[ban.pk])
    ban.refresh_from_db()
    assert ban.vendor_until - ban.starts_at == timedelta(seconds=604800)

    # Half an hour before the vendor's 7-day window ends, inside the re-apply margin.
    with time_machine.travel(ban.vendor_until - timedelta(minutes=30)):
        assert services.reconcile()["reapplied"] == 1  # queued
        services.reapply(ban_id=ban.pk)  # what the queued job does
        renewed = Ban.objects.get(pk=ban.pk)

    assert renewed.status == Ban.Status.ACTIVE
    assert renewed.vendor_until > ban.vendor_until
    windows = [c.params["ForbiddenInterval"] for c in emulator.calls if c.action == "BanRoomUser"]
    assert windows == [604800, 604800]

"""The ban lifecycle, end to end: services, a real RQ worker, Redis and the vendor emulator."""

from datetime import timedelta

import pytest
import redis
from django.core.exceptions import ValidationError
from django.utils import timezone

from moderation import redis as moderation_redis
from moderation import services
from moderation.models import Ban, ModerationLog, VendorCall

from .support.workers import start_worker, stop_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

USERS = ["troll1", "troll2", "troll3"]


def final(bans, timeout=15.0):
    """Waits until no ban is pending any more; returns them fresh from the database."""
    ids = [b.pk for b in bans]

    def settled():
        fresh = list(Ban.objects.filter(pk__in=ids).order_by("pk"))
        return fresh if all(b.status != Ban.Status.PENDING for b in fresh) else None

    return wait_until(settled, timeout=timeout, message="the bans' final states")


def actions(emulator):
    return [call.action for call in emulator.calls]


@pytest.mark.parametrize("vendor", ["volcengine", "zego", "tencent"])
def test_a_kick_reaches_done_on_every_vendor(vendor, emulated_app, emulator, worker, moderator):
    app = emulated_app(vendor)
    room = services.room_for(app=app, room_id="1234" if vendor == "tencent" else "live-1")
    for user in USERS:
        emulator.join(vendor=vendor, app_id=app.vendor_app_id, room_id=room.room_id, user_id=user)

    bans = services.kick(app=app, room=room, user_ids=USERS, reason="spam", actor=moderator)

    assert {b.status for b in final(bans)} == {Ban.Status.DONE}
    assert emulator.members(vendor=vendor, app_id=app.vendor_app_id, room_id=room.room_id) == set()
    assert VendorCall.objects.filter(app=app, ok=True).exists()
    assert set(ModerationLog.objects.filter(ban__in=bans).values_list("event", flat=True)) == {
        "created",
        "applied",
    }


APPLY_CALLS = {
    "volcengine": ["BanRoomUser"] * 3,
    "zego": ["KickoutUser"],
    "tencent": ["RemoveUser"],
}


@pytest.mark.parametrize("vendor", ["volcengine", "zego", "tencent"])
def test_a_timed_ban_becomes_active_on_every_vendor(
    vendor, emulated_app, emulator, worker, moderator
):
    app = emulated_app(vendor)
    room = services.room_for(app=app, room_id="4321" if vendor == "tencent" else "live-2")

    bans = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=USERS,
        seconds=3600,
        reason="raid",
        actor=moderator,
    )

    for b in final(bans):
        assert b.status == Ban.Status.ACTIVE
        assert b.expires_at - b.starts_at == timedelta(hours=1)
    # Volcengine bans each user itself; ZEGO (5 a call) and Tencent (10) kick them together.
    assert actions(emulator) == APPLY_CALLS[vendor]
    if vendor == "volcengine":
        assert not emulator.join(
            vendor=vendor, app_id=app.vendor_app_id, room_id=room.room_id, user_id="troll1"
        )


def test_a_retryable_failure_is_retried_and_succeeds(emulated_app, emulator, worker, moderator):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-3")
    emulator.fail_next(vendor="zego", count=2, mode="5xx")

    (kick,) = services.kick(app=app, room=room, user_ids=["u1"], reason="spam", actor=moderator)

    (kick,) = final([kick])
    assert kick.status == Ban.Status.DONE
    attempts = list(
        VendorCall.objects.filter(bans=kick).order_by("pk").values_list("attempt", "ok")
    )
    assert attempts == [(1, False), (2, False), (3, True)]
    assert ModerationLog.objects.filter(ban=kick, event="retried").count() == 2


def test_a_non_retryable_failure_fails_at_once_with_the_vendors_message(
    emulated_app, emulator, worker, moderator
):
    app = emulated_app("volcengine")
    app.secret = "not-the-secret-volcengine-knows"
    app.save()
    room = services.room_for(app=app, room_id="live-4")

    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["u1"],
        seconds=600,
        reason="spam",
        actor=moderator,
    )

    (ban,) = final([ban])
    assert ban.status == Ban.Status.FAILED
    assert "credentials" in ban.vendor_message
    assert VendorCall.objects.filter(bans=ban).count() == 1


def test_running_the_apply_job_twice_changes_nothing_the_second_time(
    emulated_app, emulator, redis_connection, moderator
):
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="study-hall")
    bans = services.kick(app=app, room=room, user_ids=USERS, reason="spam", actor=moderator)
    ids = [b.pk for b in bans]

    services.apply(ban_ids=ids)
    calls, log = VendorCall.objects.count(), ModerationLog.objects.count()
    services.apply(ban_ids=ids)

    assert (VendorCall.objects.count(), ModerationLog.objects.count()) == (calls, log)
    assert actions(emulator) == ["RemoveUserByStrRoomId"]


def test_a_ban_lifted_before_its_job_ran_is_not_applied(
    emulated_app, emulator, redis_connection, moderator
):
    app = emulated_app("volcengine")
    room = services.room_for(app=app, room_id="lobby")
    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["u1"],
        seconds=600,
        reason="spam",
        actor=moderator,
    )
    services.lift(ban=ban, reason="wrong user", actor=moderator)

    services.apply(ban_ids=[ban.pk])

    assert emulator.calls == []
    assert Ban.objects.get(pk=ban.pk).status == Ban.Status.LIFTED


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


def test_100_users_banned_on_zego_never_draw_a_throttling_answer(
    emulated_app, emulator, redis_connection, moderator
):
    # A slow limit keeps the test short while still needing the pacing: 20 calls at 10/s.
    emulator.add_app(
        vendor="zego",
        app_id="2718281828",
        secret="ffeeddccbbaa99887766554433221100",
        rate_limits={"KickoutUser": 10},
    )
    app = emulated_app("zego", rate_limits={"KickoutUser": 10})
    app.vendor_app_id = "2718281828"
    app.secret = "ffeeddccbbaa99887766554433221100"
    app.save()
    room = services.room_for(app=app, room_id="raid")
    workers = [start_worker(BANS_PER_JOB="10") for _ in range(2)]
    try:
        bans = services.ban(
            app=app,
            scope=Ban.Scope.USER_IN_ROOM,
            room=room,
            user_ids=[f"raider{n}" for n in range(100)],
            seconds=600,
            reason="raid",
            actor=moderator,
        )
        assert {b.status for b in final(bans, timeout=30)} == {Ban.Status.ACTIVE}
    finally:
        for process in workers:
            stop_worker(process)
    assert len([c for c in emulator.calls if c.action == "KickoutUser"]) == 20
    assert emulator.throttled == 0


def test_input_errors_name_the_field_and_save_nothing(emulated_app, moderator):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-7")
    cases = [
        (dict(user_ids=" , ", seconds=60, reason="x"), "user_ids"),
        (dict(user_ids="u1", seconds=0, reason="x"), "duration"),
        (dict(user_ids="u1", seconds=1.5, reason="x"), "duration"),
        (dict(user_ids="u1", seconds=60, reason="  "), "reason"),
        (dict(user_ids="u1", seconds=60, reason="原因" * 50), "reason"),  # over 256 bytes on ZEGO
        (dict(user_ids="bad\x00id", seconds=60, reason="x"), "user_ids"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as caught:
            services.ban(
                app=app, scope=Ban.Scope.USER_IN_ROOM, room=room, actor=moderator, **kwargs
            )
        assert field in caught.value.message_dict, (kwargs, caught.value)
    assert not Ban.objects.exists()


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


def test_user_ids_may_be_separated_by_chinese_commas_too():
    assert services.clean_user_ids("u1，u2、u3, u4\nu1") == ["u1", "u2", "u3", "u4"]

"""Kicks and bans sent by a real RQ worker to the vendor emulator (services.applying)."""

from datetime import timedelta

import pytest

from moderation import services
from moderation.models import Ban, ModerationLog, VendorCall

from ..support.bans import actions, final
from ..support.workers import start_worker, stop_worker

pytestmark = pytest.mark.django_db(transaction=True)


USERS = ["troll1", "troll2", "troll3"]


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

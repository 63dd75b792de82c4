"""Losing a process, with two of each kind running: a worker or a clock killed with SIGKILL,
two clocks reconciling the same bans.

Each test kills or doubles real `manage.py rqworker` and `manage.py clock` processes and counts
what reached the vendor emulator. Each prints a `RECOVERY` line with the measured times.
"""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from rq.worker import Worker

from moderation import liveness, services
from moderation.models import Ban, ModerationLog

from .support.processes import kill_hard, stop_gracefully
from .support.workers import start_clock, start_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_of_each(redis_connection):
    """Two workers and two clocks on the test database; stopped (or already killed) after."""
    started = {"worker": [start_worker(scheduler=False, BANS_PER_JOB="10") for _ in range(2)]}
    started["clock"] = [start_clock() for _ in range(2)]
    try:
        wait_until(
            lambda: liveness.alive("worker") == 2 and liveness.alive("clock") == 2,
            timeout=30,
            message="two workers and two clocks holding their leases",
        )
        yield started
    finally:
        for process in started["worker"] + started["clock"]:
            stop_gracefully(process)
            print(process.communicate()[0][-3000:])


def bans_at_vendor(emulator, app):
    """user id -> how many BanRoomUser calls the emulated Volcengine answered for them."""
    return Counter(
        call.params["UserId"]
        for call in emulator.calls
        if call.app_id == app.vendor_app_id and call.action == "BanRoomUser" and call.ok
    )


def process_of_claimant(processes, ban_ids, connection):
    """The worker process that holds a claim on one of these pending bans."""
    claimant = wait_until(
        lambda: (
            Ban.objects.filter(pk__in=ban_ids, status=Ban.Status.PENDING)
            .exclude(claimed_by="")
            .values_list("claimed_by", flat=True)
            .first()
        ),
        message="a worker's claim on a pending ban",
    )
    name = claimant.rpartition("#")[0].partition("~")[0]  # the lease is named after the worker
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection)
    return next(p for p in processes if p.pid == worker.pid)


def test_a_worker_killed_mid_60_user_ban_leaves_all_60_banned_at_the_vendor_within_10_s(
    two_of_each, emulated_app, emulator, moderator, redis_connection
):
    # Volcengine bans one user per call, at most 20 calls a second: three seconds for 60 users,
    # shared by the two workers in jobs of 10 bans.
    app = emulated_app("volcengine")
    users = [f"raider{n:02d}" for n in range(60)]
    bans = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=services.room_for(app=app, room_id="stage"),
        user_ids=users,
        seconds=3600,
        reason="raid",
        actor=moderator,
    )
    ids = [b.pk for b in bans]
    wait_until(lambda: sum(bans_at_vendor(emulator, app).values()) >= 15, message="15 bans sent")
    victim = process_of_claimant(two_of_each["worker"], ids, redis_connection)

    killed_at = time.time()
    kill_hard(victim)  # FAULT: SIGKILL to a worker holding claims on pending bans

    pending_at_kill = Ban.objects.filter(pk__in=ids, status=Ban.Status.PENDING).count()
    assert pending_at_kill, "the bulk ban ended before the kill"
    wait_until(
        lambda: set(bans_at_vendor(emulator, app)) == set(users),
        timeout=10,
        message="all 60 users banned at the vendor within 10 s of the kill",
    )
    last_call = max(c.time for c in emulator.calls if c.app_id == app.vendor_app_id and c.ok)
    wait_until(
        lambda: Ban.objects.filter(pk__in=ids, status=Ban.Status.ACTIVE).count() == 60,
        message="all 60 bans active",
    )
    at_vendor = bans_at_vendor(emulator, app)
    twice = {user for user, count in at_vendor.items() if count > 1}
    # The one ban the killed worker was sending (its answer not yet recorded as applied) is
    # sent again, and the vendor's ban is the same. Every other ban reached it once.
    assert len(twice) <= 1, at_vendor
    for user in twice:
        # Sent by the killed worker (reaching the vendor as it died), then once its lease had
        # lapsed (5 s) by the other.
        first, again = sorted(c.time for c in emulator.calls if c.params.get("UserId") == user)
        assert first < killed_at + 0.5 and again > killed_at + 4, (first, again, killed_at)
    assert Counter(
        ModerationLog.objects.filter(ban_id__in=ids, event="applied").values_list(
            "ban_id", flat=True
        )
    ) == Counter(ids)
    print(
        f"RECOVERY worker SIGKILL: {pending_at_kill} bans pending at the kill; last ban at the "
        f"vendor {last_call - killed_at:.2f} s after the kill; sent twice: {len(twice)}"
    )


def test_the_scheduling_clock_killed_leaves_the_other_to_end_bans_within_2_s_and_run_retries(
    two_of_each, emulated_app, emulator, moderator, redis_connection
):
    # Tencent kicks; its bans become active at once and end by our expiry alone.
    app = emulated_app("tencent")
    bans = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=services.room_for(app=app, room_id="study-hall"),
        user_ids=[f"troll{n:02d}" for n in range(30)],
        seconds=4,
        reason="cool down",
        actor=moderator,
    )
    ids = [b.pk for b in bans]
    wait_until(
        lambda: Ban.objects.filter(pk__in=ids, status=Ban.Status.ACTIVE).count() == 30,
        message="30 bans active",
    )

    scheduling = redis_connection.get("moderation:clock:scheduler").decode()
    pid = int(scheduling.split(".")[-2])  # clock.<host>.<pid>.<random>
    victim = next(p for p in two_of_each["clock"] if p.pid == pid)

    killed_at = timezone.now()
    kill_hard(victim)  # FAULT: SIGKILL to the clock that moves scheduled jobs

    # A ban whose first call fails is retried after a back-off: a scheduled job, which only a
    # clock moves onto the queue now.
    volcengine = emulated_app("volcengine")
    emulator.fail_next(vendor="volcengine", mode="5xx", count=1)
    (retried,) = services.ban(
        app=volcengine,
        scope=Ban.Scope.USER_IN_ROOM,
        room=services.room_for(app=volcengine, room_id="lobby"),
        user_ids=["spammer"],
        seconds=3600,
        reason="spam",
        actor=moderator,
    )

    ends = dict(Ban.objects.filter(pk__in=ids).values_list("pk", "expires_at"))
    wait_until(
        lambda: not Ban.objects.filter(pk__in=ids, status=Ban.Status.ACTIVE).exists(),
        timeout=15,
        message="the bans' expiry",
    )
    expired = dict(
        ModerationLog.objects.filter(ban_id__in=ids, event="expired").values_list(
            "ban_id", "created_at"
        )
    )
    lags = [(expired[pk] - ends[pk]).total_seconds() for pk in ids]
    assert all(0 <= lag <= 2 for lag in lags), lags
    # Ended once each, by one clock: one log entry per ban.
    assert ModerationLog.objects.filter(ban_id__in=ids, event="expired").count() == 30
    wait_until(
        lambda: Ban.objects.get(pk=retried.pk).status == Ban.Status.ACTIVE,
        timeout=10,
        message="the retried ban applied",
    )
    retried.refresh_from_db()
    assert retried.attempts == 1  # the failed attempt, then the retry that took
    first_end = min(ends.values())
    print(
        f"RECOVERY scheduler SIGKILL: the retried ban active "
        f"{(retried.starts_at - killed_at).total_seconds():.2f} s after the kill"
    )
    print(
        f"RECOVERY clock SIGKILL: bans ended {(first_end - killed_at).total_seconds():.2f} s "
        f"after the kill; expiry lag max {max(lags):.2f} s, median {sorted(lags)[15]:.2f} s"
    )


def test_two_clocks_renew_a_ban_past_the_vendors_window_once(
    emulated_app, emulator, moderator, redis_connection
):
    app = emulated_app("volcengine")
    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=services.room_for(app=app, room_id="lobby"),
        user_ids=["spammer"],
        seconds=None,
        reason="spam bot",
        actor=moderator,
    )
    services.apply(ban_ids=[ban.pk])
    # The vendor's 7-day window is due for renewal now.
    Ban.objects.filter(pk=ban.pk).update(vendor_until=timezone.now() + timedelta(seconds=60))
    workers = [start_worker() for _ in range(2)]
    # FAULT: a second clock started by mistake; both reconcile every 3 s, not 15.
    clocks = [start_clock(RECONCILE_SECONDS="3") for _ in range(2)]
    try:
        wait_until(
            lambda: Ban.objects.get(pk=ban.pk).vendor_until > timezone.now() + timedelta(days=6),
            timeout=30,
            message="the renewal recorded",
        )
        # Each clock's first tick tries to reconcile; wait for a reconcile after the renewal too,
        # so a second renewal would have been sent by now.
        stamp = redis_connection.get("moderation:clock:reconciled_at")
        wait_until(
            lambda: redis_connection.get("moderation:clock:reconciled_at") != stamp,
            timeout=30,
            message="the next reconcile",
        )
    finally:
        for process in workers + clocks:
            stop_gracefully(process)
            print(process.communicate()[0][-3000:])
    assert bans_at_vendor(emulator, app) == Counter({"spammer": 2})  # applied, renewed once

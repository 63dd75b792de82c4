"""Faults injected into the real pieces: Redis stopped mid-bulk, a secret unreadable for a while,
a vendor failing for a while, a database connection dropped under a web server.

Each test says which fault it injects and shows that no accepted ban is lost or applied twice.
"""

import time
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from moderation import redis as moderation_redis
from moderation import services
from moderation.credentials import CredentialError
from moderation.models import Ban, ModerationLog, VendorCall
from moderation_site.settings_test import TEST_REDIS_DB

from .support.processes import (
    PrivateRedis,
    free_port,
    start_web,
    stop_gracefully,
)
from .support.proxy import CuttableProxy
from .support.workers import child_database_url, start_clock, start_worker, stop_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def final(ids, timeout=30.0):
    """Waits until none of these bans is pending; returns them fresh, in id order."""

    def settled():
        fresh = list(Ban.objects.filter(pk__in=ids).order_by("pk"))
        return fresh if all(b.status != Ban.Status.PENDING for b in fresh) else None

    return wait_until(settled, timeout=timeout, message="the bans' final states")


def one_row_per_user(app):
    return Counter(Ban.objects.filter(app=app).values_list("user_id", flat=True))


def applied_entries(app):
    return Counter(
        ModerationLog.objects.filter(ban__app=app, event="applied").values_list("ban_id", flat=True)
    )


# --- Redis stopped in the middle of a bulk ban, and started again empty -------------------------


@pytest.fixture
def private_redis(settings, monkeypatch):
    """A Redis of this test's own, so that stopping it touches nobody else; the test process
    (queue, rate limiter, ban-check cache) and its workers use it."""
    server = PrivateRedis().start()
    settings.RQ_QUEUES = {
        name: {"URL": server.url(TEST_REDIS_DB), "DEFAULT_TIMEOUT": 300}
        for name in ("moderation-interactive", "moderation")
    }
    monkeypatch.setattr(moderation_redis, "_connection", None)  # opened again from RQ_QUEUES
    yield server
    server.shutdown()


def test_redis_stopped_mid_bulk_ban_loses_no_ban_once_restarted_and_reconciled(
    private_redis, emulated_app, emulator, moderator, api_token, settings
):
    # 40 Volcengine bans at 8 calls a second take five seconds: long enough to stop Redis
    # while some bans are applied, some are being applied and some wait in the queue.
    app = emulated_app("volcengine", rate_limits={"BanRoomUser": 8})
    token = api_token(app)
    raiders = [f"raider{n:02d}" for n in range(40)]
    late = [f"late{n}" for n in range(5)]
    for user in raiders + late:
        emulator.join(vendor="volcengine", app_id=app.vendor_app_id, room_id="stage", user_id=user)
    worker_env = {"REDIS_URL": private_redis.url(), "BANS_PER_JOB": "10"}
    worker = start_worker(**worker_env)
    try:
        bulk = services.ban(
            app=app,
            scope=Ban.Scope.USER_IN_ROOM,
            room=services.room_for(app=app, room_id="stage"),
            user_ids=raiders,
            seconds=3600,
            reason="raid",
            actor=moderator,
        )
        wait_until(
            lambda: Ban.objects.filter(app=app, status=Ban.Status.ACTIVE).count() >= 12,
            message="a third of the bulk ban to be applied",
        )

        private_redis.shutdown()  # FAULT: Redis gone, with the queue and every job in it

        stopped_at = {
            b.user_id: b.status for b in Ban.objects.filter(app=app).only("user_id", "status")
        }
        assert Ban.Status.PENDING in stopped_at.values(), "Redis stopped after the bulk ban ended"

        # Moderators keep working while Redis is down: the ban is accepted and kept pending.
        moderators_browser = Client()
        moderators_browser.force_login(moderator)
        confirmed = moderators_browser.post(
            reverse("admin:moderation_ban_moderate"),
            {
                "app": app.pk,
                "scope": "user_in_room",
                "room": "stage",
                "user_ids": "\n".join(late),
                "duration": "3600",
                "reason": "raid, second wave",
                "confirm": "Yes",
            },
        )
        assert confirmed.status_code == 302, confirmed.content[:2000]
        assert moderators_browser.get(confirmed.url).status_code == 200
        accepted_while_down = Ban.objects.filter(app=app, user_id__in=late)
        assert [(b.status, b.dispatched_at) for b in accepted_while_down] == [
            (Ban.Status.PENDING, None)
        ] * len(late)
        # The ban check answers from the database meanwhile.
        first_active = next(u for u, s in stopped_at.items() if s == Ban.Status.ACTIVE)
        check = Client().get(
            "/api/v1/bans/check",
            {"room": "stage", "user": first_active},
            headers={"authorization": f"Bearer {token}"},
        )
        assert (check.status_code, check.json()["banned"]) == (200, True)

        private_redis.start()  # back, empty: nothing of the queue survived
        stop_gracefully(worker)
        print(worker.communicate()[0][-5000:])  # what the first worker made of the outage
        worker = start_worker(**worker_env)
        settings.DISPATCH_GRACE_SECONDS = 0
        pending = Ban.objects.filter(app=app, status=Ban.Status.PENDING).count()

        # The first worker's lease went with Redis: its claims are free again.
        reconciled = services.reconcile()
        dispatched = reconciled["released"] + reconciled["dispatched"]
        assert dispatched == pending

        ids = [b.pk for b in bulk] + [b.pk for b in accepted_while_down]
        bans = final(ids, timeout=40)
    finally:
        output = stop_worker(worker)
    print(output[-5000:])
    assert [b.status for b in bans] == [Ban.Status.ACTIVE] * 45, Counter(b.status for b in bans)
    assert one_row_per_user(app) == Counter(raiders + late)
    assert applied_entries(app) == Counter(ids)  # each ban applied exactly once
    assert emulator.members(vendor="volcengine", app_id=app.vendor_app_id, room_id="stage") == set()
    banned_at_vendor = {
        b["user_id"] for b in emulator.active_bans(vendor="volcengine", app_id=app.vendor_app_id)
    }
    assert banned_at_vendor == set(raiders + late)
    print(
        f"FAULT redis: stopped with {Counter(stopped_at.values())}, {len(late)} more accepted "
        f"while down; reconcile dispatched {dispatched}; final {Counter(b.status for b in bans)}"
    )


# --- The vendor answering 5xx, throttling and timing out for a while ----------------------------

READ_TIMEOUT = 2.0  # the worker's VENDOR_READ_TIMEOUT_SECONDS, shorter than the default 10 s


def test_a_vendor_failing_with_5xx_throttling_and_a_timeout_takes_every_ban_once_it_recovers(
    emulated_app, emulator, redis_connection, transactional_db, moderator
):
    worker = start_worker(VENDOR_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT))
    try:
        check_vendor_faults_are_retried(emulated_app, emulator, moderator)
    finally:
        print(stop_worker(worker))


def check_vendor_faults_are_retried(emulated_app, emulator, moderator):
    app = emulated_app("volcengine")
    users = ["u1", "u2", "u3", "u4"]
    # FAULT: in this order, the next five calls: two 5xx, two throttled, one held past our
    # read timeout (the vendor acts on it late, as a slow vendor would).
    emulator.fail_next(vendor="volcengine", mode="5xx", count=2)
    emulator.fail_next(vendor="volcengine", mode="throttle", count=2)
    emulator.fail_next(vendor="volcengine", mode="timeout", count=1, delay=READ_TIMEOUT + 0.5)

    bans = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=services.room_for(app=app, room_id="stage"),
        user_ids=users,
        seconds=3600,
        reason="raid",
        actor=moderator,
    )

    bans = final([b.pk for b in bans], timeout=READ_TIMEOUT + 20)
    assert {b.status for b in bans} == {Ban.Status.ACTIVE}
    # The held call is logged by the vendor when it is finally answered, maybe after the retry.
    wait_until(lambda: len([c for c in emulator.calls if c.fault]) == 5, message="the late call")
    faults = [c.fault for c in emulator.calls if c.fault]
    assert faults == ["5xx", "5xx", "throttle", "throttle", "timeout"]
    # Every attempt is in the call log, numbered; none past the retry budget.
    calls = VendorCall.objects.filter(app=app).order_by("pk")
    assert calls.count() == len(emulator.calls) == len(users) + len(faults)
    for ban in bans:
        attempts = list(ban.calls.order_by("pk").values_list("attempt", "ok"))
        tries = len(attempts)
        assert attempts == [(n, n == tries) for n in range(1, tries + 1)], (ban.user_id, attempts)
        assert tries <= django_settings.VENDOR_MAX_ATTEMPTS
        retried = ModerationLog.objects.filter(ban=ban, event="retried")
        assert sorted(e.details["attempt"] for e in retried) == list(range(1, tries))
    failed = calls.filter(ok=False)
    assert sorted(c.http_status or 0 for c in failed)[0] == 0  # the timeout: no answer at all
    assert all(c.retryable for c in failed)
    assert {c.attempt for c in failed} <= {1, 2}
    print(f"FAULT vendor: {faults}; attempts per ban {[b.calls.count() for b in bans]}")


def test_a_vendor_failing_past_the_retry_budget_fails_the_kick_with_every_attempt_recorded(
    emulated_app, emulator, worker, moderator
):
    app = emulated_app("zego")
    budget = django_settings.VENDOR_MAX_ATTEMPTS
    emulator.fail_next(vendor="zego", mode="5xx", count=budget)  # FAULT: 5xx, every attempt

    (kick,) = services.kick(
        app=app,
        room=services.room_for(app=app, room_id="live-1"),
        user_ids=["u1"],
        reason="spam",
        actor=moderator,
    )

    (kick,) = final([kick.pk])
    assert kick.status == Ban.Status.FAILED
    assert "502" in kick.vendor_message
    assert list(kick.calls.order_by("pk").values_list("attempt", "ok", "http_status")) == [
        (n, False, 502) for n in range(1, budget + 1)
    ]
    events = list(ModerationLog.objects.filter(ban=kick).order_by("pk").values_list("event"))
    assert events == [("created",)] + [("retried",)] * (budget - 1) + [("failed",)]


# --- The key a vendor secret was encrypted with, gone from CREDENTIAL_KEYS for a while -----------


def test_a_ban_whose_secret_became_unreadable_is_kept_and_applied_once_the_key_is_back(
    emulated_app, emulator, redis_connection, moderator, settings
):
    from cryptography.fernet import Fernet

    app = emulated_app("volcengine")
    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=services.room_for(app=app, room_id="lobby"),
        user_ids=["u1"],
        seconds=3600,
        reason="raid",
        actor=moderator,
    )
    readable = list(django_settings.CREDENTIAL_KEYS)
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]  # FAULT: the key is gone

    with pytest.raises(CredentialError):
        services.apply(ban_ids=[ban.pk])  # what the worker's job does; RQ records the error

    ban.refresh_from_db()
    assert ban.status == Ban.Status.PENDING and emulator.calls == []
    settings.CREDENTIAL_KEYS = readable  # the key is back
    settings.DISPATCH_GRACE_SECONDS = 0
    assert services.reconcile()["dispatched"] == 1
    services.apply(ban_ids=[ban.pk])
    ban.refresh_from_db()
    assert ban.status == Ban.Status.ACTIVE
    assert [c.action for c in emulator.calls] == ["BanRoomUser"]


# --- A PostgreSQL connection dropped between two requests -----------------------------------


def test_a_dropped_database_connection_does_not_fail_the_next_request(moderator, emulated_app):
    if connection.vendor != "postgresql":
        pytest.skip("dropping a server-side connection needs PostgreSQL (set DATABASE_URL)")
    import requests

    emulated_app("zego")
    browser = Client()
    browser.force_login(moderator)
    port = free_port()
    web = start_web(port, CONN_MAX_AGE="600")
    try:
        session = requests.Session()
        session.cookies.set("sessionid", browser.cookies["sessionid"].value)
        history = f"http://127.0.0.1:{port}/admin/moderation/ban/"
        assert session.get(history, timeout=10).status_code == 200

        dropped = other_backends()
        assert dropped, "gunicorn kept no connection open to drop"
        with connection.cursor() as cursor:  # FAULT: the server end of its connection goes
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert all(row[0] for row in cursor.fetchall())

        after = [session.get(history, timeout=10).status_code for _ in range(3)]
        reconnected = other_backends()
    finally:
        stop_gracefully(web)
        output = web.communicate()[0]
    assert after == [200, 200, 200], output[-3000:]
    assert reconnected and not reconnected & dropped  # a new connection, not the dead one
    print(f"FAULT postgres: backends {sorted(dropped)} terminated; next 3 requests: {after}")


def other_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


# --- PostgreSQL unreachable for three seconds under a worker and a clock ------------------------


def test_the_database_gone_for_3_s_mid_bulk_ban_leaves_each_ban_applied_once_and_ended_on_time(
    emulated_app, emulator, redis_connection, moderator
):
    if connection.vendor != "postgresql":
        pytest.skip("the database behind a proxy needs PostgreSQL (set DATABASE_URL)")
    db = connection.settings_dict
    upstream = (db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    proxy = CuttableProxy(upstream).start()
    behind_proxy = child_database_url().replace(
        f"@{upstream[0]}:{upstream[1]}/", f"@127.0.0.1:{proxy.port}/"
    )
    # Volcengine at 10 calls a second: 30 bans take three seconds, the outage falls inside.
    volcengine = emulated_app("volcengine", rate_limits={"BanRoomUser": 10})
    tencent = emulated_app("tencent")
    users = [f"raider{n:02d}" for n in range(30)]
    env = {"DATABASE_URL": behind_proxy, "BANS_PER_JOB": "10"}
    worker, clock = start_worker(**env), start_clock(**env)
    try:
        # First in the queue: active before the bulk starts, ending during the outage.
        (short,) = services.ban(
            app=tencent,
            scope=Ban.Scope.USER_IN_ROOM,
            room=services.room_for(app=tencent, room_id="study-hall"),
            user_ids=["troll"],
            seconds=3,
            reason="cool down",
            actor=moderator,
        )
        bulk = services.ban(
            app=volcengine,
            scope=Ban.Scope.USER_IN_ROOM,
            room=services.room_for(app=volcengine, room_id="stage"),
            user_ids=users,
            seconds=3600,
            reason="raid",
            actor=moderator,
        )
        ids = [b.pk for b in bulk]
        wait_until(
            lambda: (
                Ban.objects.filter(pk__in=ids, status=Ban.Status.ACTIVE).count() >= 8
                and Ban.objects.get(pk=short.pk).status == Ban.Status.ACTIVE
            ),
            message="a quarter of the bulk ban and the short ban applied",
        )

        proxy.cut()  # FAULT: the worker's and the clock's database unreachable
        applied_at_cut = Ban.objects.filter(pk__in=ids, status=Ban.Status.ACTIVE).count()
        time.sleep(3)  # the outage's length, not a wait for an event
        proxy.restore()
        restored_at = timezone.now()

        bans = final(ids, timeout=60)
        wait_until(
            lambda: Ban.objects.get(pk=short.pk).status == Ban.Status.EXPIRED,
            timeout=10,
            message="the short ban's expiry",
        )
    finally:
        for process in (worker, clock):
            print(stop_worker(process)[-4000:])
        proxy.stop()
    short.refresh_from_db()
    ended = ModerationLog.objects.get(ban=short, event="expired").created_at
    assert short.expires_at < restored_at  # it was due during the outage
    assert (ended - restored_at).total_seconds() <= 2
    assert [b.status for b in bans] == [Ban.Status.ACTIVE] * 30
    assert applied_entries(volcengine) == Counter(ids)  # each ban applied once
    at_vendor = Counter(
        c.params["UserId"]
        for c in emulator.calls
        if c.action == "BanRoomUser" and c.app_id == volcengine.vendor_app_id and c.ok
    )
    assert set(at_vendor) == set(users)
    # The call whose answer could not be recorded (the database gone) is sent again.
    assert sum(at_vendor.values()) - len(users) <= 1, at_vendor
    print(
        f"FAULT database: cut for 3 s with {applied_at_cut}/30 applied; all 30 active; "
        f"{sum(at_vendor.values()) - len(users)} sent twice; the short ban ended "
        f"{(ended - restored_at).total_seconds():.2f} s after the database came back"
    )

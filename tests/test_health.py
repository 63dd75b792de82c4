"""GET /healthz against real processes: a worker and a clock, a Redis of the test's own."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from moderation import redis as moderation_redis
from moderation import services
from moderation.models import Ban
from moderation_site.settings_test import TEST_REDIS_DB

from .support.processes import PrivateRedis, kill_hard
from .support.workers import start_clock, start_worker, stop_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def health():
    response = Client().get("/healthz")
    return response.status_code, json.loads(response.content)


def test_all_well_answers_200_with_every_check_and_no_names(worker, clock, redis_connection):
    # The worker's lease and the clock's first reconcile, whichever comes last.
    status, body = wait_until(
        lambda: (
            (answer := health())[0] == 200
            and answer[1]["checks"]["reconcile"]["last_run_seconds_ago"] is not None
            and answer
        ),
        timeout=30,
        message="200 with the clock's first reconcile",
    )

    assert body["status"] == "ok" and body["failing"] == []
    checks = body["checks"]
    assert set(checks) == {"database", "redis", "workers", "expiry", "reconcile"}
    assert all(check["ok"] for check in checks.values())
    assert checks["workers"]["alive"] == 1
    assert checks["expiry"]["oldest_overdue_seconds"] == 0
    assert 0 <= checks["reconcile"]["last_run_seconds_ago"] < 20
    assert checks["reconcile"]["clocks_alive"] == 1
    worker_names = [name.decode() for name in redis_connection.hkeys("moderation:alive")]
    assert worker_names and not any(name in json.dumps(body) for name in worker_names)


def test_it_answers_a_load_balancer_asking_by_ip_over_plain_http(worker, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["moderation.example.com"]
    wait_until(lambda: health()[0] == 200, message="the worker's lease")

    response = Client().get("/healthz", HTTP_HOST="10.0.0.7")

    assert response.status_code == 200  # neither the HTTPS redirect nor 400 for the host
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"


def test_workers_killed_answer_503_naming_workers(redis_connection, emulated_app):
    process = start_worker()
    try:
        wait_until(lambda: health()[1]["checks"]["workers"]["alive"] == 1, message="a worker")
    finally:
        kill_hard(process)  # SIGKILL: nothing deletes its lease, it lapses

    status, body = wait_until(
        lambda: (answer := health())[0] == 503 and answer, timeout=10, message="503"
    )

    assert body["failing"] == ["workers"]
    assert body["checks"]["workers"] == {"ok": False, "alive": 0, "error": "no worker is alive"}


def test_redis_stopped_answers_503_naming_redis(settings, monkeypatch, transactional_db):
    server = PrivateRedis().start()
    settings.RQ_QUEUES = {
        name: {"URL": server.url(TEST_REDIS_DB), "DEFAULT_TIMEOUT": 300}
        for name in ("moderation-interactive", "moderation")
    }
    monkeypatch.setattr(moderation_redis, "_connection", None)
    process = start_worker(REDIS_URL=server.url())
    try:
        wait_until(lambda: health()[0] == 200, timeout=30, message="200 with the private Redis")

        server.shutdown()  # FAULT: Redis gone

        status, body = health()
    finally:
        print(stop_worker(process)[-3000:])
        server.shutdown()
    assert status == 503
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"] == {"ok": True}


def test_expiry_stalled_answers_503_naming_expiry_until_a_clock_ends_the_ban(
    worker, emulated_app, moderator
):
    app = emulated_app("tencent")
    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=services.room_for(app=app, room_id="study-hall"),
        user_ids=["troll"],
        seconds=3600,
        reason="abuse",
        actor=moderator,
    )
    wait_until(lambda: Ban.objects.get(pk=ban.pk).status == Ban.Status.ACTIVE, message="active")
    # No clock runs: a ban 11 s past its end is still active.
    Ban.objects.filter(pk=ban.pk).update(expires_at=timezone.now() - timedelta(seconds=11))
    wait_until(lambda: health()[1]["checks"]["workers"]["ok"], message="the worker's lease")

    status, body = health()

    assert status == 503 and body["failing"] == ["expiry"]
    assert body["checks"]["expiry"]["oldest_overdue_seconds"] >= 11

    clock = start_clock()
    try:
        status, body = wait_until(
            lambda: (answer := health())[0] == 200 and answer, timeout=15, message="200"
        )
    finally:
        print(stop_worker(clock)[-3000:])
    assert Ban.objects.get(pk=ban.pk).status == Ban.Status.EXPIRED
    assert services.expire_due() == 0

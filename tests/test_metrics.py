"""/metrics: off without METRICS_TOKEN, refused with a wrong one, and figures that move as a real
worker's vendor calls succeed, are throttled and fail, as bans expire and ban checks answer."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Worker

from moderation import services
from moderation.models import Ban

from .support.bans import final
from .support.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape():
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")  # the text format
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def calls(samples, outcome, vendor="zego", action="KickoutUser"):
    return value(
        samples, "rtc_moderation_vendor_calls_total", vendor=vendor, action=action, outcome=outcome
    )


def test_metrics_are_a_404_without_the_token_setting(client, settings, db):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_metrics_refuse_a_missing_or_wrong_token_with_a_401(client, settings, db, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert TOKEN.encode() not in response.content


def kick(app, user):
    kicks = services.kick(
        app=app,
        room=services.room_for(app=app, room_id="live-1"),
        user_ids=[user],
        reason="spam",
        actor=None,
    )
    (the_kick,) = final(kicks, timeout=30)
    return the_kick


def test_a_kicks_vendor_call_is_counted_by_outcome_as_the_vendor_throttles_and_fails(
    scrape, emulated_app, emulator, worker, redis_connection
):
    wait_until(lambda: Worker.all(connection=redis_connection), message="the worker")
    app = emulated_app("zego")
    before = scrape()

    assert kick(app, "a").status == Ban.Status.DONE
    after_ok = scrape()
    assert calls(after_ok, "ok") == calls(before, "ok") + 1
    latency = "rtc_moderation_vendor_call_duration_seconds_count"
    assert value(after_ok, latency, vendor="zego", action="KickoutUser") >= 1

    emulator.fail_next(vendor="zego", mode="throttle", count=1)
    assert kick(app, "b").status == Ban.Status.DONE  # retried after the vendor's "slow down"
    after_throttle = scrape()
    assert calls(after_throttle, "throttled") == calls(before, "throttled") + 1
    assert calls(after_throttle, "ok") == calls(before, "ok") + 2

    emulator.fail_next(vendor="zego", mode="5xx", count=1)
    assert kick(app, "c").status == Ban.Status.DONE
    assert calls(scrape(), "retryable") == calls(before, "retryable") + 1

    app.secret = "0" * 32  # ZEGO refuses the signature: a failure no retry mends
    app.save()
    assert kick(app, "d").status == Ban.Status.FAILED
    assert calls(scrape(), "failed") == calls(before, "failed") + 1


def test_a_scrape_reports_bans_in_force_queued_jobs_and_workers_alive(
    scrape, emulated_app, redis_connection
):
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="1234")
    services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["a", "b"],
        seconds=60,
        reason="x",
        actor=None,
    )
    services.mute(app=app, room=room, user_ids=["c"], seconds=60, reason="x", actor=None)

    samples = scrape()

    assert value(samples, "rtc_moderation_bans", kind="ban", status="pending") == 2
    assert value(samples, "rtc_moderation_bans", kind="mute", status="pending") == 1
    assert value(samples, "rtc_moderation_bans", kind="ban", status="active") == 0
    # Nobody works the queue in this test: their two jobs (the bans' and the mute's) wait there.
    assert value(samples, "rtc_moderation_queue_jobs", state="queued") == 2
    assert value(samples, "rtc_moderation_workers_alive") == 0
    assert value(samples, "rtc_moderation_expiry_overdue_seconds") == 0


def test_expiry_lag_and_ban_checks_are_counted(scrape, client, emulated_app, api_token):
    from datetime import timedelta

    from django.utils import timezone

    from .support.bans import active_ban

    app = emulated_app("zego")
    token = api_token(app)
    the_ban = active_ban(app, "live-1", "troll", seconds=60)
    before = scrape()
    headers = {"Authorization": f"Bearer {token}"}

    client.get("/api/v1/bans/check", {"room": "live-1", "user": "troll"}, headers=headers)
    client.get("/api/v1/bans/check", {"room": "live-1", "user": "calm"}, headers=headers)
    client.get("/api/v1/bans/check", {"room": "live-1", "user": "x"}, headers={})
    Ban.objects.filter(pk=the_ban.pk).update(expires_at=timezone.now() - timedelta(seconds=2))
    assert services.expire_due() == 1

    samples = scrape()
    checks = "rtc_moderation_ban_checks_total"
    for outcome in ("banned", "clear", "unauthorized"):
        assert value(samples, checks, outcome=outcome) == value(before, checks, outcome=outcome) + 1
    assert value(samples, "rtc_moderation_ban_check_duration_seconds_count") == (
        value(before, "rtc_moderation_ban_check_duration_seconds_count") + 3
    )
    lag_count = "rtc_moderation_expiry_lag_seconds_count"
    assert value(samples, lag_count) == value(before, lag_count) + 1
    lag_sum = value(samples, "rtc_moderation_expiry_lag_seconds_sum") - value(
        before, "rtc_moderation_expiry_lag_seconds_sum"
    )
    assert 2 <= lag_sum < 10


def test_callback_deliveries_are_counted_by_vendor_and_verdict(
    scrape, client, callback_app, redis_connection
):
    from .support.callbacks import signed_callback

    app = callback_app("zego")
    headers, body = signed_callback("zego", "join", "live-1", "fan")
    url = f"/callbacks/{app.callback_id}/"
    deliveries = "rtc_moderation_callback_deliveries_total"
    before = scrape()

    client.post(url, body, content_type=headers.get("Content-Type", "application/json"))
    client.post(url, body, content_type=headers.get("Content-Type", "application/json"))
    client.post(url, b"{}", content_type="application/json")

    samples = scrape()
    for verdict in ("accepted", "duplicate", "refused"):
        assert value(samples, deliveries, vendor="zego", verdict=verdict) == (
            value(before, deliveries, vendor="zego", verdict=verdict) + 1
        )

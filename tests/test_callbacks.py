"""The room callback endpoint: signed deliveries become presence, once; nothing else gets in."""

import json
import time

import pytest
import redis
from django.test import Client

from moderation import redis as moderation_redis
from moderation import services
from moderation.models import Ban, CallbackDelivery, Presence

from .support.bans import active_ban
from .support.callbacks import post_callback, signed_callback

# Transactional: what the services do "on commit" (cache refreshes, queueing) must happen here.
pytestmark = pytest.mark.django_db(transaction=True)

VENDORS = ["volcengine", "zego", "tencent"]
ROOM = {"volcengine": "lobby", "zego": "live-1", "tencent": "1234"}


def stored():
    return CallbackDelivery.objects.count(), Presence.objects.count()


def queued_rekicks(connection):
    import django_rq

    jobs = [
        job
        for name in ("moderation-interactive", "moderation")
        for job in django_rq.get_queue(name, connection=connection).get_jobs()
    ]
    return [job.args for job in jobs if job.func_name.endswith("rekick_user")]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_signed_join_and_leave_keep_presence(vendor, callback_app, client, redis_connection):
    app = callback_app(vendor)
    now = time.time()

    joined = post_callback(
        client, app, *signed_callback(vendor, "join", ROOM[vendor], "u1", at=now)
    )

    assert joined.status_code == 200
    assert joined.json() == {"code": 0}
    row = Presence.objects.get(app=app, room_id=ROOM[vendor], user_id="u1")
    assert row.in_room
    assert abs(row.entered_at.timestamp() - now) < 0.01

    left = post_callback(
        client, app, *signed_callback(vendor, "leave", ROOM[vendor], "u1", at=now + 5)
    )

    assert left.status_code == 200
    row.refresh_from_db()
    assert not row.in_room
    assert CallbackDelivery.objects.filter(app=app).count() == 2


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_callback_with_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    vendor, callback_app, client, redis_connection
):
    app = callback_app(vendor)
    wrong = signed_callback(vendor, "join", ROOM[vendor], "u1", secret="not-the-secret")
    headers, body = signed_callback(vendor, "join", ROOM[vendor], "u1")
    if vendor == "tencent":
        missing = ({k: v for k, v in headers.items() if k != "Sign"}, body)
    else:
        data = json.loads(body)
        data.pop("Signature" if vendor == "volcengine" else "signature")
        missing = (headers, json.dumps(data).encode())

    for attempt in (wrong, missing):
        response = post_callback(client, app, *attempt)
        assert response.status_code == 403, response.content
        assert "error" in response.json()

    assert stored() == (0, 0)


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_same_delivery_twice_acts_once(vendor, callback_app, client, redis_connection):
    app = callback_app(vendor)
    active_ban(app, ROOM[vendor], "troll")
    delivery = signed_callback(vendor, "join", ROOM[vendor], "troll")

    first = post_callback(client, app, *delivery)
    again = post_callback(client, app, *delivery)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"code": 0, "duplicate": True}
    assert CallbackDelivery.objects.filter(app=app).count() == 1
    assert queued_rekicks(redis_connection) == [(app.pk, ROOM[vendor], "troll", 1, True)]


def test_an_entry_that_no_ban_covers_queues_nothing(callback_app, client, redis_connection):
    app = callback_app("zego")

    response = post_callback(client, app, *signed_callback("zego", "join", "live-1", "friendly"))

    assert response.status_code == 200
    assert Presence.objects.filter(user_id="friendly", in_room=True).exists()
    assert queued_rekicks(redis_connection) == []


def test_an_every_room_ban_covers_an_entry_into_any_room(callback_app, client, redis_connection):
    app = callback_app("tencent")
    active_ban(app, None, "evader", scope=Ban.Scope.USER_EVERYWHERE)

    post_callback(client, app, *signed_callback("tencent", "join", "study-hall", "evader"))

    assert queued_rekicks(redis_connection) == [(app.pk, "study-hall", "evader", 1, True)]


def test_a_late_leave_does_not_undo_a_newer_join(callback_app, client, redis_connection):
    app = callback_app("zego")
    now = time.time()

    post_callback(client, app, *signed_callback("zego", "join", "r", "u", at=now))
    post_callback(client, app, *signed_callback("zego", "leave", "r", "u", at=now - 30))

    assert Presence.objects.get(app=app, room_id="r", user_id="u").in_room


def test_a_delivery_signed_a_day_ago_is_refused(callback_app, client, redis_connection):
    app = callback_app("tencent")
    headers, body = signed_callback("tencent", "join", "7", "u")
    data = json.loads(body)
    data["CallbackTs"] = int((time.time() - 2 * 86400) * 1000)
    body = json.dumps(data).encode()
    from moderation.vendors import tencent

    headers["Sign"] = tencent.callback_signature(secret=app.callback_secret, body=body)

    response = post_callback(client, app, headers, body)

    assert response.status_code == 403
    assert stored() == (0, 0)


GARBAGE = [
    b"",
    b"\xff\xfe\x00",
    b"[1, 2, 3]",
    b"null",
    b"{" * 50_000,
    b'{"EventType": {"nested": true}, "Signature": 5}',
    b'{"event": "room_login", "signature": ["x"], "timestamp": {}, "nonce": null}',
    "房间".encode("gbk"),
]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("body", GARBAGE)
def test_garbage_never_gets_a_500(vendor, body, callback_app, redis_connection):
    app = callback_app(vendor)
    client = Client(raise_request_exception=False)

    response = post_callback(client, app, {"Sign": "x", "SdkAppId": "1"}, body)

    assert response.status_code in (400, 403)
    assert "error" in response.json()
    assert stored() == (0, 0)


def test_signed_fields_of_the_wrong_kind_are_a_400(callback_app, client, redis_connection):
    app = callback_app("tencent")
    from moderation.vendors import tencent

    body = json.dumps(
        {"EventGroupId": 1, "EventType": 103, "EventInfo": {"RoomId": 1, "UserId": {"a": 1}}}
    ).encode()
    sign = tencent.callback_signature(secret=app.callback_secret, body=body)

    response = post_callback(client, app, {"Sign": sign}, body)

    assert response.status_code == 400
    assert "UserId" in response.json()["error"]


def test_a_body_over_64_kb_is_refused_unread(callback_app, client, redis_connection):
    app = callback_app("zego")

    response = post_callback(client, app, {}, b'{"pad": "' + b"x" * 70_000 + b'"}')

    assert response.status_code == 413


def test_only_post_is_accepted_and_unknown_urls_are_404(callback_app, client, redis_connection):
    app = callback_app("zego")

    assert client.get(f"/callbacks/{app.callback_id}/").status_code == 405
    assert client.put(f"/callbacks/{app.callback_id}/").status_code == 405
    assert client.post("/callbacks/not-an-app/", data=b"{}", content_type="x").status_code == 404


def test_it_needs_no_csrf_token(callback_app, redis_connection):
    app = callback_app("zego")

    response = post_callback(
        Client(enforce_csrf_checks=True), app, *signed_callback("zego", "join", "r", "u")
    )

    assert response.status_code == 200


def test_an_app_without_a_callback_secret_refuses_callbacks(callback_app, client, redis_connection):
    app = callback_app("zego")
    app.callback_secret = ""
    app.save()

    response = post_callback(client, app, *signed_callback("zego", "join", "r", "u"))

    assert response.status_code == 403
    assert stored() == (0, 0)


def test_a_callback_for_another_vendor_app_is_a_400(callback_app, client, redis_connection):
    app = callback_app("volcengine")
    headers, body = signed_callback("volcengine", "join", "lobby", "u")
    data = json.loads(body)
    data["AppId"] = "someone-elses-app"
    from moderation.vendors import volcengine

    data["Signature"] = volcengine.callback_signature(secret=app.callback_secret, fields=data)

    response = post_callback(client, app, headers, json.dumps(data).encode())

    assert response.status_code == 400
    assert stored() == (0, 0)


def test_with_redis_down_an_entry_is_kept_and_reconcile_kicks_later(
    callback_app, client, redis_connection, monkeypatch, settings
):
    app = callback_app("zego")
    active_ban(app, "live-1", "troll")
    monkeypatch.setattr(
        moderation_redis, "_connection", redis.Redis(port=1, socket_connect_timeout=0.2)
    )

    response = post_callback(client, app, *signed_callback("zego", "join", "live-1", "troll"))

    # The delivery and the presence it implies are kept: a retry could add nothing.
    assert response.status_code == 200
    assert Presence.objects.get(app=app, user_id="troll").in_room
    monkeypatch.setattr(moderation_redis, "_connection", None)  # Redis is back
    Presence.objects.update(updated_at=Presence.objects.get().updated_at.replace(year=2020))
    assert services.reconcile()["rekicks"] == 1
    assert queued_rekicks(redis_connection) == [(app.pk, "live-1", "troll", 1, True)]
    # One try per user and room every ten minutes, not one per sweep.
    assert services.reconcile()["rekicks"] == 0

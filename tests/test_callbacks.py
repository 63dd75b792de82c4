"""The room callback endpoint: signed deliveries become presence, once; nothing else gets in."""

import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import pytest
import redis
import requests
import time_machine
from django.test import Client

from moderation import presence, services
from moderation import redis as moderation_redis
from moderation.models import Ban, CallbackDelivery, CallbackNonce, Presence
from moderation.vendors import tencent, volcengine, zego

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


# --- Replays and stale deliveries ---------------------------------------------------------------

REUSED = "the signature was already used for another delivery"


def presence_rows():
    return sorted(
        Presence.objects.values_list("room_id", "user_id", "in_room", "event_at", "left_reason")
    )


def zego_with(body, **changes):
    """The same ZEGO delivery, signature, timestamp and nonce unchanged, with other fields."""
    return json.dumps({**json.loads(body), **changes}).encode()


def test_a_zego_delivery_replayed_with_another_user_event_or_room_is_refused_and_changes_nothing(
    callback_app, client, redis_connection
):
    app = callback_app("zego")
    headers, body = signed_callback("zego", "join", "live-1", "member")
    assert post_callback(client, app, headers, body).json() == {"code": 0}
    kept = presence_rows(), CallbackDelivery.objects.count()

    for changes in (
        {"user_account": "victim"},
        {"event": "room_logout"},  # would mark the member as gone
        {"room_id": "other-room"},
        {"user_account": "victim", "event": "room_logout", "room_id": "other-room"},
    ):
        replay = post_callback(client, app, headers, zego_with(body, **changes))

        assert replay.status_code == 403, changes
        assert replay.json() == {"code": 403, "error": REUSED}
    assert (presence_rows(), CallbackDelivery.objects.count()) == kept
    assert CallbackDelivery.objects.get().user_id == "member"


def test_the_same_zego_delivery_resent_unchanged_is_a_harmless_duplicate(
    callback_app, client, redis_connection
):
    app = callback_app("zego")
    delivery = signed_callback("zego", "join", "live-1", "member")
    post_callback(client, app, *delivery)
    post_callback(client, app, delivery[0], zego_with(delivery[1], user_account="victim"))

    again = post_callback(client, app, *delivery)

    assert again.status_code == 200
    assert again.json() == {"code": 0, "duplicate": True}
    assert CallbackDelivery.objects.count() == CallbackNonce.objects.count() == 1


def test_a_zego_signature_spent_on_an_event_the_product_ignores_cannot_carry_a_join(
    callback_app, client, redis_connection
):
    app = callback_app("zego")
    headers, body = signed_callback("zego", "join", "live-1", "intruder")

    ignored = post_callback(client, app, headers, zego_with(body, event="room_create"))
    join = post_callback(client, app, headers, body)

    assert ignored.json() == {"code": 0, "ignored": True}
    assert join.status_code == 403
    assert join.json()["error"] == REUSED
    assert stored() == (0, 0)


def test_a_new_zego_signature_on_a_retried_event_is_a_duplicate_and_is_remembered(
    callback_app, client, redis_connection
):
    """ZEGO may sign a retry anew: the event acts once, and the retry's pair is spent too."""
    app = callback_app("zego")
    headers, body = signed_callback("zego", "join", "live-1", "member")
    retry = json.loads(body)
    retry.update(
        nonce="777",
        signature=zego.callback_signature(
            secret=app.callback_secret, timestamp=retry["timestamp"], nonce="777"
        ),
    )
    retry = json.dumps(retry).encode()

    post_callback(client, app, headers, body)
    again = post_callback(client, app, headers, retry)
    forged = post_callback(client, app, headers, zego_with(retry, user_account="victim"))

    assert again.json() == {"code": 0, "duplicate": True}
    assert forged.status_code == 403
    assert CallbackNonce.objects.count() == 2
    assert list(Presence.objects.values_list("user_id", flat=True)) == ["member"]


def post_at_once(url, bodies):
    """POSTs every body at the same moment, each on its own connection; their statuses."""
    barrier = threading.Barrier(len(bodies))
    statuses = [None] * len(bodies)

    def post(n):
        barrier.wait()
        statuses[n] = requests.post(
            url, data=bodies[n], headers={"Content-Type": "application/json"}, timeout=30
        ).status_code

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_of_deliveries_at_once_sharing_one_zego_signature_only_one_body_is_kept(
    callback_app, live_server, redis_connection
):
    app = callback_app("zego")
    _headers, body = signed_callback("zego", "join", "live-1", "member")
    bodies = [zego_with(body, user_account=f"forged-{n}") for n in range(4)]

    statuses = post_at_once(f"{live_server.url}/callbacks/{app.callback_id}/", bodies)

    assert sorted(statuses) == [200, 403, 403, 403]
    assert CallbackDelivery.objects.count() == CallbackNonce.objects.count() == 1
    assert Presence.objects.count() == 1


def test_two_identical_forgeries_at_once_after_the_real_delivery_are_both_refused(
    callback_app, live_server, redis_connection
):
    app = callback_app("zego")
    url = f"{live_server.url}/callbacks/{app.callback_id}/"
    _headers, body = signed_callback("zego", "join", "live-1", "member")
    assert requests.post(url, data=body, timeout=30).status_code == 200
    forged = zego_with(body, user_account="victim")

    statuses = post_at_once(url, [forged, forged])

    assert statuses == [403, 403]
    assert list(Presence.objects.values_list("user_id", flat=True)) == ["member"]
    assert CallbackDelivery.objects.count() == 1


def test_two_identical_unseen_deliveries_at_once_act_once(
    callback_app, live_server, redis_connection
):
    app = callback_app("zego")
    _headers, body = signed_callback("zego", "join", "live-1", "member")

    statuses = post_at_once(f"{live_server.url}/callbacks/{app.callback_id}/", [body, body])

    assert statuses == [200, 200]
    assert CallbackDelivery.objects.count() == CallbackNonce.objects.count() == 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_delivery_signed_6_minutes_ago_or_ahead_is_refused_and_4_minutes_ago_is_kept(
    vendor, callback_app, client, redis_connection
):
    app = callback_app(vendor)
    room = ROOM[vendor]

    old = post_callback(client, app, *signed_callback(vendor, "join", room, "old", signed_ago=360))
    ahead = post_callback(
        client, app, *signed_callback(vendor, "join", room, "ahead", signed_ago=-360)
    )
    recent = post_callback(
        client, app, *signed_callback(vendor, "join", room, "recent", signed_ago=240)
    )

    assert (old.status_code, ahead.status_code, recent.status_code) == (403, 403, 200)
    assert "signed too long ago" in old.json()["error"]
    assert list(Presence.objects.values_list("user_id", flat=True)) == ["recent"]
    assert CallbackDelivery.objects.count() == 1


def test_callback_max_age_seconds_sets_the_acceptance_window(
    settings, callback_app, client, redis_connection
):
    app = callback_app("zego")

    settings.CALLBACK_MAX_AGE_SECONDS = 600
    six_minutes = post_callback(
        client, app, *signed_callback("zego", "join", "r", "a", signed_ago=360)
    )
    settings.CALLBACK_MAX_AGE_SECONDS = 120
    four_minutes = post_callback(
        client, app, *signed_callback("zego", "join", "r", "b", signed_ago=240)
    )

    assert (six_minutes.status_code, four_minutes.status_code) == (200, 403)
    assert list(Presence.objects.values_list("user_id", flat=True)) == ["a"]


def test_a_zego_signature_forgotten_by_prune_is_refused_by_its_age_instead(
    callback_app, client, redis_connection
):
    app = callback_app("zego")
    headers, body = signed_callback("zego", "join", "live-1", "member")
    post_callback(client, app, headers, body)

    with time_machine.travel(time.time() + 301):
        assert presence.prune() == 1
        assert CallbackNonce.objects.count() == 0
        replay = post_callback(client, app, headers, zego_with(body, user_account="victim"))

    assert replay.status_code == 403
    assert "signed too long ago" in replay.json()["error"]
    assert list(Presence.objects.values_list("user_id", flat=True)) == ["member"]


def test_a_tencent_delivery_without_callback_ts_is_refused_and_changes_nothing(
    callback_app, client, redis_connection
):
    app = callback_app("tencent")
    headers, body = signed_callback("tencent", "join", "7", "u")
    fields = json.loads(body)
    del fields["CallbackTs"]
    body = json.dumps(fields).encode()
    headers["Sign"] = tencent.callback_signature(secret=app.callback_secret, body=body)

    response = post_callback(client, app, headers, body)

    assert response.status_code == 403
    assert response.json()["error"] == "the delivery carries no time it was sent (CallbackTs)"
    assert stored() == (0, 0)


@pytest.mark.parametrize("event_time", [None, "", "soon", "2026-12-01T10:00:00", "12:00"])
def test_a_volcengine_delivery_without_a_readable_event_time_is_refused_and_changes_nothing(
    event_time, callback_app, client, redis_connection
):
    app = callback_app("volcengine")
    headers, body = signed_callback("volcengine", "join", "lobby", "u")
    fields = json.loads(body)
    if event_time is None:
        del fields["EventTime"]
    else:
        fields["EventTime"] = event_time  # no zone, or no time at all
    fields["Signature"] = volcengine.callback_signature(secret=app.callback_secret, fields=fields)

    response = post_callback(client, app, headers, json.dumps(fields).encode())

    assert response.status_code == 403
    assert response.json()["error"] == "the delivery carries no time it was sent (EventTime)"
    assert stored() == (0, 0)


def test_a_chunked_body_without_a_content_length_is_answered_411(
    callback_app, live_server, redis_connection
):
    """Sent over a real connection: the test client always sets a Content-Length."""
    app = callback_app("zego")
    _headers, body = signed_callback("zego", "join", "live-1", "member")
    server = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(server.hostname, server.port, timeout=10)
    try:
        # An iterable body with no length: http.client sends it chunked.
        connection.request(
            "POST",
            f"/callbacks/{app.callback_id}/",
            body=iter([body[:20], body[20:]]),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()

    assert response.status == 411
    assert "Content-Length" in answer["error"]
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

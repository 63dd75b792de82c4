"""Room callbacks in the vendor layer: signatures, fields, delivery keys, and what is refused."""

import base64
import hashlib
import hmac
import json

import pytest

from moderation.vendors import (
    CallbackInvalid,
    CallbackRefused,
    RoomEvent,
    read_callback,
    tencent,
    volcengine,
    zego,
)

SECRET = "callbackSecret123"


# --- ZEGO ---


def zego_body(event="room_login", secret=SECRET, **changes):
    fields = {
        "appid": "1234567890",
        "event": event,
        "timestamp": "1700000000",
        "nonce": "350176",
        "room_id": "live%201001",
        "room_seq": "6085791336856668982",
        "user_account": "troll%40home",
        "session_id": "77",
        "login_time": "1700000000123",
    }
    if event == "room_logout":
        fields.update(logout_time="1700000100456", reason="3")
    fields["signature"] = zego.callback_signature(
        secret=secret, timestamp=fields["timestamp"], nonce=fields["nonce"]
    )
    fields.update(changes)
    return json.dumps(fields).encode()


def test_zego_callback_signature_matches_the_documented_vector():
    assert (
        zego.callback_signature(secret="secret", timestamp="1470820198", nonce="123412")
        == "5bd59fd62953a8059fb7eaba95720f66d19e4517"
    )


def test_it_reads_a_zego_login_with_url_encoded_ids():
    delivery = read_callback("zego", {}, zego_body(), secret=SECRET, app_id="1234567890")
    event = delivery.event

    assert (event.kind, event.room_id, event.user_id) == (RoomEvent.JOIN, "live 1001", "troll@home")
    assert event.at_ms == 1700000000123
    assert delivery.sent_at == 1700000000
    assert event.vendor_event == "room_login"


def test_a_zego_delivery_carries_its_signed_pair_and_the_hash_of_its_body():
    body = zego_body()

    delivery = read_callback("zego", {}, body, secret=SECRET, app_id="1234567890")

    assert not delivery.signature_covers_body
    pair = delivery.signed_pair
    assert (pair.timestamp, pair.nonce, pair.sent_at) == ("1700000000", "350176", 1700000000)
    assert pair.body_sha256 == hashlib.sha256(body).hexdigest()


def test_a_zego_event_the_product_ignores_still_carries_its_signed_pair():
    delivery = read_callback(
        "zego", {}, zego_body(event="room_create"), secret=SECRET, app_id="1234567890"
    )

    assert delivery.event is None
    assert delivery.signed_pair.nonce == "350176"


def test_it_reads_a_zego_logout_with_its_reason():
    event = read_callback(
        "zego", {}, zego_body("room_logout"), secret=SECRET, app_id="1234567890"
    ).event

    assert (event.kind, event.at_ms, event.reason) == (RoomEvent.LEAVE, 1700000100456, "3")


def test_a_zego_retry_with_a_new_nonce_has_the_same_delivery_key():
    first = read_callback("zego", {}, zego_body(), secret=SECRET, app_id="1234567890").event
    nonce = "999999"
    retry = zego_body(
        nonce=nonce,
        timestamp="1700000004",
        signature=zego.callback_signature(secret=SECRET, timestamp="1700000004", nonce=nonce),
    )

    again = read_callback("zego", {}, retry, secret=SECRET, app_id="1234567890").event

    assert again.delivery_key == first.delivery_key


def test_it_reads_a_zego_callback_sent_as_a_form():
    form = "&".join(f"{k}={v}" for k, v in json.loads(zego_body()).items())

    delivery = read_callback("zego", {}, form.encode(), secret=SECRET, app_id="1234567890")

    assert delivery.event.user_id == "troll@home"


@pytest.mark.parametrize(
    "body",
    [
        zego_body(secret="another-secret"),
        zego_body(signature=""),
        zego_body(nonce="1"),  # signed with another nonce
        json.dumps({"appid": "1234567890", "event": "room_login"}).encode(),
    ],
)
def test_a_zego_callback_with_a_bad_or_missing_signature_is_refused(body):
    with pytest.raises(CallbackRefused):
        read_callback("zego", {}, body, secret=SECRET, app_id="1234567890")


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe", b"[1, 2]", b"not json at all", zego_body(appid="999")],
)
def test_a_zego_callback_that_cannot_be_read_is_invalid(body):
    with pytest.raises((CallbackInvalid, CallbackRefused)):
        read_callback("zego", {}, body, secret=SECRET, app_id="1234567890")


def test_zego_events_other_than_rooms_and_streams_are_ignored():
    body = zego_body(event="room_create")

    assert read_callback("zego", {}, body, secret=SECRET, app_id="1234567890").event is None


def zego_stream_body(event="stream_create", **changes):
    fields = {
        "event": event,
        "channel_id": "live%201001",
        "publish_id": "troll%40home",
        "stream_alias": "troll_main",
        "stream_sid": "s-42",
        "create_time": "1700000000500",
        **changes,
    }
    return zego_body(**fields)


def test_it_reads_zego_stream_create_and_close_by_either_name_of_room_and_user():
    created = read_callback(
        "zego", {}, zego_stream_body(), secret=SECRET, app_id="1234567890"
    ).event
    closed = read_callback(
        "zego",
        {},
        zego_stream_body("stream_close", room_id="live%201001", user_id="troll%40home", type="3"),
        secret=SECRET,
        app_id="1234567890",
    ).event

    assert (created.kind, created.room_id, created.user_id) == (
        "publish",
        "live 1001",
        "troll@home",
    )
    assert (created.stream_id, created.at_ms) == ("troll_main", 1700000000500)
    assert (closed.kind, closed.stream_id) == (RoomEvent.UNPUBLISH, "troll_main")
    assert closed.reason == "3"  # kicked
    # The close is never older than the stream it closes.
    assert closed.at_ms >= created.at_ms
    assert closed.delivery_key != created.delivery_key


def test_a_zego_stream_callback_without_its_stream_id_is_invalid():
    body = zego_stream_body(stream_alias="")

    with pytest.raises(CallbackInvalid, match="stream_alias"):
        read_callback("zego", {}, body, secret=SECRET, app_id="1234567890")


# --- Tencent ---


def tencent_body(event_type=103, **info):
    return json.dumps(
        {
            "EventGroupId": 1,
            "EventType": event_type,
            "CallbackTs": 1687770731932,
            "EventInfo": {
                "RoomId": 12345,
                "EventTs": 1687770731,
                "EventMsTs": 1687770731831,
                "UserId": "test",
                "Role": 21,
                "Reason": 1,
                **info,
            },
        }
    ).encode()


def tencent_headers(body, secret=SECRET, **extra):
    sign = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"Sign": sign, "SdkAppId": "1400000001", **extra}


def test_tencent_sign_is_base64_hmac_sha256_of_the_raw_body():
    body = tencent_body()

    assert tencent.callback_signature(secret=SECRET, body=body) == tencent_headers(body)["Sign"]


def test_it_reads_tencent_enter_and_exit_with_a_numeric_room():
    body = tencent_body()
    delivery = read_callback(
        "tencent", tencent_headers(body), body, secret=SECRET, app_id="1400000001"
    )
    enter = delivery.event
    exit_body = tencent_body(104, Reason=3)
    exit_ = read_callback(
        "tencent", tencent_headers(exit_body), exit_body, secret=SECRET, app_id="1400000001"
    ).event

    assert (enter.kind, enter.room_id, enter.user_id, enter.at_ms) == (
        RoomEvent.JOIN,
        "12345",
        "test",
        1687770731831,
    )
    assert (exit_.kind, exit_.reason) == (RoomEvent.LEAVE, "3")
    assert delivery.sent_at == pytest.approx(1687770731.932)
    assert delivery.signature_covers_body  # the raw body, CallbackTs included


def test_a_tencent_retry_has_a_new_callback_time_and_the_same_delivery_key():
    body = tencent_body()
    retry = json.dumps({**json.loads(body), "CallbackTs": 1687770741999}).encode()

    first = read_callback(
        "tencent", tencent_headers(body), body, secret=SECRET, app_id="1400000001"
    ).event
    again = read_callback(
        "tencent", tencent_headers(retry), retry, secret=SECRET, app_id="1400000001"
    ).event

    assert again.delivery_key == first.delivery_key


def test_a_tencent_callback_with_a_bad_or_missing_sign_is_refused():
    body = tencent_body()
    tampered = body.replace(b'"test"', b'"victim"')
    for headers in ({}, {"Sign": "not base64!"}, tencent_headers(body, secret="wrong")):
        with pytest.raises(CallbackRefused):
            read_callback("tencent", headers, body, secret=SECRET, app_id="1400000001")
    with pytest.raises(CallbackRefused):
        read_callback(
            "tencent", tencent_headers(body), tampered, secret=SECRET, app_id="1400000001"
        )


def test_a_tencent_callback_for_another_sdk_app_id_is_invalid():
    body = tencent_body()

    with pytest.raises(CallbackInvalid):
        read_callback(
            "tencent",
            tencent_headers(body, SdkAppId="1400999999"),
            body,
            secret=SECRET,
            app_id="1400000001",
        )


def test_tencent_media_events_are_ignored():
    body = json.dumps(
        {"EventGroupId": 2, "EventType": 201, "CallbackTs": 1687770731932, "EventInfo": {}}
    ).encode()

    delivery = read_callback(
        "tencent", tencent_headers(body), body, secret=SECRET, app_id="1400000001"
    )

    assert delivery.event is None


@pytest.mark.parametrize("event_type", [103, 201])
def test_a_tencent_callback_without_callback_ts_is_refused_naming_it(event_type):
    fields = json.loads(tencent_body(event_type))
    del fields["CallbackTs"]
    body = json.dumps(fields).encode()

    with pytest.raises(CallbackRefused, match=r"no time it was sent \(CallbackTs\)"):
        read_callback("tencent", tencent_headers(body), body, secret=SECRET, app_id="1400000001")


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        json.dumps({"EventGroupId": 1, "EventType": 103}).encode(),
        json.dumps({"EventGroupId": 1, "EventType": 103, "EventInfo": {"RoomId": 1}}).encode(),
        tencent_body(UserId=["a"]),
        tencent_body(UserId="a\x00b"),
        tencent_body(EventTs="soon"),
        tencent_body(RoomId="r" * 200),
    ],
)
def test_a_signed_tencent_callback_with_bad_fields_is_invalid(body):
    with pytest.raises(CallbackInvalid):
        read_callback("tencent", tencent_headers(body), body, secret=SECRET, app_id="1400000001")


# --- Volcengine ---


def volcengine_body(event="UserJoinRoom", secret=SECRET, **changes):
    fields = {
        "EventType": event,
        "EventData": json.dumps({"RoomId": "lobby", "UserId": "u1", "Timestamp": 1700000000500}),
        "EventTime": "2023-11-14T22:13:20.600Z",
        "EventId": "e-42",
        "AppId": "661e0000543cf",
        "Version": "2020-12-01",
        "Nonce": "ab12",
    }
    fields["Signature"] = volcengine.callback_signature(secret=secret, fields=fields)
    fields.update(changes)
    return json.dumps(fields).encode()


def test_volcengine_signature_is_sha256_of_the_sorted_values_and_the_secret():
    fields = json.loads(volcengine_body())
    values = sorted([fields[k] for k in volcengine.SIGNED_FIELDS] + [SECRET])

    assert fields["Signature"] == hashlib.sha256("".join(values).encode()).hexdigest()


def test_it_reads_volcengine_join_and_leave():
    delivery = read_callback(
        "volcengine", {}, volcengine_body(), secret=SECRET, app_id="661e0000543cf"
    )
    join = delivery.event
    leave = read_callback(
        "volcengine",
        {},
        volcengine_body("UserLeaveRoom"),
        secret=SECRET,
        app_id="661e0000543cf",
    ).event

    assert (join.kind, join.room_id, join.user_id, join.at_ms) == (
        RoomEvent.JOIN,
        "lobby",
        "u1",
        1700000000500,
    )
    assert delivery.sent_at == pytest.approx(1700000000.6)
    assert delivery.signature_covers_body  # every field read, EventTime included
    assert leave.kind == RoomEvent.LEAVE
    assert join.delivery_key != leave.delivery_key


def test_a_volcengine_callback_with_a_changed_field_or_no_signature_is_refused():
    tampered = json.loads(volcengine_body())
    tampered["EventData"] = tampered["EventData"].replace("u1", "u2")
    for body in (json.dumps(tampered).encode(), volcengine_body(Signature="")):
        with pytest.raises(CallbackRefused):
            read_callback("volcengine", {}, body, secret=SECRET, app_id="661e0000543cf")


def test_a_volcengine_callback_of_another_app_or_with_bad_event_data_is_invalid():
    other_app = volcengine_body(AppId="other")
    other_app = volcengine_body(
        AppId="other",
        Signature=volcengine.callback_signature(secret=SECRET, fields=json.loads(other_app)),
    )
    fields = {**json.loads(volcengine_body()), "EventData": "{not json"}
    fields["Signature"] = volcengine.callback_signature(secret=SECRET, fields=fields)
    for body in (other_app, json.dumps(fields).encode()):
        with pytest.raises(CallbackInvalid):
            read_callback("volcengine", {}, body, secret=SECRET, app_id="661e0000543cf")


def test_volcengine_recording_events_are_ignored():
    body = volcengine_body("RecordStarted")

    delivery = read_callback("volcengine", {}, body, secret=SECRET, app_id="661e0000543cf")

    assert delivery.event is None


@pytest.mark.parametrize("event", ["UserJoinRoom", "RecordStarted"])
@pytest.mark.parametrize(
    "event_time", [None, "", "yesterday", "2023-11-14T22:13:20", "2023-11-14 soon"]
)
def test_a_volcengine_callback_without_a_readable_event_time_is_refused_naming_it(
    event, event_time
):
    fields = json.loads(volcengine_body(event))
    if event_time is None:
        del fields["EventTime"]
    else:
        fields["EventTime"] = event_time
    fields["Signature"] = volcengine.callback_signature(secret=SECRET, fields=fields)
    body = json.dumps(fields).encode()

    with pytest.raises(CallbackRefused, match=r"no time it was sent \(EventTime\)"):
        read_callback("volcengine", {}, body, secret=SECRET, app_id="661e0000543cf")


# --- ZEGO's own ban (SetForbidUserRule) ---


def native_zego_client():
    from moderation.vendors import AppConnection, client_for

    from .conftest import ZEGO

    return client_for(AppConnection(**ZEGO, native_ban=True))


def test_zego_bans_natively_only_where_the_account_has_it():
    from moderation.vendors import capabilities_for

    plain, native = capabilities_for("zego"), capabilities_for("zego", native_ban=True)

    assert not plain.native_ban
    assert (native.native_ban, native.max_ban_seconds, native.lift) == (True, 86_400, True)
    assert not native.native_ban_removes  # ZEGO's rule refuses logins; it removes nobody
    assert native.rate_limits["SetForbidUserRule"] == 10


@pytest.mark.parametrize(
    ("room", "user", "rule_type"),
    [("r1", "u1", 4), (None, "u1", 3), ("r1", None, 2)],
)
def test_set_forbid_user_rule_picks_the_rule_type_from_the_target(room, user, rule_type):
    request = native_zego_client().ban_request(room_id=room, user_id=user, seconds=600)

    assert request.action == "SetForbidUserRule"
    assert request.params["RuleType"] == rule_type
    assert request.params["DisabledPrivilege"] == [1]
    assert request.params["EffectiveTime"] == 600
    assert request.details["forbidden_interval"] == 600


@pytest.mark.parametrize("seconds", [0, 86_401, -5])
def test_set_forbid_user_rule_refuses_a_window_zego_does_not_take(seconds):
    from moderation.vendors import VendorInputError

    with pytest.raises(VendorInputError):
        native_zego_client().ban_request(room_id="r", user_id="u", seconds=seconds)


def test_a_window_of_zero_deletes_the_rule():
    request = native_zego_client().update_ban_request(room_id="r1", user_id="u1", seconds=0)

    assert request.action == "DelForbidUserRule"
    assert request.params == {"RuleType": 4, "RoomId": "r1", "UserId": "u1"}


# --- Times outside 1970-9999 are not event times ---


@pytest.mark.parametrize(
    ("vendor", "body", "headers"),
    [
        ("zego", lambda: zego_body(login_time=str(2**62)), lambda b: {}),
        ("zego", lambda: zego_body(timestamp="99999999999999"), lambda b: {}),
        ("tencent", lambda: tencent_body(EventMsTs=2**62), tencent_headers),
        ("tencent", lambda: tencent_body(EventTs=2**52, EventMsTs=None), tencent_headers),
        ("volcengine", lambda: volcengine_body(EventTime="9" * 400), lambda b: {}),
    ],
)
def test_an_event_time_past_year_9999_is_invalid(vendor, body, headers):
    app_id = {"zego": "1234567890", "tencent": "1400000001", "volcengine": "661e0000543cf"}
    data = body()
    if vendor == "zego":
        fields = json.loads(data)
        fields["signature"] = zego.callback_signature(
            secret=SECRET, timestamp=fields["timestamp"], nonce=fields["nonce"]
        )
        data = json.dumps(fields).encode()
    if vendor == "volcengine":
        fields = json.loads(data)
        fields["Signature"] = volcengine.callback_signature(secret=SECRET, fields=fields)
        data = json.dumps(fields).encode()

    with pytest.raises(CallbackInvalid, match="between 1970 and 9999"):
        read_callback(vendor, headers(data), data, secret=SECRET, app_id=app_id[vendor])

"""The Volcengine callback Signature against a vector worked by hand from the vendor's page
"接收消息通知回调" (docs 6348/69820, section "签名算法"): the values of EventType, EventData,
EventTime, EventId, AppId, Version, Nonce and the callback secret, sorted, joined with no
separator, SHA-256, lowercase hex. The page's own example hash is no vector (it was not made
from its placeholder strings), so this one was computed outside Python:

    printf '%s\\n' <the seven values> <the secret> | LC_ALL=C sort | tr -d '\\n' | sha256sum

Both the product's reader and the emulator's sender must reproduce it.
"""

import hashlib
import json

import pytest

from moderation.vendors import CallbackRefused, RoomEvent, read_callback, volcengine
from rtc_emulator import volcengine as emulated_volcengine

SECRET = "Callback-Secret_2024"
FIELDS = {
    "EventType": "UserJoinRoom",
    # Not ASCII, so the sort and the hash are over UTF-8 bytes.
    "EventData": (
        '{"RoomId":"直播间-1","UserId":"user_42","DeviceType":"android","Timestamp":1700000000123}'
    ),
    "EventTime": "2023-11-15T06:13:20+08:00",
    "EventId": "8c6b2f1e9a3d4e5f",
    "AppId": "661e0000543cf",
    "Version": "2020-12-01",
    "Nonce": "9f3b",
}
# The sorted, joined values (LC_ALL=C sort: byte order), then their SHA-256.
PAYLOAD = (
    "2020-12-01"
    "2023-11-15T06:13:20+08:00"
    "661e0000543cf"
    "8c6b2f1e9a3d4e5f"
    "9f3b"
    "Callback-Secret_2024"
    "UserJoinRoom"
    '{"RoomId":"直播间-1","UserId":"user_42","DeviceType":"android","Timestamp":1700000000123}'
)
SIGNATURE = "ecdf865885c97ef53f00158dbf5f65cab994330c5fc03447a622012870a34e36"


def body(**changes) -> bytes:
    return json.dumps({**FIELDS, "Signature": SIGNATURE, **changes}).encode()


def test_the_product_signature_reproduces_the_vector_from_the_documented_algorithm():
    assert volcengine.callback_signature(secret=SECRET, fields=FIELDS) == SIGNATURE


def test_the_emulator_signs_callbacks_with_the_vector_from_the_documented_algorithm():
    assert emulated_volcengine.callback_signature(SECRET, FIELDS) == SIGNATURE


def test_the_vector_is_the_sha256_of_the_sorted_values_joined_without_separator():
    values = [*FIELDS.values(), SECRET]
    assert "".join(sorted(values, key=lambda v: v.encode())) == PAYLOAD
    assert hashlib.sha256(PAYLOAD.encode()).hexdigest() == SIGNATURE


def test_the_reader_accepts_the_vector_callback_and_reads_its_join():
    event = read_callback("volcengine", {}, body(), secret=SECRET, app_id=FIELDS["AppId"]).event

    assert (event.kind, event.room_id, event.user_id) == (RoomEvent.JOIN, "直播间-1", "user_42")
    assert event.at_ms == 1700000000123


@pytest.mark.parametrize(
    "changes",
    [
        {"Nonce": "9f3c"},
        {"EventTime": "2023-11-15T06:13:21+08:00"},
        {"Version": "2023-11-01"},
        {"Signature": SIGNATURE.replace("e", "f", 1)},
    ],
    ids=["nonce", "event-time", "version", "signature"],
)
def test_the_reader_refuses_the_vector_with_any_signed_value_changed(changes):
    with pytest.raises(CallbackRefused):
        read_callback("volcengine", {}, body(**changes), secret=SECRET, app_id=FIELDS["AppId"])


def test_the_reader_refuses_the_vector_under_another_secret():
    with pytest.raises(CallbackRefused):
        read_callback("volcengine", {}, body(), secret=SECRET + "x", app_id=FIELDS["AppId"])

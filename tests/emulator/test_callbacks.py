"""Room callbacks from the emulator: signed as each vendor signs, retried, readable by the product;
and ZEGO's user ban rules (SetForbidUserRule / DelForbidUserRule)."""

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from moderation.vendors import RoomEvent, read_callback
from moderation.vendors import zego as zego_signer
from rtc_emulator import Emulator

from .signed import TENCENT, VOLCENGINE, ZEGO, Vendors, zego_code

SECRETS = {"volcengine": "volcCallbackSecret", "zego": "zegoCallbackSecret", "tencent": "tcKey42"}
APPS = {"volcengine": VOLCENGINE, "zego": ZEGO, "tencent": TENCENT}


class Receiver(ThreadingHTTPServer):
    """Takes callbacks; answers each with the next status from `statuses` (200 when empty)."""

    daemon_threads = True

    def __init__(self):
        self.received = []
        self.statuses = deque()
        super().__init__(("127.0.0.1", 0), ReceiverHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/callbacks/abc/"


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((dict(self.headers.items()), body))
        status = self.server.statuses.popleft() if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def emulator(receiver):
    emulator = Emulator(callback_delays={v: [0.05, 0.05] for v in APPS})
    for vendor, app in APPS.items():
        emulator.add_app(
            vendor=vendor,
            **app,
            callback_url=receiver.url,
            callback_secret=SECRETS[vendor],
            forbid_rules=vendor == "zego",
        )
    emulator.start()
    yield emulator
    emulator.stop()


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def read(vendor, headers, body):
    """The room event the product reads from one delivery."""
    return read_callback(
        vendor, headers, body, secret=SECRETS[vendor], app_id=APPS[vendor]["app_id"]
    ).event


@pytest.mark.parametrize("vendor", ["volcengine", "zego", "tencent"])
def test_a_join_and_a_leave_send_callbacks_the_product_verifies(vendor, emulator, receiver):
    app_id = APPS[vendor]["app_id"]
    emulator.join(vendor=vendor, app_id=app_id, room_id="1001", user_id="alice")
    emulator.leave(vendor=vendor, app_id=app_id, room_id="1001", user_id="alice")

    wait_for(lambda: len(receiver.received) == 2)
    join, leave = (read(vendor, *request) for request in receiver.received)

    assert (join.kind, join.room_id, join.user_id) == (RoomEvent.JOIN, "1001", "alice")
    assert leave.kind == RoomEvent.LEAVE
    assert leave.at_ms >= join.at_ms
    assert join.delivery_key != leave.delivery_key
    assert [r.delivered for r in emulator.callbacks] == [True, True]


def test_a_kick_through_the_api_reports_the_user_as_kicked(emulator, receiver):
    vendors = Vendors(emulator.base_url)
    emulator.join(vendor="zego", app_id=ZEGO["app_id"], room_id="live", user_id="bob")
    response = vendors.zego("KickoutUser", [("RoomId", "live"), ("UserId[]", "bob")])
    assert zego_code(response) == 0

    wait_for(lambda: len(receiver.received) == 2)
    logout = json.loads(receiver.received[1][1])

    assert logout["event"] == "room_logout"
    assert logout["reason"] == "3"  # kicked by the server API
    assert read("zego", *receiver.received[1]).kind == RoomEvent.LEAVE


def test_closing_a_room_reports_everyone_leaving(emulator, receiver):
    for user in ("a", "b", "c"):
        emulator.join(vendor="tencent", app_id=TENCENT["app_id"], room_id="9", user_id=user)
    response = Vendors(emulator.base_url).tencent(
        "DismissRoom", {"SdkAppId": int(TENCENT["app_id"]), "RoomId": 9}
    )
    assert response.status_code == 200

    wait_for(lambda: len(receiver.received) == 6)
    leaves = [read("tencent", *r) for r in receiver.received[3:]]

    assert {(e.kind, e.user_id) for e in leaves} == {("leave", u) for u in "abc"}
    assert {json.loads(r[1])["EventInfo"]["Reason"] for r in receiver.received[3:]} == {4}


def test_joining_a_room_one_is_already_in_sends_nothing(emulator, receiver):
    for _ in range(3):
        emulator.join(vendor="zego", app_id=ZEGO["app_id"], room_id="r", user_id="same")

    time.sleep(0.2)
    assert len(receiver.received) == 1


def test_a_failed_delivery_is_retried_with_the_same_event(emulator, receiver):
    receiver.statuses.extend([500, 503])

    emulator.join(vendor="volcengine", app_id=VOLCENGINE["app_id"], room_id="r", user_id="u")

    wait_for(lambda: len(emulator.callbacks) == 3)
    assert [(r.attempt, r.status) for r in emulator.callbacks] == [(1, 500), (2, 503), (3, 200)]
    keys = {read("volcengine", *request).delivery_key for request in receiver.received}
    assert len(keys) == 1  # the receiver can tell it is one event


def test_deliveries_stop_after_the_vendors_retries(emulator, receiver):
    receiver.statuses.extend([500] * 10)

    emulator.join(vendor="zego", app_id=ZEGO["app_id"], room_id="r", user_id="u")

    wait_for(lambda: len(emulator.callbacks) == 3)
    time.sleep(0.2)
    assert len(emulator.callbacks) == 3  # the first try and two retries in this emulator


def test_a_callback_request_can_be_built_without_sending_it(emulator, receiver):
    headers, body = emulator.callback_request(
        vendor="tencent", app_id=TENCENT["app_id"], kind="join", room_id="5", user_id="eve"
    )

    event = read("tencent", headers, body)

    assert (event.kind, event.room_id, event.user_id) == ("join", "5", "eve")
    assert receiver.received == []


def test_callback_urls_are_loopback_only_and_come_with_a_secret():
    emulator = Emulator()
    with pytest.raises(ValueError, match="loopback"):
        emulator.add_app(
            vendor="zego", **ZEGO, callback_url="http://example.com/cb", callback_secret="s"
        )
    with pytest.raises(ValueError, match="together"):
        emulator.add_app(vendor="zego", **ZEGO, callback_url="http://127.0.0.1:9/cb")
    with pytest.raises(ValueError, match="zego"):
        emulator.add_app(vendor="tencent", **TENCENT, forbid_rules=True)


def test_state_and_the_callback_log_never_show_the_callback_secret(emulator, receiver):
    emulator.join(vendor="zego", app_id=ZEGO["app_id"], room_id="r", user_id="u")
    wait_for(lambda: len(emulator.callbacks) == 1)

    state = requests.get(emulator.base_url + "/_emulator/state", timeout=5).text
    log = requests.get(emulator.base_url + "/_emulator/callbacks?vendor=zego", timeout=5)

    assert log.json()["callbacks"][0]["delivered"] is True
    for secret in SECRETS.values():
        assert secret not in state
        assert secret not in log.text


# --- ZEGO user ban rules ---


def forbid(vendors, *pairs, action="SetForbidUserRule"):
    return zego_code(vendors.zego(action, list(pairs)))


def test_a_user_ban_rule_refuses_the_next_login_but_removes_nobody(emulator):
    vendors = Vendors(emulator.base_url)
    zego = {"vendor": "zego", "app_id": ZEGO["app_id"]}
    assert emulator.join(**zego, room_id="r1", user_id="inside")

    for user in ("inside", "troll"):
        code = forbid(
            vendors,
            ("RuleType", "4"),
            ("RoomId", "r1"),
            ("UserId", user),
            ("DisabledPrivilege[]", "1"),
            ("EffectiveTime", "600"),
        )
        assert code == 0

    assert emulator.members(**zego, room_id="r1") == {"inside"}
    assert not emulator.join(**zego, room_id="r1", user_id="troll")
    assert emulator.join(**zego, room_id="r2", user_id="troll")
    assert {r["user_id"] for r in emulator.forbid_rules(**zego)} == {"inside", "troll"}

    code = forbid(
        vendors,
        ("RuleType", "4"),
        ("RoomId", "r1"),
        ("UserId", "troll"),
        action="DelForbidUserRule",
    )
    assert code == 0
    assert emulator.join(**zego, room_id="r1", user_id="troll")


def test_user_and_room_rules_cover_every_room_and_everyone(emulator):
    vendors = Vendors(emulator.base_url)
    zego = {"vendor": "zego", "app_id": ZEGO["app_id"]}
    privilege = ("DisabledPrivilege[]", "1")
    forbid(vendors, ("RuleType", "3"), ("UserId", "x"), privilege, ("EffectiveTime", "60"))
    forbid(vendors, ("RuleType", "2"), ("RoomId", "shut"), privilege, ("EffectiveTime", "60"))

    assert not emulator.join(**zego, room_id="any", user_id="x")
    assert not emulator.join(**zego, room_id="shut", user_id="y")
    assert emulator.join(**zego, room_id="open", user_id="y")


def test_a_rule_ends_after_its_effective_time():
    now = [1_700_000_000.0]
    emulator = Emulator(clock=lambda: now[0])
    emulator.add_app(vendor="zego", **ZEGO, forbid_rules=True)
    emulator.start()
    try:
        vendors = Vendors(emulator.base_url)
        zego = {"vendor": "zego", "app_id": ZEGO["app_id"]}
        response = vendors.zego(
            "SetForbidUserRule",
            [
                ("RuleType", "3"),
                ("UserId", "x"),
                ("DisabledPrivilege[]", "1"),
                ("EffectiveTime", "30"),
            ],
            signed_at=now[0],
        )
        assert zego_code(response) == 0
        assert not emulator.join(**zego, room_id="r", user_id="x")
        now[0] += 31
        assert emulator.join(**zego, room_id="r", user_id="x")
    finally:
        emulator.stop()


@pytest.mark.parametrize(
    ("pairs", "code"),
    [
        ([("RuleType", "4"), ("RoomId", "r"), ("UserId", "u"), ("EffectiveTime", "60")], 2),
        (
            [("RuleType", "4"), ("RoomId", "r"), ("UserId", "u"), ("DisabledPrivilege[]", "1")],
            2,
        ),
        (
            [
                ("RuleType", "4"),
                ("RoomId", "r"),
                ("UserId", "u"),
                ("DisabledPrivilege[]", "1"),
                ("EffectiveTime", "86401"),
            ],
            2,
        ),
        ([("RuleType", "4"), ("UserId", "u"), ("DisabledPrivilege[]", "1")], 2),
        ([("RuleType", "7"), ("UserId", "u")], 2),
    ],
)
def test_a_bad_rule_is_refused_with_zegos_parameter_code(emulator, pairs, code):
    assert zego_code(Vendors(emulator.base_url).zego("SetForbidUserRule", pairs)) == code


def test_user_ban_rules_need_zego_to_enable_them():
    emulator = Emulator()
    emulator.add_app(vendor="zego", **ZEGO)
    emulator.start()
    try:
        response = Vendors(emulator.base_url).zego(
            "SetForbidUserRule",
            [
                ("RuleType", "3"),
                ("UserId", "u"),
                ("DisabledPrivilege[]", "1"),
                ("EffectiveTime", "9"),
            ],
        )
        assert zego_code(response) == 9
    finally:
        emulator.stop()


def test_zego_reports_a_published_stream_and_its_close_when_the_user_is_kicked(emulator, receiver):
    app_id = ZEGO["app_id"]
    emulator.join(vendor="zego", app_id=app_id, room_id="live-1", user_id="erin")
    emulator.publish(
        vendor="zego", app_id=app_id, room_id="live-1", user_id="erin", stream_id="s-e"
    )
    Vendors(emulator.base_url).zego("KickoutUser", [("RoomId", "live-1"), ("UserId[]", "erin")])

    wait_for(lambda: len(receiver.received) == 4)
    bodies = [json.loads(body) for _headers, body in receiver.received]

    assert [b["event"] for b in bodies] == [
        "room_login",
        "stream_create",
        "stream_close",
        "room_logout",
    ]
    created, closed = bodies[1], bodies[2]
    assert (created["room_id"], created["user_id"], created["stream_alias"]) == (
        "live-1",
        "erin",
        "s-e",
    )
    assert created["signature"] == zego_signer.callback_signature(
        secret=SECRETS["zego"], timestamp=created["timestamp"], nonce=created["nonce"]
    )
    assert closed["type"] == "3"  # kicked

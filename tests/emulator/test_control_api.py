"""The /_emulator/ control API, as another process (the product under test) drives it."""

import pytest
import requests

from rtc_emulator import Emulator

from .signed import TENCENT, VOLCENGINE, ZEGO, Vendors, zego_code


@pytest.fixture
def bare():
    """An emulator with no apps: everything arrives over HTTP."""
    emulator = Emulator()
    base = emulator.start()
    yield base
    emulator.stop()


def post(base, name, payload=None):
    return requests.post(f"{base}/_emulator/{name}", json=payload, timeout=5)


def get(base, name, **params):
    return requests.get(f"{base}/_emulator/{name}", params=params, timeout=5)


def test_an_app_registered_over_http_can_be_called_and_its_calls_read_back(bare):
    response = post(bare, "apps", {"vendor": "zego", **ZEGO, "rate_limits": {"KickoutUser": 5}})
    assert response.status_code == 201
    assert response.json()["apps"][0]["rate_limits"]["KickoutUser"] == 5
    assert post(
        bare,
        "join",
        {"vendor": "zego", "app_id": ZEGO["app_id"], "room_id": "r", "user_id": "alice"},
    ).json() == {"joined": True}

    kick = [("RoomId", "r"), ("UserId[]", "alice")]
    assert zego_code(Vendors(bare).zego("KickoutUser", kick)) == 0

    members = get(bare, "members", vendor="zego", app_id=ZEGO["app_id"], room_id="r")
    assert members.json() == {"members": []}
    (call,) = get(bare, "calls", vendor="zego").json()["calls"]
    assert (call["action"], call["app_id"], call["code"], call["http_status"]) == (
        "KickoutUser",
        ZEGO["app_id"],
        "0",
        200,
    )
    assert call["params"]["UserId[]"] == ["alice"]
    assert "Signature" not in call["params"]


def test_several_apps_register_in_one_post(bare):
    apps = [
        {"vendor": "volcengine", **VOLCENGINE},
        {"vendor": "tencent", **TENCENT, "strict_rooms": True},
    ]
    assert post(bare, "apps", apps).status_code == 201
    state = get(bare, "state").json()
    assert {(app["vendor"], app["strict_rooms"]) for app in state["apps"]} == {
        ("volcengine", False),
        ("tencent", True),
    }


def test_state_and_calls_never_show_a_secret(bare):
    post(bare, "apps", {"vendor": "volcengine", **VOLCENGINE})
    post(bare, "apps", {"vendor": "tencent", **TENCENT})
    vendors = Vendors(bare)
    vendors.volcengine("DismissRoom", {"AppId": VOLCENGINE["app_id"], "RoomId": "r"})
    vendors.tencent("DismissRoom", {"SdkAppId": 1400000001, "RoomId": 1})
    for text in (get(bare, "state").text, get(bare, "calls").text):
        assert VOLCENGINE["secret"] not in text
        assert TENCENT["secret"] not in text


def test_faults_bans_and_throttling_are_visible_over_http(bare):
    post(bare, "apps", {"vendor": "volcengine", **VOLCENGINE})
    post(bare, "faults", {"vendor": "volcengine", "mode": "throttle", "count": 1})
    assert len(get(bare, "state").json()["faults"]) == 1
    vendors = Vendors(bare)
    ban = {"AppId": VOLCENGINE["app_id"], "UserId": "alice", "ForbiddenInterval": 60}
    assert vendors.volcengine("BanRoomUser", ban).status_code == 429
    assert vendors.volcengine("BanRoomUser", ban).status_code == 200

    state = get(bare, "state").json()
    assert state["throttled"] == 1
    assert state["calls"] == 2
    assert state["faults"] == []
    (active,) = state["bans"]
    assert (active["vendor"], active["user_id"], active["scope"]) == (
        "volcengine",
        "alice",
        "user_everywhere",
    )
    joined = post(
        bare,
        "join",
        {
            "vendor": "volcengine",
            "app_id": VOLCENGINE["app_id"],
            "room_id": "r",
            "user_id": "alice",
        },
    )
    assert joined.json() == {"joined": False}
    bans = get(bare, "bans", vendor="volcengine", app_id=VOLCENGINE["app_id"]).json()["bans"]
    assert len(bans) == 1


def test_leave_and_reset_over_http(bare):
    post(bare, "apps", {"vendor": "tencent", **TENCENT})
    seat = {"vendor": "tencent", "app_id": TENCENT["app_id"], "room_id": 7, "user_id": "u"}
    post(bare, "join", seat)
    assert get(bare, "state").json()["rooms"] == {"tencent": {"1400000001": {"7": ["u"]}}}
    assert post(bare, "leave", seat).json() == {"left": True}
    assert post(bare, "reset").json() == {"reset": True}
    assert get(bare, "state").json()["rooms"] == {}
    assert len(get(bare, "state").json()["apps"]) == 1
    post(bare, "reset", {"apps": True})
    assert get(bare, "state").json()["apps"] == []


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("apps", {"vendor": "agora", "app_id": "1", "secret": "s"}),
        ("apps", {"vendor": "zego", "app_id": "1", "secret": "s", "password": "x"}),
        ("apps", {"vendor": "volcengine", "app_id": "a", "secret": "s"}),
        ("apps", {"vendor": "zego", **ZEGO, "rate_limits": {"BanRoomUser": 5}}),
        ("faults", {"mode": "meteor"}),
        ("join", {"vendor": "zego", "app_id": "1", "room_id": "r", "user_id": "u"}),
        ("apps", ["not an object"]),
    ],
)
def test_bad_control_requests_get_a_400_with_the_reason(bare, name, payload):
    response = post(bare, name, payload)
    assert response.status_code == 400
    assert response.json()["error"]


def test_unknown_routes_get_a_404(bare):
    assert get(bare, "nothing").status_code == 404
    assert requests.get(f"{bare}/agora/", timeout=5).status_code == 404


def test_an_access_key_keeps_one_secret(bare):
    post(bare, "apps", {"vendor": "volcengine", **VOLCENGINE})
    again = {"vendor": "volcengine", **VOLCENGINE, "app_id": "second-app", "secret": "different"}
    assert post(bare, "apps", again).status_code == 400
    same = {**again, "secret": VOLCENGINE["secret"]}
    assert post(bare, "apps", same).status_code == 201


def test_the_emulator_refuses_to_listen_beyond_loopback():
    emulator = Emulator()
    with pytest.raises(ValueError, match="loopback"):
        emulator.start(host="0.0.0.0")  # noqa: S104 (it must be refused)
    with pytest.raises(ValueError, match="loopback"):
        emulator.start(host="192.168.1.10")


def test_endpoints_have_one_prefix_per_vendor_and_no_trailing_slash(bare):
    emulator = Emulator()
    base = emulator.start()
    try:
        assert emulator.endpoint("volcengine") == f"{base}/volcengine"
        assert emulator.endpoint("zego") == f"{base}/zego"
        assert emulator.endpoint("tencent") == f"{base}/tencent"
    finally:
        emulator.stop()

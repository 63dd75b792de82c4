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


# ---- streams and mutes -----------------------------------------------------------------------

ZG = {"vendor": "zego", "app_id": ZEGO["app_id"]}


@pytest.fixture
def seated(bare):
    """`bare` with the ZEGO app registered and alice in room r, all over HTTP."""
    post(bare, "apps", {"vendor": "zego", **ZEGO})
    post(bare, "join", {**ZG, "room_id": "r", "user_id": "alice"})
    return bare


def test_a_stream_published_over_http_is_listed_by_streams_not_forbidden(seated):
    post(seated, "join", {**ZG, "room_id": "r", "user_id": "bob"})
    published = post(seated, "publish", {**ZG, "room_id": "r", "user_id": "bob", "stream_id": "s2"})
    post(seated, "publish", {**ZG, "room_id": "r", "user_id": "alice", "stream_id": "s1"})

    assert published.status_code == 200
    assert published.json() == {"published": True}
    assert get(seated, "streams", **ZG).json() == {
        "streams": [
            {"stream_id": "s1", "room_id": "r", "user_id": "alice", "forbidden": False},
            {"stream_id": "s2", "room_id": "r", "user_id": "bob", "forbidden": False},
        ]
    }


def test_muted_is_false_until_a_signed_forbid_rtc_stream_stops_the_users_stream(seated):
    post(seated, "publish", {**ZG, "room_id": "r", "user_id": "alice", "stream_id": "s1"})
    before = get(seated, "muted", **ZG, room_id="r", user_id="alice")

    forbid = Vendors(seated).zego("ForbidRTCStream", [("StreamId", "s1"), ("Sequence", "1")])

    assert before.status_code == 200
    assert before.json() == {"audio": False, "video": False}
    assert zego_code(forbid) == 0
    after = get(seated, "muted", **ZG, room_id="r", user_id="alice")
    assert after.json() == {"audio": True, "video": True}
    (stream,) = get(seated, "streams", **ZG).json()["streams"]
    assert stream["forbidden"] is True


def test_unpublish_over_http_removes_the_stream_from_streams(seated):
    post(seated, "publish", {**ZG, "room_id": "r", "user_id": "alice", "stream_id": "s1"})

    unpublished = post(seated, "unpublish", {**ZG, "stream_id": "s1"})

    assert unpublished.status_code == 200
    assert unpublished.json() == {"unpublished": True}
    assert get(seated, "streams", **ZG).json() == {"streams": []}


def test_state_adds_the_published_streams_with_their_forbidden_flag_and_the_mutes_in_force(
    seated,
):
    post(seated, "apps", {"vendor": "volcengine", **VOLCENGINE})
    post(seated, "publish", {**ZG, "room_id": "r", "user_id": "alice", "stream_id": "s1"})
    vendors = Vendors(seated)
    vendors.zego("ForbidRTCStream", [("StreamId", "s1"), ("Sequence", "1")])
    mute = {"AppId": VOLCENGINE["app_id"], "RoomId": "r", "UserId": "bob", "Video": True}
    assert vendors.volcengine("BanUserStream", {**mute, "ForbiddenInterval": 0}).ok

    state = get(seated, "state").json()

    assert state["streams"] == [
        {**ZG, "stream_id": "s1", "room_id": "r", "user_id": "alice", "forbidden": True}
    ]
    (muted,) = state["mutes"]
    assert {key: muted[key] for key in ("vendor", "room_id", "user_id", "audio", "video")} == {
        "vendor": "volcengine",
        "room_id": "r",
        "user_id": "bob",
        "audio": False,
        "video": True,
    }
    assert {"apps", "rooms", "bans", "faults", "forbid_rules", "calls"} <= set(state)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({**ZG, "room_id": "r", "user_id": "nobody", "stream_id": "s"}, "join before publishing"),
        ({**ZG, "room_id": "r", "user_id": "alice"}, "stream_id"),
        ({**ZG, "app_id": "42", "room_id": "r", "user_id": "alice", "stream_id": "s"}, "no zego"),
        (
            {**ZG, "vendor": "tencent", "room_id": "r", "user_id": "alice", "stream_id": "s"},
            "emulated for zego",
        ),
    ],
)
def test_publish_refuses_a_user_not_in_the_room_a_missing_field_an_unknown_app_and_non_zego(
    seated, payload, reason
):
    response = post(seated, "publish", payload)

    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_unpublish_without_a_stream_id_gets_a_400_naming_it(seated):
    response = post(seated, "unpublish", ZG)

    assert response.status_code == 400
    assert "stream_id" in response.json()["error"]


def test_muted_without_room_and_user_gets_a_400_naming_the_required_parameters(seated):
    response = get(seated, "muted", **ZG)

    assert response.status_code == 400
    error = response.json()["error"]
    assert "vendor, app_id, room_id, user_id" in error
    assert "missing room_id, user_id" in error


def test_streams_without_an_app_id_or_for_another_vendor_gets_a_400(seated):
    missing = get(seated, "streams", vendor="zego")
    tencent = get(seated, "streams", vendor="tencent", app_id=TENCENT["app_id"])

    assert missing.status_code == 400
    assert "missing app_id" in missing.json()["error"]
    assert tencent.status_code == 400
    assert "zego" in tencent.json()["error"]

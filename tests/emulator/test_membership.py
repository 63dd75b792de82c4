"""Rooms and bans: kicks remove members, Volcengine bans keep them out, lifts let them back."""

import time

import pytest

from rtc_emulator import Emulator

from .conftest import register_apps
from .signed import VOLCENGINE, ZEGO, Vendors, tencent_error, zego_code

VOLC = {"vendor": "volcengine", "app_id": VOLCENGINE["app_id"]}
APP = VOLCENGINE["app_id"]


def seat(emulator, vendor, app_id, room_id, *user_ids):
    for user_id in user_ids:
        assert emulator.join(vendor=vendor, app_id=app_id, room_id=room_id, user_id=user_id)


def test_a_user_banned_from_a_room_is_removed_and_cannot_rejoin_it(emulator, vendors):
    seat(emulator, "volcengine", APP, "r1", "alice", "bob")
    seat(emulator, "volcengine", APP, "r2", "alice")
    body = {"AppId": APP, "RoomId": "r1", "UserId": "alice", "ForbiddenInterval": 600}
    assert vendors.volcengine("BanRoomUser", body).status_code == 200
    assert emulator.members(**VOLC, room_id="r1") == {"bob"}
    assert not emulator.join(**VOLC, room_id="r1", user_id="alice")
    assert emulator.join(**VOLC, room_id="r1", user_id="carol")
    assert emulator.members(**VOLC, room_id="r2") == {"alice"}
    (ban,) = emulator.active_bans(**VOLC)
    assert (ban["room_id"], ban["user_id"], ban["scope"]) == ("r1", "alice", "user_in_room")


def test_a_whole_room_ban_empties_the_room_and_keeps_everyone_out(emulator, vendors):
    seat(emulator, "volcengine", APP, "r1", "alice", "bob")
    body = {"AppId": APP, "RoomId": "r1", "ForbiddenInterval": 60}
    vendors.volcengine("BanRoomUser", body)
    assert emulator.members(**VOLC, room_id="r1") == set()
    assert not emulator.join(**VOLC, room_id="r1", user_id="dave")
    assert emulator.join(**VOLC, room_id="r2", user_id="dave")


def test_a_user_banned_everywhere_leaves_every_room_and_enters_none(emulator, vendors):
    seat(emulator, "volcengine", APP, "r1", "alice", "bob")
    seat(emulator, "volcengine", APP, "r2", "alice")
    vendors.volcengine("BanRoomUser", {"AppId": APP, "UserId": "alice", "ForbiddenInterval": 60})
    assert emulator.members(**VOLC, room_id="r1") == {"bob"}
    assert emulator.members(**VOLC, room_id="r2") == set()
    assert not emulator.join(**VOLC, room_id="r3", user_id="alice")
    assert emulator.active_bans(**VOLC)[0]["scope"] == "user_everywhere"


def test_a_ban_of_zero_seconds_only_kicks(emulator, vendors):
    seat(emulator, "volcengine", APP, "r1", "alice")
    vendors.volcengine("BanRoomUser", {"AppId": APP, "RoomId": "r1", "UserId": "alice"})
    assert emulator.members(**VOLC, room_id="r1") == set()
    assert emulator.active_bans(**VOLC) == []
    assert emulator.join(**VOLC, room_id="r1", user_id="alice")


def test_update_ban_room_user_rule_with_zero_lifts_the_ban(emulator, vendors):
    target = {"AppId": APP, "RoomId": "r1", "UserId": "alice"}
    vendors.volcengine("BanRoomUser", {**target, "ForbiddenInterval": 600})
    assert not emulator.join(**VOLC, room_id="r1", user_id="alice")
    response = vendors.volcengine("UpdateBanRoomUserRule", {**target, "ForbiddenInterval": 0})
    assert response.json()["Result"] == {"Message": "success"}
    assert emulator.active_bans(**VOLC) == []
    assert emulator.join(**VOLC, room_id="r1", user_id="alice")


def test_update_ban_room_user_rule_changes_the_window(emulator, vendors):
    target = {"AppId": APP, "UserId": "alice"}
    vendors.volcengine("BanRoomUser", {**target, "ForbiddenInterval": 600})
    vendors.volcengine("UpdateBanRoomUserRule", {**target, "ForbiddenInterval": 7200})
    (ban,) = emulator.active_bans(**VOLC)
    assert ban["ends_at"] == pytest.approx(time.time() + 7200, abs=2)


def test_a_ban_ends_when_its_window_passes():
    clock = FakeClock()
    with Emulator(clock=clock) as emulator:
        register_apps(emulator)
        vendors = Vendors(emulator.start())
        body = {"AppId": APP, "RoomId": "r1", "UserId": "alice", "ForbiddenInterval": 3}
        vendors.volcengine("BanRoomUser", body)  # clamped to 10 s
        clock.advance(9.5)
        assert not emulator.join(**VOLC, room_id="r1", user_id="alice")
        clock.advance(1)
        assert emulator.join(**VOLC, room_id="r1", user_id="alice")
        assert emulator.active_bans(**VOLC) == []


def test_a_repeated_ban_of_the_same_target_succeeds_and_renews_the_window(emulator, vendors):
    body = {"AppId": APP, "RoomId": "r1", "UserId": "alice", "ForbiddenInterval": 60}
    assert vendors.volcengine("BanRoomUser", body).status_code == 200
    assert vendors.volcengine("BanRoomUser", {**body, "ForbiddenInterval": 120}).status_code == 200
    (ban,) = emulator.active_bans(**VOLC)
    assert ban["ends_at"] == pytest.approx(time.time() + 120, abs=2)


def test_volcengine_kick_user_and_dismiss_room_remove_without_banning(emulator, vendors):
    seat(emulator, "volcengine", APP, "r1", "alice", "bob", "carol")
    vendors.volcengine("KickUser", {"AppId": APP, "RoomId": "r1", "UserId": "alice"})
    assert emulator.members(**VOLC, room_id="r1") == {"bob", "carol"}
    vendors.volcengine("DismissRoom", {"AppId": APP, "RoomId": "r1"})
    assert emulator.members(**VOLC, room_id="r1") == set()
    assert emulator.join(**VOLC, room_id="r1", user_id="alice")


def test_kicking_someone_not_in_the_room_still_succeeds(vendors):
    response = vendors.volcengine("KickUser", {"AppId": APP, "RoomId": "empty", "UserId": "x"})
    assert response.status_code == 200
    assert zego_code(vendors.zego("KickoutUser", [("RoomId", "empty"), ("UserId[]", "x")])) == 0
    body = {"SdkAppId": 1400000001, "RoomId": 77, "UserIds": ["x"]}
    assert tencent_error(vendors.tencent("RemoveUser", body)) == ""


def test_a_zego_kick_removes_users_who_may_rejoin_at_once(emulator, vendors):
    zego = {"vendor": "zego", "app_id": ZEGO["app_id"]}
    seat(emulator, "zego", ZEGO["app_id"], "live", "alice", "bob", "carol")
    kick = [("RoomId", "live"), ("UserId[]", "alice"), ("UserId[]", "bob")]
    assert zego_code(vendors.zego("KickoutUser", kick)) == 0
    assert emulator.members(**zego, room_id="live") == {"carol"}
    assert emulator.join(**zego, room_id="live", user_id="alice")
    described = vendors.zego(
        "DescribeUsers", [("RoomId", "live"), ("UserId[]", "alice"), ("UserId[]", "bob")]
    )
    assert described.json()["Data"]["UserStatusList"] == [
        {"UserId": "alice", "Status": 1},
        {"UserId": "bob", "Status": 2},
    ]
    assert zego_code(vendors.zego("CloseRoom", [("RoomId", "live")])) == 0
    assert emulator.members(**zego, room_id="live") == set()


def test_a_tencent_removal_kicks_without_banning_and_dismiss_empties(emulator, vendors):
    tencent = {"vendor": "tencent", "app_id": "1400000001"}
    seat(emulator, "tencent", "1400000001", 1234, "alice", "bob")
    body = {"SdkAppId": 1400000001, "RoomId": 1234, "UserIds": ["alice"]}
    assert tencent_error(vendors.tencent("RemoveUser", body)) == ""
    assert emulator.members(**tencent, room_id=1234) == {"bob"}
    assert emulator.join(**tencent, room_id=1234, user_id="alice")
    seat(emulator, "tencent", "1400000001", "live-7", "erin")
    by_str = {"SdkAppId": 1400000001, "RoomId": "live-7", "UserIds": ["erin"]}
    assert tencent_error(vendors.tencent("RemoveUserByStrRoomId", by_str)) == ""
    assert emulator.members(**tencent, room_id="live-7") == set()
    dismiss = {"SdkAppId": 1400000001, "RoomId": 1234}
    assert tencent_error(vendors.tencent("DismissRoom", dismiss)) == ""
    assert emulator.members(**tencent, room_id=1234) == set()


def test_strict_rooms_make_never_seen_rooms_nonexistent():
    with Emulator() as emulator:
        emulator.add_app(vendor="zego", **ZEGO, strict_rooms=True)
        emulator.add_app(
            vendor="tencent",
            app_id="1400000001",
            access_key_id="AKIDemulatortest",
            secret="tc-secret-key",
            strict_rooms=True,
        )
        vendors = Vendors(emulator.start())
        kick = [("RoomId", "ghost"), ("UserId[]", "a")]
        assert zego_code(vendors.zego("KickoutUser", kick)) == 104
        remove = {"SdkAppId": 1400000001, "RoomId": 404, "UserIds": ["a"]}
        assert (
            tencent_error(vendors.tencent("RemoveUser", remove)) == "FailedOperation.RoomNotExist"
        )
        # A room once seen exists even after it empties.
        emulator.join(vendor="zego", app_id=ZEGO["app_id"], room_id="ghost", user_id="a")
        emulator.leave(vendor="zego", app_id=ZEGO["app_id"], room_id="ghost", user_id="a")
        assert zego_code(vendors.zego("KickoutUser", kick)) == 0


def test_joining_an_unregistered_app_is_a_test_mistake(emulator):
    with pytest.raises(ValueError, match="no zego app"):
        emulator.join(vendor="zego", app_id="42", room_id="r", user_id="u")


def test_reset_forgets_rooms_bans_calls_and_faults_but_keeps_apps(emulator, vendors):
    seat(emulator, "volcengine", APP, "r1", "alice")
    vendors.volcengine("BanRoomUser", {"AppId": APP, "UserId": "bob", "ForbiddenInterval": 60})
    emulator.fail_next()
    emulator.reset()
    assert emulator.members(**VOLC, room_id="r1") == set()
    assert emulator.active_bans(**VOLC) == []
    assert emulator.calls == []
    assert emulator.throttled == 0
    assert vendors.volcengine("DismissRoom", {"AppId": APP, "RoomId": "r1"}).status_code == 200
    emulator.reset(apps=True)
    assert emulator.state()["apps"] == []


class FakeClock:
    """Starts at the real time, so signatures stay fresh, and moves only when told."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

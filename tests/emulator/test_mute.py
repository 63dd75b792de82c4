"""Mutes in the emulator, as each vendor has them: Volcengine timed per user, Tencent untimed per
user, ZEGO per stream with a Sequence that must grow; ZEGO reports streams in callbacks."""

import pytest

from .signed import TENCENT, VOLCENGINE, ZEGO, tencent_error, volcengine_error, zego_code

VOLC = {"vendor": "volcengine", "app_id": VOLCENGINE["app_id"]}
TC = {"vendor": "tencent", "app_id": TENCENT["app_id"]}
ZG = {"vendor": "zego", "app_id": ZEGO["app_id"]}


def test_volcengine_mutes_a_users_audio_for_the_interval_and_unbans_it(emulator, vendors):
    emulator.join(**VOLC, room_id="r1", user_id="alice")
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r1", "UserId": "alice", "Audio": True}

    assert vendors.volcengine("BanUserStream", {**body, "ForbiddenInterval": 60}).ok
    assert emulator.muted(**VOLC, room_id="r1", user_id="alice") == {"audio": True, "video": False}
    assert vendors.volcengine("UnbanUserStream", body).ok
    assert emulator.muted(**VOLC, room_id="r1", user_id="alice") == {"audio": False, "video": False}
    assert emulator.members(**VOLC, room_id="r1") == {"alice"}  # a mute keeps them in


def test_volcengine_ends_a_timed_mute_by_itself(emulator, vendors):
    clock = [1000.0]
    emulator.clock = lambda: clock[0]
    emulator.rooms_of("volcengine", VOLCENGINE["app_id"]).clock = emulator.clock
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r1", "UserId": "bob", "Video": True}
    vendors.volcengine("BanUserStream", {**body, "ForbiddenInterval": 60})

    clock[0] += 61

    assert emulator.muted(**VOLC, room_id="r1", user_id="bob") == {"audio": False, "video": False}


@pytest.mark.parametrize("interval", [1, 59, 259_201, -1, "60"])
def test_volcengine_refuses_an_interval_outside_0_or_60_to_3_days(emulator, vendors, interval):
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r1", "UserId": "u", "Audio": True}

    response = vendors.volcengine("BanUserStream", {**body, "ForbiddenInterval": interval})

    assert volcengine_error(response) == "InvalidParameter"


def test_volcengine_wants_audio_or_video(emulator, vendors):
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r1", "UserId": "u", "ForbiddenInterval": 0}

    assert volcengine_error(vendors.volcengine("BanUserStream", body)) == "InvalidParameter"


@pytest.mark.parametrize(
    ("is_mute", "muted"), [(1, (True, True)), (2, (True, False)), (3, (False, True))]
)
def test_tencent_blocks_by_is_mute_until_it_is_0(emulator, vendors, is_mute, muted):
    emulator.join(**TC, room_id="1234", user_id="carol")
    body = {"SdkAppId": int(TENCENT["app_id"]), "RoomId": 1234, "UserId": "carol"}

    assert tencent_error(vendors.tencent("SetUserBlocked", {**body, "IsMute": is_mute})) == ""
    shown = emulator.muted(**TC, room_id="1234", user_id="carol")
    assert (shown["audio"], shown["video"]) == muted
    vendors.tencent("SetUserBlocked", {**body, "IsMute": 0})
    assert emulator.muted(**TC, room_id="1234", user_id="carol") == {"audio": False, "video": False}


def test_tencent_blocks_in_a_string_room_by_str_room_id(emulator, vendors):
    body = {"SdkAppId": int(TENCENT["app_id"]), "StrRoomId": "live-1", "UserId": "dan", "IsMute": 2}

    assert tencent_error(vendors.tencent("SetUserBlockedByStrRoomId", body)) == ""
    assert emulator.muted(**TC, room_id="live-1", user_id="dan")["audio"] is True


def test_zego_forbids_a_stream_and_refuses_a_sequence_that_does_not_grow(emulator, vendors):
    emulator.join(**ZG, room_id="r1", user_id="erin")
    emulator.publish(**ZG, room_id="r1", user_id="erin", stream_id="s-erin")

    forbid = vendors.zego("ForbidRTCStream", [("StreamId", "s-erin"), ("Sequence", "100")])
    again = vendors.zego("ForbidRTCStream", [("StreamId", "s-erin"), ("Sequence", "100")])
    resume = vendors.zego("ResumeRTCStream", [("StreamId", "s-erin"), ("Sequence", "101")])

    assert zego_code(forbid) == 0
    assert zego_code(again) == 2
    assert "Sequence must increase" in again.json()["Message"]
    assert zego_code(resume) == 0
    assert not emulator.stream_forbidden(**ZG, stream_id="s-erin")


def test_zego_records_a_forbidden_stream_before_it_is_published(emulator, vendors):
    emulator.join(**ZG, room_id="r1", user_id="finn")
    vendors.zego("ForbidRTCStream", [("StreamId", "s-finn"), ("Sequence", "5")])

    emulator.publish(**ZG, room_id="r1", user_id="finn", stream_id="s-finn")

    assert emulator.muted(**ZG, room_id="r1", user_id="finn") == {"audio": True, "video": True}


def test_publishing_needs_the_user_in_the_room_and_a_zego_app(emulator):
    with pytest.raises(ValueError, match="join before publishing"):
        emulator.publish(**ZG, room_id="r1", user_id="nobody", stream_id="s")
    with pytest.raises(ValueError, match="zego"):
        emulator.publish(**TC, room_id="1", user_id="u", stream_id="s")

"""Mute requests on each vendor: what is sent, and what is refused before anything is sent."""

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from moderation.vendors import VendorInputError, client_for
from moderation.vendors.volcengine import mute_interval

from .conftest import connection


@pytest.fixture
def volcengine():
    return client_for(connection("volcengine"))


@pytest.fixture
def tencent():
    return client_for(connection("tencent"))


@pytest.fixture
def zego():
    return client_for(connection("zego"))


@pytest.mark.parametrize(
    ("media", "audio", "video"),
    [("audio", True, False), ("video", False, True), ("both", True, True)],
)
def test_volcengine_bans_the_users_stream_for_the_mutes_length(volcengine, media, audio, video):
    request = volcengine.mute_request(room_id="r1", user_id="u1", media=media, seconds=600)

    call = volcengine.prepare(request)

    assert dict(parse_qsl(urlsplit(call.url).query)) == {
        "Action": "BanUserStream",
        "Version": "2023-11-01",
    }
    assert json.loads(call.body) == {
        "AppId": request.params["AppId"],
        "RoomId": "r1",
        "UserId": "u1",
        "Audio": audio,
        "Video": video,
        "ForbiddenInterval": 600,
    }


@pytest.mark.parametrize(
    ("seconds", "sent"),
    [(60, 60), (259_200, 259_200), (59, 0), (5, 0), (259_201, 0), (None, 0)],
)
def test_volcengine_times_what_it_can_and_holds_the_rest_until_unbanned(seconds, sent):
    assert mute_interval(seconds) == sent


def test_volcengine_unbans_exactly_the_media_it_muted(volcengine):
    request = volcengine.unmute_request(room_id="r1", user_id="u1", media="audio")

    assert request.action == "UnbanUserStream"
    assert (request.params["Audio"], request.params["Video"]) == (True, False)
    assert str(request.summary) == "let u1 speak again in room r1"


@pytest.mark.parametrize(("media", "is_mute"), [("both", 1), ("audio", 2), ("video", 3)])
def test_tencent_blocks_a_user_in_an_integer_room(tencent, media, is_mute):
    request = tencent.mute_request(room_id="1234", user_id="u1", media=media, seconds=60)

    assert request.action == "SetUserBlocked"
    assert request.params == {
        "SdkAppId": 1400000001,
        "RoomId": 1234,
        "UserId": "u1",
        "IsMute": is_mute,
    }


def test_tencent_blocks_by_str_room_id_in_a_string_room_and_unblocks_with_0(tencent):
    muted = tencent.mute_request(room_id="live-1", user_id="u1", media="audio", seconds=None)
    unmuted = tencent.unmute_request(room_id="live-1", user_id="u1", media="audio")

    assert muted.action == unmuted.action == "SetUserBlockedByStrRoomId"
    assert muted.params["StrRoomId"] == "live-1" and "RoomId" not in muted.params
    assert (muted.params["IsMute"], unmuted.params["IsMute"]) == (2, 0)


def test_zego_forbids_and_resumes_one_stream_with_its_sequence(zego):
    forbid = zego.forbid_stream_request(stream_id="s-u1", sequence=1764590000123)
    resume = zego.resume_stream_request(stream_id="s-u1", sequence=1764590000456)

    query = dict(parse_qsl(urlsplit(zego.prepare(forbid).url).query))
    assert (query["Action"], query["StreamId"], query["Sequence"]) == (
        "ForbidRTCStream",
        "s-u1",
        "1764590000123",
    )
    assert resume.action == "ResumeRTCStream"
    assert str(forbid.summary) == "stop stream s-u1"


def test_a_vendor_refuses_the_kind_of_mute_it_does_not_have(zego, tencent):
    with pytest.raises(VendorInputError) as by_user:
        zego.mute_request(room_id="r", user_id="u", media="audio", seconds=60)
    with pytest.raises(VendorInputError) as by_stream:
        tencent.forbid_stream_request(stream_id="s", sequence=1)

    assert "streams, not users" in by_user.value.message
    assert "users, not streams" in by_stream.value.message


@pytest.mark.parametrize("media", ["", "sound", None])
def test_media_other_than_audio_video_or_both_is_refused(volcengine, media):
    with pytest.raises(VendorInputError) as error:
        volcengine.mute_request(room_id="r", user_id="u", media=media, seconds=60)

    assert error.value.field == "media"


def test_the_vendors_say_how_they_mute(volcengine, tencent, zego):
    assert volcengine.capabilities.mute_by == tencent.capabilities.mute_by == "user"
    assert zego.capabilities.mute_by == "stream"
    assert volcengine.capabilities.mute_seconds == (60, 259_200)
    assert tencent.capabilities.mute_seconds is None
    assert volcengine.capabilities.rate_limits["BanUserStream"] == 60
    assert tencent.capabilities.rate_limits["SetUserBlocked"] == 20
    assert zego.capabilities.rate_limits["ForbidRTCStream"] == 20

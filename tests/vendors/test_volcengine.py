import time

import pytest

from moderation.vendors import VendorInputError, VolcengineClient, client_for

from .conftest import VOLCENGINE, connection

ROOM = "room-1"


@pytest.fixture
def offline():
    """A client that is never asked to send: request building only."""
    return client_for(connection("volcengine"))


# --- connection ---


def test_it_defaults_to_cn_north_1_on_the_main_host():
    client = client_for(connection("volcengine", region=""))

    assert client.region == "cn-north-1"
    assert client.endpoint.root == "https://rtc.volcengineapi.com/"


def test_it_uses_the_singapore_host_for_ap_singapore_1():
    client = client_for(connection("volcengine", region="ap-singapore-1"))

    assert client.endpoint.root == "https://open-ap-singapore-1.volcengineapi.com/"


def test_it_refuses_a_region_volcengine_rtc_does_not_serve():
    with pytest.raises(VendorInputError) as error:
        client_for(connection("volcengine", region="us-east-1"))

    assert error.value.field == "region"
    assert "cn-north-1" in error.value.message


@pytest.mark.parametrize("field", ["app_id", "access_key_id", "secret"])
def test_it_requires_each_credential(field):
    with pytest.raises(VendorInputError) as error:
        client_for(connection("volcengine", **{field: ""}))

    assert error.value.field == field


def test_it_signs_the_endpoint_path_prefix_and_the_port():
    client = client_for(connection("volcengine", endpoint="http://127.0.0.1:8090/volcengine"))
    request = client.ban_request(room_id=ROOM, user_id="u1", seconds=60)

    call = client.prepare(request)

    assert call.method == "POST"
    assert call.url == "http://127.0.0.1:8090/volcengine/?Action=BanRoomUser&Version=2023-11-01"
    assert call.headers["Host"] == "127.0.0.1:8090"
    assert call.headers["Content-Type"] == "application/json"
    assert (
        "SignedHeaders=content-type;host;x-content-sha256;x-date,"
        in (call.headers["Authorization"])
    )


# --- request building ---


def test_it_kicks_one_user_per_call_with_kick_user(offline):
    requests = offline.kick_requests(room_id=ROOM, user_ids=["a", "b", "c"], reason="spam")

    assert [r.action for r in requests] == ["KickUser"] * 3
    assert [r.params for r in requests] == [
        {"AppId": VOLCENGINE["app_id"], "RoomId": ROOM, "UserId": user} for user in "abc"
    ]
    assert [r.user_ids for r in requests] == [("a",), ("b",), ("c",)]


def test_it_kicks_a_repeated_user_once(offline):
    requests = offline.kick_requests(room_id=ROOM, user_ids=["a", "b", "a"])

    assert [r.user_ids for r in requests] == [("a",), ("b",)]


@pytest.mark.parametrize(
    "room_id, user_ids, field",
    [
        (ROOM, [], "user_ids"),
        (ROOM, ["a", ""], "user_ids"),
        (ROOM, ["u" * 129], "user_ids"),
        (ROOM, "a-single-string", "user_ids"),
        ("", ["a"], "room_id"),
        ("r" * 129, ["a"], "room_id"),
    ],
)
def test_it_names_the_field_of_an_invalid_kick(offline, room_id, user_ids, field):
    with pytest.raises(VendorInputError) as error:
        offline.kick_requests(room_id=room_id, user_ids=user_ids)

    assert error.value.field == field


def test_it_accepts_ids_of_exactly_128_bytes(offline):
    (request,) = offline.kick_requests(room_id="r" * 128, user_ids=["u" * 128])

    assert request.params["RoomId"] == "r" * 128


@pytest.mark.parametrize(
    "seconds, applied",
    [(0, 0), (1, 10), (5, 10), (10, 10), (3600, 3600), (604_800, 604_800), (10_000_000, 604_800)],
)
def test_it_clamps_the_interval_exactly_as_the_vendor(seconds, applied):
    assert VolcengineClient.clamp_interval(seconds) == applied


def test_it_puts_the_clamped_interval_in_the_request(offline):
    request = offline.ban_request(room_id=ROOM, user_id="u1", seconds=5)

    assert request.params["ForbiddenInterval"] == 10
    assert request.details["forbidden_interval"] == 10


@pytest.mark.parametrize(
    "room_id, user_id, params",
    [
        (ROOM, None, {"RoomId": ROOM}),
        (ROOM, "u1", {"RoomId": ROOM, "UserId": "u1"}),
        (None, "u1", {"UserId": "u1"}),
    ],
    ids=["whole room", "user in room", "user in every room"],
)
def test_it_bans_in_each_of_the_three_scopes(offline, room_id, user_id, params):
    request = offline.ban_request(room_id=room_id, user_id=user_id, seconds=600)

    assert request.action == "BanRoomUser"
    assert request.params == {"AppId": VOLCENGINE["app_id"], **params, "ForbiddenInterval": 600}


def test_it_needs_a_room_or_a_user_to_ban(offline):
    with pytest.raises(VendorInputError) as error:
        offline.ban_request(room_id=None, user_id=None, seconds=60)

    assert error.value.field == "room_id"


@pytest.mark.parametrize("seconds", [-1, 1.5, "60", True])
def test_it_refuses_a_ban_length_that_is_not_whole_seconds(offline, seconds):
    with pytest.raises(VendorInputError) as error:
        offline.ban_request(room_id=ROOM, user_id="u1", seconds=seconds)

    assert error.value.field == "seconds"


def test_it_lifts_a_ban_with_an_update_to_0_seconds(offline):
    request = offline.lift_request(room_id=ROOM, user_id="u1")

    assert request.action == "UpdateBanRoomUserRule"
    assert request.params["ForbiddenInterval"] == 0


def test_it_closes_a_room_with_a_room_only_ban(offline):
    request = offline.close_room_request(room_id=ROOM, reason="raid", seconds=300)

    assert request.action == "BanRoomUser"
    assert request.params == {
        "AppId": VOLCENGINE["app_id"],
        "RoomId": ROOM,
        "ForbiddenInterval": 300,
    }


# --- over HTTP, against the emulator ---


def test_a_ban_keeps_the_user_out_until_it_is_lifted(emu, client):
    volc = client("volcengine")
    app = VOLCENGINE["app_id"]
    assert emu.join(vendor="volcengine", app_id=app, room_id=ROOM, user_id="u1")

    banned = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=600))

    assert banned.ok, banned.message
    assert banned.http_status == 200
    assert banned.request_id
    assert banned.latency_ms > 0
    assert "u1" not in emu.members(vendor="volcengine", app_id=app, room_id=ROOM)
    assert not emu.join(vendor="volcengine", app_id=app, room_id=ROOM, user_id="u1")

    lifted = volc.send(volc.lift_request(room_id=ROOM, user_id="u1"))

    assert lifted.ok, lifted.message
    assert emu.join(vendor="volcengine", app_id=app, room_id=ROOM, user_id="u1")


def test_it_reports_back_the_interval_the_vendor_applies(emu, client):
    volc = client("volcengine")

    result = volc.send(volc.ban_request(room_id=None, user_id="u1", seconds=10_000_000))

    assert result.ok, result.message
    assert result.details["forbidden_interval"] == 604_800
    (ban,) = emu.active_bans(vendor="volcengine", app_id=VOLCENGINE["app_id"])
    assert ban["scope"] == "user_everywhere"
    assert ban["ends_at"] == pytest.approx(time.time() + 604_800, abs=30)


def test_a_kick_removes_the_user_and_lets_them_back(emu, client):
    volc = client("volcengine")
    app = VOLCENGINE["app_id"]
    emu.join(vendor="volcengine", app_id=app, room_id=ROOM, user_id="u1")

    (request,) = volc.kick_requests(room_id=ROOM, user_ids=["u1"])
    result = volc.send(request)

    assert result.ok, result.message
    assert emu.members(vendor="volcengine", app_id=app, room_id=ROOM) == set()
    assert emu.join(vendor="volcengine", app_id=app, room_id=ROOM, user_id="u1")
    assert [c.action for c in emu.calls] == ["KickUser"]


def test_a_wrong_secret_is_a_credential_error_and_not_retried(client):
    volc = client("volcengine", secret="not-the-secret")

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert not result.ok
    assert not result.retryable
    assert result.http_status == 401
    assert result.vendor_code == "SignatureDoesNotMatch"
    assert result.message.startswith(
        "Volcengine RTC rejected the credentials: check the access key"
    )


def test_an_unknown_access_key_is_a_credential_error(client):
    volc = client("volcengine", access_key_id="AKLTnobody")

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.retryable, result.vendor_code) == (False, False, "InvalidAccessKey")
    assert "access key ID" in result.message


def test_an_illegal_room_id_is_not_retried(client):
    volc = client("volcengine")

    result = volc.send(volc.ban_request(room_id="房间 1", user_id="u1", seconds=60))

    assert (result.ok, result.retryable) == (False, False)
    assert result.vendor_code == "InvalidParameter.IllegalRoomID"
    assert result.message == "Volcengine RTC rejected the room ID as invalid."


def test_throttling_is_retryable(emu, client):
    volc = client("volcengine")
    emu.fail_next(vendor="volcengine", count=1, mode="throttle")

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.retryable, result.http_status) == (False, True, 429)
    assert result.vendor_code.startswith("FlowLimitExceeded")
    assert "limiting the call rate" in result.message


@pytest.mark.parametrize("status", [500, 503, 504])
def test_a_5xx_is_retryable(emu, client, status):
    volc = client("volcengine")
    emu.fail_next(vendor="volcengine", count=1, mode="5xx", status=status)

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.retryable, result.http_status) == (False, True, status)
    assert result.vendor_code
    assert result.request_id


def test_a_timeout_is_retryable_and_has_no_status(emu, client):
    volc = client("volcengine", timeout=(2.0, 0.3))
    emu.fail_next(vendor="volcengine", count=1, mode="timeout", delay=3)

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.retryable, result.http_status) == (False, True, None)
    assert result.details["network_error"] == "timeout"
    assert "did not answer in time" in result.message


def test_a_refused_connection_is_retryable(closed_port_url):
    volc = client_for(connection("volcengine", endpoint=closed_port_url + "/volcengine"))

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.retryable, result.http_status) == (False, True, None)
    assert result.details["network_error"] == "connection"


def test_test_connection_accepts_good_credentials(client):
    result = client("volcengine").test_connection()

    assert result.ok
    assert result.message == "credentials accepted"


def test_test_connection_reports_bad_credentials(client):
    result = client("volcengine", secret="wrong").test_connection()

    assert not result.ok
    assert result.vendor_code == "SignatureDoesNotMatch"


# --- envelopes the emulator does not send: canned answers over HTTP ---


def canned_client(canned):
    return client_for(connection("volcengine", endpoint=canned.url("/volcengine")))


def test_an_error_with_http_200_is_still_an_error(canned):
    canned.answer(
        200,
        {
            "ResponseMetadata": {
                "RequestId": "req-1",
                "Error": {"Code": "AccessDenied.NoPermissionForApp", "CodeN": 1, "Message": "no"},
            }
        },
    )
    volc = canned_client(canned)

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.retryable, result.http_status) == (False, False, 200)
    assert result.request_id == "req-1"
    assert "no permission for this RTC app" in result.message


def test_an_unknown_code_gets_a_generic_sentence_with_the_code(canned):
    canned.answer(
        400,
        {"ResponseMetadata": {"RequestId": "r", "Error": {"Code": "Brand.New", "Message": "huh"}}},
    )
    volc = canned_client(canned)

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert not result.retryable
    assert result.message == "Volcengine RTC refused BanRoomUser with error Brand.New: huh"


def test_a_dotted_code_falls_back_to_its_family(canned):
    canned.answer(
        500,
        {"ResponseMetadata": {"Error": {"Code": "InternalError.Database", "Message": "db"}}},
    )
    volc = canned_client(canned)

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert result.retryable
    assert result.message == "Volcengine RTC had an internal error; try again."


@pytest.mark.parametrize("status, retryable", [(502, True), (200, False), (404, False)])
def test_a_body_that_is_not_json_is_a_failure(canned, status, retryable):
    canned.answer(status, "<html>Bad Gateway</html>", content_type="text/html")
    volc = canned_client(canned)

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.retryable, result.http_status) == (False, retryable, status)
    assert "not JSON" in result.message


def test_a_redirect_is_not_followed(canned):
    canned.answer(302, "", content_type="text/plain", headers={"Location": canned.url("/x")})
    volc = canned_client(canned)

    result = volc.send(volc.ban_request(room_id=ROOM, user_id="u1", seconds=60))

    assert (result.ok, result.http_status) == (False, 302)
    assert len(canned.requests) == 1

import json

import pytest

from moderation.vendors import VendorInputError, client_for
from moderation.vendors.tencent import integer_room_id

from .conftest import TENCENT, connection

APP = TENCENT["app_id"]


@pytest.fixture
def offline():
    return client_for(connection("tencent"))


# --- connection ---


@pytest.mark.parametrize("region", ["", "ap-shanghai", "cn-north-1"])
def test_it_requires_a_region_the_api_serves(region):
    with pytest.raises(VendorInputError) as error:
        client_for(connection("tencent", region=region))

    assert error.value.field == "region"
    assert "ap-singapore" in error.value.message


@pytest.mark.parametrize("app_id", ["", "14000x", "0"])
def test_it_requires_a_numeric_sdk_app_id(app_id):
    with pytest.raises(VendorInputError) as error:
        client_for(connection("tencent", app_id=app_id))

    assert error.value.field == "app_id"


def test_it_posts_json_with_x_tc_headers_to_the_prefixed_path():
    client = client_for(connection("tencent", endpoint="http://127.0.0.1:8090/tencent"))
    (request,) = client.kick_requests(room_id="1234", user_ids=["a"])

    call = client.prepare(request)

    assert (call.method, call.url) == ("POST", "http://127.0.0.1:8090/tencent/")
    assert call.headers["Host"] == "127.0.0.1:8090"
    assert call.headers["X-TC-Action"] == "RemoveUser"
    assert call.headers["X-TC-Version"] == "2019-07-22"
    assert call.headers["X-TC-Region"] == "ap-guangzhou"
    assert call.headers["X-TC-Timestamp"].isdigit()
    assert "SignedHeaders=content-type;host," in call.headers["Authorization"]
    assert json.loads(call.body) == {"SdkAppId": 1400000001, "RoomId": 1234, "UserIds": ["a"]}


def test_it_defaults_to_the_nearest_access_host():
    client = client_for(connection("tencent", region="ap-singapore"))

    assert client.endpoint.root == "https://trtc.tencentcloudapi.com/"


# --- request building ---


def test_it_batches_23_users_into_3_calls(offline):
    users = [f"u{i}" for i in range(23)]

    requests = offline.kick_requests(room_id="1234", user_ids=users)

    assert [len(r.params["UserIds"]) for r in requests] == [10, 10, 3]
    assert [u for r in requests for u in r.user_ids] == users


@pytest.mark.parametrize(
    "room_id, action, sent",
    [
        ("1234", "RemoveUser", 1234),
        ("1", "RemoveUser", 1),
        ("4294967294", "RemoveUser", 4294967294),
        ("4294967295", "RemoveUserByStrRoomId", "4294967295"),
        ("0", "RemoveUserByStrRoomId", "0"),
        ("0123", "RemoveUserByStrRoomId", "0123"),
        ("live-1", "RemoveUserByStrRoomId", "live-1"),
        ("١٢٣", "RemoveUserByStrRoomId", "١٢٣"),  # Arabic-Indic digits are not a room number
    ],
)
def test_it_sends_integer_rooms_as_integers_and_others_as_strings(offline, room_id, action, sent):
    (request,) = offline.kick_requests(room_id=room_id, user_ids=["a"])

    assert request.action == action
    assert request.params["RoomId"] == sent
    assert type(request.params["RoomId"]) is type(sent)


@pytest.mark.parametrize(
    "room_id, action", [("1234", "DismissRoom"), ("live-1", "DismissRoomByStrRoomId")]
)
def test_it_dismisses_a_room_by_its_kind(offline, room_id, action):
    request = offline.close_room_request(room_id=room_id, reason="raid")

    assert request.action == action
    assert request.params == {"SdkAppId": 1400000001, "RoomId": integer_room_id(room_id) or room_id}


@pytest.mark.parametrize(
    "room_id, user_ids, field",
    [
        ("1234", [], "user_ids"),
        ("1234", [""], "user_ids"),
        ("1234", ["u" * 33], "user_ids"),
        ("", ["a"], "room_id"),
        ("r" * 65, ["a"], "room_id"),
    ],
)
def test_it_names_the_field_of_an_invalid_kick(offline, room_id, user_ids, field):
    with pytest.raises(VendorInputError) as error:
        offline.kick_requests(room_id=room_id, user_ids=user_ids)

    assert error.value.field == field


# --- over HTTP, against the emulator ---


@pytest.mark.parametrize("room_id", ["1234", "live-1"])
def test_a_kick_of_23_users_takes_3_calls_and_empties_the_room(emu, client, room_id):
    trtc = client("tencent")
    users = [f"u{i}" for i in range(23)]
    for user in users:
        emu.join(vendor="tencent", app_id=APP, room_id=room_id, user_id=user)

    results = [trtc.send(r) for r in trtc.kick_requests(room_id=room_id, user_ids=users)]

    assert all(r.ok for r in results), [r.message for r in results]
    assert all(r.request_id and r.http_status == 200 for r in results)
    assert emu.members(vendor="tencent", app_id=APP, room_id=room_id) == set()
    assert len(emu.calls) == 3


def test_dismiss_room_removes_everyone(emu, client):
    trtc = client("tencent")
    emu.join(vendor="tencent", app_id=APP, room_id="1234", user_id="a")

    result = trtc.send(trtc.close_room_request(room_id="1234"))

    assert result.ok, result.message
    assert emu.members(vendor="tencent", app_id=APP, room_id="1234") == set()


def test_a_wrong_secret_key_is_a_credential_error_with_http_200(client):
    trtc = client("tencent", secret="wrong")

    (request,) = trtc.kick_requests(room_id="1234", user_ids=["a"])
    result = trtc.send(request)

    assert (result.ok, result.retryable, result.http_status) == (False, False, 200)
    assert result.vendor_code == "AuthFailure.SignatureFailure"
    assert "rejected the credentials" in result.message


def test_an_unknown_secret_id_is_a_credential_error(client):
    trtc = client("tencent", access_key_id="AKIDnobody")

    (request,) = trtc.kick_requests(room_id="1234", user_ids=["a"])
    result = trtc.send(request)

    assert (result.ok, result.retryable) == (False, False)
    assert result.vendor_code == "AuthFailure.SecretIdNotFound"


def test_throttling_is_retryable(emu, client):
    trtc = client("tencent")
    emu.fail_next(vendor="tencent", count=1, mode="throttle")

    (request,) = trtc.kick_requests(room_id="1234", user_ids=["a"])
    result = trtc.send(request)

    assert (result.ok, result.retryable, result.http_status) == (False, True, 200)
    assert result.vendor_code.startswith("RequestLimitExceeded")


def test_an_internal_error_is_retryable(emu, client):
    trtc = client("tencent")
    emu.fail_next(vendor="tencent", count=1, mode="5xx")

    (request,) = trtc.kick_requests(room_id="1234", user_ids=["a"])
    result = trtc.send(request)

    assert (result.ok, result.retryable) == (False, True)
    assert result.vendor_code.startswith("InternalError")


def test_a_timeout_is_retryable_and_has_no_status(emu, client):
    trtc = client("tencent", timeout=(2.0, 0.3))
    emu.fail_next(vendor="tencent", count=1, mode="timeout", delay=3)

    (request,) = trtc.kick_requests(room_id="1234", user_ids=["a"])
    result = trtc.send(request)

    assert (result.ok, result.retryable, result.http_status) == (False, True, None)


def test_a_missing_room_is_not_retried_but_proves_the_credentials(emu, client):
    emu.add_app(**TENCENT, strict_rooms=True)
    trtc = client("tencent")
    try:
        (request,) = trtc.kick_requests(room_id="777", user_ids=["a"])
        result = trtc.send(request)
        tested = trtc.test_connection()
    finally:
        emu.add_app(**TENCENT)

    assert (result.ok, result.retryable) == (False, False)
    assert result.vendor_code == "FailedOperation.RoomNotExist"
    assert result.message.startswith("The room does not exist on Tencent TRTC")
    assert (tested.ok, tested.message) == (True, "credentials accepted")


def test_test_connection_accepts_good_credentials(client):
    result = client("tencent").test_connection()

    assert (result.ok, result.message) == (True, "credentials accepted")


def test_test_connection_reports_bad_credentials(client):
    result = client("tencent", secret="wrong").test_connection()

    assert not result.ok
    assert result.vendor_code == "AuthFailure.SignatureFailure"


# --- envelopes the emulator does not send ---


@pytest.mark.parametrize(
    "status, code, retryable",
    [
        (200, "RequestLimitExceeded.UinLimitExceeded", True),
        (200, "InternalError.GetRoomCacheIpError", True),
        (200, "UnauthorizedOperation.SdkAppId", False),
        (200, "InvalidParameter.UserIds", False),
        (200, "MissingParameter.RoomId", False),
        (200, "LimitExceeded", False),
        (502, "Brand.New", True),
    ],
)
def test_it_classifies_each_code(canned, status, code, retryable):
    canned.answer(
        status, {"Response": {"Error": {"Code": code, "Message": "m"}, "RequestId": "rq"}}
    )
    trtc = client_for(connection("tencent", endpoint=canned.url("/tencent")))

    (request,) = trtc.kick_requests(room_id="1234", user_ids=["a"])
    result = trtc.send(request)

    assert (result.ok, result.retryable, result.vendor_code) == (False, retryable, code)
    assert result.request_id == "rq"


def test_a_body_that_is_not_json_is_a_failure(canned):
    canned.answer(200, b"\xff\xfe not json", content_type="application/octet-stream")
    trtc = client_for(connection("tencent", endpoint=canned.url("/tencent")))

    (request,) = trtc.kick_requests(room_id="1234", user_ids=["a"])
    result = trtc.send(request)

    assert (result.ok, result.retryable, result.http_status) == (False, False, 200)

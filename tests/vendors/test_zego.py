from urllib.parse import parse_qsl, urlsplit

import pytest

from moderation.vendors import VendorInputError, client_for

from .conftest import ZEGO, connection

ROOM = "room-1"
APP = ZEGO["app_id"]


@pytest.fixture
def offline():
    return client_for(connection("zego"))


def query_of(call):
    return parse_qsl(urlsplit(call.url).query)


# --- connection ---


def test_it_uses_the_global_host_and_ignores_the_region():
    client = client_for(connection("zego", region="whatever"))

    assert client.endpoint.root == "https://rtc-api.zego.im/"


@pytest.mark.parametrize("app_id", ["", "abc", "0", "4294967296", "１２３"])
def test_it_requires_a_uint32_app_id(app_id):
    with pytest.raises(VendorInputError) as error:
        client_for(connection("zego", app_id=app_id))

    assert error.value.field == "app_id"


def test_it_needs_no_access_key_id():
    assert client_for(connection("zego", access_key_id=""))


def test_it_sends_a_get_with_every_parameter_in_the_query():
    client = client_for(connection("zego", endpoint="http://127.0.0.1:8090/zego"))
    (request,) = client.kick_requests(room_id=ROOM, user_ids=["a", "b"], reason="踢出用户-原因")

    call = client.prepare(request)

    assert call.method == "GET"
    assert call.body is None
    assert call.headers["Host"] == "127.0.0.1:8090"
    assert call.url.startswith("http://127.0.0.1:8090/zego/?Action=KickoutUser&AppId=1234567890&")
    # Arrays as ZEGO documents them, the reason URL-encoded.
    assert "&RoomId=room-1&UserId[]=a&UserId[]=b&" in call.url
    assert call.url.endswith(
        "&CustomReason=%E8%B8%A2%E5%87%BA%E7%94%A8%E6%88%B7-%E5%8E%9F%E5%9B%A0"
    )
    names = [name for name, _ in query_of(call)]
    assert {"SignatureNonce", "Timestamp", "SignatureVersion", "Signature"} <= set(names)
    assert ZEGO["secret"] not in call.url


# --- request building ---


def test_it_batches_12_users_into_3_calls(offline):
    users = [f"u{i}" for i in range(12)]

    requests = offline.kick_requests(room_id=ROOM, user_ids=users)

    assert [r.action for r in requests] == ["KickoutUser"] * 3
    assert [len(r.params["UserId"]) for r in requests] == [5, 5, 2]
    assert [u for r in requests for u in r.user_ids] == users


def test_it_accepts_a_reason_of_exactly_256_bytes(offline):
    reason = "理" * 85 + "x"  # 85 * 3 + 1 = 256 bytes

    (request,) = offline.kick_requests(room_id=ROOM, user_ids=["a"], reason=reason)

    assert request.params["CustomReason"] == reason


def test_it_refuses_a_reason_over_256_bytes_instead_of_cutting_it(offline):
    with pytest.raises(VendorInputError) as error:
        offline.kick_requests(room_id=ROOM, user_ids=["a"], reason="理" * 86)

    assert error.value.field == "reason"
    assert "CustomReason" in error.value.message
    assert "256" in error.value.message


def test_it_leaves_out_an_empty_reason(offline):
    (request,) = offline.kick_requests(room_id=ROOM, user_ids=["a"])

    assert "CustomReason" not in request.params


@pytest.mark.parametrize(
    "room_id, user_ids, field",
    [
        (ROOM, [], "user_ids"),
        (ROOM, [""], "user_ids"),
        (ROOM, ["u" * 65], "user_ids"),
        (ROOM, ["用" * 22], "user_ids"),  # 66 bytes
        ("", ["a"], "room_id"),
        ("r" * 129, ["a"], "room_id"),
    ],
)
def test_it_names_the_field_of_an_invalid_kick(offline, room_id, user_ids, field):
    with pytest.raises(VendorInputError) as error:
        offline.kick_requests(room_id=room_id, user_ids=user_ids)

    assert error.value.field == field


def test_it_closes_a_room_with_close_room(offline):
    request = offline.close_room_request(room_id=ROOM, reason="raid")

    assert request.action == "CloseRoom"
    assert request.params == {"RoomId": ROOM, "CustomReason": "raid"}


def test_it_checks_the_reason_of_close_room_too(offline):
    with pytest.raises(VendorInputError) as error:
        offline.close_room_request(room_id=ROOM, reason="x" * 257)

    assert error.value.field == "reason"


# --- over HTTP, against the emulator ---


def test_a_kick_of_12_users_takes_3_calls_and_empties_the_room(emu, client):
    zego = client("zego")
    users = [f"u{i}" for i in range(12)]
    for user in users:
        emu.join(vendor="zego", app_id=APP, room_id=ROOM, user_id=user)

    results = [
        zego.send(r) for r in zego.kick_requests(room_id=ROOM, user_ids=users, reason="spam 垃圾")
    ]

    assert all(r.ok for r in results), [r.message for r in results]
    assert all(r.vendor_code == "0" and r.request_id for r in results)
    assert emu.members(vendor="zego", app_id=APP, room_id=ROOM) == set()
    calls = emu.calls
    assert [c.action for c in calls] == ["KickoutUser"] * 3
    assert calls[0].params["CustomReason"] == "spam 垃圾"
    assert len({c.params["SignatureNonce"] for c in calls}) == 3


def test_close_room_removes_everyone(emu, client):
    zego = client("zego")
    emu.join(vendor="zego", app_id=APP, room_id=ROOM, user_id="a")
    emu.join(vendor="zego", app_id=APP, room_id=ROOM, user_id="b")

    result = zego.send(zego.close_room_request(room_id=ROOM))

    assert result.ok, result.message
    assert emu.members(vendor="zego", app_id=APP, room_id=ROOM) == set()


def test_a_wrong_server_secret_is_a_credential_error_with_http_200(client):
    zego = client("zego", secret="0" * 32)

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.retryable, result.http_status) == (False, False, 200)
    assert result.vendor_code == "100000005"
    assert result.message == "ZEGO rejected the credentials: check the ServerSecret."


def test_an_unknown_app_id_says_zego_has_no_secret_for_it(client):
    zego = client("zego", app_id="42")

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.retryable, result.vendor_code) == (False, False, "100000010")


def test_throttling_is_retryable(emu, client):
    zego = client("zego")
    emu.fail_next(vendor="zego", count=1, mode="throttle")

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.retryable, result.http_status) == (False, True, 200)
    assert result.vendor_code == "206"
    assert "limiting" in result.message


def test_a_5xx_page_that_is_not_json_is_retryable(emu, client):
    zego = client("zego")
    emu.fail_next(vendor="zego", count=1, mode="5xx")

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.retryable) == (False, True)
    assert result.http_status >= 500
    assert "not JSON" in result.message


def test_a_timeout_is_retryable_and_has_no_status(emu, client):
    zego = client("zego", timeout=(2.0, 0.3))
    emu.fail_next(vendor="zego", count=1, mode="timeout", delay=3)

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.retryable, result.http_status) == (False, True, None)


def test_a_missing_room_is_not_retried_but_proves_the_credentials(emu, client):
    emu.add_app(**ZEGO, strict_rooms=True)
    zego = client("zego")
    try:
        (request,) = zego.kick_requests(room_id="nobody-here", user_ids=["a"])
        result = zego.send(request)
        tested = zego.test_connection()
    finally:
        emu.add_app(**ZEGO)

    assert (result.ok, result.retryable, result.vendor_code) == (False, False, "104")
    assert result.message == "The room does not exist on ZEGO (nobody is in it)."
    assert (tested.ok, tested.message) == (True, "credentials accepted")


def test_test_connection_accepts_good_credentials(client):
    result = client("zego").test_connection()

    assert (result.ok, result.message) == (True, "credentials accepted")


def test_test_connection_reports_bad_credentials(client):
    result = client("zego", secret="f" * 32).test_connection()

    assert not result.ok
    assert result.vendor_code == "100000005"


# --- envelopes the emulator does not send ---


@pytest.mark.parametrize(
    "code, retryable, words",
    [
        (207, True, "limiting the call rate for this room"),
        (50011, False, "user list as too long"),
        (105, False, "not in the room"),
        (100000004, False, "clock"),
        (1, True, "reported a failure"),
        (77777, False, "ZEGO refused KickoutUser with error 77777: odd"),
    ],
)
def test_it_explains_each_code(canned, code, retryable, words):
    canned.answer(200, {"Code": code, "Message": "odd", "RequestId": "rq"})
    zego = client_for(connection("zego", endpoint=canned.url("/zego")))

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.retryable, result.vendor_code) == (False, retryable, str(code))
    assert words in result.message
    assert result.request_id == "rq"


def test_an_answer_nested_too_deep_to_parse_is_a_failure_that_says_so_not_an_exception(canned):
    canned.answer(200, '{"Code":' * 5000 + "0" + "}" * 5000)
    zego = client_for(connection("zego", endpoint=canned.url("/zego")))

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.http_status) == (False, 200)
    assert "not JSON" in result.message


def test_an_answer_without_a_code_is_a_failure(canned):
    canned.answer(200, {"Message": "success"})
    zego = client_for(connection("zego", endpoint=canned.url("/zego")))

    (request,) = zego.kick_requests(room_id=ROOM, user_ids=["a"])
    result = zego.send(request)

    assert (result.ok, result.retryable) == (False, False)

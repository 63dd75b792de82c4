"""Every parameter the vendors restrict is checked the way that vendor checks it."""

import pytest

from .signed import VOLCENGINE, ZEGO, tencent_error, volcengine_error, zego_code

APP = VOLCENGINE["app_id"]

# ---- Volcengine ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "status", "code"),
    [
        ("BanRoomUser", {"RoomId": "r", "UserId": "u"}, 400, "MissingParameter"),
        ("BanRoomUser", {"AppId": APP}, 400, "MissingParameter"),
        ("BanRoomUser", {"AppId": 12, "RoomId": "r"}, 400, "InvalidParameter"),
        ("BanRoomUser", {"AppId": "nope", "RoomId": "r"}, 400, "InvalidParameter.NotExistAppId"),
        ("BanRoomUser", {"AppId": APP, "RoomId": "a room"}, 400, "InvalidParameter.IllegalRoomID"),
        ("BanRoomUser", {"AppId": APP, "RoomId": "r" * 129}, 400, "InvalidParameter.IllegalRoomID"),
        ("BanRoomUser", {"AppId": APP, "UserId": "u/1"}, 400, "InvalidParameter"),
        ("UpdateBanRoomUserRule", {"AppId": APP, "UserId": "u"}, 400, "MissingParameter"),
        ("KickUser", {"AppId": APP, "RoomId": "r"}, 400, "MissingParameter"),
        ("KickUser", {"AppId": APP, "UserId": "u"}, 400, "MissingParameter"),
        ("DismissRoom", {"AppId": APP}, 400, "MissingParameter"),
    ],
)
def test_volcengine_refuses_missing_and_malformed_parameters(vendors, action, body, status, code):
    response = vendors.volcengine(action, body)
    assert (response.status_code, volcengine_error(response)) == (status, code)


@pytest.mark.parametrize("interval", [-1, -600, 1.5, 60.0, "60", True, None, [60]])
def test_volcengine_refuses_a_forbidden_interval_that_is_not_a_non_negative_integer(
    vendors, interval
):
    body = {"AppId": APP, "RoomId": "r", "UserId": "u", "ForbiddenInterval": interval}
    if interval is None:
        # JSON null reads as "not given" for BanRoomUser, but UpdateBanRoomUserRule needs it.
        response = vendors.volcengine("UpdateBanRoomUserRule", body)
        assert volcengine_error(response) == "MissingParameter"
        return
    response = vendors.volcengine("BanRoomUser", body)
    assert (response.status_code, volcengine_error(response)) == (400, "InvalidParameter")


@pytest.mark.parametrize(
    ("interval", "applied"),
    [
        (1, 10),
        (9, 10),
        (10, 10),
        (11, 11),
        (3600, 3600),
        (604800, 604800),
        (604801, 604800),
        (10**9, 604800),
    ],
)
def test_volcengine_clamps_the_forbidden_interval_like_the_vendor(
    emulator, vendors, interval, applied
):
    body = {"AppId": APP, "RoomId": "r", "UserId": "u", "ForbiddenInterval": interval}
    assert vendors.volcengine("BanRoomUser", body).status_code == 200
    (ban,) = emulator.active_bans(vendor="volcengine", app_id=APP)
    assert ban["ends_at"] - emulator.calls[-1].time == pytest.approx(applied, abs=1)


def test_volcengine_refuses_an_app_of_another_account(emulator, vendors):
    emulator.add_app(
        vendor="volcengine", app_id="other-app", access_key_id="AKLTother", secret="other"
    )
    response = vendors.volcengine("DismissRoom", {"AppId": "other-app", "RoomId": "r"})
    assert (response.status_code, volcengine_error(response)) == (
        403,
        "AccessDenied.NoPermissionForApp",
    )


@pytest.mark.parametrize(
    ("action", "version"),
    [("UnbanRoomUser", "2023-11-01"), ("BanRoomUser", "2020-12-01"), ("KickUser", "2023-11-01")],
)
def test_volcengine_answers_an_unknown_action_or_version_with_invalid_action_or_version(
    vendors, action, version
):
    response = vendors.volcengine(action, {"AppId": APP, "RoomId": "r"}, version=version)
    assert (response.status_code, volcengine_error(response)) == (404, "InvalidActionOrVersion")


def test_volcengine_refuses_a_get(vendors):
    response = vendors.session.get(
        vendors.base_url + "/volcengine/", params={"Action": "KickUser", "Version": "2020-12-01"}
    )
    assert (response.status_code, volcengine_error(response)) == (405, "MethodNotAllowed")


# ---- ZEGO ----------------------------------------------------------------------------------


def users(count: int) -> list[tuple[str, str]]:
    return [("UserId[]", f"user{n}") for n in range(count)]


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        ("KickoutUser", [("RoomId", "r"), *users(5)], 0),
        ("KickoutUser", [("RoomId", "r"), *users(6)], 50011),
        ("DescribeUsers", [("RoomId", "r"), *users(10)], 0),
        ("DescribeUsers", [("RoomId", "r"), *users(11)], 50011),
        ("KickoutUser", [("RoomId", "r")], 2),
        ("KickoutUser", [("RoomId", "r"), ("UserId[]", "")], 2),
        ("KickoutUser", [*users(1)], 2),
        ("CloseRoom", [], 2),
        ("CloseRoom", [("RoomId", "r" * 129)], 3),
        # CustomReason counts UTF-8 bytes: 85 three-byte characters and one ASCII = 256 bytes.
        ("KickoutUser", [("RoomId", "r"), *users(1), ("CustomReason", "踢" * 85 + "a")], 0),
        ("KickoutUser", [("RoomId", "r"), *users(1), ("CustomReason", "踢" * 85 + "ab")], 3),
        ("CloseRoom", [("RoomId", "r"), ("CustomReason", "x" * 257)], 3),
    ],
)
def test_zego_checks_batch_sizes_and_lengths_with_its_own_codes(vendors, action, params, code):
    assert zego_code(vendors.zego(action, params)) == code


def test_zego_answers_every_refusal_with_http_200(vendors):
    response = vendors.zego("KickoutUser", [("RoomId", "r"), *users(6)], secret="x" * 32)
    assert response.status_code == 200
    assert response.json()["Code"] == 100000005


def test_zego_app_ids_must_be_uint32_when_registered(emulator):
    with pytest.raises(ValueError, match="uint32"):
        emulator.add_app(vendor="zego", app_id="4294967296", secret=ZEGO["secret"])


# ---- Tencent -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        ("RemoveUser", {"RoomId": "1234", "UserIds": ["a"]}, "InvalidParameter.RoomId"),
        ("RemoveUser", {"RoomId": 0, "UserIds": ["a"]}, "InvalidParameter.RoomId"),
        ("RemoveUser", {"RoomId": 4294967295, "UserIds": ["a"]}, "InvalidParameter.RoomId"),
        ("RemoveUser", {"RoomId": 12.5, "UserIds": ["a"]}, "InvalidParameter.RoomId"),
        ("RemoveUser", {"RoomId": 4294967294, "UserIds": ["a"]}, ""),
        ("RemoveUser", {"UserIds": ["a"]}, "MissingParameter.RoomId"),
        ("RemoveUser", {"RoomId": 1}, "MissingParameter.UserIds"),
        ("RemoveUser", {"RoomId": 1, "UserIds": []}, "InvalidParameter.UserIds"),
        ("RemoveUser", {"RoomId": 1, "UserIds": [f"u{n}" for n in range(10)]}, ""),
        (
            "RemoveUser",
            {"RoomId": 1, "UserIds": [f"u{n}" for n in range(11)]},
            "InvalidParameter.UserIds",
        ),
        ("RemoveUser", {"RoomId": 1, "UserIds": "a"}, "InvalidParameter.UserIds"),
        ("RemoveUserByStrRoomId", {"RoomId": 1234, "UserIds": ["a"]}, "InvalidParameter.RoomId"),
        (
            "RemoveUserByStrRoomId",
            {"RoomId": "x" * 65, "UserIds": ["a"]},
            "InvalidParameter.RoomId",
        ),
        ("RemoveUserByStrRoomId", {"RoomId": "live-1", "UserIds": ["a"]}, ""),
        ("DismissRoom", {"RoomId": "1234"}, "InvalidParameter.RoomId"),
        ("DismissRoomByStrRoomId", {"RoomId": 1234}, "InvalidParameter.RoomId"),
        ("DismissRoomByStrRoomId", {}, "MissingParameter.RoomId"),
    ],
)
def test_tencent_checks_room_ids_and_user_lists(vendors, action, body, code):
    assert tencent_error(vendors.tencent(action, {"SdkAppId": 1400000001, **body})) == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"RoomId": 1}, "MissingParameter.SdkAppId"),
        ({"SdkAppId": "1400000001", "RoomId": 1}, "InvalidParameter.SdkAppId"),
        ({"SdkAppId": 1400000999, "RoomId": 1}, "FailedOperation.SdkAppIdNotExist"),
    ],
)
def test_tencent_wants_an_integer_sdk_app_id_of_the_callers_account(vendors, body, code):
    assert tencent_error(vendors.tencent("DismissRoom", body)) == code


def test_tencent_refuses_an_sdk_app_id_of_another_account(emulator, vendors):
    emulator.add_app(
        vendor="tencent", app_id="1400000002", access_key_id="AKIDother", secret="other"
    )
    response = vendors.tencent("DismissRoom", {"SdkAppId": 1400000002, "RoomId": 1})
    assert tencent_error(response) == "UnauthorizedOperation.SdkAppId"


@pytest.mark.parametrize("region", ["ap-beijing", "ap-guangzhou", "ap-singapore"])
def test_tencent_serves_the_documented_regions(vendors, region):
    body = {"SdkAppId": 1400000001, "RoomId": 1}
    assert tencent_error(vendors.tencent("DismissRoom", body, region=region)) == ""


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"region": "ap-shanghai"}, "UnsupportedRegion"),
        ({"region": ""}, "MissingParameter"),
        ({"version": "2020-01-01"}, "NoSuchVersion"),
    ],
)
def test_tencent_checks_region_and_version(vendors, change, code):
    body = {"SdkAppId": 1400000001, "RoomId": 1}
    assert tencent_error(vendors.tencent("DismissRoom", body, **change)) == code


def test_tencent_answers_an_unknown_action_with_invalid_action(vendors):
    response = vendors.tencent("BanUser", {"SdkAppId": 1400000001, "RoomId": 1})
    assert tencent_error(response) == "InvalidAction"

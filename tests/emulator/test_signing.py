"""Each vendor's gateway: correctly signed calls pass, anything else gets that vendor's refusal."""

import json
import time

import pytest
from volcengine.auth.SignerV4 import SignerV4
from volcengine.base.Request import Request as VolcengineRequest
from volcengine.Credentials import Credentials

from moderation.vendors import tencent, volcengine, zego

from .signed import VOLCENGINE, tencent_error, volcengine_error, zego_code


def test_the_signers_the_emulator_trusts_reproduce_the_official_vectors():
    headers = volcengine.sign(
        method="GET",
        host="iam.volcengineapi.com",
        path="/",
        query={"Action": "ListUsers", "Version": "2018-01-01", "Limit": "10", "Offset": "0"},
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        body=b"",
        access_key_id="AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
        secret_access_key="TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==",
        region="cn-north-1",
        x_date="20201230T081805Z",
        service="iam",
    )
    assert headers["Authorization"].endswith(
        "Signature=28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7"
    )
    assert (
        zego.signature(
            app_id=12345,
            nonce="4fd24687296dd9f3",
            server_secret="9193cc662a4c0ec135ec71fb57194b38",
            timestamp=1615186943,
        )
        == "43e5cfcca828314675f91b001390566a"
    )
    authorization = tencent.sign(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        host="cvm.tencentcloudapi.com",
        content_type="application/json; charset=utf-8",
        body=b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
        b'"Name": "instance-name"}]}',
        timestamp=1551113065,
        service="cvm",
    )
    assert authorization.endswith(
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )


# ---- Volcengine ----------------------------------------------------------------------------


def signed_now(change):
    """Offsets become timestamps when the test runs: parameters are made at collection time."""
    change = dict(change)
    if "signed_offset" in change:
        change["signed_at"] = time.time() + change.pop("signed_offset")
    return change


@pytest.mark.parametrize(
    ("action", "body", "result"),
    [
        ("BanRoomUser", {"RoomId": "room1", "UserId": "u1", "ForbiddenInterval": 60}, "Message"),
        (
            "UpdateBanRoomUserRule",
            {"RoomId": "room1", "UserId": "u1", "ForbiddenInterval": 0},
            "Message",
        ),
        ("KickUser", {"RoomId": "room1", "UserId": "u1"}, "message"),
        ("DismissRoom", {"RoomId": "room1"}, "message"),
    ],
)
def test_a_correctly_signed_volcengine_call_succeeds(vendors, action, body, result):
    response = vendors.volcengine(action, {"AppId": VOLCENGINE["app_id"], **body})
    assert response.status_code == 200
    payload = response.json()
    assert payload["Result"] == {result: "success"}
    metadata = payload["ResponseMetadata"]
    assert metadata["Action"] == action
    assert metadata["Service"] == "rtc"
    assert metadata["Region"] == "cn-north-1"
    assert "Error" not in metadata


def test_it_accepts_a_call_signed_by_the_official_volcengine_sdk(emulator, vendors):
    request = VolcengineRequest()
    request.set_method("POST")
    request.set_path("/volcengine/")
    request.set_query({"Action": "KickUser", "Version": "2020-12-01"})
    request.set_body(json.dumps({"AppId": VOLCENGINE["app_id"], "RoomId": "r", "UserId": "u"}))
    request.set_headers({"Content-Type": "application/json", "Host": vendors.host})
    credentials = Credentials(
        VOLCENGINE["access_key_id"], VOLCENGINE["secret"], "rtc", "cn-north-1"
    )
    SignerV4.sign(request, credentials)
    response = vendors.session.post(
        vendors.base_url + "/volcengine/",
        params=request.query,
        data=request.body.encode(),
        headers=dict(request.headers),
    )
    assert response.status_code == 200, response.text


def test_it_answers_in_the_region_of_the_credential_scope(vendors):
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r"}
    response = vendors.volcengine("DismissRoom", body, region="ap-singapore-1")
    assert response.json()["ResponseMetadata"]["Region"] == "ap-singapore-1"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"secret": "not-the-secret"}, 401, "SignatureDoesNotMatch"),
        ({"signed_path": "/"}, 401, "SignatureDoesNotMatch"),
        (
            {"sent_body": b'{"AppId": "661e0000543cf", "RoomId": "other"}'},
            401,
            "SignatureDoesNotMatch",
        ),
        ({"signed_offset": -20 * 60}, 403, "InvalidTimestamp"),
        ({"signed_offset": 20 * 60}, 403, "InvalidTimestamp"),
        ({"access_key_id": "AKLTunknown"}, 401, "InvalidAccessKey"),
        ({"region": "cn-beijing"}, 400, "InvalidCredential"),
    ],
)
def test_a_volcengine_call_that_fails_authentication_is_refused(vendors, change, status, code):
    change = signed_now(change)
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r"}
    response = vendors.volcengine("DismissRoom", body, **change)
    assert response.status_code == status
    error = response.json()["ResponseMetadata"]["Error"]
    assert error["Code"] == code
    assert isinstance(error["CodeN"], int)
    assert "Result" not in response.json()


def test_a_volcengine_call_without_authorization_is_refused(vendors):
    response = vendors.session.post(
        vendors.base_url + "/volcengine/",
        params={"Action": "DismissRoom", "Version": "2020-12-01"},
        json={"AppId": VOLCENGINE["app_id"], "RoomId": "r"},
    )
    assert response.status_code == 401
    assert volcengine_error(response) == "MissingAuthenticationToken"


def test_a_volcengine_signature_without_the_content_type_is_refused(vendors):
    body = json.dumps({"AppId": VOLCENGINE["app_id"], "RoomId": "r"}).encode()
    query = {"Action": "DismissRoom", "Version": "2020-12-01"}
    headers = volcengine.sign(
        method="POST",
        host=vendors.host,
        path="/volcengine/",
        query=query,
        headers={},
        body=body,
        access_key_id=VOLCENGINE["access_key_id"],
        secret_access_key=VOLCENGINE["secret"],
        region="cn-north-1",
        x_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
    )
    headers["Content-Type"] = "application/json"
    response = vendors.session.post(
        vendors.base_url + "/volcengine/", params=query, data=body, headers=headers
    )
    assert response.status_code == 401
    assert volcengine_error(response) == "SignatureDoesNotMatch"


# ---- ZEGO ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("KickoutUser", [("RoomId", "room1"), ("UserId[]", "a"), ("UserId[]", "b")]),
        ("CloseRoom", [("RoomId", "room1"), ("CustomReason", "closed by a moderator")]),
        ("DescribeUsers", [("RoomId", "room1"), ("UserId[]", "a")]),
    ],
)
def test_a_correctly_signed_zego_call_succeeds(vendors, action, params):
    response = vendors.zego(action, params)
    assert zego_code(response) == 0
    payload = response.json()
    assert payload["Message"] == "success"
    assert payload["RequestId"]
    assert isinstance(payload["Data"], dict)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"secret": "ffffffffffffffffffffffffffffffff"}, 100000005),
        ({"signed_offset": -11 * 60}, 100000004),
        ({"signed_offset": 11 * 60}, 100000004),
        ({"app_id": "987654"}, 100000010),
        ({"app_id": "not-a-number"}, 100000001),
        ({"common": {"SignatureVersion": None}}, 100000013),
        ({"common": {"SignatureVersion": "1.0"}}, 100000014),
        ({"common": {"Signature": None}}, 100000009),
        ({"common": {"SignatureNonce": None}}, 100000008),
        ({"common": {"Timestamp": None}}, 100000002),
        ({"common": {"Timestamp": "soon"}}, 100000003),
    ],
)
def test_a_zego_call_that_fails_authentication_is_refused(vendors, change, code):
    change = signed_now(change)
    response = vendors.zego("CloseRoom", [("RoomId", "room1")], **change)
    assert zego_code(response) == code


def test_a_zego_signature_is_checked_against_the_timestamp_that_arrived(vendors):
    # Signed for one second, sent with another: the md5 no longer matches.
    response = vendors.zego(
        "CloseRoom", [("RoomId", "room1")], common={"Timestamp": str(int(time.time()) + 1)}
    )
    assert zego_code(response) == 100000005


def test_an_unknown_or_missing_zego_action_gets_the_gateway_codes(vendors):
    assert zego_code(vendors.zego("BanEveryone", [("RoomId", "r")])) == 100000007
    assert zego_code(vendors.zego("", [("RoomId", "r")])) == 100000006


# ---- Tencent -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("RemoveUser", {"RoomId": 1234, "UserIds": ["a", "b"]}),
        ("RemoveUserByStrRoomId", {"RoomId": "live-1", "UserIds": ["a"]}),
        ("DismissRoom", {"RoomId": 1234}),
        ("DismissRoomByStrRoomId", {"RoomId": "live-1"}),
    ],
)
def test_a_correctly_signed_tencent_call_succeeds(vendors, action, body):
    response = vendors.tencent(action, {"SdkAppId": 1400000001, **body})
    assert tencent_error(response) == ""
    assert set(response.json()["Response"]) == {"RequestId"}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"secret_key": "wrong"}, "AuthFailure.SignatureFailure"),
        ({"sent_body": b'{"SdkAppId": 1400000001, "RoomId": 99}'}, "AuthFailure.SignatureFailure"),
        ({"signed_offset": -6 * 60}, "AuthFailure.SignatureExpire"),
        ({"signed_offset": 6 * 60}, "AuthFailure.SignatureExpire"),
        ({"secret_id": "AKIDunknown"}, "AuthFailure.SecretIdNotFound"),
    ],
)
def test_a_tencent_call_that_fails_authentication_is_refused(vendors, change, code):
    change = signed_now(change)
    response = vendors.tencent("DismissRoom", {"SdkAppId": 1400000001, "RoomId": 1234}, **change)
    assert tencent_error(response) == code


def test_request_ids_are_unique_across_vendors_and_calls(vendors):
    ids = set()
    for _ in range(5):
        ids.add(
            vendors.volcengine(
                "DismissRoom", {"AppId": VOLCENGINE["app_id"], "RoomId": "r"}
            ).json()["ResponseMetadata"]["RequestId"]
        )
        ids.add(
            vendors.zego("DescribeUsers", [("RoomId", "r"), ("UserId[]", "a")]).json()["RequestId"]
        )
        ids.add(
            vendors.tencent("DismissRoom", {"SdkAppId": 1400000001, "RoomId": 1}).json()[
                "Response"
            ]["RequestId"]
        )
    assert len(ids) == 15

"""The vendors' official Python SDKs, unchanged, against the emulator: each signs its calls for
`/` on a host it is given, so each is pointed at its vendor's own port (`vendor_url`), where the
emulator checks that signature like any other and acts on the call.

Nothing of the SDKs is patched: they read the clock, sign and send as they would in production,
over plain HTTP (their `scheme`/`protocol` setting) because the emulator is loopback only.
"""

import json
from urllib.parse import urlsplit

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.trtc.v20190722 import models as trtc_models
from tencentcloud.trtc.v20190722.trtc_client import TrtcClient
from volcengine.ApiInfo import ApiInfo
from volcengine.base.Service import Service
from volcengine.Credentials import Credentials
from volcengine.ServiceInfo import ServiceInfo

from .signed import TENCENT, VOLCENGINE


def volcengine_sdk(host: str, secret: str = VOLCENGINE["secret"]) -> Service:
    """The SDK's generic Service for RTC, as its RtcService example builds one, for two actions."""
    info = ServiceInfo(
        host,
        {"Accept": "application/json"},
        Credentials(VOLCENGINE["access_key_id"], secret, "rtc", "cn-north-1"),
        5,
        5,
        scheme="http",
    )
    api = {
        "KickUser": ApiInfo("POST", "/", {"Action": "KickUser", "Version": "2020-12-01"}, {}, {}),
        "BanUserStream": ApiInfo(
            "POST", "/", {"Action": "BanUserStream", "Version": "2023-11-01"}, {}, {}
        ),
    }
    service = Service(info, api)
    # Service() takes keys from VOLC_ACCESSKEY or ~/.volc when present: these win.
    service.set_ak(VOLCENGINE["access_key_id"])
    service.set_sk(secret)
    return service


def tencent_sdk(host: str, secret_key: str = TENCENT["secret"]) -> TrtcClient:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=host))
    return TrtcClient(
        credential.Credential(TENCENT["access_key_id"], secret_key), "ap-guangzhou", profile
    )


def own_host(emulator, vendor: str) -> str:
    return urlsplit(emulator.vendor_url(vendor)).netloc


def test_the_official_volcengine_sdk_kicks_a_member_through_the_emulator(emulator):
    where = {"vendor": "volcengine", "app_id": VOLCENGINE["app_id"]}
    emulator.join(**where, room_id="room1", user_id="troll")
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "room1", "UserId": "troll"}

    answer = json.loads(
        volcengine_sdk(own_host(emulator, "volcengine")).json("KickUser", {}, json.dumps(body))
    )

    assert "Error" not in answer["ResponseMetadata"]
    assert answer["ResponseMetadata"]["Action"] == "KickUser"
    assert answer["Result"] == {"message": "success"}
    assert emulator.members(**where, room_id="room1") == set()
    (call,) = emulator.calls
    assert (call.action, call.ok, call.params) == ("KickUser", True, body)


def test_the_official_volcengine_sdk_mutes_a_member_through_the_emulator(emulator):
    where = {"vendor": "volcengine", "app_id": VOLCENGINE["app_id"]}
    emulator.join(**where, room_id="room1", user_id="troll")
    body = {
        "AppId": VOLCENGINE["app_id"],
        "RoomId": "room1",
        "UserId": "troll",
        "Audio": True,
        "Video": False,
        "ForbiddenInterval": 60,
    }

    answer = json.loads(
        volcengine_sdk(own_host(emulator, "volcengine")).json("BanUserStream", {}, json.dumps(body))
    )

    assert answer["Result"] == {"Message": "success"}
    assert emulator.muted(**where, room_id="room1", user_id="troll") == {
        "audio": True,
        "video": False,
    }


def test_the_emulator_refuses_the_volcengine_sdk_signing_with_another_secret(emulator):
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "room1", "UserId": "troll"}
    sdk = volcengine_sdk(own_host(emulator, "volcengine"), secret="not-the-secret")

    with pytest.raises(Exception, match="SignatureDoesNotMatch"):
        sdk.json("KickUser", {}, json.dumps(body))


def test_the_official_tencent_sdk_removes_a_member_through_the_emulator(emulator):
    where = {"vendor": "tencent", "app_id": TENCENT["app_id"]}
    emulator.join(**where, room_id="1234", user_id="troll")
    request = trtc_models.RemoveUserRequest()
    request.SdkAppId = int(TENCENT["app_id"])
    request.RoomId = 1234
    request.UserIds = ["troll"]

    response = tencent_sdk(own_host(emulator, "tencent")).RemoveUser(request)

    assert response.RequestId
    assert emulator.members(**where, room_id="1234") == set()
    (call,) = emulator.calls
    assert (call.action, call.ok, call.request_id) == ("RemoveUser", True, response.RequestId)


def test_the_emulator_refuses_the_tencent_sdk_signing_with_another_secret(emulator):
    request = trtc_models.RemoveUserRequest()
    request.SdkAppId = int(TENCENT["app_id"])
    request.RoomId = 1234
    request.UserIds = ["troll"]
    sdk = tencent_sdk(own_host(emulator, "tencent"), secret_key="not-the-secret")

    with pytest.raises(TencentCloudSDKException) as refused:
        sdk.RemoveUser(request)

    assert refused.value.code == "AuthFailure.SignatureFailure"


def test_the_official_tencent_sdk_pointed_at_the_prefixed_port_finds_no_vendor_at_slash(emulator):
    """Why each vendor has a port of its own: the SDK takes a host only and posts to `/`."""
    request = trtc_models.RemoveUserRequest()
    request.SdkAppId = int(TENCENT["app_id"])
    request.RoomId = 1234
    request.UserIds = ["troll"]

    with pytest.raises(TencentCloudSDKException):
        tencent_sdk(urlsplit(emulator.base_url).netloc).RemoveUser(request)

    assert emulator.calls == []

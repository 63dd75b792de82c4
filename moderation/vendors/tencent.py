"""Tencent Cloud TRTC API 3.0 (2019-07-22): RemoveUser / RemoveUserByStrRoomId, DismissRoom*;
and the room event callbacks (103 enter, 104 exit, 102 dismiss)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from urllib.parse import quote

from ..messages import N_, Text
from .base import (
    AUDIO,
    BOTH,
    KICK_SUMMARY,
    MUTE_SUMMARY,
    UNMUTE_SUMMARY,
    VIDEO,
    CallbackInvalid,
    CallbackRefused,
    Capabilities,
    Delivery,
    Envelope,
    HttpCall,
    RoomEvent,
    VendorClient,
    VendorInputError,
    VendorRequest,
    callback_integer,
    callback_object,
    callback_text,
    delivery_key,
    event_ms,
    no_sent_time,
)

DISMISS_SUMMARY = N_("dismiss room {room}, removing everyone")
# SetUserBlocked's IsMute: 1 audio and video, 2 audio only, 3 video only (0 ends it).
IS_MUTE = {BOTH: 1, AUDIO: 2, VIDEO: 3}

SERVICE = "trtc"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def sign(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    content_type: str,
    body: bytes,
    timestamp: int,
    service: str = SERVICE,
    method: str = "POST",
    path: str = "/",
    query: str = "",
) -> str:
    """TC3-HMAC-SHA256 over `content-type;host`, as the official SDK signs.

    Returns the Authorization header.
    """
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join(
        [
            method.upper(),
            path,
            query,
            f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, service, "tc3_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


# --- the client ---

VERSION = "2019-07-22"
# RemoveUser and friends are served only in these regions.
REGIONS = ("ap-beijing", "ap-guangzhou", "ap-singapore")
# The nearest-access host serves every region (X-TC-Region picks it). Accounts on the
# international site use INTERNATIONAL_ENDPOINT as the connection's endpoint instead.
DEFAULT_ENDPOINT = "https://trtc.tencentcloudapi.com"
INTERNATIONAL_ENDPOINT = "https://trtc.intl.tencentcloudapi.com"
DEFAULT_ENDPOINTS = dict.fromkeys(REGIONS, DEFAULT_ENDPOINT)
# TRTC's numeric rooms run from 1 to 4294967294 (2^32 - 2, per the TRTC SDK's enterRoom docs):
# a larger number can only be a string room.
MAX_ROOM_NUMBER = 2**32 - 2
CONTENT_TYPE = "application/json"


def integer_room_id(room_id: str) -> int | None:
    """The numeric room a room ID names (RemoveUser), or None for a string room (...ByStrRoomId).

    Only the canonical spelling counts: "0123" is a string room (a numeric room would be 123).
    """
    if room_id.isascii() and room_id.isdigit() and str(int(room_id)) == room_id:
        number = int(room_id)
        if 1 <= number <= MAX_ROOM_NUMBER:
            return number
    return None


class TencentClient(VendorClient):
    vendor = "tencent"
    label = "Tencent TRTC"
    capabilities = Capabilities(
        kick=True,
        native_ban=False,  # API 3.0 has no ban with a duration
        max_ban_seconds=None,
        lift=False,
        whole_room=True,
        every_room=False,
        batch_size=10,
        rate_limits={
            "RemoveUser": 20,
            "RemoveUserByStrRoomId": 20,
            "DismissRoom": 20,
            "DismissRoomByStrRoomId": 20,
            "SetUserBlocked": 20,
            "SetUserBlockedByStrRoomId": 20,
        },
    )
    REGIONS = REGIONS
    DEFAULT_ENDPOINTS = DEFAULT_ENDPOINTS
    # TRTC's client SDKs allow string room IDs of up to 64 bytes and user IDs of up to 32.
    MAX_ROOM_ID_BYTES = 64
    MAX_USER_ID_BYTES = 32
    THROTTLE_CODES = ("RequestLimitExceeded",)
    ERRORS = {
        "AuthFailure": (False, "Tencent Cloud refused the credentials: {vendor_message}"),
        "AuthFailure.SignatureFailure": (
            False,
            "Tencent Cloud rejected the credentials: check the SecretId and SecretKey.",
        ),
        "AuthFailure.SecretIdNotFound": (
            False,
            "Tencent Cloud does not know this SecretId: check it, or whether the key was deleted.",
        ),
        "AuthFailure.SignatureExpire": (
            False,
            "Tencent Cloud rejected the request time: this server's clock is off, sync it (NTP).",
        ),
        "AuthFailure.UnauthorizedOperation": (
            False,
            "The key may not call {action}: grant it TRTC permissions in Tencent Cloud CAM.",
        ),
        "RequestLimitExceeded": (
            True,
            "Tencent Cloud is limiting the call rate; try again shortly.",
        ),
        "InternalError": (True, "{label} had an internal error; try again."),
        "LimitExceeded": (False, "A Tencent Cloud quota was exceeded: {vendor_message}"),
        "FailedOperation": (False, "{label} could not do {action}: {vendor_message}"),
        "FailedOperation.RoomNotExist": (
            False,
            "The room does not exist on {label} (nobody is in it, or it is a string room ID "
            "used as a number or the reverse).",
        ),
        "FailedOperation.SdkAppIdNotExist": (
            False,
            "{label} does not know this SdkAppId: check the app ID.",
        ),
        "InvalidParameter": (False, "{label} rejected a parameter: {vendor_message}"),
        "InvalidParameter.RoomId": (False, "{label} rejected the room ID."),
        "InvalidParameterValue.RoomId": (False, "{label} rejected the room ID."),
        "InvalidParameter.SdkAppId": (False, "{label} rejected the SdkAppId: check the app ID."),
        "InvalidParameter.UserIds": (False, "{label} rejected the user IDs."),
        "InvalidParameterValue": (False, "{label} rejected a parameter value: {vendor_message}"),
        "MissingParameter": (False, "{label} says a parameter is missing: {vendor_message}"),
        "UnsupportedRegion": (
            False,
            "{label} does not serve this region for {action}: use ap-beijing, ap-guangzhou or "
            "ap-singapore.",
        ),
        "UnauthorizedOperation": (
            False,
            "This Tencent Cloud account may not manage this SdkAppId: use a key of the account "
            "that owns the app.",
        ),
    }
    MISSING_TARGET_CODES = frozenset({"FailedOperation.RoomNotExist"})

    def check_credentials(self, connection):
        super().check_credentials(connection)
        app_id = connection.app_id.strip()
        if not app_id.isascii() or not app_id.isdigit() or int(app_id) == 0:
            raise VendorInputError("app_id", "must be the numeric SdkAppId (e.g. 1400000001)")
        self.sdk_app_id = int(app_id)

    # --- request builders ---

    def kick_batch_request(self, *, room_id, user_ids, reason):
        # RemoveUser takes no reason: the reason stays in our own records only.
        number = integer_room_id(room_id)
        return VendorRequest(
            action="RemoveUser" if number is not None else "RemoveUserByStrRoomId",
            params={
                "SdkAppId": self.sdk_app_id,
                "RoomId": number if number is not None else room_id,
                "UserIds": list(user_ids),
            },
            user_ids=user_ids,
            summary=Text(KICK_SUMMARY, {"users": ", ".join(user_ids), "room": room_id}),
        )

    def close_room_request(self, *, room_id, reason=""):
        room_id = self.check_room_id(room_id)
        number = integer_room_id(room_id)
        return VendorRequest(
            action="DismissRoom" if number is not None else "DismissRoomByStrRoomId",
            params={
                "SdkAppId": self.sdk_app_id,
                "RoomId": number if number is not None else room_id,
            },
            summary=Text(DISMISS_SUMMARY, {"room": room_id}),
        )

    # SetUserBlocked has no duration: our expiry sends IsMute 0 at the end.

    def mute_request(self, *, room_id: str, user_id: str, media: str, seconds: int | None):
        media = self.check_media(media)
        return self._blocked(room_id, user_id, IS_MUTE[media], MUTE_SUMMARY[media])

    def unmute_request(self, *, room_id: str, user_id: str, media: str):
        media = self.check_media(media)
        return self._blocked(room_id, user_id, 0, UNMUTE_SUMMARY[media])

    def _blocked(self, room_id, user_id, is_mute, summary):
        room_id = self.check_room_id(room_id)
        number = integer_room_id(room_id)
        room = {"RoomId": number} if number is not None else {"StrRoomId": room_id}
        return VendorRequest(
            action="SetUserBlocked" if number is not None else "SetUserBlockedByStrRoomId",
            params={
                "SdkAppId": self.sdk_app_id,
                **room,
                "UserId": self.check_user_id(user_id),
                "IsMute": is_mute,
            },
            user_ids=(user_id,),
            summary=Text(summary, {"user": user_id, "room": room_id}),
        )

    # --- one call ---

    def prepare(self, request):
        # json.dumps' defaults give the bytes the official SDK sends (ASCII, escaped).
        body = json.dumps(request.params).encode("utf-8")
        timestamp = int(time.time())
        path = quote(self.endpoint.path, safe="/-_.~")
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Host": self.endpoint.netloc,
            "X-TC-Action": request.action,
            "X-TC-Version": VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region,
        }
        headers["Authorization"] = sign(
            secret_id=self.connection.access_key_id,
            secret_key=self.connection.secret,
            host=self.endpoint.netloc,
            content_type=CONTENT_TYPE,
            body=body,
            timestamp=timestamp,
            path=path,
        )
        url = f"{self.endpoint.scheme}://{self.endpoint.netloc}{path}"
        return HttpCall("POST", url, headers, body)

    def parse(self, data):
        response = data.get("Response")
        if not isinstance(response, dict):
            return Envelope(ok=False, message="the answer has no Response")
        request_id = str(response.get("RequestId") or "")
        # Errors come with HTTP 200: Response.Error decides.
        error = response.get("Error")
        if isinstance(error, dict) and error:
            return Envelope(
                ok=False,
                code=str(error.get("Code") or ""),
                message=str(error.get("Message") or ""),
                request_id=request_id,
            )
        return Envelope(ok=True, request_id=request_id)


# --- room callbacks ----------------------------------------------------------------------------
# POST JSON with the headers Sign = base64(HMAC-SHA256(callback key, raw body)) and SdkAppId.

EVENT_GROUP_ROOM = 1
DISMISS_ROOM, ENTER_ROOM, EXIT_ROOM = 102, 103, 104


def callback_signature(*, secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def read_callback(headers, body: bytes, *, secret: str, app_id: str) -> Delivery:
    """Verifies and reads room events 102-104 (any other event is read as None).

    The signature covers the raw body, `CallbackTs` (when it was sent) included.
    """
    sign = headers.get("Sign") or ""
    if not sign:
        raise CallbackRefused("the callback carries no Sign header")
    try:
        received = base64.b64decode(sign, validate=True)
    except (binascii.Error, ValueError):
        raise CallbackRefused("the Sign header is not base64") from None
    expected = base64.b64decode(callback_signature(secret=secret, body=body))
    if not hmac.compare_digest(expected, received):
        raise CallbackRefused("the callback signature does not match the callback key")
    sdk_app_id = headers.get("SdkAppId") or ""
    if sdk_app_id and sdk_app_id.strip() != app_id:
        raise CallbackInvalid(f"the callback is for SdkAppId {sdk_app_id[:20]!r}")
    data = callback_object(body)
    group = callback_integer(data, "EventGroupId")
    event_type = callback_integer(data, "EventType")
    if group != EVENT_GROUP_ROOM or event_type not in (DISMISS_ROOM, ENTER_ROOM, EXIT_ROOM):
        return Delivery(event=None, sent_at=_sent_at(data))
    info = data.get("EventInfo")
    if not isinstance(info, dict):
        raise CallbackInvalid("EventInfo is missing")
    room_id = callback_text(info, "RoomId", max_length=128)
    user_id = "" if event_type == DISMISS_ROOM else callback_text(info, "UserId", max_length=128)
    seconds = callback_integer(info, "EventTs")
    milliseconds = callback_integer(info, "EventMsTs", required=False)
    at_ms = event_ms(milliseconds if milliseconds is not None else seconds * 1000, "EventTs")
    kind = {DISMISS_ROOM: RoomEvent.CLOSE, ENTER_ROOM: RoomEvent.JOIN, EXIT_ROOM: RoomEvent.LEAVE}
    event = RoomEvent(
        kind=kind[event_type],
        room_id=room_id,
        user_id=user_id,
        at_ms=at_ms,
        # CallbackTs changes with each retry; the event's own fields do not.
        delivery_key=delivery_key(
            "tencent",
            group,
            event_type,
            room_id,
            user_id,
            seconds,
            milliseconds,
            callback_text(info, "UniqueId", required=False, max_length=64),
        ),
        vendor_event=str(event_type),
        reason=callback_text(info, "Reason", required=False, max_length=32),
    )
    return Delivery(event=event, sent_at=_sent_at(data))


def _sent_at(data: dict) -> float:
    """CallbackTs, when Tencent sent this delivery (Unix ms): a new one with each retry."""
    sent_ms = callback_integer(data, "CallbackTs", required=False)
    if sent_ms is None:
        raise no_sent_time("CallbackTs")
    return event_ms(sent_ms, "CallbackTs") / 1000

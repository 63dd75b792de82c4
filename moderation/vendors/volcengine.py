"""Volcengine RTC OpenAPI: BanRoomUser, UpdateBanRoomUserRule, KickUser, DismissRoom; and the
UserJoinRoom / UserLeaveRoom / RoomDestroy callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
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

A_USER = N_("user {user}")
EVERYONE = N_("everyone")
A_ROOM = N_("room {room}")
EVERY_ROOM = N_("every room")
LIFT_SUMMARY = N_("lift the ban on {who} in {where}")
CHANGE_SUMMARY = N_("change the ban on {who} in {where} to {seconds} s")
REMOVE_SUMMARY = N_("remove {who} from {where}")
BAN_SUMMARY = N_("ban {who} from {where} for {seconds} s")

SERVICE = "rtc"


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def canonical_query(query: dict[str, str]) -> str:
    return "&".join(f"{_encode(k)}={_encode(str(query[k]))}" for k in sorted(query))


def signing_host(host: str) -> str:
    name, _, port = host.partition(":")
    return name if port in ("80", "443") else host


def sign(
    *,
    method: str,
    host: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    x_date: str,
    service: str = SERVICE,
) -> dict[str, str]:
    """HMAC-SHA256 "V4" signing. Returns the headers to send, `Authorization` included.

    `headers` holds at least Content-Type; Host, X-Date and X-Content-Sha256 are added here.
    """
    body_hash = hashlib.sha256(body).hexdigest()
    sent = {**headers, "Host": host, "X-Date": x_date, "X-Content-Sha256": body_hash}
    signed = {
        name.lower(): value.strip()
        for name, value in sent.items()
        if name.lower() in ("content-type", "content-md5", "host") or name.lower().startswith("x-")
    }
    signed["host"] = signing_host(signed["host"])
    names = sorted(signed)
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            quote(path or "/", safe="/-_.~"),
            canonical_query(query),
            canonical_headers,
            signed_headers,
            body_hash,
        ]
    )
    short_date = x_date[:8]
    scope = f"{short_date}/{region}/{service}/request"
    string_to_sign = "\n".join(
        [
            "HMAC-SHA256",
            x_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = secret_access_key.encode("utf-8")
    for part in (short_date, region, service, "request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    sent["Authorization"] = (
        f"HMAC-SHA256 Credential={access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return sent


# --- the client ---

REGIONS = ("cn-north-1", "ap-singapore-1")
DEFAULT_ENDPOINTS = {
    "cn-north-1": "https://rtc.volcengineapi.com",
    "ap-singapore-1": "https://open-ap-singapore-1.volcengineapi.com",
}
VERSIONS = {
    "BanRoomUser": "2023-11-01",
    "UpdateBanRoomUserRule": "2023-11-01",
    "KickUser": "2020-12-01",
    "DismissRoom": "2020-12-01",
    "BanUserStream": "2023-11-01",
    "UnbanUserStream": "2023-11-01",
}
# BanUserStream times a mute itself within [60, 259200] s; 0 holds it until UnbanUserStream.
MUTE_SECONDS = (60, 259_200)


def mute_interval(seconds: int | None) -> int:
    """The ForbiddenInterval to send: the mute's own length where Volcengine times it, else 0
    (until unbanned), and our expiry sends UnbanUserStream at the end."""
    low, high = MUTE_SECONDS
    return seconds if seconds is not None and low <= seconds <= high else 0


# ForbiddenInterval is 0 or within [10, 604800] seconds; the vendor clamps anything else.
MIN_INTERVAL = 10
MAX_INTERVAL = 604_800


def clamp_interval(seconds: int) -> int:
    """The ForbiddenInterval Volcengine will apply: 0 stays 0, 1..9 -> 10, over 7 days -> 7 days."""
    if seconds <= 0:
        return 0
    return min(max(seconds, MIN_INTERVAL), MAX_INTERVAL)


def x_date_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class VolcengineClient(VendorClient):
    vendor = "volcengine"
    label = "Volcengine RTC"
    capabilities = Capabilities(
        kick=True,
        native_ban=True,
        max_ban_seconds=MAX_INTERVAL,
        lift=True,
        whole_room=True,
        every_room=True,
        batch_size=1,
        # BanRoomUser: the seed page says 20, the current page 40; 20 is safe under both.
        rate_limits={
            "BanRoomUser": 20,
            "UpdateBanRoomUserRule": 20,
            "KickUser": 60,
            "DismissRoom": 60,
            "BanUserStream": 60,
            "UnbanUserStream": 60,
        },
        mute_seconds=MUTE_SECONDS,
    )
    REGIONS = REGIONS
    DEFAULT_REGION = "cn-north-1"
    DEFAULT_ENDPOINTS = DEFAULT_ENDPOINTS
    # Volcengine's client SDKs allow room and user IDs of up to 128 bytes.
    MAX_ROOM_ID_BYTES = 128
    MAX_USER_ID_BYTES = 128
    THROTTLE_CODES = ("FlowLimitExceeded",)
    ERRORS = {
        "SignatureDoesNotMatch": (
            False,
            "{label} rejected the credentials: check the access key ID and secret access key.",
        ),
        "InvalidAccessKey": (
            False,
            "{label} rejected the credentials: check the access key ID, it is not known.",
        ),
        "InvalidTimestamp": (
            False,
            "{label} rejected the request time: this server's clock is off, sync it (NTP).",
        ),
        "AccessDenied": (
            False,
            "The access key may not call {action}: grant it RTC permissions in Volcengine IAM.",
        ),
        "AccessDenied.NoPermissionForApp": (
            False,
            "The access key has no permission for this RTC app: check the app ID and the key.",
        ),
        "FlowLimitExceeded": (True, "{label} is limiting the call rate; try again shortly."),
        "InternalError": (True, "{label} had an internal error; try again."),
        "ServiceUnavailableTemp": (True, "{label} is temporarily unavailable; try again."),
        "InternalServiceTimeout": (
            True,
            "{label} timed out internally; the action may or may not have taken effect.",
        ),
        "InvalidParameter.IllegalRoomID": (False, "{label} rejected the room ID as invalid."),
        "InvalidParameter.NotExistAppId": (
            False,
            "{label} does not know this app ID: check the AppId in the RTC console.",
        ),
        "InvalidParameter": (False, "{label} rejected a parameter: {vendor_message}"),
    }

    # --- request builders ---

    def kick_batch_request(self, *, room_id, user_ids, reason):
        # KickUser rather than BanRoomUser with ForbiddenInterval 0: a 0-second "ban" on a user
        # who is banned might replace that ban's window (UNCONFIRMED), and a kick must never
        # shorten a ban. KickUser also has its own, higher limit (60/s against 20/s).
        # KickUser takes one user per call and no reason.
        (user_id,) = user_ids
        return VendorRequest(
            action="KickUser",
            params={"AppId": self.connection.app_id, "RoomId": room_id, "UserId": user_id},
            user_ids=user_ids,
            summary=Text(KICK_SUMMARY, {"users": user_id, "room": room_id}),
        )

    clamp_interval = staticmethod(clamp_interval)

    def ban_request(self, *, room_id: str | None, user_id: str | None, seconds: int):
        """BanRoomUser: room only = the whole room, room+user, user only = every room."""
        return self._ban("BanRoomUser", room_id=room_id, user_id=user_id, seconds=seconds)

    def update_ban_request(self, *, room_id: str | None, user_id: str | None, seconds: int):
        """UpdateBanRoomUserRule: a new window for an existing ban; 0 lifts it."""
        return self._ban("UpdateBanRoomUserRule", room_id=room_id, user_id=user_id, seconds=seconds)

    def lift_request(self, *, room_id: str | None, user_id: str | None):
        # There is no UnbanRoomUser: a window of 0 is how the vendor lifts a ban.
        return self.update_ban_request(room_id=room_id, user_id=user_id, seconds=0)

    def close_room_request(self, *, room_id: str, reason: str = "", seconds: int = 0):
        """BanRoomUser on the room alone: everyone out, and nobody back in for `seconds`."""
        return self.ban_request(room_id=room_id, user_id=None, seconds=seconds)

    def _ban(self, action, *, room_id, user_id, seconds):
        if room_id is None and user_id is None:
            raise VendorInputError("room_id", "name a room, a user, or both")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise VendorInputError("seconds", "must be a whole number of seconds, 0 or more")
        params = {"AppId": self.connection.app_id}
        if room_id is not None:
            params["RoomId"] = self.check_room_id(room_id)
        if user_id is not None:
            params["UserId"] = self.check_user_id(user_id)
        interval = clamp_interval(seconds)
        params["ForbiddenInterval"] = interval
        return VendorRequest(
            action=action,
            params=params,
            user_ids=(user_id,) if user_id is not None else (),
            summary=self._describe(action, room_id, user_id, interval),
            details={"forbidden_interval": interval, "requested_interval": seconds},
        )

    def mute_request(self, *, room_id: str, user_id: str, media: str, seconds: int | None):
        """BanUserStream: the user's audio, video or both, timed by the vendor where it can."""
        media = self.check_media(media)
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
            raise VendorInputError("seconds", "must be a whole number of seconds")
        interval = mute_interval(seconds)
        return VendorRequest(
            action="BanUserStream",
            params={
                "AppId": self.connection.app_id,
                "RoomId": self.check_room_id(room_id),
                "UserId": self.check_user_id(user_id),
                "Audio": media in (AUDIO, BOTH),
                "Video": media in (VIDEO, BOTH),
                "ForbiddenInterval": interval,
            },
            user_ids=(user_id,),
            summary=Text(MUTE_SUMMARY[media], {"user": user_id, "room": room_id}),
            details={"forbidden_interval": interval, "requested_interval": seconds},
        )

    def unmute_request(self, *, room_id: str, user_id: str, media: str):
        media = self.check_media(media)
        return VendorRequest(
            action="UnbanUserStream",
            params={
                "AppId": self.connection.app_id,
                "RoomId": self.check_room_id(room_id),
                "UserId": self.check_user_id(user_id),
                "Audio": media in (AUDIO, BOTH),
                "Video": media in (VIDEO, BOTH),
            },
            user_ids=(user_id,),
            summary=Text(UNMUTE_SUMMARY[media], {"user": user_id, "room": room_id}),
        )

    @staticmethod
    def _describe(action, room_id, user_id, interval) -> Text:
        who = Text(A_USER, {"user": user_id}) if user_id is not None else Text(EVERYONE)
        where = Text(A_ROOM, {"room": room_id}) if room_id is not None else Text(EVERY_ROOM)
        values = {"who": who, "where": where, "seconds": interval}
        if action == "UpdateBanRoomUserRule":
            return Text(LIFT_SUMMARY if interval == 0 else CHANGE_SUMMARY, values)
        return Text(REMOVE_SUMMARY if interval == 0 else BAN_SUMMARY, values)

    # --- one call ---

    def prepare(self, request):
        body = json.dumps(request.params).encode("utf-8")
        query = {"Action": request.action, "Version": VERSIONS[request.action]}
        headers = sign(
            method="POST",
            host=self.endpoint.netloc,
            path=self.endpoint.path,
            query=query,
            headers={"Content-Type": "application/json"},
            body=body,
            access_key_id=self.connection.access_key_id,
            secret_access_key=self.connection.secret,
            region=self.region,
            x_date=x_date_now(),
        )
        path = quote(self.endpoint.path, safe="/-_.~")
        url = f"{self.endpoint.scheme}://{self.endpoint.netloc}{path}?{canonical_query(query)}"
        return HttpCall("POST", url, headers, body)

    def parse(self, data):
        metadata = data.get("ResponseMetadata")
        if not isinstance(metadata, dict):
            return Envelope(ok=False, message="the answer has no ResponseMetadata")
        request_id = str(metadata.get("RequestId") or "")
        # An error can come with HTTP 200: the Error object decides, not the status.
        error = metadata.get("Error")
        if isinstance(error, dict) and error:
            return Envelope(
                ok=False,
                code=str(error.get("Code") or ""),
                message=str(error.get("Message") or ""),
                request_id=request_id,
            )
        return Envelope(ok=True, request_id=request_id)


# --- room callbacks ----------------------------------------------------------------------------
# POST JSON: EventType, EventData (a JSON string), EventTime, EventId, AppId, Version, Nonce,
# Signature. Retried twice within seconds; EventId is the deduplication key (docs 6348/69820).

SIGNED_FIELDS = ("EventType", "EventData", "EventTime", "EventId", "AppId", "Version", "Nonce")
JOIN_EVENTS = {"UserJoinRoom", "InvisibleUserJoinRoom"}
LEAVE_EVENTS = {"UserLeaveRoom", "InvisibleUserLeaveRoom"}
CLOSE_EVENTS = {"RoomDestroy"}


def callback_signature(*, secret: str, fields: dict[str, str]) -> str:
    """The callback's Signature as Volcengine documents it: page "接收消息通知回调" (Receive
    message notification callbacks, docs 6348/69820), section "签名算法" (signature algorithm),
    whose reference implementation is Go:

    1. an array of the values of EventType, EventData, EventTime, EventId, AppId, Version and
       Nonce (a field the callback lacks is Go's zero value, the empty string) and the
       callback secret;
    2. sorted (Go's sort.Strings: byte order of the UTF-8 strings);
    3. joined with no separator;
    4. SHA-256;
    5. hex-encoded (Go's hex.EncodeToString: lowercase), which is the Signature.
    """
    values = [str(fields.get(name, "")) for name in SIGNED_FIELDS] + [secret]
    payload = b"".join(sorted(value.encode("utf-8") for value in values))
    return hashlib.sha256(payload).hexdigest()


def _event_time(value) -> float:
    """EventTime, when Volcengine sent the delivery, as Unix seconds: RFC 3339 text with a zone,
    or milliseconds, whichever the vendor sends. Refused when it says no time we can read."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > 16:
            raise CallbackInvalid("EventTime is not a time between 1970 and 9999")
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else float(value)
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise no_sent_time("EventTime") from None
        if parsed.tzinfo is None:
            raise no_sent_time("EventTime")
        seconds = parsed.timestamp()
    else:
        raise no_sent_time("EventTime")
    return event_ms(seconds * 1000, "EventTime") / 1000


def read_callback(headers, body: bytes, *, secret: str, app_id: str) -> Delivery:
    """Verifies and reads room membership events (any other event is read as None).

    The signature covers every field read, `EventTime` (when it was sent) included.
    """
    data = callback_object(body)
    signature = data.get("Signature")
    if not isinstance(signature, str) or not signature:
        raise CallbackRefused("the callback carries no Signature")
    if not all(isinstance(data.get(name, ""), str) for name in SIGNED_FIELDS):
        raise CallbackInvalid("the signed fields must be strings")
    expected = callback_signature(secret=secret, fields=data)
    if not hmac.compare_digest(expected, signature.lower()):
        raise CallbackRefused("the callback signature does not match the callback secret")
    if data.get("AppId") != app_id:
        raise CallbackInvalid(f"the callback is for Volcengine app {str(data.get('AppId'))[:64]!r}")
    event = callback_text(data, "EventType", max_length=64)
    if event not in JOIN_EVENTS | LEAVE_EVENTS | CLOSE_EVENTS:
        return Delivery(event=None, sent_at=_event_time(data.get("EventTime")))
    event_id = callback_text(data, "EventId", max_length=128)
    try:
        event_data = json.loads(data.get("EventData") or "")
    except ValueError:
        raise CallbackInvalid("EventData is not JSON") from None
    if not isinstance(event_data, dict):
        raise CallbackInvalid("EventData is not a JSON object")
    room_id = callback_text(event_data, "RoomId", max_length=128)
    user_id = "" if event in CLOSE_EVENTS else callback_text(event_data, "UserId", max_length=128)
    sent_at = _event_time(data.get("EventTime"))
    at_ms = callback_integer(event_data, "Timestamp", required=False)
    at_ms = int(sent_at * 1000) if at_ms is None else event_ms(at_ms, "Timestamp")
    if event in JOIN_EVENTS:
        kind = RoomEvent.JOIN
    elif event in LEAVE_EVENTS:
        kind = RoomEvent.LEAVE
    else:
        kind = RoomEvent.CLOSE
    room_event = RoomEvent(
        kind=kind,
        room_id=room_id,
        user_id=user_id,
        at_ms=at_ms,
        delivery_key=delivery_key("volcengine", event, event_id),
        vendor_event=event,
        reason=callback_text(event_data, "Reason", required=False, max_length=64),
    )
    return Delivery(event=room_event, sent_at=sent_at)

"""ZEGO server API: KickoutUser, CloseRoom, SetForbidUserRule (GET, every parameter in the
query), and the room_login / room_logout callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import parse_qsl, quote, unquote

from ..messages import N_, Text
from .base import (
    KICK_SUMMARY,
    CallbackInvalid,
    CallbackRefused,
    Capabilities,
    Delivery,
    Envelope,
    HttpCall,
    RoomEvent,
    SignedPair,
    VendorClient,
    VendorInputError,
    VendorRequest,
    callback_integer,
    callback_text,
    delivery_key,
    event_ms,
)

CLOSE_SUMMARY = N_("close room {room}, removing everyone")
FORBID_STREAM_SUMMARY = N_("stop stream {stream}")
RESUME_STREAM_SUMMARY = N_("let stream {stream} play again")
FORBID_SUMMARY = N_("keep {who} out for {seconds} s")
UNFORBID_SUMMARY = N_("let {who} log in again")
EVERYONE_IN_ROOM = N_("everyone from room {room}")
USER_IN_ROOM = N_("user {user} from room {room}")
USER_EVERYWHERE = N_("user {user} from every room")

DEFAULT_ENDPOINT = "https://rtc-api.zego.im"
MAX_REASON_BYTES = 256
MAX_APP_ID = 2**32 - 1
# SetForbidUserRule: EffectiveTime is 1 to 86400 seconds; DisabledPrivilege 1 is "log in".
MAX_FORBID_SECONDS = 86_400
FORBID_LOGIN = 1
RULE_ROOM, RULE_USER, RULE_ROOM_USER = 2, 3, 4


def signature(*, app_id: int | str, nonce: str, server_secret: str, timestamp: int | str) -> str:
    """Signature version 2.0: md5(AppId + SignatureNonce + ServerSecret + Timestamp), hex."""
    material = f"{app_id}{nonce}{server_secret}{timestamp}"
    return hashlib.md5(material.encode("utf-8"), usedforsecurity=False).hexdigest()


def new_nonce() -> str:
    # 16 hex characters, as in ZEGO's samples; a fresh one per call.
    return secrets.token_hex(8)


def query_string(pairs: list[tuple[str, str]]) -> str:
    # Keys stay literal so arrays read `UserId[]=a&UserId[]=b`, as ZEGO documents them.
    return "&".join(f"{key}={quote(str(value), safe='')}" for key, value in pairs)


# What an account where ZEGO support enabled SetForbidUserRule can do: a timed ban of up to a
# day that the vendor itself enforces at login (a user already in must be kicked as well).
NATIVE_CAPABILITIES = Capabilities(
    kick=True,
    native_ban=True,
    max_ban_seconds=MAX_FORBID_SECONDS,
    lift=True,
    whole_room=True,
    every_room=False,  # the rule keeps the user out of every room, but removes nobody
    batch_size=5,
    native_ban_removes=False,
    rate_limits={
        "KickoutUser": 50,
        "CloseRoom": 1,
        "SetForbidUserRule": 10,
        "DelForbidUserRule": 10,
        "ForbidRTCStream": 20,
        "ResumeRTCStream": 20,
    },
    mute_by="stream",
)


class ZegoClient(VendorClient):
    vendor = "zego"
    label = "ZEGO"
    capabilities = Capabilities(
        kick=True,
        # SetForbidUserRule exists only where ZEGO support enabled it: not relied on.
        native_ban=False,
        max_ban_seconds=None,
        lift=False,
        whole_room=True,
        every_room=False,
        batch_size=5,
        rate_limits={
            "KickoutUser": 50,
            "CloseRoom": 1,
            "ForbidRTCStream": 20,
            "ResumeRTCStream": 20,
        },
        mute_by="stream",
    )
    NEEDS_ACCESS_KEY_ID = False
    # ZEGO's client SDKs allow room IDs of up to 128 bytes and user IDs of up to 64.
    MAX_ROOM_ID_BYTES = 128
    MAX_USER_ID_BYTES = 64
    THROTTLE_CODES = ("206", "207")
    ERRORS = {
        "1": (True, "{label} reported a failure of {action}; try again."),
        "2": (False, "{label} rejected a parameter: {vendor_message}"),
        "3": (False, "A parameter is too long for {label}: {vendor_message}"),
        "9": (False, "This {label} app may not call {action}: ask ZEGO support to enable it."),
        "104": (False, "The room does not exist on {label} (nobody is in it)."),
        "5024": (False, "The room does not exist on {label} (nobody is in it)."),
        "50001": (False, "The room does not exist on {label} (nobody is in it)."),
        "105": (False, "The user is not in the room on {label}."),
        "206": (True, "{label} is limiting this app's call rate; try again shortly."),
        "207": (True, "{label} is limiting the call rate for this room; try again shortly."),
        "50011": (False, "{label} rejected the user list as too long (at most 5 users a call)."),
        "100000001": (
            False,
            "{label} rejected the app ID: use the numeric AppID from the ZEGO console.",
        ),
        "100000004": (
            False,
            "{label} says the signature expired: this server's clock is off, sync it (NTP).",
        ),
        "100000005": (False, "{label} rejected the credentials: check the ServerSecret."),
        "100000010": (
            False,
            "{label} has no ServerSecret for this app ID: check the AppID.",
        ),
        "100000014": (False, "{label} rejected the signature version."),
        "100000016": (
            False,
            "This {label} project has no production environment (made before 2021-11-16): "
            "ask ZEGO support to move it.",
        ),
        "100000017": (
            False,
            "The server API is not enabled for this {label} app: ask ZEGO support to enable it.",
        ),
    }
    MISSING_TARGET_CODES = frozenset({"104", "105", "5024", "50001"})

    def __init__(self, connection, **kw):
        super().__init__(connection, **kw)
        self.capabilities = self.capabilities_with(native_ban=connection.native_ban)

    @classmethod
    def capabilities_with(cls, *, native_ban=False):
        return NATIVE_CAPABILITIES if native_ban else cls.capabilities

    def check_region(self, region):
        return ""  # one global host; the region is not part of the call

    def default_endpoint(self):
        return DEFAULT_ENDPOINT

    def check_credentials(self, connection):
        super().check_credentials(connection)
        app_id = connection.app_id.strip()
        if not app_id.isascii() or not app_id.isdigit() or not 0 < int(app_id) <= MAX_APP_ID:
            raise VendorInputError("app_id", "must be ZEGO's numeric AppID (1 to 4294967295)")
        self.app_id = str(int(app_id))

    # --- request builders ---

    def check_reason(self, reason):
        # Cut, a reason could lose the words that matter (or split a character): refuse instead.
        size = len(reason.encode("utf-8"))
        if size > MAX_REASON_BYTES:
            raise VendorInputError(
                "reason",
                f"CustomReason is at most {MAX_REASON_BYTES} bytes in UTF-8, this one is {size}",
            )

    def kick_batch_request(self, *, room_id, user_ids, reason):
        params = {"RoomId": room_id, "UserId": list(user_ids)}
        if reason:
            params["CustomReason"] = reason
        return VendorRequest(
            action="KickoutUser",
            params=params,
            user_ids=user_ids,
            summary=Text(KICK_SUMMARY, {"users": ", ".join(user_ids), "room": room_id}),
        )

    def close_room_request(self, *, room_id, reason=""):
        room_id = self.check_room_id(room_id)
        self.check_reason(reason)
        params = {"RoomId": room_id}
        if reason:
            params["CustomReason"] = reason
        return VendorRequest(
            action="CloseRoom", params=params, summary=Text(CLOSE_SUMMARY, {"room": room_id})
        )

    # SetForbidUserRule / DelForbidUserRule: only where ZEGO support enabled them.

    def ban_request(self, *, room_id: str | None, user_id: str | None, seconds: int):
        """SetForbidUserRule: room only = nobody may log in, room+user, user only = every room.

        It refuses the next login only: whoever is in the room must be kicked as well.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise VendorInputError("seconds", "must be a whole number of seconds")
        if not 1 <= seconds <= MAX_FORBID_SECONDS:
            raise VendorInputError(
                "seconds", f"EffectiveTime is 1 to {MAX_FORBID_SECONDS} seconds, not {seconds}"
            )
        params = self._rule(room_id, user_id)
        params["DisabledPrivilege"] = [FORBID_LOGIN]
        params["EffectiveTime"] = seconds
        return VendorRequest(
            action="SetForbidUserRule",
            params=params,
            user_ids=(user_id,) if user_id is not None else (),
            summary=Text(FORBID_SUMMARY, {"who": self._who(room_id, user_id), "seconds": seconds}),
            details={"forbidden_interval": seconds, "requested_interval": seconds},
        )

    def update_ban_request(self, *, room_id: str | None, user_id: str | None, seconds: int):
        """A new window for a rule; 0 deletes it (DelForbidUserRule)."""
        if seconds == 0:
            return self.lift_request(room_id=room_id, user_id=user_id)
        return self.ban_request(room_id=room_id, user_id=user_id, seconds=seconds)

    def lift_request(self, *, room_id: str | None, user_id: str | None):
        return VendorRequest(
            action="DelForbidUserRule",
            params=self._rule(room_id, user_id),
            user_ids=(user_id,) if user_id is not None else (),
            summary=Text(UNFORBID_SUMMARY, {"who": self._who(room_id, user_id)}),
            details={"forbidden_interval": 0},
        )

    def _rule(self, room_id, user_id) -> dict:
        if room_id is None and user_id is None:
            raise VendorInputError("room_id", "name a room, a user, or both")
        params = {}
        if room_id is not None and user_id is not None:
            params["RuleType"] = RULE_ROOM_USER
        else:
            params["RuleType"] = RULE_ROOM if user_id is None else RULE_USER
        if room_id is not None:
            params["RoomId"] = self.check_room_id(room_id)
        if user_id is not None:
            params["UserId"] = self.check_user_id(user_id)
        return params

    # Mutes are per stream: ForbidRTCStream stops one, audio and video together. `Sequence`
    # must grow strictly per stream (within 10 s): callers pass a millisecond clock.

    def forbid_stream_request(self, *, stream_id: str, sequence: int):
        return self._stream("ForbidRTCStream", FORBID_STREAM_SUMMARY, stream_id, sequence)

    def resume_stream_request(self, *, stream_id: str, sequence: int):
        return self._stream("ResumeRTCStream", RESUME_STREAM_SUMMARY, stream_id, sequence)

    def _stream(self, action, summary, stream_id, sequence):
        stream_id = self.check_user_id(stream_id, "stream_id")
        if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
            raise VendorInputError("sequence", "must be a whole number, 0 or more")
        return VendorRequest(
            action=action,
            params={"StreamId": stream_id, "Sequence": sequence},
            summary=Text(summary, {"stream": stream_id}),
        )

    @staticmethod
    def _who(room_id, user_id) -> Text:
        if user_id is None:
            return Text(EVERYONE_IN_ROOM, {"room": room_id})
        if room_id:
            return Text(USER_IN_ROOM, {"user": user_id, "room": room_id})
        return Text(USER_EVERYWHERE, {"user": user_id})

    # --- one call ---

    def prepare(self, request):
        nonce = new_nonce()
        timestamp = int(time.time())
        pairs = [
            ("Action", request.action),
            ("AppId", self.app_id),
            ("SignatureNonce", nonce),
            ("Timestamp", str(timestamp)),
            ("SignatureVersion", "2.0"),
            (
                "Signature",
                signature(
                    app_id=self.app_id,
                    nonce=nonce,
                    server_secret=self.connection.secret,
                    timestamp=timestamp,
                ),
            ),
        ]
        for key, value in request.params.items():
            if isinstance(value, list):
                pairs.extend((f"{key}[]", item) for item in value)
            else:
                pairs.append((key, value))
        path = quote(self.endpoint.path, safe="/-_.~")
        url = f"{self.endpoint.scheme}://{self.endpoint.netloc}{path}?{query_string(pairs)}"
        return HttpCall("GET", url, {"Host": self.endpoint.netloc})

    def parse(self, data):
        # HTTP 200 even on errors: Code decides.
        code = data.get("Code")
        request_id = str(data.get("RequestId") or "")
        message = str(data.get("Message") or "")
        if code is None:
            return Envelope(ok=False, message=message, request_id=request_id)
        return Envelope(ok=str(code) == "0", code=str(code), message=message, request_id=request_id)


# --- room callbacks ----------------------------------------------------------------------------
# POST with a JSON body (or a form, if ZEGO support switched the app to POST/FORM); the docs ask
# receivers to URL-decode the values ("the callback data format is JSON, you need to decode it
# with UrlDecode"), so ids are percent-decoded once.


def callback_signature(*, secret: str, timestamp: str, nonce: str) -> str:
    """sha1 over the callback secret, timestamp and nonce, sorted as strings and concatenated."""
    material = "".join(sorted([secret, str(timestamp), str(nonce)]))
    return hashlib.sha1(material.encode("utf-8"), usedforsecurity=False).hexdigest()


def _callback_fields(body: bytes) -> dict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackInvalid("the body is not UTF-8") from None
    for candidate in (text, unquote(text)):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    if "=" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    raise CallbackInvalid("the body is neither JSON nor a form")


def read_callback(headers, body: bytes, *, secret: str, app_id: str) -> Delivery:
    """Verifies and reads room_login / room_logout and the stream callbacks (any other event is
    read as None).

    The signature covers the secret, `timestamp` and `nonce` only, not the body: the delivery
    carries that pair, which the caller accepts with one body only.
    """
    data = _callback_fields(body)
    signature = data.get("signature")
    timestamp, nonce = data.get("timestamp"), data.get("nonce")
    if not (isinstance(signature, str) and signature and timestamp not in (None, "") and nonce):
        raise CallbackRefused("the callback carries no signature, timestamp or nonce")
    expected = callback_signature(secret=secret, timestamp=str(timestamp), nonce=str(nonce))
    if not hmac.compare_digest(expected, signature.lower()):
        raise CallbackRefused("the callback signature does not match the callback secret")
    if callback_text(data, "appid", max_length=64) != app_id:
        raise CallbackInvalid(f"the callback is for ZEGO app {str(data.get('appid'))[:64]!r}")
    sent_ms = event_ms(callback_integer(data, "timestamp") * 1000, "timestamp")
    pair = SignedPair(
        timestamp=str(timestamp),
        nonce=str(nonce),
        body_sha256=hashlib.sha256(body).hexdigest(),
        sent_at=sent_ms / 1000,
    )
    event = callback_text(data, "event", max_length=64)
    if event in ("stream_create", "stream_close"):
        room_event = _stream_event(data, event, sent_ms)
    elif event in ("room_login", "room_logout"):
        room_event = _room_event(data, event, sent_ms)
    else:
        room_event = None
    return Delivery(event=room_event, sent_at=sent_ms / 1000, signed_pair=pair)


def _room_event(data: dict, event: str, sent_ms: int) -> RoomEvent:
    room_id = unquote(callback_text(data, "room_id", max_length=512))
    user_id = unquote(callback_text(data, "user_account", max_length=512))
    for name, value in (("room_id", room_id), ("user_account", user_id)):
        # Checked again once decoded: %00 would otherwise smuggle in a control character.
        callback_text({name: value}, name, max_length=128)
    login = event == "room_login"
    time_field = "login_time" if login else "logout_time"
    at_ms = callback_integer(data, time_field, required=False)
    at_ms = sent_ms if at_ms is None else event_ms(at_ms, time_field)
    return RoomEvent(
        kind=RoomEvent.JOIN if login else RoomEvent.LEAVE,
        room_id=room_id,
        user_id=user_id,
        at_ms=at_ms,
        # room_seq tells apart two lives of one room id; session_id two logins of one user.
        delivery_key=delivery_key(
            "zego",
            event,
            room_id,
            callback_text(data, "room_seq", required=False),
            user_id,
            callback_text(data, "session_id", required=False),
            at_ms,
        ),
        vendor_event=event,
        reason=callback_text(data, "reason", required=False, max_length=32),
    )


def _stream_event(data: dict, event: str, sent_ms: int) -> RoomEvent:
    """stream_create / stream_close: who publishes which stream (`stream_alias`) in which room."""
    fields = {}
    # ZEGO names the room and the user twice; either name will do.
    data = {"room_id": data.get("channel_id"), "user_id": data.get("publish_id")} | {
        k: v for k, v in data.items() if v not in (None, "")
    }
    for name in ("room_id", "user_id", "stream_alias"):
        fields[name] = unquote(callback_text(data, name, max_length=1024))
        callback_text({name: fields[name]}, name, max_length=256 if name == "stream_alias" else 128)
    created = callback_integer(data, "create_time", required=False)
    created_ms = sent_ms if created is None else event_ms(created, "create_time")
    # A close is no older than the stream it closes, whichever time ZEGO puts in create_time.
    at_ms = created_ms if event == "stream_create" else max(created_ms, sent_ms)
    return RoomEvent(
        kind=RoomEvent.PUBLISH if event == "stream_create" else RoomEvent.UNPUBLISH,
        room_id=fields["room_id"],
        user_id=fields["user_id"],
        at_ms=at_ms,
        delivery_key=delivery_key(
            "zego",
            event,
            fields["room_id"],
            fields["stream_alias"],
            callback_text(data, "stream_sid", required=False),
            at_ms,
        ),
        vendor_event=event,
        reason=callback_text(data, "type", required=False, max_length=32),
        stream_id=fields["stream_alias"],
    )

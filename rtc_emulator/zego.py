"""ZEGO server API as the emulator answers it: GET, everything in the query, md5 signature 2.0;
SetForbidUserRule for apps registered with forbid_rules; room_login / room_logout callbacks.

Every answer is HTTP 200 with {"Code", "Message", "RequestId", "Data"}: the Code decides. Codes
are ZEGO's global return codes (vendors.md section 2; docs "Return codes", article 9811).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
import zlib
from urllib.parse import quote

from moderation.vendors import zego as signer

from .protocol import Draft, Failure, Request, Response, json_response, zego_request_id
from .rooms import SequenceError

VENDOR = "zego"
RATE_LIMITS = {
    "KickoutUser": 50,
    "CloseRoom": 1,
    "DescribeUsers": 10,
    "SetForbidUserRule": 10,
    "DelForbidUserRule": 10,
    "ForbidRTCStream": 20,
    "ResumeRTCStream": 20,
}
MAX_SKEW_SECONDS = 10 * 60
KICK_BATCH = 5
DESCRIBE_BATCH = 10
MAX_REASON_BYTES = 256
MAX_ROOM_ID_BYTES = 128
UINT32_MAX = 2**32 - 1

MAX_USER_ID_BYTES = 64
MAX_FORBID_SECONDS = 86400

SUCCESS = "0"
BAD_PARAMETER = "2"
NO_PERMISSION = "9"
TOO_LONG = "3"
ROOM_NOT_EXIST = "104"
APP_QPS_LIMITED = "206"
USER_LIST_TOO_LONG = "50011"


def check_app(app) -> None:
    if not _is_uint32(app.app_id):
        raise ValueError(f"a zego app_id is a uint32 number; got {app.app_id!r}")


def check_fault_status(status: int) -> None:
    if not 500 <= status <= 599:
        raise ValueError("zego 5xx faults answer an HTTP status from 500 to 599")


def describe(request: Request) -> Draft:
    params = _params(request)
    return Draft(
        vendor=VENDOR,
        action=str(params.get("Action", "")),
        app_id=str(params.get("AppId", "")),
        params={name: value for name, value in params.items() if name != "Signature"},
    )


def process(emu, request: Request, draft: Draft) -> Response:
    params = _params(request)
    _check_common_parameters(request, params)
    app = emu.app(VENDOR, params["AppId"])
    if app is None:
        raise Failure("100000010", "Failed to get ServerSecret.")
    _check_timestamp(params["Timestamp"], emu.clock())
    _check_signature(params, app.secret)
    if not emu.admit(app, draft.action):
        raise Failure(APP_QPS_LIMITED, "The app's request rate exceeds the limit.", throttled=True)
    data = ACTIONS[draft.action](emu, app, params)
    return _answer(SUCCESS, "success", data)


def render_failure(failure: Failure, draft: Draft) -> Response:
    return _answer(failure.code, failure.message, {}, throttled=failure.throttled)


def fault_response(fault, draft: Draft) -> Response:
    if fault.mode == "throttle":
        return _answer(APP_QPS_LIMITED, "The app's request rate exceeds the limit.", {}, True)
    # A failing ZEGO gateway answers with its proxy's plain-text page, not the JSON envelope.
    status = fault.status or 502
    return Response(
        status=status,
        body=f"{status} Bad Gateway\n".encode(),
        content_type="text/plain; charset=utf-8",
        ok=False,
    )


# ---- the gateway ---------------------------------------------------------------------------


def _params(request: Request) -> dict:
    """Query parameters; `Name[]` keys (arrays) collect every value in order."""
    params: dict = {}
    for name, value in request.query_pairs():
        if name.endswith("[]"):
            params.setdefault(name, []).append(value)
        else:
            params[name] = value
    return params


def _is_uint32(value: str) -> bool:
    return value.isdigit() and value.isascii() and 0 < int(value) <= UINT32_MAX


def _check_common_parameters(request: Request, params: dict) -> None:
    if request.method != "GET":
        raise Failure(BAD_PARAMETER, "Only GET is supported; put every parameter in the query.")
    action = params.get("Action", "")
    if not action:
        raise Failure("100000006", "Action is null.")
    if action not in ACTIONS:
        raise Failure("100000007", "Unsupported Action.")
    if not _is_uint32(params.get("AppId", "")):
        raise Failure("100000001", "Invalid AppId format.")
    if not params.get("SignatureNonce"):
        raise Failure("100000008", "SignatureNonce is null.")
    if not params.get("Timestamp"):
        raise Failure("100000002", "Timestamp is null.")
    if not params["Timestamp"].isdigit():
        raise Failure("100000003", "Invalid Timestamp format.")
    if not params.get("Signature"):
        raise Failure("100000009", "Signature is null.")
    if not params.get("SignatureVersion"):
        raise Failure("100000013", "SignatureVersion is null.")
    if params["SignatureVersion"] != "2.0":
        raise Failure("100000014", "Unsupported SignatureVersion.")


def _check_timestamp(timestamp: str, now: float) -> None:
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Failure("100000004", "Signature expired.")


def _check_signature(params: dict, server_secret: str) -> None:
    expected = signer.signature(
        app_id=params["AppId"],
        nonce=params["SignatureNonce"],
        server_secret=server_secret,
        timestamp=params["Timestamp"],
    )
    if not hmac.compare_digest(expected.encode(), params["Signature"].encode("utf-8")):
        raise Failure("100000005", "Invalid signature.")


# ---- parameters ----------------------------------------------------------------------------


def _room_id(app, rooms, params: dict) -> str:
    room_id = params.get("RoomId", "")
    if not room_id:
        raise Failure(BAD_PARAMETER, "RoomId is required.")
    if len(room_id.encode("utf-8")) > MAX_ROOM_ID_BYTES:
        raise Failure(TOO_LONG, f"RoomId is longer than {MAX_ROOM_ID_BYTES} bytes.")
    # Only apps registered with strict_rooms know "nonexistent" rooms; ordinary kicks succeed.
    if app.strict_rooms and not rooms.has_seen(room_id):
        raise Failure(ROOM_NOT_EXIST, "The room does not exist.")
    return room_id


def _user_ids(params: dict, limit: int) -> list[str]:
    user_ids = params.get("UserId[]", [])
    if not user_ids or not all(user_ids):
        raise Failure(BAD_PARAMETER, "UserId[] is required: UserId[]=a&UserId[]=b.")
    if len(user_ids) > limit:
        raise Failure(USER_LIST_TOO_LONG, f"The user list is longer than {limit}.")
    return user_ids


def _check_reason(params: dict) -> None:
    if len(params.get("CustomReason", "").encode("utf-8")) > MAX_REASON_BYTES:
        raise Failure(TOO_LONG, f"CustomReason is longer than {MAX_REASON_BYTES} bytes.")


# ---- actions -------------------------------------------------------------------------------


def _kickout_user(emu, app, params: dict) -> dict:
    rooms = emu.rooms_of(VENDOR, app.app_id)
    user_ids = _user_ids(params, KICK_BATCH)
    _check_reason(params)
    rooms.kick(_room_id(app, rooms, params), user_ids)
    return {}


def _close_room(emu, app, params: dict) -> dict:
    rooms = emu.rooms_of(VENDOR, app.app_id)
    _check_reason(params)
    rooms.close(_room_id(app, rooms, params))
    return {}


def _describe_users(emu, app, params: dict) -> dict:
    rooms = emu.rooms_of(VENDOR, app.app_id)
    user_ids = _user_ids(params, DESCRIBE_BATCH)
    members = rooms.members(_room_id(app, rooms, params))
    # Status 1: in the room; 2: not in it.
    return {
        "UserStatusList": [
            {"UserId": user_id, "Status": 1 if user_id in members else 2} for user_id in user_ids
        ]
    }


def _rule_key(params: dict) -> tuple[str | None, str | None]:
    """(room, user) a rule names: RuleType 2 a room, 3 a user, 4 both (1, IP, is not emulated)."""
    rule_type = params.get("RuleType", "")
    if rule_type not in ("1", "2", "3", "4"):
        raise Failure(BAD_PARAMETER, "RuleType must be 1, 2, 3 or 4.")
    if rule_type == "1":
        raise Failure(BAD_PARAMETER, "The emulator does not emulate IP rules (RuleType 1).")
    room_id = params.get("RoomId", "") if rule_type in ("2", "4") else None
    user_id = params.get("UserId", "") if rule_type in ("3", "4") else None
    if room_id == "":
        raise Failure(BAD_PARAMETER, "RoomId is required for RuleType 2 and 4.")
    if user_id == "":
        raise Failure(BAD_PARAMETER, "UserId is required for RuleType 3 and 4.")
    if room_id is not None and len(room_id.encode("utf-8")) > MAX_ROOM_ID_BYTES:
        raise Failure(TOO_LONG, f"RoomId is longer than {MAX_ROOM_ID_BYTES} bytes.")
    if user_id is not None and len(user_id.encode("utf-8")) > MAX_USER_ID_BYTES:
        raise Failure(TOO_LONG, f"UserId is longer than {MAX_USER_ID_BYTES} bytes.")
    return room_id, user_id


def _require_forbid_rules(app) -> None:
    # User ban rules exist only where ZEGO support enabled them for the account.
    if not app.forbid_rules:
        raise Failure(NO_PERMISSION, "No permission: user ban rules are not enabled for this app.")


def _set_forbid_user_rule(emu, app, params: dict) -> dict:
    _require_forbid_rules(app)
    key = _rule_key(params)
    privileges = params.get("DisabledPrivilege[]", [])
    if not privileges or not set(privileges) <= {"1", "2"}:
        raise Failure(BAD_PARAMETER, "DisabledPrivilege[] must list 1 (login) and/or 2 (publish).")
    seconds = params.get("EffectiveTime", "")
    if not seconds.isdigit() or not 1 <= int(seconds) <= MAX_FORBID_SECONDS:
        raise Failure(BAD_PARAMETER, f"EffectiveTime must be 1 to {MAX_FORBID_SECONDS} seconds.")
    rooms = emu.rooms_of(VENDOR, app.app_id)
    if "1" in privileges:
        # Refuses the next login only: whoever is inside stays until kicked.
        rooms.forbid_rules[key] = emu.clock() + int(seconds)
    return {}


def _del_forbid_user_rule(emu, app, params: dict) -> dict:
    _require_forbid_rules(app)
    emu.rooms_of(VENDOR, app.app_id).forbid_rules.pop(_rule_key(params), None)
    return {}


def _stream_call(emu, app, params: dict, *, forbid: bool) -> dict:
    """ForbidRTCStream / ResumeRTCStream; the id may name a stream not published yet."""
    if not app.stream_control:
        raise Failure(NO_PERMISSION, "No permission: stream control is not enabled for this app.")
    stream_id = params.get("StreamId", "")
    sequence = params.get("Sequence", "")
    if not stream_id:
        raise Failure(BAD_PARAMETER, "StreamId is required.")
    if not sequence.isdigit():
        raise Failure(BAD_PARAMETER, "Sequence must be a whole number.")
    try:
        emu.rooms_of(VENDOR, app.app_id).call_stream(stream_id, int(sequence), forbid=forbid)
    except SequenceError as exc:
        raise Failure(BAD_PARAMETER, f"{exc}: Sequence must increase for each call.") from None
    return {}


def _forbid_rtc_stream(emu, app, params: dict) -> dict:
    return _stream_call(emu, app, params, forbid=True)


def _resume_rtc_stream(emu, app, params: dict) -> dict:
    return _stream_call(emu, app, params, forbid=False)


ACTIONS = {
    "ForbidRTCStream": _forbid_rtc_stream,
    "ResumeRTCStream": _resume_rtc_stream,
    "KickoutUser": _kickout_user,
    "CloseRoom": _close_room,
    "DescribeUsers": _describe_users,
    "SetForbidUserRule": _set_forbid_user_rule,
    "DelForbidUserRule": _del_forbid_user_rule,
}


def _answer(code: str, message: str, data: dict, throttled: bool = False) -> Response:
    request_id = zego_request_id()
    payload = {"Code": int(code), "Message": message, "RequestId": request_id, "Data": data}
    return json_response(
        200,
        payload,
        ok=code == SUCCESS,
        code=code,
        request_id=request_id,
        throttled=throttled,
    )


# ---- room callbacks ------------------------------------------------------------------------
# A JSON body whose values are URL-encoded ("you need to decode it with UrlDecode"), signed
# with sha1 over the sorted callback secret, timestamp and nonce. logout reason 3: kicked by the
# server API.


def callback(app, change) -> tuple[dict[str, str], bytes]:
    if change.kind in ("stream_create", "stream_close"):
        return _stream_callback(app, change)
    timestamp = str(int(time.time()))
    nonce = str(secrets.randbelow(10**6))
    at_ms = str(int(change.at * 1000))
    data = {
        "appid": app.app_id,
        "event": "room_login" if change.kind == "join" else "room_logout",
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": signer.callback_signature(
            secret=app.callback_secret, timestamp=timestamp, nonce=nonce
        ),
        "room_id": quote(change.room_id, safe=""),
        "room_name": quote(change.room_id, safe=""),
        # One life of the room; the emulator's rooms never end, so one per room id.
        "room_seq": str(zlib.crc32(change.room_id.encode("utf-8"))),
        "user_account": quote(change.user_id, safe=""),
        "user_nickname": quote(change.user_id, safe=""),
        "session_id": str(secrets.randbelow(10**9)),
        "user_role": "2",
    }
    if change.kind == "join":
        data["login_time"] = at_ms
    else:
        data["logout_time"] = at_ms
        data["reason"] = "0" if change.reason == "left" else "3"
    return {"Content-Type": "application/json"}, json.dumps(data).encode("utf-8")


# Stream callbacks: which user publishes which stream. `stream_alias` is the client's StreamID,
# the id ForbidRTCStream takes; close `type` 0 normal, 3 kicked (as ZEGO numbers them).


def _stream_callback(app, change) -> tuple[dict[str, str], bytes]:
    timestamp = str(int(time.time()))
    nonce = str(secrets.randbelow(10**6))
    data = {
        "appid": app.app_id,
        "event": change.kind,
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": signer.callback_signature(
            secret=app.callback_secret, timestamp=timestamp, nonce=nonce
        ),
        "room_id": quote(change.room_id, safe=""),
        "channel_id": quote(change.room_id, safe=""),
        "user_id": quote(change.user_id, safe=""),
        "publish_id": quote(change.user_id, safe=""),
        "stream_alias": quote(change.stream_id, safe=""),
        "stream_sid": "s-" + str(zlib.crc32(change.stream_id.encode("utf-8"))),
        "create_time": str(int(change.at * 1000)),
    }
    if change.kind == "stream_close":
        data["type"] = "3" if change.reason == "kicked" else "0"
    return {"Content-Type": "application/json"}, json.dumps(data).encode("utf-8")

"""Tencent Cloud TRTC API 3.0 (2019-07-22) as the emulator answers it: TC3-HMAC-SHA256, POST JSON.

Every answer is HTTP 200 with {"Response": {..., "RequestId"}}; a failure adds "Error". Codes are
the API 3.0 common codes and the RemoveUser page's own (vendors.md section 3).
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from urllib.parse import urlsplit

from moderation.vendors import tencent as signer

from .protocol import Draft, Failure, Request, Response, json_response, tencent_request_id

VENDOR = "tencent"
SERVICE = "trtc"
VERSION = "2019-07-22"
REGIONS = ("ap-beijing", "ap-guangzhou", "ap-singapore")
RATE_LIMITS = {
    "SetUserBlocked": 20,
    "SetUserBlockedByStrRoomId": 20,
    "RemoveUser": 20,
    "RemoveUserByStrRoomId": 20,
    "DismissRoom": 20,
    "DismissRoomByStrRoomId": 20,
}
MAX_SKEW_SECONDS = 5 * 60
USER_BATCH = 10
MAX_ROOM_NUMBER = 4294967294  # numeric rooms: 1 .. 2^32 - 2
# String rooms: at most 64 bytes of letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~,
STR_ROOM_ID = re.compile(r"[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,64}")
SIGNED_HEADERS = "content-type;host"
# Exactly this, without a charset: the official SDK reads Response.Error only from an answer
# whose Content-Type equals "application/json" (abstract_client._check_error) and would take
# any other refusal for a success.
CONTENT_TYPE = "application/json"
AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)"
)
SIGNATURE_FAILURE = (
    "AuthFailure.SignatureFailure",
    "The provided credentials could not be validated. Please check your signature is correct.",
)
THROTTLED = ("RequestLimitExceeded", "Your current request rate is too high. Please retry later.")


def check_app(app) -> None:
    if not app.app_id.isdigit():
        raise ValueError(f"a tencent app_id is the numeric SdkAppId; got {app.app_id!r}")
    if not app.access_key_id:
        raise ValueError("a tencent app needs access_key_id (the SecretId)")


def check_fault_status(status: int) -> None:
    raise ValueError("tencent answers InternalError inside HTTP 200: its faults take no status")


def describe(request: Request) -> Draft:
    body = request.json_body()
    params = body if isinstance(body, dict) else {}
    sdk_app_id = params.get("SdkAppId")
    return Draft(
        vendor=VENDOR,
        action=request.header("X-TC-Action"),
        app_id=str(sdk_app_id) if _is_integer(sdk_app_id) else "",
        params=params,
    )


def process(emu, request: Request, draft: Draft) -> Response:
    _check_route(request, draft)
    apps = _authenticate(emu, request)
    _check_region(request.header("X-TC-Region"))
    app = _app_for(emu, apps, request)
    if not emu.admit(app, draft.action):
        raise Failure(*THROTTLED, throttled=True)
    ACTIONS[draft.action](emu, app, draft.params)
    request_id = tencent_request_id()
    return json_response(
        200,
        {"Response": {"RequestId": request_id}},
        content_type=CONTENT_TYPE,
        request_id=request_id,
    )


def render_failure(failure: Failure, draft: Draft) -> Response:
    request_id = tencent_request_id()
    payload = {
        "Response": {
            "Error": {"Code": failure.code, "Message": failure.message},
            "RequestId": request_id,
        }
    }
    return json_response(
        200,
        payload,
        content_type=CONTENT_TYPE,
        ok=False,
        code=failure.code,
        request_id=request_id,
        throttled=failure.throttled,
    )


def fault_response(fault, draft: Draft) -> Response:
    if fault.mode == "throttle":
        return render_failure(Failure(*THROTTLED, throttled=True), draft)
    return render_failure(Failure("InternalError", "Internal error."), draft)


# ---- the gateway ---------------------------------------------------------------------------


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _missing(name: str) -> Failure:
    return Failure("MissingParameter", f"The request is missing a required parameter `{name}`.")


def _check_route(request: Request, draft: Draft) -> None:
    if request.method != "POST":
        raise Failure("InvalidParameter", "The emulator takes POST with a JSON body only.")
    if not draft.action:
        raise _missing("Action")
    if draft.action not in ACTIONS:
        raise Failure("InvalidAction", f"The action {draft.action} does not exist.")
    version = request.header("X-TC-Version")
    if not version:
        raise _missing("Version")
    if version != VERSION:
        raise Failure("NoSuchVersion", f"The API version {version} does not exist.")


def _authenticate(emu, request: Request) -> list:
    """Recompute TC3-HMAC-SHA256 from what arrived; returns the apps of the SecretId."""
    match = AUTHORIZATION.fullmatch(request.header("Authorization").strip())
    if match is None:
        raise Failure("AuthFailure.InvalidAuthorization", "Authorization header is invalid.")
    timestamp = request.header("X-TC-Timestamp")
    if not timestamp:
        raise _missing("Timestamp")
    if not timestamp.isdigit():
        raise Failure("InvalidParameter", "X-TC-Timestamp must be a Unix time in seconds.")
    secret_id = match["credential"].split("/")[0]
    apps = emu.apps_with_key(VENDOR, secret_id)
    if not apps:
        raise Failure("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    if abs(emu.clock() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Failure(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time cannot differ by more than five minutes.",
        )
    _check_signature(request, match, secret_id, apps[0].secret, int(timestamp))
    return apps


def _check_signature(request: Request, match, secret_id: str, secret_key: str, timestamp: int):
    # Our signer covers exactly content-type;host, as the official SDK signs; another list
    # cannot be recomputed here, so it is refused (a limit of the emulator, not of the vendor).
    if match["signed_headers"] != SIGNED_HEADERS:
        raise Failure(*SIGNATURE_FAILURE)
    expected = signer.sign(
        secret_id=secret_id,
        secret_key=secret_key,
        host=request.header("Host"),
        content_type=request.header("Content-Type"),
        body=request.body,
        timestamp=timestamp,
        service=SERVICE,
        method=request.method,
        path=urlsplit(request.target).path,
        query=request.raw_query,
    )
    computed = AUTHORIZATION.fullmatch(expected)
    same_credential = computed["credential"] == match["credential"]
    same_signature = hmac.compare_digest(computed["signature"], match["signature"].lower())
    if not (same_credential and same_signature):
        raise Failure(*SIGNATURE_FAILURE)


def _check_region(region: str) -> None:
    if not region:
        raise _missing("Region")
    if region not in REGIONS:
        raise Failure(
            "UnsupportedRegion",
            f"The region {region} is not supported; this API supports {', '.join(REGIONS)}.",
        )


def _app_for(emu, apps: list, request: Request):
    body = request.json_body()
    if not isinstance(body, dict):
        raise Failure("InvalidParameter", "The request body must be a JSON object.")
    sdk_app_id = body.get("SdkAppId")
    if sdk_app_id is None:
        raise Failure("MissingParameter.SdkAppId", "SdkAppId is missing.")
    if not _is_integer(sdk_app_id):
        raise Failure("InvalidParameter.SdkAppId", "SdkAppId must be an integer.")
    for app in apps:
        if app.app_id == str(sdk_app_id):
            return app
    if emu.app(VENDOR, str(sdk_app_id)) is not None:
        raise Failure("UnauthorizedOperation.SdkAppId", "No permission to manipulate SdkAppId.")
    raise Failure("FailedOperation.SdkAppIdNotExist", f"SdkAppId {sdk_app_id} does not exist.")


# ---- parameters ----------------------------------------------------------------------------


def _numeric_room(params: dict) -> str:
    room_id = params.get("RoomId")
    if room_id is None:
        raise Failure("MissingParameter.RoomId", "RoomId is missing.")
    if not _is_integer(room_id) or not 1 <= room_id <= MAX_ROOM_NUMBER:
        raise Failure(
            "InvalidParameter.RoomId",
            f"RoomId must be an integer from 1 to {MAX_ROOM_NUMBER}; use the ByStrRoomId action "
            "for string room ids.",
        )
    return str(room_id)


def _string_room(params: dict) -> str:
    room_id = params.get("RoomId")
    if room_id is None or room_id == "":
        raise Failure("MissingParameter.RoomId", "RoomId is missing.")
    if not isinstance(room_id, str) or not STR_ROOM_ID.fullmatch(room_id):
        raise Failure("InvalidParameter.RoomId", "RoomId must be a string room id of 1-64 bytes.")
    return room_id


def _user_ids(params: dict) -> list[str]:
    user_ids = params.get("UserIds")
    if user_ids is None:
        raise Failure("MissingParameter.UserIds", "UserIds is missing.")
    valid = isinstance(user_ids, list) and all(isinstance(u, str) and u for u in user_ids)
    if not valid or not 1 <= len(user_ids) <= USER_BATCH:
        raise Failure("InvalidParameter.UserIds", f"UserIds must list 1 to {USER_BATCH} user ids.")
    return user_ids


def _existing_room(emu, app, room_id: str):
    rooms = emu.rooms_of(VENDOR, app.app_id)
    # Only apps registered with strict_rooms know "nonexistent" rooms; ordinary kicks succeed.
    if app.strict_rooms and not rooms.has_seen(room_id):
        raise Failure("FailedOperation.RoomNotExist", "The room does not exist.")
    return rooms


# ---- actions -------------------------------------------------------------------------------
# Numeric and string room ids share one namespace here: room 1234 and room "1234" are the same
# room in the emulator, though TRTC keeps them apart.


def _remove_user(emu, app, params: dict) -> None:
    room_id = _numeric_room(params)
    user_ids = _user_ids(params)
    _existing_room(emu, app, room_id).kick(room_id, user_ids)


def _remove_user_by_str_room_id(emu, app, params: dict) -> None:
    room_id = _string_room(params)
    user_ids = _user_ids(params)
    _existing_room(emu, app, room_id).kick(room_id, user_ids)


def _dismiss_room(emu, app, params: dict) -> None:
    room_id = _numeric_room(params)
    _existing_room(emu, app, room_id).close(room_id)


def _dismiss_room_by_str_room_id(emu, app, params: dict) -> None:
    room_id = _string_room(params)
    _existing_room(emu, app, room_id).close(room_id)


def _user_id(params: dict) -> str:
    user_id = params.get("UserId")
    if not isinstance(user_id, str) or not user_id:
        raise Failure("MissingParameter.UserId", "UserId is missing.")
    return user_id


def _set_blocked(emu, app, room_id: str, params: dict) -> None:
    """IsMute 1 stops audio and video, 2 audio, 3 video; 0 lets the user publish again."""
    user_id = _user_id(params)
    is_mute = params.get("IsMute")
    if not _is_integer(is_mute) or is_mute not in (0, 1, 2, 3):
        raise Failure("InvalidParameter.IsMute", "IsMute must be 0, 1, 2 or 3.")
    rooms = _existing_room(emu, app, room_id)
    if is_mute == 0:
        rooms.unmute(room_id, user_id, audio=True, video=True)
    else:
        # Untimed: the user stays muted until IsMute 0.
        rooms.mute(room_id, user_id, audio=is_mute in (1, 2), video=is_mute in (1, 3), ends_at=None)


def _set_user_blocked(emu, app, params: dict) -> None:
    _set_blocked(emu, app, _numeric_room(params), params)


def _set_user_blocked_by_str_room_id(emu, app, params: dict) -> None:
    room_id = params.get("StrRoomId")
    if not isinstance(room_id, str) or not STR_ROOM_ID.fullmatch(room_id):
        raise Failure("InvalidParameter.StrRoomId", "StrRoomId must be a string room id.")
    _set_blocked(emu, app, room_id, params)


ACTIONS = {
    "SetUserBlocked": _set_user_blocked,
    "SetUserBlockedByStrRoomId": _set_user_blocked_by_str_room_id,
    "RemoveUser": _remove_user,
    "RemoveUserByStrRoomId": _remove_user_by_str_room_id,
    "DismissRoom": _dismiss_room,
    "DismissRoomByStrRoomId": _dismiss_room_by_str_room_id,
}


# ---- room callbacks ------------------------------------------------------------------------
# Room event group 1: 103 enter, 104 exit; headers Sign (base64 HMAC-SHA256 of the body) and
# SdkAppId. Exit reasons: 1 normal, 3 removed, 4 room dismissed (UNCONFIRMED numbering).

EXIT_REASONS = {"left": 1, "kicked": 3, "room closed": 4}


def callback(app, change) -> tuple[dict[str, str], bytes]:
    room_id = change.room_id
    numeric = room_id.isdigit() and str(int(room_id)) == room_id
    info = {
        "RoomId": int(room_id) if numeric and 1 <= int(room_id) <= MAX_ROOM_NUMBER else room_id,
        "EventTs": int(change.at),
        "EventMsTs": int(change.at * 1000),
        "UserId": change.user_id,
        "UniqueId": secrets.randbelow(10**15),
        "Role": 20,
    }
    if change.kind == "join":
        info.update({"TerminalType": 3, "UserType": 3, "Reason": 1})
    else:
        info["Reason"] = EXIT_REASONS.get(change.reason, 1)
    body = json.dumps(
        {
            "EventGroupId": 1,
            "EventType": 103 if change.kind == "join" else 104,
            "CallbackTs": int(time.time() * 1000),
            "EventInfo": info,
        }
    ).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "Sign": signer.callback_signature(secret=app.callback_secret, body=body),
        "SdkAppId": app.app_id,
    }
    return headers, body

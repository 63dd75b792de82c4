"""ZEGO server API as the emulator answers it: GET, everything in the query, md5 signature 2.0.

Every answer is HTTP 200 with {"Code", "Message", "RequestId", "Data"}: the Code decides. Codes
are ZEGO's global return codes (vendors.md section 2; docs "Return codes", article 9811).
"""

from __future__ import annotations

import hmac

from moderation.vendors import zego as signer

from .protocol import Draft, Failure, Request, Response, json_response, zego_request_id

VENDOR = "zego"
RATE_LIMITS = {"KickoutUser": 50, "CloseRoom": 1, "DescribeUsers": 10}
MAX_SKEW_SECONDS = 10 * 60
KICK_BATCH = 5
DESCRIBE_BATCH = 10
MAX_REASON_BYTES = 256
MAX_ROOM_ID_BYTES = 128
UINT32_MAX = 2**32 - 1

SUCCESS = "0"
BAD_PARAMETER = "2"
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


ACTIONS = {
    "KickoutUser": _kickout_user,
    "CloseRoom": _close_room,
    "DescribeUsers": _describe_users,
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

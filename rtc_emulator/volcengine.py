"""Volcengine RTC OpenAPI as the emulator answers it: V4 signatures, the ResponseMetadata envelope.

Codes and HTTP statuses follow the vendor's common error table (docs 6369/68677 and 6396/70462)
and /work/shared/vendors.md; where the vendor puts an error, so does this: inside ResponseMetadata.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import UTC, datetime

from moderation.vendors import volcengine as signer

from .protocol import Draft, Failure, Request, Response, json_response, volcengine_request_id

VENDOR = "volcengine"
SERVICE = "rtc"
VERSIONS = {
    "BanRoomUser": "2023-11-01",
    "UpdateBanRoomUserRule": "2023-11-01",
    "KickUser": "2020-12-01",
    "DismissRoom": "2020-12-01",
    "BanUserStream": "2023-11-01",
    "UnbanUserStream": "2023-11-01",
}
RATE_LIMITS = {
    "BanRoomUser": 20,
    "UpdateBanRoomUserRule": 20,
    "KickUser": 60,
    "DismissRoom": 60,
    "BanUserStream": 60,
    "UnbanUserStream": 60,
}
REGIONS = ("cn-north-1", "ap-singapore-1")
DEFAULT_REGION = "cn-north-1"
# The skew the gateway tolerates is not documented (UNCONFIRMED); 15 minutes, as in AWS SigV4.
MAX_SKEW_SECONDS = 15 * 60
MIN_BAN_SECONDS, MAX_BAN_SECONDS = 10, 604800
MUTE_SECONDS = (60, 259_200)  # BanUserStream: 0 (until unbanned) or within these
REQUIRED_SIGNED_HEADERS = ("content-type", "host", "x-content-sha256", "x-date")
# Room and user ids: at most 128 of a-z, A-Z, 0-9, @ . _ - (the RTC SDK's rule).
IDENTIFIER = re.compile(r"[A-Za-z0-9@._-]{1,128}")
AUTHORIZATION = re.compile(
    r"HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)"
)

# Code -> (HTTP status, CodeN). CodeN comes from the common error table where it lists one; the
# 9999xx values are the emulator's placeholders (UNCONFIRMED): the product must key on Code only.
ERRORS = {
    "MissingParameter": (400, 100002),
    "MissingRequestInfo": (400, 100004),
    "InvalidTimestamp": (403, 100006),
    "InvalidActionOrVersion": (404, 100008),
    "InvalidAccessKey": (401, 100009),
    "SignatureDoesNotMatch": (401, 100010),
    "InternalError": (500, 100014),
    "InternalServiceTimeout": (504, 100016),
    "ServiceUnavailableTemp": (503, 999503),
    "FlowLimitExceeded.QPSOverLimit": (429, 999429),
    "MissingAuthenticationToken": (401, 999401),
    "InvalidAuthorization": (400, 999400),
    "InvalidCredential": (400, 999401),
    "MethodNotAllowed": (405, 999405),
    "InvalidParameter": (400, 999001),
    "InvalidParameter.IllegalRoomID": (400, 999002),
    "InvalidParameter.NotExistAppId": (400, 999003),
    "AccessDenied.NoPermissionForApp": (403, 999004),
}
FAULT_CODES = {
    500: ("InternalError", "Service has some internal Error. Pls Contact With Admin."),
    503: ("ServiceUnavailableTemp", "Service is temporarily unavailable. Please retry later."),
    504: ("InternalServiceTimeout", "Internal Service is timeout. Pls Contact With Admin."),
}


def check_app(app) -> None:
    if not app.access_key_id:
        raise ValueError("a volcengine app needs access_key_id (the account's AccessKeyId)")


def check_fault_status(status: int) -> None:
    if status not in FAULT_CODES:
        raise ValueError(f"volcengine 5xx faults answer one of {sorted(FAULT_CODES)}")


def describe(request: Request) -> Draft:
    query = request.query()
    body = request.json_body()
    params = body if isinstance(body, dict) else {}
    app_id = params.get("AppId")
    return Draft(
        vendor=VENDOR,
        action=query.get("Action", ""),
        app_id=app_id if isinstance(app_id, str) else "",
        params=params,
        extra={"Version": query.get("Version", ""), "Region": _claimed_region(request)},
    )


def process(emu, request: Request, draft: Draft) -> Response:
    _check_route(request, draft)
    apps = _authenticate(emu, request)
    app = _app_for(emu, apps, request)
    if not emu.admit(app, draft.action):
        raise Failure(
            "FlowLimitExceeded.QPSOverLimit",
            f"The QPS of {draft.action} exceeds the limit of {app.rate_limits[draft.action]}.",
            throttled=True,
        )
    result = ACTIONS[draft.action](emu, app, draft.params)
    return _success(draft, result)


def render_failure(failure: Failure, draft: Draft) -> Response:
    status, code_n = ERRORS[failure.code]
    request_id = volcengine_request_id()
    metadata = {
        **_metadata(draft, request_id),
        "Error": {"Code": failure.code, "CodeN": code_n, "Message": failure.message},
    }
    return json_response(
        failure.status or status,
        {"ResponseMetadata": metadata},
        ok=False,
        code=failure.code,
        request_id=request_id,
        throttled=failure.throttled,
    )


def fault_response(fault, draft: Draft) -> Response:
    if fault.mode == "throttle":
        failure = Failure(
            "FlowLimitExceeded.QPSOverLimit", "The QPS exceeds the limit.", throttled=True
        )
    else:
        status = fault.status or 500
        failure = Failure(*FAULT_CODES[status], status=status)
    return render_failure(failure, draft)


# ---- the gateway ---------------------------------------------------------------------------


def _check_route(request: Request, draft: Draft) -> None:
    if request.method != "POST":
        raise Failure("MethodNotAllowed", f"Http method {request.method} is not allowed.")
    for name, value in (("Action", draft.action), ("Version", draft.extra["Version"])):
        if not value:
            raise Failure("MissingParameter", f"The request is missing {name} parameter.")
    if VERSIONS.get(draft.action) != draft.extra["Version"]:
        raise Failure(
            "InvalidActionOrVersion",
            f"Could not find operation {draft.action} for version {draft.extra['Version']}.",
        )


def _claimed_region(request: Request) -> str:
    match = AUTHORIZATION.match(request.header("Authorization"))
    parts = match["credential"].split("/") if match else []
    return parts[2] if len(parts) == 5 and parts[2] in REGIONS else DEFAULT_REGION


def _authenticate(emu, request: Request) -> list:
    """Recompute the V4 signature from what arrived; returns the apps of the access key."""
    authorization = request.header("Authorization")
    if not authorization:
        raise Failure("MissingAuthenticationToken", "Request is missing Authentication Token.")
    match = AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        raise Failure("InvalidAuthorization", "Invalid 'Authorization' header.")
    access_key_id, region = _credential(match["credential"])
    x_date = request.header("X-Date")
    if not x_date:
        raise Failure("MissingRequestInfo", "The request is missing X-Date information.")
    _check_x_date(x_date, emu.clock())
    apps = emu.apps_with_key(VENDOR, access_key_id)
    if not apps:
        message = f"The accesskey [{access_key_id}] included in the request is invalid."
        raise Failure("InvalidAccessKey", message)
    _check_signature(request, match, access_key_id, apps[0].secret, region, x_date)
    return apps


def _credential(credential: str) -> tuple[str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "request":
        raise Failure("InvalidCredential", "Invalid credential in 'Authorization'.")
    # Regions are checked before the key: the region picks the gateway that knows the key.
    # A region RTC does not serve gets InvalidCredential here (the vendor's exact code for this
    # case is UNCONFIRMED).
    if parts[2] not in REGIONS:
        raise Failure(
            "InvalidCredential",
            f"Invalid credential in 'Authorization': region {parts[2]!r} is not one of "
            f"{', '.join(REGIONS)}.",
        )
    return parts[0], parts[2]


def _check_x_date(x_date: str, now: float) -> None:
    try:
        signed_at = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        signed_at = None
    if signed_at is None or abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise Failure("InvalidTimestamp", "The Signature of the request is expired.")


def _check_signature(request, match, access_key_id, secret, region, x_date) -> None:
    signed_names = match["signed_headers"].split(";")
    mismatch = Failure(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your Secret Access Key and signing method.",
    )
    if any(name not in signed_names for name in REQUIRED_SIGNED_HEADERS):
        raise mismatch
    headers = {}
    for name in signed_names:
        if name not in request.headers:
            raise mismatch
        # Host, X-Date and X-Content-Sha256 the signer takes from its own arguments.
        if name not in ("host", "x-date", "x-content-sha256"):
            headers[name] = request.headers[name]
    expected = signer.sign(
        method=request.method,
        host=request.header("Host"),
        path=request.path,
        query=request.query(),
        headers=headers,
        body=request.body,
        access_key_id=access_key_id,
        secret_access_key=secret,
        region=region,
        x_date=x_date,
        service=SERVICE,
    )
    computed = AUTHORIZATION.fullmatch(expected["Authorization"])
    same_headers = computed["signed_headers"] == match["signed_headers"]
    same_credential = computed["credential"] == match["credential"]
    same_signature = hmac.compare_digest(computed["signature"], match["signature"].lower())
    if not (same_headers and same_credential and same_signature):
        raise mismatch


def _app_for(emu, apps: list, request: Request):
    body = request.json_body()
    if not isinstance(body, dict):
        raise Failure("InvalidParameter", "The request body must be a JSON object.")
    app_id = body.get("AppId")
    if app_id in (None, ""):
        raise Failure("MissingParameter", "The request is missing AppId parameter.")
    if not isinstance(app_id, str):
        raise Failure("InvalidParameter", "AppId must be a string.")
    for app in apps:
        if app.app_id == app_id:
            return app
    if emu.app(VENDOR, app_id) is not None:
        raise Failure(
            "AccessDenied.NoPermissionForApp", f"The access key has no permission for {app_id}."
        )
    raise Failure("InvalidParameter.NotExistAppId", f"AppId {app_id} does not exist.")


# ---- parameters ----------------------------------------------------------------------------


def _identifier(params: dict, name: str, *, required: bool) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise Failure("MissingParameter", f"The request is missing {name} parameter.")
        return None
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        code = "InvalidParameter.IllegalRoomID" if name == "RoomId" else "InvalidParameter"
        raise Failure(code, f"{name} must be 1-128 of a-z, A-Z, 0-9, @ . _ -; got {value!r}.")
    return value


def _target(params: dict) -> tuple[str | None, str | None]:
    room_id = _identifier(params, "RoomId", required=False)
    user_id = _identifier(params, "UserId", required=False)
    if room_id is None and user_id is None:
        raise Failure("MissingParameter", "The request is missing RoomId or UserId parameter.")
    return room_id, user_id


def _interval(params: dict, *, required: bool) -> int:
    """ForbiddenInterval as the vendor applies it: {0, [10, 604800]}, clamped, never negative."""
    value = params.get("ForbiddenInterval")
    if value is None:
        if required:
            raise Failure("MissingParameter", "The request is missing ForbiddenInterval parameter.")
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Failure(
            "InvalidParameter",
            f"ForbiddenInterval must be a non-negative integer number of seconds; got {value!r}.",
        )
    if value == 0:
        return 0
    return min(max(value, MIN_BAN_SECONDS), MAX_BAN_SECONDS)


# ---- actions -------------------------------------------------------------------------------


def _ban_room_user(emu, app, params: dict) -> dict:
    room_id, user_id = _target(params)
    interval = _interval(params, required=False)
    rooms = emu.rooms_of(VENDOR, app.app_id)
    rooms.remove_targets(room_id, user_id)
    # 0 only kicks: an existing ban on the same target stays (UpdateBanRoomUserRule lifts it).
    if interval:
        rooms.set_ban(room_id, user_id, emu.clock() + interval)
    return {"Message": "success"}


def _update_ban_room_user_rule(emu, app, params: dict) -> dict:
    room_id, user_id = _target(params)
    interval = _interval(params, required=True)
    rooms = emu.rooms_of(VENDOR, app.app_id)
    if interval == 0:
        rooms.lift_ban(room_id, user_id)
    else:
        rooms.set_ban(room_id, user_id, emu.clock() + interval)
    return {"Message": "success"}


def _kick_user(emu, app, params: dict) -> dict:
    room_id = _identifier(params, "RoomId", required=True)
    user_id = _identifier(params, "UserId", required=True)
    emu.rooms_of(VENDOR, app.app_id).leave(room_id, user_id, "kicked")
    return {"message": "success"}


def _dismiss_room(emu, app, params: dict) -> dict:
    room_id = _identifier(params, "RoomId", required=True)
    emu.rooms_of(VENDOR, app.app_id).close(room_id)
    return {"message": "success"}


def _media(params: dict) -> tuple[bool, bool]:
    audio, video = params.get("Audio", False), params.get("Video", False)
    if not isinstance(audio, bool) or not isinstance(video, bool) or not (audio or video):
        raise Failure("InvalidParameter", "Audio and Video are booleans, at least one true.")
    return audio, video


def _ban_user_stream(emu, app, params: dict) -> dict:
    """Stops a user's audio and/or video: for ForbiddenInterval seconds, or 0 until unbanned."""
    room_id = _identifier(params, "RoomId", required=True)
    user_id = _identifier(params, "UserId", required=True)
    audio, video = _media(params)
    seconds = params.get("ForbiddenInterval", 0)
    low, high = MUTE_SECONDS
    valid = isinstance(seconds, int) and not isinstance(seconds, bool)
    if not valid or not (seconds == 0 or low <= seconds <= high):
        raise Failure(
            "InvalidParameter", f"ForbiddenInterval must be 0 or {low} to {high}; got {seconds!r}."
        )
    ends_at = emu.clock() + seconds if seconds else None
    emu.rooms_of(VENDOR, app.app_id).mute(
        room_id, user_id, audio=audio, video=video, ends_at=ends_at
    )
    return {"Message": "success"}


def _unban_user_stream(emu, app, params: dict) -> dict:
    room_id = _identifier(params, "RoomId", required=True)
    user_id = _identifier(params, "UserId", required=True)
    audio, video = _media(params)
    emu.rooms_of(VENDOR, app.app_id).unmute(room_id, user_id, audio=audio, video=video)
    return {"Message": "success"}


ACTIONS = {
    "BanUserStream": _ban_user_stream,
    "UnbanUserStream": _unban_user_stream,
    "BanRoomUser": _ban_room_user,
    "UpdateBanRoomUserRule": _update_ban_room_user_rule,
    "KickUser": _kick_user,
    "DismissRoom": _dismiss_room,
}


def _metadata(draft: Draft, request_id: str) -> dict:
    return {
        "RequestId": request_id,
        "Action": draft.action,
        "Version": draft.extra.get("Version", ""),
        "Service": SERVICE,
        "Region": draft.extra.get("Region", DEFAULT_REGION),
    }


def _success(draft: Draft, result: dict) -> Response:
    request_id = volcengine_request_id()
    payload = {"ResponseMetadata": _metadata(draft, request_id), "Result": result}
    return json_response(200, payload, request_id=request_id)


# ---- room callbacks ------------------------------------------------------------------------
# EventData is a JSON string; EventId identifies the event across the vendor's two retries.
# Signature as the vendor's page "接收消息通知回调" (docs 6348/69820), section "签名算法",
# computes it: the values of the seven fields and the callback secret, sorted as UTF-8 bytes,
# joined with no separator, SHA-256, lowercase hex. Written here from the page, not taken from
# the product's reader, so that the two check each other.
CALLBACK_SIGNED_FIELDS = (
    "EventType",
    "EventData",
    "EventTime",
    "EventId",
    "AppId",
    "Version",
    "Nonce",
)


def callback_signature(secret: str, fields: dict[str, str]) -> str:
    values = [fields[name] for name in CALLBACK_SIGNED_FIELDS] + [secret]
    payload = b"".join(sorted(value.encode("utf-8") for value in values))
    return hashlib.sha256(payload).hexdigest()


def callback(app, change) -> tuple[dict[str, str], bytes]:
    event_data = {
        "RoomId": change.room_id,
        "UserId": change.user_id,
        "DeviceType": "web",
        "Timestamp": int(change.at * 1000),
    }
    if change.kind == "leave":
        event_data["Reason"] = {"left": "userLeave", "kicked": "kickedByServer"}.get(
            change.reason, "roomDismiss"
        )
    fields = {
        "EventType": "UserJoinRoom" if change.kind == "join" else "UserLeaveRoom",
        "EventData": json.dumps(event_data),
        "EventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "EventId": uuid.uuid4().hex,
        "AppId": app.app_id,
        "Version": "2020-12-01",
        "Nonce": secrets.token_hex(4),
    }
    fields["Signature"] = callback_signature(app.callback_secret, fields)
    return {"Content-Type": "application/json"}, json.dumps(fields).encode("utf-8")

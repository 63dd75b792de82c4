"""ZEGO server API: KickoutUser, CloseRoom (GET, every parameter in the query)."""

from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import quote

from .base import Capabilities, Envelope, HttpCall, VendorClient, VendorInputError, VendorRequest

DEFAULT_ENDPOINT = "https://rtc-api.zego.im"
MAX_REASON_BYTES = 256
MAX_APP_ID = 2**32 - 1


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
        rate_limits={"KickoutUser": 50, "CloseRoom": 1},
    )
    NEEDS_ACCESS_KEY_ID = False
    # ZEGO's client SDKs allow room IDs of up to 128 bytes and user IDs of up to 64.
    MAX_ROOM_ID_BYTES = 128
    MAX_USER_ID_BYTES = 64
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
            summary=f"kick {', '.join(user_ids)} from room {room_id}",
        )

    def close_room_request(self, *, room_id, reason=""):
        room_id = self.check_room_id(room_id)
        self.check_reason(reason)
        params = {"RoomId": room_id}
        if reason:
            params["CustomReason"] = reason
        return VendorRequest(
            action="CloseRoom", params=params, summary=f"close room {room_id}, removing everyone"
        )

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

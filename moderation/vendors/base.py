"""What every vendor module shares: the app's connection facts, one request, one result.

The vendor layer never touches the database: the models hand it an `AppConnection`, and the
callers (jobs, the admin's "test connection") store the `CallResult`s it returns.

A vendor class builds validated `VendorRequest`s (raising `VendorInputError` before any call),
and `send()` turns one request into one `CallResult`. `send()` never retries and never raises for
a network or vendor failure: the job layer owns rate limiting and retries, and decides from
`CallResult.retryable`.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import logging
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import requests

from ..messages import N_, Text

logger = logging.getLogger("moderation.vendors")

# What a moderator reads of a call's outcome; each is translated where it is shown.
ACCEPTED = N_("{label} accepted: {summary}.")
KICK_SUMMARY = N_("kick {users} from room {room}")

# What a mute stops.
AUDIO, VIDEO, BOTH = "audio", "video", "both"
MEDIA = (AUDIO, VIDEO, BOTH)
MUTE_SUMMARY = {
    AUDIO: N_("mute the audio of {user} in room {room}"),
    VIDEO: N_("stop the video of {user} in room {room}"),
    BOTH: N_("mute the audio and video of {user} in room {room}"),
}
UNMUTE_SUMMARY = {
    AUDIO: N_("let {user} speak again in room {room}"),
    VIDEO: N_("let {user} show video again in room {room}"),
    BOTH: N_("let {user} publish again in room {room}"),
}
CREDENTIALS_ACCEPTED = N_("credentials accepted")
TIMED_OUT = N_("{label} did not answer in time; the action may or may not have taken effect.")
CONNECTION_FAILED = N_("Could not connect to {label}: the network or host is down.")
NOT_SENT = N_("Could not send the request to {label}.")
NOT_JSON = N_("{label} answered HTTP {http_status} with a body that is not JSON.")
REFUSED_WITHOUT_CODE = N_("{label} refused {action} (HTTP {http_status}) without an error code.")
REFUSED_WITH_CODE = N_("{label} refused {action} with error {code}: {vendor_message}")

# (connect, read) seconds: a vendor that does not answer must not hold a worker for long.
DEFAULT_TIMEOUT = (3.05, 10.0)

# A harmless target for "test connection": nobody is ever in this room.
CONNECTION_TEST_ID = "rtc-moderation-connection-test"


class VendorInputError(ValueError):
    """A parameter the vendor restricts is out of range; raised before any call is made.

    `code` names the rule that failed, for callers that word it for a person (VendorApp.clean).
    """

    def __init__(self, field_name: str, message: str, *, code: str = ""):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message
        self.code = code


@dataclass(frozen=True)
class AppConnection:
    """The facts needed to call one vendor app. `secret` is never part of repr or results."""

    vendor: str
    app_id: str
    region: str = ""
    access_key_id: str = ""
    secret: str = field(default="", repr=False)
    endpoint: str = ""
    # ZEGO only: the account has SetForbidUserRule (enabled by ZEGO support on request).
    native_ban: bool = False


@dataclass(frozen=True)
class Capabilities:
    kick: bool
    native_ban: bool  # the vendor itself keeps a banned user out for a window
    max_ban_seconds: int | None  # longest window the vendor itself enforces
    lift: bool  # the vendor can end its own ban early
    whole_room: bool  # one call acts on everyone in a room (ban or close)
    every_room: bool  # one call acts on a user in every room of the app
    batch_size: int  # users per kick call
    rate_limits: dict[str, int]  # documented calls per second, per action
    # The native ban also removes whoever it covers (Volcengine); ZEGO's only refuses logins.
    native_ban_removes: bool = True
    # How the vendor mutes: a user's audio and video ("user"), or each stream they publish
    # ("stream", ZEGO: the whole stream, audio and video together).
    mute_by: str = "user"
    # The window the vendor itself times a mute for; outside it we end the mute ourselves.
    mute_seconds: tuple[int, int] | None = None


@dataclass(frozen=True)
class VendorRequest:
    """One HTTP call to make, already validated. `params` holds no secret."""

    action: str
    params: dict[str, Any]
    user_ids: tuple[str, ...] = ()
    # What the call does, in words, for the success message ("kick a, b from room r").
    summary: Text | str = ""
    # Copied into CallResult.details, e.g. the ForbiddenInterval after clamping.
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallResult:
    action: str
    params: dict[str, Any]
    ok: bool
    http_status: int | None = None
    vendor_code: str = ""
    vendor_message: str = ""
    request_id: str = ""
    latency_ms: float = 0.0
    retryable: bool = False
    # What a moderator reads: the vendor's answer in plain words (English), and as a template
    # with its values (`text`), which pages show in the viewer's language.
    message: str = ""
    text: Text | None = None
    # Values the vendor reports back or that we applied, e.g. a clamped ForbiddenInterval.
    details: dict[str, Any] = field(default_factory=dict)

    def told(self, text: Text) -> CallResult:
        """Sets what a moderator reads: the English sentence, and the template to translate."""
        self.text = text
        self.message = str(text)
        return self


@dataclass(frozen=True)
class HttpCall:
    """A signed request, ready for `requests`."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class Envelope:
    """The vendor-independent reading of one JSON answer."""

    ok: bool
    code: str = ""
    message: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    netloc: str  # host[:port], exactly as sent in the Host header
    prefix: str  # path prefix without the trailing slash, "" for the vendor's own hosts

    @property
    def root(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.prefix}/"

    @property
    def path(self) -> str:
        return f"{self.prefix}/"


def utf8_len(value: str) -> int:
    return len(value.encode("utf-8"))


def chunks(items: Sequence[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]


# A host name: labels of letters, digits, hyphens (not at either end) and underscores (service
# names in private networks), dot-separated, at most 253 characters.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
LOOPBACK_NAMES = ("localhost",)


def is_loopback_host(hostname: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: this machine, where plain http never leaves it."""
    name = hostname.lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_host(hostname: str, *, bracketed: bool) -> bool:
    """A host name or IPv4 address, or (in brackets) an IPv6 address."""
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        name = hostname.rstrip(".")
        labels = name.split(".")
        return not bracketed and 0 < len(name) <= 253 and all(map(_HOST_LABEL.fullmatch, labels))
    return bracketed == (address.version == 6)


def parse_endpoint(url: str, *, allow_plain_http: bool = True) -> Endpoint:
    """The one rule for an endpoint: what the clients send to, and what VendorApp.clean saves.

    http:// or https://, a host name or IP address (in ASCII), a port from 1 to 65535, no user
    name or password, no query or fragment, no spaces or control characters anywhere. With
    `allow_plain_http` off, plain http:// only to a loopback host (`is_loopback_host`).
    Raises VendorInputError("endpoint", ..., code=...) naming the rule.
    """

    def refuse(code, message):
        return VendorInputError("endpoint", message, code=code)

    url = url.strip() if isinstance(url, str) else ""
    # urlsplit silently drops tabs and new lines: refused instead, so what is saved is what is
    # called.
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url):
        raise refuse("characters", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        raise refuse("invalid", "is not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("scheme", "must be an http:// or https:// URL with a host")
    if not hostname:
        raise refuse("host", "has no valid host name or IP address")
    # The Host header is sent as is: an internationalized name must come in its xn-- form.
    if not parts.netloc.isascii():
        raise refuse("ascii", "write the host in ASCII (xn-- form for IDN hosts)")
    # Credentials in the URL would end up in logs and in the Host header.
    if "@" in parts.netloc:
        raise refuse("credentials", "must not contain a user name or password")
    # The clients add their own query (Action=...); urlsplit drops an empty "?" or "#".
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise refuse("query", "must not contain a query or fragment")
    if not _is_host(hostname, bracketed=parts.netloc.startswith("[")):
        raise refuse("host", "has no valid host name or IP address")
    try:
        port = parts.port  # raises ValueError on a port that is not a number or over 65535
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise refuse("port", "has an invalid port (1 to 65535)")
    if parts.scheme == "http" and not allow_plain_http and not is_loopback_host(hostname):
        raise refuse("plain_http", "plain http:// is allowed only to a loopback host")
    return Endpoint(parts.scheme, parts.netloc, unquote(parts.path).rstrip("/"))


def check_access_key_id(key_id: str) -> str:
    """An AccessKeyId or SecretId as the Authorization header carries it: printable ASCII
    without spaces. VendorApp.clean checks it with this too."""
    if not key_id.strip():
        raise VendorInputError("access_key_id", "is required", code="required")
    if not key_id.isascii() or not key_id.isprintable() or " " in key_id:
        raise VendorInputError(
            "access_key_id", "must be printable ASCII without spaces", code="characters"
        )
    return key_id


@dataclass(frozen=True)
class RoomEvent:
    """One room callback, verified and read: who entered or left which room, and when."""

    JOIN: ClassVar[str] = "join"
    LEAVE: ClassVar[str] = "leave"
    CLOSE: ClassVar[str] = "close"  # the room ended: everyone left
    # ZEGO's stream callbacks: a user starts or stops publishing `stream_id`.
    PUBLISH: ClassVar[str] = "publish"
    UNPUBLISH: ClassVar[str] = "unpublish"

    kind: str
    room_id: str
    user_id: str  # "" for CLOSE
    at_ms: int  # when it happened, in the vendor's clock (Unix milliseconds)
    # Equal for every delivery of the same event (vendors retry): the deduplication key.
    delivery_key: str
    vendor_event: str  # the vendor's own name for it, e.g. room_login or 103
    reason: str = ""
    stream_id: str = ""  # PUBLISH and UNPUBLISH: the client's stream id (ZEGO stream_alias)


@dataclass(frozen=True)
class SignedPair:
    """What a signature that leaves the body out vouches for (ZEGO signs only `timestamp` and
    `nonce`), with the body it came with: within the acceptance window the pair may come again
    with this body only, so a replay with other fields is refused."""

    timestamp: str  # exactly as signed
    nonce: str
    body_sha256: str
    sent_at: float  # the timestamp read as Unix seconds: the pair is forgotten once it is old

    @property
    def key(self) -> str:
        return delivery_key(self.timestamp, self.nonce)


@dataclass(frozen=True)
class Delivery:
    """One verified callback delivery: what it says, and what its signature vouches for."""

    event: RoomEvent | None  # None: an event the product ignores
    # When the vendor signed it (Unix seconds): deliveries signed further from now than the
    # acceptance window are refused; within it, a repeated event acts once (its delivery key).
    sent_at: float
    # Set exactly where the signature does not cover the body (ZEGO).
    signed_pair: SignedPair | None = None

    @property
    def signature_covers_body(self) -> bool:
        return self.signed_pair is None


class CallbackRefused(Exception):
    """Nothing in the callback may be believed (403): its signature is missing or wrong, or it
    carries no time it was sent, so that it cannot be told from a replay."""


class CallbackInvalid(ValueError):
    """The callback is signed but cannot be read: a malformed body or another app's (400)."""


def delivery_key(*parts) -> str:
    """A fixed-length key from the fields that identify one event across retried deliveries."""
    material = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def no_sent_time(name: str) -> CallbackRefused:
    return CallbackRefused(f"the delivery carries no time it was sent ({name})")


def callback_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CallbackInvalid("the body is not JSON") from None
    if not isinstance(data, dict):
        raise CallbackInvalid("the body is not a JSON object")
    return data


def callback_text(data: dict, name: str, *, required: bool = True, max_length: int = 256) -> str:
    """A field as text: vendors send numbers for some ids, strings for others."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise CallbackInvalid(f"{name} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CallbackInvalid(f"{name} must be text or a whole number")
    text = str(value)
    if len(text) > max_length or any(unicodedata.category(c)[0] == "C" for c in text):
        raise CallbackInvalid(f"{name} is too long or contains control characters")
    return text


# Event times are kept as datetimes: anything outside 1970 to 9999 is not a time of an event.
MAX_EVENT_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def event_ms(value: int | float, name: str) -> int:
    """A vendor's event time in Unix milliseconds, refused (CallbackInvalid) outside 1970-9999."""
    if not 0 <= value <= MAX_EVENT_MS:
        raise CallbackInvalid(f"{name} is not a time between 1970 and 9999")
    return int(value)


def callback_integer(data: dict, name: str, *, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise CallbackInvalid(f"{name} is missing")
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise CallbackInvalid(f"{name} must be a whole number")
    return value


class VendorClient:
    """Base of the per-vendor clients: one `requests.Session` per app, no retries of its own.

    A subclass sets the class attributes below and implements `kick_batch_request`,
    `close_room_request`, `prepare` (sign) and `parse` (read the vendor's envelope).
    """

    vendor: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    # Regions the vendor's API serves; empty when the vendor has none.
    REGIONS: ClassVar[tuple[str, ...]] = ()
    DEFAULT_REGION: ClassVar[str] = ""
    DEFAULT_ENDPOINTS: ClassVar[dict[str, str]] = {}
    NEEDS_ACCESS_KEY_ID: ClassVar[bool] = True
    MAX_ROOM_ID_BYTES: ClassVar[int] = 128
    MAX_USER_ID_BYTES: ClassVar[int] = 128
    # code -> (retryable, sentence). A dotted code falls back to its prefix ("A.B" -> "A").
    # Sentences may use {label}, {action}, {code}, {vendor_message}, {http_status}.
    ERRORS: ClassVar[dict[str, tuple[bool, str]]] = {}
    # The vendor's codes for "slow down" (its own rate limit, not ours): counted as throttled.
    THROTTLE_CODES: ClassVar[tuple[str, ...]] = ()
    # Codes meaning "no such room / user": for a connection test they prove the credentials.
    MISSING_TARGET_CODES: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, connection: AppConnection, *, timeout=DEFAULT_TIMEOUT):
        self.connection = connection
        self.timeout = timeout
        self.region = self.check_region(connection.region)
        self.check_credentials(connection)
        # Plain http:// is a policy decided when the app is saved (ALLOW_HTTP_ENDPOINTS, see
        # VendorApp.clean); everything else about the URL is decided here and there alike.
        self.endpoint = parse_endpoint(connection.endpoint or self.default_endpoint())
        self.session = requests.Session()

    def __repr__(self):
        return f"<{type(self).__name__} app_id={self.connection.app_id!r}>"

    @classmethod
    def capabilities_with(cls, *, native_ban: bool = False) -> Capabilities:
        """The capabilities of one app: a vendor may offer more to accounts that enabled it."""
        return cls.capabilities

    def close(self):
        self.session.close()

    @staticmethod
    def monotonic_ms() -> float:
        return time.monotonic() * 1000

    # --- connection checks: fail when the client is made, not at the first call ---

    def check_region(self, region: str) -> str:
        if not self.REGIONS:
            return ""
        region = (region or self.DEFAULT_REGION).strip()
        if region not in self.REGIONS:
            allowed = ", ".join(self.REGIONS)
            raise VendorInputError("region", f"{self.label} serves only {allowed}")
        return region

    def check_credentials(self, connection: AppConnection) -> None:
        if not connection.app_id.strip():
            raise VendorInputError("app_id", "is required")
        if self.NEEDS_ACCESS_KEY_ID:
            check_access_key_id(connection.access_key_id)
        if not connection.secret:
            raise VendorInputError("secret", "is required")

    def default_endpoint(self) -> str:
        return self.DEFAULT_ENDPOINTS[self.region]

    # --- validation shared by the request builders ---

    @staticmethod
    def check_id(field_name: str, value: str, max_bytes: int) -> str:
        if not isinstance(value, str):
            raise VendorInputError(field_name, "must be text")
        if not value:
            raise VendorInputError(field_name, "must not be empty")
        if utf8_len(value) > max_bytes:
            raise VendorInputError(field_name, f"is longer than {max_bytes} bytes (UTF-8)")
        return value

    def throttled(self, result: CallResult) -> bool:
        """Whether the vendor refused this call for its rate limit."""
        code = str(result.vendor_code)
        return result.http_status == 429 or any(
            code == c or code.startswith(c + ".") for c in self.THROTTLE_CODES
        )

    def check_room_id(self, room_id: str) -> str:
        return self.check_id("room_id", room_id, self.MAX_ROOM_ID_BYTES)

    def check_user_id(self, user_id: str, field_name: str = "user_id") -> str:
        return self.check_id(field_name, user_id, self.MAX_USER_ID_BYTES)

    def check_user_ids(self, user_ids: Iterable[str]) -> tuple[str, ...]:
        if isinstance(user_ids, str):
            # A bare string would otherwise be kicked one character at a time.
            raise VendorInputError("user_ids", "must be a list of user IDs, not one string")
        checked = [self.check_user_id(u, "user_ids") for u in user_ids]
        if not checked:
            raise VendorInputError("user_ids", "must name at least one user")
        # A duplicate would only waste a slot in a batch and a call against the rate limit.
        return tuple(dict.fromkeys(checked))

    # --- the request builders the job layer calls ---

    def kick_requests(
        self, *, room_id: str, user_ids: list[str], reason: str = ""
    ) -> list[VendorRequest]:
        room_id = self.check_room_id(room_id)
        users = self.check_user_ids(user_ids)
        self.check_reason(reason)
        return [
            self.kick_batch_request(room_id=room_id, user_ids=batch, reason=reason)
            for batch in chunks(users, self.capabilities.batch_size)
        ]

    def check_reason(self, reason: str) -> None:
        """Vendors that send a reason check its limit here; the others ignore it."""

    def kick_batch_request(
        self, *, room_id: str, user_ids: tuple[str, ...], reason: str
    ) -> VendorRequest:
        raise NotImplementedError

    def close_room_request(self, *, room_id: str, reason: str = "") -> VendorRequest:
        raise NotImplementedError

    # --- mute: what a user publishes stops; they stay in the room and hear the others ---

    def mute_request(self, *, room_id: str, user_id: str, media: str, seconds: int | None):
        """Stops `media` of one user in one room (`mute_by` "user"); None seconds: until unmuted."""
        raise VendorInputError("kind", f"{self.label} mutes streams, not users")

    def unmute_request(self, *, room_id: str, user_id: str, media: str):
        raise VendorInputError("kind", f"{self.label} mutes streams, not users")

    def forbid_stream_request(self, *, stream_id: str, sequence: int):
        """Stops one published stream (`mute_by` "stream")."""
        raise VendorInputError("kind", f"{self.label} mutes users, not streams")

    def resume_stream_request(self, *, stream_id: str, sequence: int):
        raise VendorInputError("kind", f"{self.label} mutes users, not streams")

    @staticmethod
    def check_media(media: str) -> str:
        if media not in MEDIA:
            raise VendorInputError("media", f"is audio, video or both, not {media!r}")
        return media

    # --- one call ---

    def prepare(self, request: VendorRequest) -> HttpCall:
        """Sign `request` with a fresh timestamp (and nonce, where the vendor wants one)."""
        raise NotImplementedError

    def parse(self, data: dict) -> Envelope:
        raise NotImplementedError

    def send(self, request: VendorRequest) -> CallResult:
        started = self.monotonic_ms()
        try:
            call = self.prepare(request)
            response = self.session.request(
                call.method,
                call.url,
                headers=call.headers,
                data=call.body,
                timeout=self.timeout,
                # A redirect would be followed unsigned (or signed for another path).
                allow_redirects=False,
            )
        except requests.Timeout:
            result = self.network_failure(
                request,
                "timeout",
                TIMED_OUT,
            )
        except requests.ConnectionError:
            result = self.network_failure(request, "connection", CONNECTION_FAILED)
        except requests.RequestException as exc:
            # Not a network blip (e.g. a malformed URL): retrying would fail the same way.
            result = self.network_failure(request, type(exc).__name__, NOT_SENT, False)
        else:
            result = self.read(request, response)
        result.latency_ms = round(self.monotonic_ms() - started, 1)
        result.details = {**request.details, **result.details}
        self.redact(result)
        self.log(result)
        return result

    def network_failure(
        self, request: VendorRequest, kind: str, template: str, retryable: bool = True
    ) -> CallResult:
        return CallResult(
            action=request.action,
            params=copy.deepcopy(request.params),
            ok=False,
            retryable=retryable,
            details={"network_error": kind},
        ).told(self.sentence(template, request.action))

    def read(self, request: VendorRequest, response: requests.Response) -> CallResult:
        status = response.status_code
        result = CallResult(action=request.action, params=copy.deepcopy(request.params), ok=False)
        result.http_status = status
        data = self.load_json(response.content)
        if data is None:
            result.retryable = is_retryable_status(status)
            result.told(self.sentence(NOT_JSON, request.action, http_status=status))
            return result

        envelope = self.parse(data)
        result.vendor_code = envelope.code
        result.vendor_message = envelope.message
        result.request_id = envelope.request_id
        if envelope.ok and 200 <= status < 300:
            result.ok = True
            summary = request.summary or request.action
            result.told(Text(ACCEPTED, {"label": self.label, "summary": summary}))
            return result

        retryable, template = self.explain(envelope.code)
        result.retryable = retryable or is_retryable_status(status)
        result.told(
            self.sentence(
                template,
                request.action,
                code=envelope.code,
                vendor_message=envelope.message,
                http_status=status,
            )
        )
        return result

    @staticmethod
    def load_json(content: bytes) -> dict | None:
        try:
            data = json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep to read
            return None
        return data if isinstance(data, dict) else None

    def explain(self, code: str) -> tuple[bool, str]:
        """(retryable, sentence template) for a vendor error code."""
        if not code:
            return False, REFUSED_WITHOUT_CODE
        key = code
        while key:
            if key in self.ERRORS:
                return self.ERRORS[key]
            key = key.rpartition(".")[0]
        return False, REFUSED_WITH_CODE

    def sentence(self, template: str, action: str, **values) -> Text:
        values = {"code": "", "vendor_message": "", "http_status": "", **values}
        # A template that ends in the vendor's message reads badly when the vendor gave none.
        if template.endswith(": {vendor_message}") and not values["vendor_message"]:
            template = template.removesuffix(": {vendor_message}") + "."
        return Text(template, {"label": self.label, "action": action, **values})

    def redact(self, result: CallResult) -> None:
        """A vendor (or a proxy) might echo what it was sent; the secret never leaves here."""
        secret = self.connection.secret
        if not secret:
            return
        for name in ("vendor_message", "message", "vendor_code", "request_id"):
            setattr(result, name, str(getattr(result, name)).replace(secret, "[redacted]"))
        if result.text is not None:
            result.text = result.text.redacted(secret)
        result.details = {
            k: v.replace(secret, "[redacted]") if isinstance(v, str) else v
            for k, v in result.details.items()
        }

    def log(self, result: CallResult) -> None:
        logger.info(
            "%s %s app=%s ok=%s http=%s code=%s retryable=%s request_id=%s %.0fms",
            self.vendor,
            result.action,
            self.connection.app_id,
            result.ok,
            result.http_status,
            result.vendor_code or "-",
            result.retryable,
            result.request_id or "-",
            result.latency_ms,
        )

    # --- the admin's "test connection" ---

    def test_connection(self) -> CallResult:
        """Kick a user nobody uses from a room nobody uses: proves the credentials, moves no one.

        Credentials are good when the vendor accepts the call or says the room or user does
        not exist (it checked the signature before it looked for the room).
        """
        (request,) = self.kick_requests(room_id=CONNECTION_TEST_ID, user_ids=[CONNECTION_TEST_ID])
        result = self.send(request)
        if result.ok or result.vendor_code in self.MISSING_TARGET_CODES:
            result.ok = True
            result.retryable = False
            result.told(Text(CREDENTIALS_ACCEPTED))
        return result


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500

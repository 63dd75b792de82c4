"""What the vendor modules share: the request as it arrived, the answer, a refusal, request ids."""

from __future__ import annotations

import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

# itertools.count is atomic under the GIL, so request ids stay unique across handler threads.
_sequence = itertools.count(1)


@dataclass(frozen=True)
class Request:
    """One HTTP request exactly as received: signatures are recomputed from these bytes."""

    method: str
    target: str  # path and query as sent on the request line
    headers: dict[str, str]  # names lowercased
    body: bytes = b""

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)

    def query(self) -> dict[str, str]:
        """Single-valued view; repeated keys keep their last value."""
        return dict(self.query_pairs())

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json_body(self) -> Any:
        """The parsed body, or None when it is not JSON (each vendor words that its own way)."""
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return None


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    ok: bool = True
    code: str = ""  # the vendor's own code, as text ("0" for ZEGO success)
    request_id: str = ""
    throttled: bool = False


@dataclass
class Draft:
    """What a vendor call claims before it is checked: enough to record it and to match faults."""

    vendor: str
    action: str
    app_id: str
    params: dict[str, Any]
    extra: dict[str, str] = field(default_factory=dict)


class Failure(Exception):
    """A vendor refusal; each vendor module renders it in its own envelope."""

    def __init__(self, code: str, message: str, *, status: int | None = None, throttled=False):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.throttled = throttled


def json_response(status: int, payload: Any, **fields: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status=status, body=body, **fields)


def volcengine_request_id() -> str:
    # The vendor's ids start with the UTC time of the call, e.g. 20230601123456...
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return f"{stamp}{next(_sequence):08d}{secrets.token_hex(4).upper()}"


def zego_request_id() -> str:
    # ZEGO's are long decimal strings ("343649807833778782").
    return f"{int(time.time())}{next(_sequence):08d}"


def tencent_request_id() -> str:
    return str(uuid.uuid4())

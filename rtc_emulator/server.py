"""The HTTP side: one main port with a prefix per vendor (/volcengine, /zego, /tencent) and the
JSON control API under /_emulator/; and one port per vendor that serves only that vendor, at any
path, `/` included: the vendors' official SDKs take a host and sign the path `/` themselves."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .core import VENDORS
from .protocol import Request, Response, json_response

CONTROL_PREFIX = "/_emulator/"


class EmulatorServer(ThreadingHTTPServer):
    # Handlers held by a "timeout" fault must not keep stop() or the process waiting.
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator, address, vendor: str | None = None):
        self.emulator = emulator
        # None: the main port (vendor prefixes and the control API); else this vendor alone.
        self.vendor = vendor
        super().__init__(address, EmulatorHandler)


class EmulatorServerIPv6(EmulatorServer):
    address_family = socket.AF_INET6


def make_server(emulator, host: str, port: int, vendor: str | None = None) -> EmulatorServer:
    server_class = EmulatorServerIPv6 if ":" in host else EmulatorServer
    return server_class(emulator, (host, port), vendor)


class EmulatorHandler(BaseHTTPRequestHandler):
    # Keep-alive, so a client's Session reuses one connection (rate-limit tests fire fast).
    protocol_version = "HTTP/1.1"
    server_version = "VendorEmulator/1.0"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add
        # 40 ms to every keep-alive answer, which would blur the one-second rate windows.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def log_message(self, format, *args):
        # The emulator logs calls itself (on_call), without secrets; no per-request stderr noise.
        pass

    def _dispatch(self) -> None:
        request = self._read_request()
        path = urlsplit(request.target).path
        emulator = self.server.emulator
        vendor = self.server.vendor
        if vendor is None and path.startswith(CONTROL_PREFIX):
            self._send(control(emulator, request, path[len(CONTROL_PREFIX) :]))
            return
        vendor = vendor or _vendor_of(path)
        if vendor is None:
            self._send(json_response(404, {"error": f"no vendor or control route at {path}"}))
            return
        response = emulator.handle(vendor, request)
        if response is None:  # the emulator stopped while a "timeout" fault held the call
            self.close_connection = True
            return
        self._send(response)

    def _read_request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        return Request(method=self.command, target=self.path, headers=headers, body=body)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its read timeout during a "timeout" fault): nothing to answer.
            self.close_connection = True


def _vendor_of(path: str) -> str | None:
    for vendor in VENDORS:
        if path == f"/{vendor}" or path.startswith(f"/{vendor}/"):
            return vendor
    return None


# ---- control API ---------------------------------------------------------------------------


def control(emulator, request: Request, name: str) -> Response:
    route = CONTROL_ROUTES.get((request.method, name.rstrip("/")))
    if route is None:
        return json_response(404, {"error": f"no control route {request.method} /_emulator/{name}"})
    try:
        status, payload = route(emulator, request)
    except (ValueError, TypeError) as exc:
        return json_response(400, {"error": str(exc)})
    return json_response(status, payload)


def _payload(request: Request) -> dict:
    if not request.body:
        return {}
    data = request.json_body()
    if not isinstance(data, dict | list):
        raise ValueError("the body must be a JSON object")
    return data


def _filters(request: Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.target).query))


def _query(request: Request, route: str, names: tuple[str, ...]) -> dict[str, str]:
    """Exactly these query parameters, each given and not empty."""
    query = _filters(request)
    missing = [name for name in names if not query.get(name)]
    unknown = sorted(set(query) - set(names))
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown {', '.join(unknown)}")
    if problems:
        raise ValueError(
            f"{route} requires the query parameters {', '.join(names)}; {'; '.join(problems)}"
        )
    return query


def _add_apps(emulator, request):
    payload = _payload(request)
    entries = payload if isinstance(payload, list) else [payload]
    apps = [emulator.add_app(**_object(entry)) for entry in entries]
    return 201, {"apps": [app.public() for app in apps]}


def _add_fault(emulator, request):
    fault = emulator.fail_next(**_object(_payload(request)))
    return 201, {"fault": fault.public()}


def _join(emulator, request):
    return 200, {"joined": emulator.join(**_object(_payload(request)))}


def _leave(emulator, request):
    emulator.leave(**_object(_payload(request)))
    return 200, {"left": True}


def _publish(emulator, request):
    emulator.publish(**_object(_payload(request)))
    return 200, {"published": True}


def _unpublish(emulator, request):
    emulator.unpublish(**_object(_payload(request)))
    return 200, {"unpublished": True}


def _muted(emulator, request):
    query = _query(request, "muted", ("vendor", "app_id", "room_id", "user_id"))
    return 200, emulator.muted(**query)


def _streams(emulator, request):
    return 200, {"streams": emulator.streams(**_query(request, "streams", ("vendor", "app_id")))}


def _calls(emulator, request):
    filters = _filters(request)
    unknown = set(filters) - {"vendor", "app_id", "action"}
    if unknown:
        raise ValueError(f"calls filters by vendor, app_id and action; not {sorted(unknown)}")
    calls = [
        call.as_dict()
        for call in emulator.calls
        if all(str(getattr(call, name)) == value for name, value in filters.items())
    ]
    return 200, {"calls": calls}


def _callbacks(emulator, request):
    filters = _filters(request)
    unknown = set(filters) - {"vendor", "app_id", "event"}
    if unknown:
        raise ValueError(f"callbacks filters by vendor, app_id and event; not {sorted(unknown)}")
    records = [
        record.as_dict()
        for record in emulator.callbacks
        if all(str(getattr(record, name)) == value for name, value in filters.items())
    ]
    return 200, {"callbacks": records}


def _state(emulator, request):
    return 200, emulator.state()


def _members(emulator, request):
    members = emulator.members(**_filters(request))
    return 200, {"members": sorted(members)}


def _bans(emulator, request):
    return 200, {"bans": emulator.active_bans(**_filters(request))}


def _reset(emulator, request):
    emulator.reset(**_object(_payload(request)))
    return 200, {"reset": True}


def _object(entry) -> dict:
    if not isinstance(entry, dict):
        raise ValueError("expected a JSON object")
    return entry


CONTROL_ROUTES = {
    ("POST", "apps"): _add_apps,
    ("POST", "faults"): _add_fault,
    ("POST", "join"): _join,
    ("POST", "leave"): _leave,
    ("POST", "publish"): _publish,
    ("POST", "unpublish"): _unpublish,
    ("GET", "muted"): _muted,
    ("GET", "streams"): _streams,
    ("GET", "calls"): _calls,
    ("GET", "callbacks"): _callbacks,
    ("GET", "state"): _state,
    ("GET", "members"): _members,
    ("GET", "bans"): _bans,
    ("POST", "reset"): _reset,
}

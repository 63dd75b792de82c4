"""The emulator's state behind one lock: apps, rooms, bans, rate windows, faults, recorded calls;
and the room callbacks it sends to each app's callback URL."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import tencent, volcengine, zego
from .callbacks import CallbackRecord, CallbackSender, check_callback_url
from .protocol import Draft, Failure, Request, Response
from .rooms import AppRooms

VENDORS = {module.VENDOR: module for module in (volcengine, zego, tencent)}
FAULT_MODES = ("5xx", "timeout", "throttle")


@dataclass(frozen=True)
class App:
    vendor: str
    app_id: str
    access_key_id: str
    secret: str = field(repr=False)
    rate_limits: dict[str, int] = field(default_factory=dict)
    strict_rooms: bool = False
    # Room callbacks go to this URL, signed with this secret, when both are set.
    callback_url: str = ""
    callback_secret: str = field(default="", repr=False)
    # ZEGO: user ban rules (SetForbidUserRule) are enabled for this account.
    forbid_rules: bool = False
    # ZEGO: the account may stop streams (ForbidRTCStream / ResumeRTCStream).
    stream_control: bool = True

    def public(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "app_id": self.app_id,
            "access_key_id": self.access_key_id,
            "rate_limits": dict(self.rate_limits),
            "strict_rooms": self.strict_rooms,
            "callback_url": self.callback_url,
            "forbid_rules": self.forbid_rules,
            "stream_control": self.stream_control,
        }


@dataclass(frozen=True)
class Call:
    vendor: str
    app_id: str
    action: str
    params: dict[str, Any]
    http_status: int
    code: str
    ok: bool
    throttled: bool
    fault: str  # "" or the injected fault's mode
    request_id: str
    time: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fault:
    mode: str
    remaining: int
    vendor: str | None = None
    app_id: str | None = None
    delay: float = 15.0
    status: int | None = None

    def matches(self, vendor: str, app_id: str) -> bool:
        return self.vendor in (None, vendor) and self.app_id in (None, app_id)

    def public(self) -> dict[str, Any]:
        return asdict(self)


class RateLimiter:
    """At most `limit` admitted calls in any 1.0 s window, per key; refused calls do not count."""

    WINDOW = 1.0

    def __init__(self):
        self._admitted: dict[tuple, deque[float]] = defaultdict(deque)

    def admit(self, key: tuple, limit: int, now: float) -> bool:
        window = self._admitted[key]
        while window and now - window[0] >= self.WINDOW:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True


def require_loopback(host: str) -> None:
    """The emulator accepts any correctly signed call: it must never listen beyond this machine."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"The vendor emulator listens on loopback only; got host {host!r}. "
            "Use 127.0.0.1, ::1 or localhost."
        )


class Emulator:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        on_call=None,
        on_callback=None,
        callback_delays: dict[str, list[float]] | None = None,
    ):
        self.clock = clock
        self.on_call = on_call  # called with each Call, outside the lock (the command logs it)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = None  # the main port: vendor prefixes and the control API
        self._vendor_servers: dict[str, Any] = {}  # one port per vendor, serving it at /
        self._threads: list[threading.Thread] = []
        self._apps: dict[tuple[str, str], App] = {}
        # Retry delays per vendor may be shortened for tests: {"zego": [0.2, 0.2]}.
        self._callbacks = CallbackSender(delays=callback_delays, on_callback=on_callback)
        self._clear_state()

    def _clear_state(self) -> None:
        self._rooms: dict[tuple[str, str], AppRooms] = defaultdict(lambda: AppRooms(self.clock))
        self._limiter = RateLimiter()
        self._faults: list[Fault] = []
        self._calls: list[Call] = []
        self._throttled = 0

    # ---- apps ----------------------------------------------------------------------------

    def add_app(
        self,
        *,
        vendor: str,
        app_id: str | int,
        access_key_id: str = "",
        secret: str,
        rate_limits: dict[str, int] | None = None,
        strict_rooms: bool = False,
        callback_url: str = "",
        callback_secret: str = "",
        forbid_rules: bool = False,
        stream_control: bool = True,
    ) -> App:
        module = _vendor_module(vendor)
        app = App(
            vendor=vendor,
            app_id=str(app_id),
            access_key_id=access_key_id if vendor != "zego" else "",
            secret=secret,
            rate_limits={**module.RATE_LIMITS, **_checked_limits(module, rate_limits or {})},
            strict_rooms=bool(strict_rooms),
            callback_url=check_callback_url(callback_url) if callback_url else "",
            callback_secret=callback_secret or "",
            forbid_rules=bool(forbid_rules),
            stream_control=bool(stream_control),
        )
        module.check_app(app)
        if not secret:
            raise ValueError("secret is required")
        if bool(app.callback_url) != bool(app.callback_secret):
            raise ValueError("callback_url and callback_secret go together: give both or neither")
        if app.forbid_rules and vendor != "zego":
            raise ValueError("forbid_rules (SetForbidUserRule) is a zego feature")
        with self._lock:
            self._check_key_consistency(app)
            self._apps[(vendor, app.app_id)] = app
        return app

    def _check_key_consistency(self, app: App) -> None:
        # One access key belongs to one account, so it has one secret.
        for other in self._apps.values():
            same_key = other.vendor == app.vendor and other.access_key_id == app.access_key_id
            if app.access_key_id and same_key and other.secret != app.secret:
                raise ValueError(
                    f"access key {app.access_key_id!r} is already registered with another secret"
                )

    def app(self, vendor: str, app_id: str) -> App | None:
        with self._lock:
            return self._apps.get((vendor, str(app_id)))

    def apps_with_key(self, vendor: str, access_key_id: str) -> list[App]:
        with self._lock:
            return [
                app
                for app in self._apps.values()
                if app.vendor == vendor and app.access_key_id == access_key_id
            ]

    # ---- server --------------------------------------------------------------------------

    def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        vendor_ports: dict[str, int] | None = None,
    ) -> str:
        """Listens on `port` (0: a free one) for the vendor prefixes and the control API, and on
        one port per vendor that serves that vendor at `/`, as its official SDK calls it
        (`vendor_ports`, a free port for each vendor it does not name). Returns the main URL."""
        from .server import make_server  # the server module needs this one: import late

        require_loopback(host)
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        ports = {vendor: 0 for vendor in VENDORS}
        for vendor, vendor_port in (vendor_ports or {}).items():
            _vendor_module(vendor)
            ports[vendor] = vendor_port
        servers = []
        try:
            servers.append(make_server(self, host, port))
            for vendor, vendor_port in ports.items():
                servers.append(make_server(self, host, vendor_port, vendor))
        except BaseException:
            for server in servers:
                server.server_close()
            raise
        self._stopping.clear()
        self._server = servers[0]
        self._vendor_servers = {server.vendor: server for server in servers[1:]}
        # A short poll interval keeps stop() quick; shutdown() waits for the next poll.
        self._threads = [
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"vendor-emulator-{server.vendor or 'main'}",
                daemon=True,
            )
            for server in servers
        ]
        for thread in self._threads:
            thread.start()
        self._callbacks.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return _url_of(self._server)

    def endpoint(self, vendor: str) -> str:
        """The vendor's prefix on the main port, e.g. http://127.0.0.1:8090/tencent."""
        _vendor_module(vendor)
        return f"{self.base_url}/{vendor}"

    def vendor_url(self, vendor: str) -> str:
        """The vendor's own port, serving it at `/` (no prefix), e.g. http://127.0.0.1:40123:
        where an official SDK that takes only a host (Tencent's, Volcengine's) is pointed."""
        _vendor_module(vendor)
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return _url_of(self._vendor_servers[vendor])

    def stop(self) -> None:
        self._callbacks.stop()
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a "timeout" fault
        for server in [self._server, *self._vendor_servers.values()]:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server, self._vendor_servers, self._threads = None, {}, []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # ---- vendor calls --------------------------------------------------------------------

    def handle(self, vendor: str, request: Request) -> Response | None:
        """Answer one vendor call; None when the emulator stopped while the call was held."""
        module = VENDORS[vendor]
        draft = module.describe(request)
        with self._lock:
            fault = self._take_fault(draft)
        # Held outside the lock; afterwards the call is processed as usual, as a vendor that
        # answers late still acts on it.
        held = fault is not None and fault.mode == "timeout"
        if held and self._stopping.wait(fault.delay):
            return None
        with self._lock:
            response = self._answer(module, request, draft, fault)
            call = self._record(draft, response, fault)
            changes = self._take_changes(draft.vendor, draft.app_id)
        self._send_callbacks(changes)
        if self.on_call is not None:
            self.on_call(call)
        return response

    def _answer(self, module, request: Request, draft: Draft, fault: Fault | None) -> Response:
        if fault is not None and fault.mode != "timeout":
            return module.fault_response(fault, draft)
        try:
            return module.process(self, request, draft)
        except Failure as failure:
            return module.render_failure(failure, draft)

    def _take_fault(self, draft: Draft) -> Fault | None:
        for fault in self._faults:
            if fault.matches(draft.vendor, draft.app_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _record(self, draft: Draft, response: Response, fault: Fault | None) -> Call:
        if response.throttled:
            self._throttled += 1
        call = Call(
            vendor=draft.vendor,
            app_id=draft.app_id,
            action=draft.action,
            params=draft.params,
            http_status=response.status,
            code=response.code,
            ok=response.ok,
            throttled=response.throttled,
            fault=fault.mode if fault is not None else "",
            request_id=response.request_id,
            time=self.clock(),
        )
        self._calls.append(call)
        return call

    def admit(self, app: App, action: str) -> bool:
        """Rate limit per app and action (the caller holds the lock)."""
        limit = app.rate_limits.get(action)
        if limit is None:
            return True
        return self._limiter.admit((app.vendor, app.app_id, action), limit, time.monotonic())

    def rooms_of(self, vendor: str, app_id: str) -> AppRooms:
        with self._lock:
            return self._rooms[(vendor, str(app_id))]

    # ---- test controls -------------------------------------------------------------------

    def fail_next(
        self,
        *,
        vendor: str | None = None,
        app_id: str | int | None = None,
        count: int = 1,
        mode: str = "5xx",
        delay: float = 15.0,
        status: int | None = None,
    ) -> Fault:
        """Fail the next `count` vendor calls (of one vendor and/or app when given)."""
        fault = _checked_fault(vendor, app_id, count, mode, delay, status)
        with self._lock:
            self._faults.append(fault)
        return fault

    def join(self, *, vendor: str, app_id: str | int, room_id: str | int, user_id: str) -> bool:
        """A user enters a room; False when a Volcengine ban or a ZEGO rule keeps them out."""
        with self._lock:
            self._require_app(vendor, app_id)
            joined = self.rooms_of(vendor, app_id).join(str(room_id), str(user_id), self.clock())
            changes = self._take_changes(vendor, str(app_id))
        self._send_callbacks(changes)
        return joined

    def leave(self, *, vendor: str, app_id: str | int, room_id: str | int, user_id: str) -> None:
        with self._lock:
            self._require_app(vendor, app_id)
            self.rooms_of(vendor, app_id).leave(str(room_id), str(user_id))
            changes = self._take_changes(vendor, str(app_id))
        self._send_callbacks(changes)

    def publish(self, *, vendor: str, app_id: str | int, room_id: str, user_id: str, stream_id):
        """A user in a room starts publishing a stream (ZEGO: the stream_create callback)."""
        if vendor != "zego":
            raise ValueError("streams are emulated for zego, whose mutes are per stream")
        with self._lock:
            self._require_app(vendor, app_id)
            rooms = self.rooms_of(vendor, app_id)
            if str(user_id) not in rooms.members(str(room_id)):
                raise ValueError(f"{user_id} is not in room {room_id}: join before publishing")
            rooms.publish(str(room_id), str(user_id), str(stream_id))
            changes = self._take_changes(vendor, str(app_id))
        self._send_callbacks(changes)

    def unpublish(self, *, vendor: str, app_id: str | int, stream_id: str) -> None:
        with self._lock:
            self._require_app(vendor, app_id)
            self.rooms_of(vendor, app_id).unpublish(str(stream_id))
            changes = self._take_changes(vendor, str(app_id))
        self._send_callbacks(changes)

    def muted(self, *, vendor: str, app_id: str | int, room_id: str, user_id: str) -> dict:
        """What of a user's publishing the vendor has stopped now: {"audio": …, "video": …}."""
        with self._lock:
            return self._peek_rooms(vendor, app_id).muted(str(room_id), str(user_id))

    def stream_forbidden(self, *, vendor: str, app_id: str | int, stream_id: str) -> bool:
        with self._lock:
            return str(stream_id) in self._peek_rooms(vendor, app_id).forbidden_streams

    def streams(self, *, vendor: str, app_id: str | int) -> list[dict[str, Any]]:
        """ZEGO streams being published: stream_id, room_id, user_id, forbidden; by stream id."""
        if vendor != "zego":
            raise ValueError("streams are emulated for zego, whose mutes are per stream")
        with self._lock:
            return self._peek_rooms(vendor, app_id).published_streams()

    # ---- room callbacks ------------------------------------------------------------------

    def _take_changes(self, vendor: str, app_id: str) -> list:
        """Membership changes since the last call, for apps with a callback URL (lock held)."""
        rooms = self._rooms.get((vendor, app_id))
        if rooms is None:
            return []
        changes = rooms.take_changes()
        app = self._apps.get((vendor, app_id))
        if app is None or not app.callback_url:
            return []
        return [(app, change) for change in changes]

    def _send_callbacks(self, changes) -> None:
        for app, change in changes:
            headers, body = VENDORS[app.vendor].callback(app, change)
            self._callbacks.submit(app.vendor, app.app_id, change, app.callback_url, headers, body)

    def callback_request(
        self, *, vendor: str, app_id: str | int, kind: str, room_id: str, user_id: str
    ) -> tuple[dict[str, str], bytes]:
        """The signed request the vendor would send for one change, without sending it."""
        from .rooms import Change

        app = self.app(vendor, str(app_id))
        if app is None or not app.callback_secret:
            raise ValueError(f"no {vendor} app {app_id!r} with a callback secret is registered")
        if kind not in ("join", "leave"):
            raise ValueError("kind is join or leave")
        change = Change(
            kind, str(room_id), str(user_id), "" if kind == "join" else "left", self.clock()
        )
        return VENDORS[vendor].callback(app, change)

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """Every callback attempt so far, in order; with the exact headers and body sent."""
        return self._callbacks.records()

    @property
    def callbacks_pending(self) -> int:
        return self._callbacks.pending()

    def forbid_rules(self, *, vendor: str, app_id: str | int) -> list[dict[str, Any]]:
        """Unexpired ZEGO user ban rules that refuse login: room_id, user_id, ends_at."""
        with self._lock:
            return self._peek_rooms(vendor, app_id).active_forbid_rules(self.clock())

    def members(self, *, vendor: str, app_id: str | int, room_id: str | int) -> set[str]:
        with self._lock:
            return self._peek_rooms(vendor, app_id).members(str(room_id))

    def active_bans(self, *, vendor: str, app_id: str | int) -> list[dict[str, Any]]:
        """Unexpired Volcengine bans: room_id, user_id (None = all), ends_at (epoch), scope."""
        with self._lock:
            bans = self._peek_rooms(vendor, app_id).active_bans(self.clock())
            return [ban.as_dict() for ban in bans]

    def _peek_rooms(self, vendor: str, app_id: str | int) -> AppRooms:
        # Reading must not create an entry, so state() lists only apps that saw activity.
        return self._rooms.get((vendor, str(app_id))) or AppRooms()

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def throttled(self) -> int:
        with self._lock:
            return self._throttled

    def reset(self, *, apps: bool = False) -> None:
        """Forget rooms, bans, faults, calls and rate windows; registered apps too if `apps`."""
        with self._lock:
            self._clear_state()
            self._callbacks.clear()
            if apps:
                self._apps.clear()

    def state(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            return {
                "apps": [app.public() for app in self._apps.values()],
                "rooms": self._rooms_snapshot(),
                "bans": self._bans_snapshot(now),
                "faults": [fault.public() for fault in self._faults],
                "forbid_rules": [
                    {"vendor": vendor, "app_id": app_id, **rule}
                    for (vendor, app_id), rooms in self._rooms.items()
                    for rule in rooms.active_forbid_rules(now)
                ],
                "mutes": [
                    {"vendor": vendor, "app_id": app_id, **mute}
                    for (vendor, app_id), rooms in self._rooms.items()
                    for mute in rooms.active_mutes(now)
                ],
                "streams": [
                    {"vendor": vendor, "app_id": app_id, **stream}
                    for (vendor, app_id), rooms in self._rooms.items()
                    for stream in rooms.published_streams()
                ],
                "callbacks": len(self._callbacks.records()),
                "calls": len(self._calls),
                "throttled": self._throttled,
            }

    def _rooms_snapshot(self) -> dict[str, dict[str, dict[str, list[str]]]]:
        snapshot: dict[str, dict[str, dict[str, list[str]]]] = {}
        for (vendor, app_id), rooms in self._rooms.items():
            snapshot.setdefault(vendor, {})[app_id] = rooms.snapshot()
        return snapshot

    def _bans_snapshot(self, now: float) -> list[dict[str, Any]]:
        return [
            {"vendor": vendor, "app_id": app_id, **ban.as_dict()}
            for (vendor, app_id), rooms in self._rooms.items()
            for ban in rooms.active_bans(now)
        ]

    def _require_app(self, vendor: str, app_id: str | int) -> None:
        if (vendor, str(app_id)) not in self._apps:
            raise ValueError(f"no {vendor} app {app_id!r} is registered with the emulator")


def _url_of(server) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def _vendor_module(vendor: str):
    try:
        return VENDORS[vendor]
    except KeyError:
        raise ValueError(f"vendor must be one of {', '.join(VENDORS)}; got {vendor!r}") from None


def _checked_limits(module, rate_limits: dict[str, int]) -> dict[str, int]:
    for action, limit in rate_limits.items():
        if action not in module.RATE_LIMITS:
            raise ValueError(
                f"no {module.VENDOR} action {action!r}; rate-limited actions: "
                f"{', '.join(module.RATE_LIMITS)}"
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"rate limit for {action} must be a positive integer")
    return dict(rate_limits)


def _checked_fault(vendor, app_id, count, mode, delay, status) -> Fault:
    if vendor is not None:
        _vendor_module(vendor)
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}; got {mode!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError("delay must be a number of seconds, 0 or more")
    if status is not None and (mode != "5xx" or vendor is None):
        raise ValueError("status applies to mode 5xx for one vendor only")
    if status is not None:
        VENDORS[vendor].check_fault_status(status)
    app = None if app_id is None else str(app_id)
    return Fault(
        mode=mode, remaining=count, vendor=vendor, app_id=app, delay=float(delay), status=status
    )

"""What the benchmarks share: results, a gunicorn on loopback, and HTTP load generators.

The load generators speak HTTP/1.1 over raw asyncio streams (keep-alive, prebuilt request
bytes), so that on a small machine the client costs little of the CPU the server needs. Everything
listens on and connects to 127.0.0.1 only, and every run is bounded in time and connections.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.management import call_command
from django.db import connection

LOOPBACK = "127.0.0.1"
# No single request may hold a client longer than this; a slower answer counts as an error.
REQUEST_TIMEOUT = 5.0
# The open-loop generator never holds more connections than this (a stalled server cannot make
# it open sockets without bound); requests it cannot send count as errors.
MAX_OPEN_CONNECTIONS = 512


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    target: str = "none"

    def line(self) -> str:
        value = f"{self.value:.0f}" if self.value >= 100 else f"{self.value:.2f}"
        return f"{self.name}: {value} {self.unit} (target {self.target})"


@dataclass
class Context:
    """What `manage.py bench` hands each benchmark."""

    duration: float  # seconds per measured phase
    write: Callable[[str], None]  # progress lines, to stderr
    extra: dict = field(default_factory=dict)


def merge_results(path: Path, results: list[Result]) -> dict:
    """Writes results into the JSON file at `path`, keeping the other benchmarks' keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data.update({r.name: round(r.value, 3) for r in results})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return data


# --- a gunicorn on loopback -------------------------------------------------------------------


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the bench process dies, however it dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def child_database_url() -> str:
    """The URL of the database this process uses, for the server it starts (tests use test_*)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


class Gunicorn:
    """`gunicorn moderation_site.wsgi` on a free loopback port, for the length of a `with`."""

    def __init__(
        self,
        *,
        workers: int,
        threads: int = 1,
        env: dict | None = None,
    ):
        self.port = free_port()
        self.workers, self.threads = workers, threads
        # gthread with threads (keep-alive), else sync (which closes each connection).
        self.worker_class = "gthread" if threads > 1 else "sync"
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int]:
        return LOOPBACK, self.port

    def __enter__(self):
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE
            ),
            "DATABASE_URL": child_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "LOG_LEVEL": "WARNING",
            **self.env,
        }
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "moderation_site.wsgi",
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--threads",
            str(self.threads),
            "--keep-alive",
            "30",
            "--backlog",
            "1024",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent,  # dies with the bench
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited: {self.process.stderr.read().decode()[-2000:]}"
                )
            with contextlib.suppress(OSError), socket.create_connection(self.address, 0.2):
                return self
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("gunicorn did not listen within 30 s")

    def __exit__(self, *exc_info):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# --- HTTP load ------------------------------------------------------------------------------


class _Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, address):
        reader, writer = await asyncio.open_connection(*address)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, payload: bytes) -> tuple[int, bool, bytes]:
        """Sends one request; returns (status, keep the connection, body)."""
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, keep = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        body = await self.reader.readexactly(length) if length else b""
        return status, keep, body

    def close(self):
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass
class Load:
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    @property
    def median(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


async def _closed_loop(address, requests: list[bytes], concurrency: int, duration: float) -> Load:
    load = Load()
    stop_at = time.perf_counter() + duration

    async def client(offset: int):
        conn = None
        i = offset
        while time.perf_counter() < stop_at:
            payload = requests[i % len(requests)]
            i += concurrency
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = await _Connection.open(address)
                status, keep, _ = await asyncio.wait_for(conn.request(payload), REQUEST_TIMEOUT)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                load.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            if status == 200:
                load.ok += 1
                load.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                load.errors += 1
            if not keep:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    load.seconds = time.perf_counter() - started
    return load


async def _open_loop(address, requests: list[bytes], rate: float, duration: float) -> Load:
    """Sends at a fixed rate whatever the answers do; latency counts from the planned send time,
    so a stalled server shows in the figures (no coordinated omission)."""
    load = Load()
    idle: list[_Connection] = []
    open_count = 0
    tasks = set()
    total = int(rate * duration)
    begin = time.perf_counter() + 0.05

    async def one(payload: bytes, planned: float):
        nonlocal open_count
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                if open_count >= MAX_OPEN_CONNECTIONS:
                    load.errors += 1
                    return
                open_count += 1
                conn = await _Connection.open(address)
            status, keep, _ = await asyncio.wait_for(conn.request(payload), REQUEST_TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            load.errors += 1
            if conn is not None:
                conn.close()
                open_count -= 1
            return
        if status == 200:
            load.ok += 1
            load.latencies_ms.append((time.perf_counter() - planned) * 1000)
        else:
            load.errors += 1
        if keep:
            idle.append(conn)
        else:
            conn.close()
            open_count -= 1

    for n in range(total):
        planned = begin + n / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(requests[n % len(requests)], planned))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT + 1)
    load.seconds = time.perf_counter() - begin
    for conn in idle:
        conn.close()
    return load


def _run(coroutine):
    """Runs the load on an event loop of its own thread: the caller may be inside a loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def closed_loop(address, requests, *, concurrency: int, duration: float) -> Load:
    """`concurrency` clients, each sending its next request as soon as it has an answer."""
    return _run(_closed_loop(address, requests, concurrency, duration))


def open_loop(address, requests, *, rate: float, duration: float) -> Load:
    return _run(_open_loop(address, requests, rate, duration))


def get_request(path: str, *, host: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def fetch(address, payload: bytes) -> tuple[int, bytes]:
    """One request, outside any measurement (checks that the server answers right)."""

    async def once():
        conn = await _Connection.open(address)
        try:
            status, _keep, body = await asyncio.wait_for(conn.request(payload), REQUEST_TIMEOUT)
            return status, body
        finally:
            conn.close()

    return _run(once())


# --- The processes a run shares -----------------------------------------------------------------
# A database and a Redis database of the run's own, the vendor emulator, two RQ workers and a
# gunicorn, started when a benchmark first needs them and stopped at the end; the memory of the
# workers and of the web server is sampled all along.

BENCH_REDIS_DB = 12
WORKERS = 2
MEMORY_SAMPLE_SECONDS = 0.1
MARKER = "bench"  # the names of everything a benchmark creates start with this


def bench_redis_url(url: str, db: int = BENCH_REDIS_DB) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"] + [("db", str(db))]
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(path=f"/{db}"))


@contextlib.contextmanager
def bench_environment(*, in_place: bool, write: Callable[[str], None]):
    """Yields the run's Stack, inside a database and Redis database of the run's own.

    The database is `<name>_bench` next to the configured one (SQLite: var/bench/bench.sqlite3),
    created and migrated now and dropped afterwards; Redis is database 12 of REDIS_URL's server,
    flushed before and after. `in_place` uses the configured ones as they are (the test suite's
    are its own already) and removes what the benchmarks made instead.
    """
    write(f"Load average (1, 5, 15 min) at the start: {_load()}.")
    if "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"]:
        # As on each release. A file that no static directory holds has already failed the
        # command's system checks (`moderation.checks`), as it would fail the pages.
        call_command("collectstatic", interactive=False, verbosity=0)
    if in_place:
        stack = Stack(write)
        try:
            yield stack
        finally:
            stack.close()
            stack.remove_data()
    else:
        with _own_database(write) as stack:
            yield stack


@contextlib.contextmanager
def _own_database(write):
    import redis
    from django.test.utils import override_settings

    from moderation import redis as moderation_redis

    db = connection.settings_dict
    old_name = db["NAME"]
    if db["ENGINE"].endswith("sqlite3"):
        bench_name = str(Path(settings.VAR_DIR) / "bench" / "bench.sqlite3")
        Path(bench_name).parent.mkdir(parents=True, exist_ok=True)
    else:
        bench_name = f"{old_name}_bench"
    redis_url = bench_redis_url(settings.REDIS_URL)
    queues = {
        name: {**queue, "URL": redis_url} if "URL" in queue else queue
        for name, queue in settings.RQ_QUEUES.items()
    }
    write(f"Database {bench_name} (created, migrated, dropped at the end); Redis {redis_url}.")
    db.setdefault("TEST", {})["NAME"] = bench_name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    flush = redis.Redis.from_url(redis_url)
    try:
        with override_settings(REDIS_URL=redis_url, RQ_QUEUES=queues):
            moderation_redis.use(None)  # the process-wide client: reconnect to the bench's
            flush.flushdb()
            stack = Stack(write, own_database=True)
            try:
                yield stack
            finally:
                stack.close()
                flush.flushdb()
                moderation_redis.use(None)
    finally:
        flush.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _load() -> str:
    try:
        return ", ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:
        return "unknown"


def _rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of one process in kB; zeros once it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, hwm


def _tree(root: int) -> list[int]:
    """A process and all its descendants (each thread lists the children it forked)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
            except (OSError, ValueError):
                pass
    return pids


class MemorySampler:
    """Peak resident memory of process trees (a process and all its children), by label.

    Every MEMORY_SAMPLE_SECONDS it adds up VmRSS over each tree; a tree's peak is the largest
    such sum, and never less than the VmHWM (own peak) of any process seen in it. A forked job
    process counts in full, pages it shares with its parent included.
    """

    def __init__(self):
        self._roots: dict[int, str] = {}
        self.peaks_kb: dict[int, int] = {}
        self.process_peaks_kb: dict[int, int] = {}
        self._gone: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return Path("/proc/self/status").exists()

    def track(self, pid: int, label: str) -> None:
        with self._lock:
            self._roots[pid] = label
        if self._thread is None and self.available:
            self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)
            self._thread.start()

    def sample(self) -> None:
        with self._lock:
            roots = [pid for pid in self._roots if pid not in self._gone]
        for root in roots:
            if not os.path.exists(f"/proc/{root}"):
                self._gone.add(root)
                continue
            total = own_peak = 0
            for pid in _tree(root):
                rss, hwm = _rss_kb(pid)
                total += rss
                own_peak = max(own_peak, hwm)
            self.peaks_kb[root] = max(self.peaks_kb.get(root, 0), total, own_peak)
            self.process_peaks_kb[root] = max(self.process_peaks_kb.get(root, 0), own_peak)

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            self.sample()

    def peak_mb(self, label: str) -> float | None:
        """The largest tree peak among the trees with this label, in MiB; None if none ran."""
        with self._lock:
            roots = [pid for pid, name in self._roots.items() if name == label]
        peaks = [self.peaks_kb[pid] for pid in roots if pid in self.peaks_kb]
        return max(peaks) / 1024 if peaks else None

    def process_peak_mb(self, label: str) -> float | None:
        with self._lock:
            roots = [pid for pid, name in self._roots.items() if name == label]
        peaks = [self.process_peaks_kb[pid] for pid in roots if pid in self.process_peaks_kb]
        return max(peaks) / 1024 if peaks else None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def child_environment(**extra) -> dict[str, str]:
    """The environment of a process serving this run: its database, its Redis, its settings."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE
        ),
        "DATABASE_URL": child_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        **extra,
    }


def stop_process_group(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def host_header() -> str:
    """A host name the site serves (ALLOWED_HOSTS), for requests to it."""
    for host in settings.ALLOWED_HOSTS:
        if host not in ("*", "") and not host.startswith("."):
            return host
    return "127.0.0.1"


class Stack:
    """The real pieces a benchmark drives; each starts on first use and stops at `close()`."""

    def __init__(self, write: Callable[[str], None], *, own_database: bool = False):
        self.write = write
        self.own_database = own_database  # made for this run, dropped afterwards
        self.memory = MemorySampler()
        self._emulator = None
        self._arrivals = threading.Condition()
        self._calls_by_app: dict[str, list] = {}
        self._workers: list[subprocess.Popen] = []
        self._logs: list = []
        self._logs_begun = False
        self._web: Gunicorn | None = None
        self.apps: list = []  # VendorApps the benchmarks made, for remove_data()
        self.users: list = []

    # -- the vendor emulator, a thread of this process (its clock is this process's clock) --

    def emulator(self):
        if self._emulator is None:
            from rtc_emulator import Emulator

            self._emulator = Emulator(on_call=self._arrived)
            self._emulator.start(host=LOOPBACK, port=0)
        return self._emulator

    def _arrived(self, call) -> None:
        with self._arrivals:
            self._calls_by_app.setdefault(call.app_id, []).append(call)
            self._arrivals.notify_all()

    def calls_of(self, vendor_app_id: str) -> list:
        with self._arrivals:
            return list(self._calls_by_app.get(vendor_app_id, ()))

    def wait_for_call(self, vendor_app_id: str, count: int, timeout: float):
        """The `count`-th call (1-based) the emulator received for this app; None on timeout."""
        with self._arrivals:
            calls = self._calls_by_app.setdefault(vendor_app_id, [])
            if self._arrivals.wait_for(lambda: len(calls) >= count, timeout):
                return calls[count - 1]
        return None

    def vendor_app(self, vendor: str, **fields):
        """A vendor app of the benchmark's own, known to the emulator with the same secret."""
        import secrets

        from moderation.models import VendorApp

        emulator = self.emulator()
        suffix = secrets.token_hex(4)
        numeric = str(1_000_000_000 + secrets.randbelow(3_000_000_000))
        app_id, region, key_id = {
            "volcengine": (f"{MARKER}{suffix}", "cn-north-1", f"AKLT{MARKER}{suffix}"),
            "zego": (numeric, "", ""),
            "tencent": (numeric, "ap-guangzhou", f"AKID{MARKER}{suffix}"),
        }[vendor]
        app = VendorApp(
            name=f"{MARKER}-{vendor}-{suffix}",
            vendor=vendor,
            vendor_app_id=app_id,
            region=region,
            access_key_id=key_id,
            endpoint=emulator.endpoint(vendor),
            **fields,
        )
        app.secret = secrets.token_hex(16)
        app.full_clean()
        app.save()
        emulator.add_app(vendor=vendor, app_id=app_id, access_key_id=key_id, secret=app.secret)
        self.apps.append(app)
        return app

    def user(self, role: str | None = None, *, superuser: bool = False):
        import secrets

        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group, Permission

        from moderation.roles import sync_roles

        sync_roles(Group, Permission)
        user = get_user_model().objects.create_user(
            username=f"{MARKER}-{(role or 'root').split()[0].lower()}-{secrets.token_hex(3)}",
            password=None,
            is_staff=True,
            is_superuser=superuser,
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        self.users.append(user)
        return user

    # -- the Procfile's workers and clock, as in production: WORKERS of `manage.py rqworker ----
    # -- moderation-interactive moderation`, the interactive worker and `manage.py clock` -------

    def workers(self) -> list[subprocess.Popen]:
        if self._workers:
            return self._workers
        import django_rq
        from rq import Worker

        from moderation import services

        log_dir = Path(settings.VAR_DIR) / "bench"
        log_dir.mkdir(parents=True, exist_ok=True)
        both = ["rqworker", services.INTERACTIVE_QUEUE, services.QUEUE]
        workers = [self._start(both, log_dir / f"worker-{n}.log") for n in range(1, WORKERS + 1)]
        workers.append(
            self._start(
                ["rqworker", services.INTERACTIVE_QUEUE], log_dir / "interactive-worker.log"
            )
        )
        for process in workers:
            self.memory.track(process.pid, "worker")
        self._start(["clock"], log_dir / "clock.log")
        self._logs_begun = True
        redis = django_rq.get_connection("moderation")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._workers):
                raise RuntimeError(f"an RQ worker or the clock exited; see {log_dir}/*.log")
            pids = {w.pid for w in Worker.all(connection=redis)}
            if all(p.pid in pids for p in workers):
                return self._workers
            time.sleep(0.1)
        raise RuntimeError(f"the RQ workers did not start within 60 s; see {log_dir}")

    def _start(self, command: list[str], log_path: Path) -> subprocess.Popen:
        log = open(log_path, "a" if self._logs_begun else "w")  # noqa: SIM115 - closed in release()
        self._logs.append(log)
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "manage.py", *command],
            cwd=settings.BASE_DIR,
            env=child_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # dies with the bench
        )
        self._workers.append(process)
        return process

    # -- the web server ------------------------------------------------------------------------

    def web(self) -> Gunicorn:
        if self._web is None:
            self._web = Gunicorn(workers=2, threads=2).__enter__()
            self.memory.track(self._web.process.pid, "web")
        return self._web

    def release(self, keep=()) -> None:
        """Stops what the next benchmark does not use (`keep`: "emulator", "workers", "web").

        So that no benchmark runs beside another's idle processes (measured: an idle stack
        beside the ban check's server cost it a quarter of its requests per second). What is
        stopped starts again when used; memory peaks are kept.
        """
        self.memory.sample()
        if self._web is not None and "web" not in keep:
            self._web.__exit__(None, None, None)
            self._web = None
        if "workers" not in keep:
            for process in self._workers:
                stop_process_group(process)
            self._workers = []
            for log in self._logs:
                log.close()
            self._logs = []
        if self._emulator is not None and "emulator" not in keep:
            self._emulator.stop()
            self._emulator = None

    def close(self) -> None:
        self.release()
        self.memory.stop()
        with contextlib.suppress(OSError, ValueError):  # e.g. stderr piped into a closed `head`
            self.write(f"Load average (1, 5, 15 min) at the end: {_load()}.")

    def remove_data(self) -> None:
        """Removes every row the benchmarks made (for runs in a database that stays)."""
        remove_apps(self.apps)
        for user in self.users:
            user.delete()


def remove_apps(apps) -> None:
    """Deletes vendor apps and everything under them: bans, their log and calls, rooms."""
    from moderation.models import Ban, ModerationLog, Room, VendorApp, VendorCall

    pks = [app.pk for app in apps if app.pk is not None]
    if not pks:
        return
    apps_in = f"app_id IN ({', '.join(['%s'] * len(pks))})"
    calls, bans = VendorCall._meta.db_table, Ban._meta.db_table
    # Raw deletes: the ORM would load every row first (append-only models, PROTECT keys), and
    # the history benchmark leaves a million. Table names come from the models; values are bound.
    statements = [
        (VendorCall.bans.through._meta.db_table, "vendorcall_id", calls),
        (ModerationLog._meta.db_table, "ban_id", bans),
        (calls, None, None),
        (bans, None, None),
        (Room._meta.db_table, None, None),
    ]
    with connection.cursor() as cursor:
        for table, key, parent in statements:
            where = f"{key} IN (SELECT id FROM {parent} WHERE {apps_in})" if key else apps_in  # noqa: S608
            cursor.execute(f"DELETE FROM {table} WHERE {where}", pks)  # noqa: S608
    VendorApp.objects.filter(pk__in=pks).delete()  # tokens, presence, deliveries go with it

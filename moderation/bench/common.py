"""What the benchmarks share: results, a gunicorn on loopback, and HTTP load generators.

The load generators speak HTTP/1.1 over raw asyncio streams (keep-alive, prebuilt request
bytes), so that on a small machine the client costs little of the CPU the server needs. Everything
listens on and connects to 127.0.0.1 only, and every run is bounded in time and connections.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
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

    def __init__(self, *, workers: int, threads: int = 1, env: dict | None = None):
        self.port = free_port()
        self.workers, self.threads = workers, threads
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
            "gthread" if self.threads > 1 else "sync",
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

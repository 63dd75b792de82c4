"""Room callbacks as the vendors send them: signed, one POST per membership change, retried.

One sender thread per emulator delivers in order of the changes and retries what did not get a
2xx answer within the vendor's deadline, on the vendor's schedule (or a shorter one for tests).
Every attempt is recorded with the exact headers and body, so a test can deliver one again.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

# Seconds before each retry, per vendor (vendors.md): Volcengine retries twice (timing
# UNCONFIRMED); ZEGO after 2, 4, 8, 16 and 32 s; Tencent at once, then every 10 s for a minute.
RETRY_DELAYS = {
    "volcengine": [1.0, 1.0],
    "zego": [2.0, 4.0, 8.0, 16.0, 32.0],
    "tencent": [0.0, 10.0, 10.0, 10.0, 10.0, 10.0],
}
# The vendors count an answer later than 5 s as a failure.
DEADLINE_SECONDS = 5.0


@dataclass
class CallbackRecord:
    vendor: str
    app_id: str
    event: str  # "join" or "leave"
    room_id: str
    user_id: str
    reason: str
    url: str
    attempt: int
    headers: dict[str, str]
    body: str
    sent_at: float
    answered_at: float | None = None
    status: int | None = None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": self.delivered}


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    vendor: str = field(compare=False)
    app_id: str = field(compare=False)
    change: Any = field(compare=False)
    url: str = field(compare=False)
    headers: dict = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


def check_callback_url(url: str) -> str:
    """A callback URL must be http(s) on this machine: the emulator calls nothing beyond it."""
    from .core import require_loopback  # core imports this module

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"callback_url must be an http:// or https:// URL; got {url!r}")
    require_loopback(parts.hostname)
    return url


class CallbackSender:
    def __init__(self, *, delays: dict[str, list[float]] | None = None, on_callback=None):
        self.delays = {**RETRY_DELAYS, **(delays or {})}
        self.on_callback = on_callback
        self._lock = threading.Condition()
        self._queue: list[_Pending] = []
        self._records: list[CallbackRecord] = []
        self._sequence = itertools.count()
        self._generation = 0  # bumped by clear(): a delivery in flight is then not retried
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name="vendor-emulator-callbacks", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=DEADLINE_SECONDS + 1)

    def submit(self, vendor: str, app_id: str, change, url: str, headers, body: bytes) -> None:
        with self._lock:
            heapq.heappush(
                self._queue,
                _Pending(
                    time.time(), next(self._sequence), vendor, app_id, change, url, headers, body
                ),
            )
            self._lock.notify_all()

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._records.clear()
            self._generation += 1

    def records(self) -> list[CallbackRecord]:
        with self._lock:
            return list(self._records)

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and (not self._queue or self._queue[0].due > time.time()):
                    wait = self._queue[0].due - time.time() if self._queue else None
                    self._lock.wait(timeout=wait)
                if self._stopping:
                    return
                item = heapq.heappop(self._queue)
                generation = self._generation
            record = self._deliver(item)
            with self._lock:
                if generation != self._generation:
                    continue  # cleared meanwhile: forget this delivery
                self._records.append(record)
                delays = self.delays.get(item.vendor, [])
                if not record.delivered and item.attempt <= len(delays):
                    item.due = time.time() + delays[item.attempt - 1]
                    item.attempt += 1
                    item.seq = next(self._sequence)
                    heapq.heappush(self._queue, item)
            if self.on_callback is not None:
                self.on_callback(record)

    def _deliver(self, item: _Pending) -> CallbackRecord:
        change = item.change
        record = CallbackRecord(
            vendor=item.vendor,
            app_id=item.app_id,
            event=change.kind,
            room_id=change.room_id,
            user_id=change.user_id,
            reason=change.reason,
            url=item.url,
            attempt=item.attempt,
            headers=dict(item.headers),
            body=item.body.decode("utf-8"),
            sent_at=time.time(),
        )
        try:
            response = self._session.post(
                item.url,
                data=item.body,
                # One connection per delivery: a kept-alive one would hold a server thread.
                headers={**item.headers, "Connection": "close"},
                timeout=(2.0, DEADLINE_SECONDS),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            record.error = type(exc).__name__
        else:
            record.status = response.status_code
        record.answered_at = time.time()
        return record

"""Which processes are alive: a lease in Redis that each worker and clock renews every second.

A worker's claim on a ban names the worker's lease. When the lease lapses (the process was
killed, its machine is gone) the clock frees the claim and the ban is dispatched again within
seconds; while the lease lives, nobody else takes the ban. RQ's own worker keys outlive a
killed worker by a minute or more (their TTL is the job timeout plus 60 s), too long for that.

A claim is `<lease name>#<task>`: the worker's lease holds the id of the job it is running, so
a claim left behind by a job that ended half-way (the database went away under it) is free as
soon as the worker has moved on, though the worker lives. A process that is not a worker holds
its claims for as long as it lives (task `*`).

A process calls the vendor only while it knows its lease is still in Redis (`ensure_held()`),
so a worker cut off from Redis stops before another is given its bans. A lease that lapsed is
lost for good, even once Redis answers again (its claims may be someone else's by then): the
process goes on under a new lease, from its next job on.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from django.conf import settings
from redis.exceptions import RedisError

from . import redis

log = logging.getLogger(__name__)

PREFIX = "moderation:alive:"
REGISTRY = "moderation:alive"  # hash: lease name -> role ("worker", "clock", "process")
ANY_TASK = "*"


class LeaseLost(RuntimeError):
    """This process cannot tell that its lease is still in Redis: it must not call vendors."""


class Lease:
    """`SET moderation:alive:<name> <task> PX <LEASE_SECONDS>` now and five times per lease,
    while the key lasts; `lost` once it has lapsed."""

    def __init__(self, name: str, role: str, connection=None, task: str = ANY_TASK):
        self.name, self.role, self.task = name, role, task
        # The clock's lease only says it is alive: it claims nothing, so it may come back.
        self.holds_claims = role != "clock"
        self.connection = connection
        self.pid = os.getpid()
        self.lost = False
        self._valid_until = 0.0  # monotonic time until which the key is surely in Redis
        self._stopped = threading.Event()
        self._thread = None
        # The renewal thread and a job's begin/end must not write the task out of order.
        self._writing = threading.Lock()

    @property
    def key(self) -> str:
        return PREFIX + self.name

    def start(self) -> Lease:
        if not self._set(create=True) and self.holds_claims:
            raise LeaseLost(f"Lease {self.name} not taken: Redis does not answer.")
        self._thread = threading.Thread(target=self._run, name=f"lease {self.name}", daemon=True)
        self._thread.start()
        return self

    def renew(self) -> bool:
        return not self.lost and self._set(create=False)

    def holds(self) -> bool:
        return not self.lost and time.monotonic() < self._valid_until

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._valid_until = 0.0
        try:
            with self._redis().pipeline(transaction=False) as pipe:
                pipe.delete(self.key)
                pipe.hdel(REGISTRY, self.name)
                pipe.execute()
        except RedisError:
            pass  # it lapses by itself

    def _set(self, *, create: bool) -> bool:
        with self._writing:
            return self._set_now(create=create)

    def _set_now(self, *, create: bool) -> bool:
        lease = settings.LEASE_SECONDS
        sent = time.monotonic()
        try:
            with self._redis().pipeline(transaction=False) as pipe:
                # XX: a key that lapsed is not brought back; its claims may be taken by now.
                xx = not create and self.holds_claims
                pipe.set(self.key, self.task, px=int(lease * 1000), xx=xx)
                pipe.hset(REGISTRY, self.name, self.role)
                there, _ = pipe.execute()
        except RedisError as exc:
            log.warning("Lease %s not renewed (%s).", self.name, type(exc).__name__)
            return False
        if not there:
            self.lost = True
            log.warning("Lease %s lapsed; this process goes on under a new one.", self.name)
            return False
        # Half a second short of the TTL: the SET reached Redis after `sent`.
        self._valid_until = sent + lease - 0.5
        return True

    def _run(self) -> None:
        interval = max(0.1, settings.LEASE_SECONDS / 5)
        while not self._stopped.wait(interval) and not self.lost:
            self.renew()

    def _redis(self):
        return self.connection if self.connection is not None else redis.connection()


_current: Lease | None = None
_lock = threading.Lock()


def start(name: str, role: str, connection=None) -> Lease:
    """This process's lease, under `name`; the worker and the clock start theirs first thing."""
    global _current
    with _lock:
        if _current is not None:
            _current.stop()
        _current = Lease(name, role, connection).start()
        return _current


def stop() -> None:
    global _current
    with _lock:
        if _current is not None:
            _current.stop()
            _current = None


def process_name(prefix: str) -> str:
    """Unique across machines and restarts: host, pid and a random part."""
    return f"{prefix}.{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(3)}"


def _successor(lease: Lease | None) -> Lease:
    if lease is None or lease.pid != os.getpid():
        # None yet, or one inherited through fork(): this process needs its own.
        return Lease(process_name("process"), "process").start()
    base = lease.name.partition("~")[0]
    lease.stop()
    return Lease(f"{base}~{secrets.token_hex(3)}", lease.role, lease.connection, lease.task).start()


def claimant() -> str:
    """What claims are made under now: this process's lease, held now, and its task.

    A lease that lapsed is replaced by a new one here, where nothing is claimed yet; raises
    LeaseLost when Redis does not answer.
    """
    global _current
    with _lock:
        lease = _current
        if lease is None or lease.pid != os.getpid() or lease.lost:
            _current = lease = _successor(lease)
        elif not (lease.holds() or lease.renew()):
            if not lease.lost:
                raise LeaseLost(f"Lease {lease.name} not renewed: Redis does not answer.")
            _current = lease = _successor(lease)
        return f"{lease.name}#{lease.task}"


def ensure_held() -> None:
    """Raises LeaseLost unless this process's lease is surely in Redis."""
    if _current is None or _current.pid != os.getpid():
        claimant()  # a first lease: there are no claims of this process to lose yet
    lease = _current
    if not (lease.holds() or lease.renew()):
        raise LeaseLost(f"Lease {lease.name} has lapsed: its claims may have been taken.")


def begin(task: str) -> None:
    """The worker starts a job: claims made from now on belong to it."""
    _set_task(task)


def end() -> None:
    """The job is over: whatever it still claims is free for others."""
    _set_task("")


def _set_task(task: str) -> None:
    if _current is None:
        return
    _current.task = task
    _current.renew()  # now, not at the next renewal: the claims' state changes with it


def released(claims, connection=None) -> set[str]:
    """Those of these claims whose holder is gone or has moved on to another task.

    Raises RedisError if it cannot tell.
    """
    claims = sorted({c for c in claims if c})
    if not claims:
        return set()
    connection = connection or redis.connection()
    with connection.pipeline(transaction=False) as pipe:
        for claim in claims:
            pipe.get(PREFIX + claim.rpartition("#")[0])
        tasks = pipe.execute()
    return {
        claim
        for claim, task in zip(claims, tasks, strict=True)
        if task is None or task.decode() not in (ANY_TASK, claim.rpartition("#")[2])
    }


def gone(names, connection=None) -> set[str]:
    """Those of these leases that are no longer in Redis; raises RedisError if it cannot tell."""
    names = sorted(set(names))
    if not names:
        return set()
    connection = connection or redis.connection()
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.exists(PREFIX + name)
        present = pipe.execute()
    return {name for name, there in zip(names, present, strict=True) if not there}


def alive(role: str, connection=None) -> int:
    """How many processes of `role` hold a lease now; forgets the registry's dead entries."""
    connection = connection or redis.connection()
    names = [
        name.decode()
        for name, value in connection.hgetall(REGISTRY).items()
        if value.decode() == role
    ]
    dead = gone(names, connection)
    if dead:
        connection.hdel(REGISTRY, *dead)
    return len(names) - len(dead)

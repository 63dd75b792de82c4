"""The console's clock (`manage.py clock`): ends bans on time and keeps the work moving.

Each second every running clock ends the bans that are due (`services.expire_due`) and
dispatches again the bans of workers that are gone (`services.release_dead_claims`); row locks
make both safe to run in several clocks at once, so losing one clock loses no tick. Every 15 s
one clock reconciles (`services.reconcile`): the one that takes that interval's Redis lease
(`SET NX PX`), so two clocks do not repeat its work.

The clock is RQ's scheduler too: each second it moves the jobs whose time has come (retries
after a back-off, re-apply timers, delayed re-kicks) onto their queue, using RQ's own
`RQScheduler.enqueue_scheduled_jobs`. One clock does it at a time, under a 3-second lease it
renews each second, so another takes over within seconds of its death. (RQ's own scheduler,
`rqworker --with-scheduler`, holds its lock 61 s past its worker's death.)

Run two or more, on different machines: any one may die.
"""

import contextlib
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError
from rq.scheduler import RQScheduler

from . import liveness, redis, services

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
RECONCILE_LEASE = "moderation:clock:reconcile"
RECONCILED_AT = "moderation:clock:reconciled_at"
SCHEDULER_LEASE = "moderation:clock:scheduler"
SCHEDULER_LEASE_MS = 3000
# Renews the lease if this clock holds it, else takes it if nobody does.
_HOLD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""


class Clock:
    def __init__(self, name: str):
        self.name = name
        self.next_reconcile = 0.0  # monotonic; 0: at the first tick
        # Both queues: an interactive job's retry waits in the interactive queue's schedule.
        self.scheduler = RQScheduler(list(redis.QUEUES), connection=redis.connection())
        self.scheduler.prepare_registries(list(redis.QUEUES))

    def tick(self) -> dict:
        done = {"expired": self._expire(), "released": self._release()}
        self._move_scheduled()
        if time.monotonic() >= self.next_reconcile and self._reconcile_turn():
            done["reconciled"] = services.reconcile()
            self.next_reconcile = time.monotonic() + settings.RECONCILE_SECONDS
            _stamp_reconcile()
        return done

    def run(self, stop: threading.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            close_old_connections()  # a restarted database or a connection past CONN_MAX_AGE
            try:
                done = self.tick()
            except (DatabaseError, RedisError) as exc:
                log.warning(
                    "Clock tick failed (%s: %s); next tick in a second.", type(exc).__name__, exc
                )
            else:
                if done["expired"] or done["released"] or "reconciled" in done:
                    log.info("Clock: %s", done)
            # On the second after the last tick, whatever the tick took.
            elapsed = time.monotonic() - started
            stop.wait(TICK_SECONDS - elapsed % TICK_SECONDS)

    def _expire(self) -> int:
        expired = 0
        while True:
            count = services.expire_due()
            expired += count
            if count < services.EXPIRE_BATCH:
                return expired

    def _release(self) -> int:
        try:
            return services.release_dead_claims()
        except RedisError as exc:
            # Without Redis no worker runs either; nothing is lost by waiting.
            log.warning("Workers' leases not checked (%s).", type(exc).__name__)
            return 0

    def _move_scheduled(self) -> None:
        try:
            if redis.connection().eval(_HOLD, 1, SCHEDULER_LEASE, self.name, SCHEDULER_LEASE_MS):
                self.scheduler.enqueue_scheduled_jobs()
        except RedisError as exc:
            log.warning("Scheduled jobs not moved (%s).", type(exc).__name__)

    def _reconcile_turn(self) -> bool:
        """Whether this clock reconciles now: it took the interval's lease, or cannot ask."""
        ttl = int(settings.RECONCILE_SECONDS * 1000) - 500  # gone before the holder's next turn
        try:
            taken = redis.connection().set(RECONCILE_LEASE, self.name, nx=True, px=ttl)
        except RedisError:
            return True  # reconcile is safe to run twice; it must not stop with Redis
        if not taken:
            self.next_reconcile = time.monotonic() + TICK_SECONDS
        return bool(taken)


def _stamp_reconcile() -> None:
    with contextlib.suppress(RedisError):  # health then reports an older reconcile
        redis.connection().set(RECONCILED_AT, f"{time.time():.3f}")


def last_reconcile(connection=None) -> float | None:
    """When a clock last finished a reconcile (epoch seconds), or None if none is on record."""
    value = (connection or redis.connection()).get(RECONCILED_AT)
    return float(value) if value else None


def run(stop: threading.Event) -> None:
    lease = liveness.start(liveness.process_name("clock"), "clock")
    try:
        Clock(lease.name).run(stop)
    finally:
        liveness.stop()

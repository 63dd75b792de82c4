"""Bulk bans per vendor: users per second from the service call to the vendor's last answer.

One moderator action bans distinct users in one room of an app of the benchmark's own; two RQ
workers make the calls to the vendor emulator, which enforces each vendor's documented rate limit
and counts the calls it throttles. The limit in users per second is users per call times calls
per second.

A run of C calls at L calls per second fills C/L rate windows, and the first window's calls go
out at once: a limiter that is exactly right finishes in (C/L - 1) windows, so the ratio to the
limit of a short run can be above 1 (ZEGO's 200 calls: 4/3).

A ban a job skipped (see wait_until_applied) is dispatched again by the benchmark as soon as the
queue is idle, and counted in throughput_stranded_bans; in production it would wait for
reconcile, minutes later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import django_rq
from django.conf import settings

from moderation import services
from moderation.models import Ban, Room

from .common import MARKER, Context, Result, Stack

RATIO_TARGET = 0.95

STACK = ("emulator", "workers")  # what it uses of the run's Stack


@dataclass(frozen=True)
class Plan:
    vendor: str
    users: int
    users_per_call: int
    calls_per_second: int
    room_id: str

    @property
    def limit(self) -> float:
        return self.users_per_call * self.calls_per_second


PLANS = [
    Plan("zego", 1000, 5, 50, f"{MARKER}-live"),  # KickoutUser
    Plan("tencent", 1000, 10, 20, "8080"),  # RemoveUser (a numeric room)
    Plan("volcengine", 200, 1, 20, f"{MARKER}-lobby"),  # BanRoomUser
]


def run(context: Context) -> list[Result]:
    stack: Stack = context.extra["stack"]
    emulator = stack.emulator()
    stack.workers()
    actor = stack.user(superuser=True)
    throttled_before = emulator.throttled
    results = []
    stranded = 0
    for plan in PLANS:
        outcome = ban_many(stack, plan, actor=actor, write=context.write)
        rate = outcome.users_per_second
        stranded += outcome.stranded
        results += [
            Result(
                f"throughput_users_per_s_{plan.vendor}",
                rate,
                "users/s",
                f"the limit, {plan.limit:g} users/s",
            ),
            Result(
                f"throughput_ratio_{plan.vendor}",
                rate / plan.limit,
                "of the limit",
                f"≥ {RATIO_TARGET}",
            ),
        ]
    results += [
        Result("throttled_calls", emulator.throttled - throttled_before, "calls", "0"),
        Result("throughput_stranded_bans", stranded, "bans", "0"),
    ]
    return results


@dataclass(frozen=True)
class Outcome:
    users_per_second: float
    stranded: int


def ban_many(stack: Stack, plan: Plan, *, actor, write=print) -> Outcome:
    """Bans plan.users users in one room: users per second, service call to last answer."""
    stack.workers()
    app = stack.vendor_app(plan.vendor)
    room = Room.objects.create(app=app, room_id=plan.room_id)
    users = [f"{MARKER}-{n:05d}" for n in range(plan.users)]
    calls = plan.users // plan.users_per_call + bool(plan.users % plan.users_per_call)
    write(f"throughput: {plan.vendor}, {plan.users} users in {calls} calls …")
    # Generous, and bounded: the limit itself needs calls / calls_per_second seconds.
    timeout = 60 + 5 * calls / plan.calls_per_second

    started = time.time()  # the emulator stamps calls with this clock
    bans = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=users,
        seconds=86_400,
        reason="benchmark: bulk ban",
        actor=actor,
    )
    ids = [b.pk for b in bans]
    stranded = wait_until_applied(ids, timeout=timeout, write=write)
    answers = stack.calls_of(app.vendor_app_id)
    failed = Ban.objects.filter(pk__in=ids).exclude(status=Ban.Status.ACTIVE).count()
    if failed:
        write(f"throughput: {plan.vendor}: {failed} bans did not become active")
    last = max(call.time for call in answers)
    seconds = last - started
    write(
        f"throughput: {plan.vendor}: {len(answers)} calls, last answer after {seconds:.2f} s, "
        f"{sum(c.throttled for c in answers)} throttled"
    )
    return Outcome(plan.users / seconds, stranded)


def _queues_idle(queues) -> bool:
    """No job queued, running, or scheduled within the retries' reach (expiry timers are later)."""
    soon = int(time.time()) + 2 * settings.VENDOR_RETRY_CAP_SECONDS
    return not any(
        queue.count
        or queue.started_job_registry.count
        or queue.scheduled_job_registry.get_jobs_to_schedule(soon, chunk_size=1)
        for queue in queues
    )


def wait_until_applied(ids: list[int], *, timeout: float, write=print) -> int:
    """Waits until none of these bans is pending; returns how many it had to dispatch again.

    A ban can be stranded: pending, never claimed, its job done. (A worker's claim skips rows
    another transaction has locked, e.g. dispatch() still marking the batch dispatched.) Only
    reconcile would dispatch it again, DISPATCH_GRACE_SECONDS x 10 later; the benchmark does it
    as soon as the queues are idle twice in a row, and counts it.
    """
    queues = [django_rq.get_queue(name) for name in (services.INTERACTIVE_QUEUE, services.QUEUE)]
    deadline = time.monotonic() + timeout
    stranded, idle_polls = 0, 0
    while True:
        pending = list(
            Ban.objects.filter(pk__in=ids, status=Ban.Status.PENDING).values_list(
                "pk", "claimed_at"
            )
        )
        if not pending:
            return stranded
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} bans still pending after {timeout:g} s")
        idle_polls = idle_polls + 1 if _queues_idle(queues) else 0
        unclaimed = [pk for pk, claimed_at in pending if claimed_at is None]
        if idle_polls >= 2 and unclaimed:
            write(
                f"  {len(unclaimed)} bans stranded (pending, unclaimed, no job): dispatched again"
            )
            stranded += len(unclaimed)
            services.dispatch(unclaimed)
            idle_polls = 0
        time.sleep(0.05)

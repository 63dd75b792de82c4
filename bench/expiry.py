"""Expiry lag: from a ban's expires_at to its status turning expired, for bans ending together.

Moderators ban BANS users of a ZEGO app of the benchmark's own in ACTIONS actions whose durations
are FIRST_SECONDS, FIRST_SECONDS + 1, …: once the workers have applied them (about a second), the
bans end within the same ACTIONS seconds. The clock process's expiry run (each second, in the
clock itself) ends them, as in production. The lag of a ban is the time of its status flip
(updated_at, set by the flip) minus its expires_at.
"""

from __future__ import annotations

import statistics
import time

from moderation import services
from moderation.models import Ban, Room

from .click import percentile
from .common import MARKER, Context, Result, Stack
from .throughput import wait_until_applied

BANS = 200
ACTIONS = 10
FIRST_SECONDS = 10
P99_TARGET_S = 2.0
GIVE_UP_SECONDS = 120  # after the last expires_at: lags beyond this count as this

STACK = ("emulator", "workers")  # what it uses of the run's Stack


def run(context: Context) -> list[Result]:
    lags = measure(context.extra["stack"], write=context.write)
    return [
        Result("expiry_lag_p50_s", statistics.median(lags), "s", "none"),
        Result("expiry_lag_p99_s", percentile(lags, 99), "s", f"≤ {P99_TARGET_S:g} s"),
    ]


def measure(stack: Stack, *, write=print) -> list[float]:
    stack.workers()
    app = stack.vendor_app("zego")
    room = Room.objects.create(app=app, room_id=f"{MARKER}-expiry")
    actor = stack.user(superuser=True)
    per_action = BANS // ACTIONS
    write(
        f"expiry: {BANS} bans ending within {ACTIONS} s, "
        f"from {FIRST_SECONDS} s after they are applied …"
    )
    ids = []
    for n in range(ACTIONS):
        bans = services.ban(
            app=app,
            scope=Ban.Scope.USER_IN_ROOM,
            room=room,
            user_ids=[f"{MARKER}-expiry-{n}-{u:03d}" for u in range(per_action)],
            seconds=FIRST_SECONDS + n,
            reason="benchmark: expiry",
            actor=actor,
        )
        ids += [b.pk for b in bans]
    stranded = wait_until_applied(ids, timeout=60, write=write)
    rows = Ban.objects.filter(pk__in=ids)
    first, last = (
        min(rows.values_list("expires_at", flat=True)),
        max(rows.values_list("expires_at", flat=True)),
    )
    spread = (last - first).total_seconds()
    write(f"expiry: all applied ({stranded} stranded); they end over {spread:.1f} s")
    deadline = last.timestamp() + GIVE_UP_SECONDS
    while rows.filter(status=Ban.Status.ACTIVE).exists() and time.time() < deadline:
        time.sleep(0.1)
    lags = []
    for status, expires_at, flipped in rows.values_list("status", "expires_at", "updated_at"):
        if status == Ban.Status.EXPIRED:
            lags.append((flipped - expires_at).total_seconds())
        else:
            lags.append(GIVE_UP_SECONDS)
    late = sum(1 for lag in lags if lag >= GIVE_UP_SECONDS)
    if late:
        write(f"expiry: {late} bans not expired {GIVE_UP_SECONDS} s after their end")
    write(f"expiry: lag min {min(lags):.2f} s, max {max(lags):.2f} s")
    return lags

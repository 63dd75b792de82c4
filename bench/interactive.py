"""Interactive during bulk: single kicks made while a bulk kick of the same app runs.

One `services.kick` of 2,500 users in one room of a Tencent app (RemoveUser: 10 users a call,
20 calls a second at the vendor emulator, which throttles what goes beyond), and 20 single
kicks in another room of the same app, one `services.kick` each, spread over the bulk's run.
Each single kick is timed from the service call until the emulator has its vendor call; the
two RQ workers and the interactive worker of the Procfile make the calls.

The bulk's throughput ratio is its calls per second (from its service call to its last answer)
against what the limit leaves it: the limit's calls over that time, less those the single kicks
made within it. As in the throughput benchmark, a limiter that is exactly right is above 1 on a
run this short (the first window's calls go out at once).
"""

from __future__ import annotations

import math
import statistics
import time

from moderation import services
from moderation.models import Room

from .click import percentile
from .common import MARKER, Context, Result, Stack
from .throughput import wait_until_applied

BULK_USERS = 2500
SINGLES = 20
USERS_PER_CALL, CALLS_PER_SECOND = 10, 20  # Tencent's RemoveUser
BULK_ROOM, SINGLE_ROOM = "8080", "9090"  # numeric rooms: RemoveUser for both
FIRST_SINGLE_SECONDS = 1.0  # after the bulk was made; the last this long before it should end
P99_TARGET_SECONDS = 2.0
RATIO_TARGET = 0.95

STACK = ("emulator", "workers")  # what it uses of the run's Stack


def run(context: Context) -> list[Result]:
    outcome = measure(context.extra["stack"], write=context.write)
    latencies = outcome["latencies"]
    return [
        Result("interactive_during_bulk_p50_s", statistics.median(latencies), "s", "none"),
        Result(
            "interactive_during_bulk_p99_s",
            percentile(latencies, 99),
            "s",
            f"≤ {P99_TARGET_SECONDS:g} s",
        ),
        Result(
            "interactive_bulk_throughput_ratio",
            outcome["ratio"],
            "of what the limit leaves it",
            f"≥ {RATIO_TARGET}",
        ),
        Result("interactive_throttled_calls", outcome["throttled"], "calls", "0"),
    ]


def measure(stack: Stack, *, write=print) -> dict:
    emulator = stack.emulator()
    stack.workers()
    actor = stack.user(superuser=True)
    app = stack.vendor_app("tencent")
    bulk_room = Room.objects.create(app=app, room_id=BULK_ROOM)
    single_room = Room.objects.create(app=app, room_id=SINGLE_ROOM)
    crowd = [f"{MARKER}-{n:05d}" for n in range(BULK_USERS)]
    singles = [f"{MARKER}-single-{n:02d}" for n in range(SINGLES)]
    for room, users in ((BULK_ROOM, crowd), (SINGLE_ROOM, singles)):
        for user in users:  # kicked from where they are, as in a raid
            emulator.join(vendor="tencent", app_id=app.vendor_app_id, room_id=room, user_id=user)
    bulk_calls = math.ceil(BULK_USERS / USERS_PER_CALL)
    at_the_limit = bulk_calls / CALLS_PER_SECOND
    span = max(0.0, at_the_limit - 2 * FIRST_SINGLE_SECONDS)
    offsets = [FIRST_SINGLE_SECONDS + span * n / max(1, SINGLES - 1) for n in range(SINGLES)]
    write(
        f"interactive: a kick of {BULK_USERS} users in {bulk_calls} calls, and {SINGLES} single "
        f"kicks from {offsets[0]:.1f} s to {offsets[-1]:.1f} s into it …"
    )
    throttled_before = emulator.throttled

    started = time.time()  # the emulator stamps calls with this clock
    bulk = services.kick(
        app=app, room=bulk_room, user_ids=crowd, reason="benchmark: raid", actor=actor
    )
    made, ids = {}, [b.pk for b in bulk]
    for user, offset in zip(singles, offsets, strict=True):
        time.sleep(max(0.0, started + offset - time.time()))
        made[user] = time.time()
        (kick,) = services.kick(
            app=app, room=single_room, user_ids=[user], reason="benchmark: urgent", actor=actor
        )
        ids.append(kick.pk)
    stranded = wait_until_applied(ids, timeout=60 + 5 * at_the_limit, write=write)

    calls = stack.calls_of(app.vendor_app_id)
    reached = {}
    for call in calls:
        for user in call.params.get("UserIds", ()):
            if user in made:
                reached.setdefault(user, call.time)
    missing = sorted(set(made) - set(reached))
    if missing:
        raise RuntimeError(f"interactive: no vendor call for the single kicks of {missing}")
    latencies = [reached[user] - made[user] for user in singles]
    in_bulk = [c for c in calls if str(c.params.get("RoomId")) == BULK_ROOM]
    first, last = min(c.time for c in in_bulk), max(c.time for c in in_bulk)
    seconds = last - started
    overtaking = sum(1 for user in singles if reached[user] <= last)
    # The calls the vendor took (a throttled one took no slot).
    sent = sum(1 for c in in_bulk if not c.throttled)
    left = CALLS_PER_SECOND * seconds - overtaking
    ratio = sent / left if left > 0 else float("nan")
    throttled = emulator.throttled - throttled_before
    write(
        f"interactive: single kicks reached the vendor after {min(latencies):.2f} s to "
        f"{max(latencies):.2f} s, {overtaking} of them during the bulk; the bulk's "
        f"{sent} calls began {first - started:.2f} s after its service call (recording and "
        f"queueing {BULK_USERS} kicks) and ended after {seconds:.2f} s; {throttled} throttled, "
        f"{stranded} bans stranded"
    )
    return {"latencies": latencies, "ratio": ratio, "throttled": throttled}

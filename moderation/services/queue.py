"""Handing work to the RQ workers. Redis may be down: the database keeps what is owed and
`reconcile` queues it again, so nothing here raises for a lost queue.

Interactive before bulk: a moderator's action on a few users (INTERACTIVE_MAX_USERS at most)
goes to the interactive queue, which every worker takes first and one worker serves alone, and
its vendor calls take the app's next free rate-limit slot ahead of bulk calls (`ratelimit`).
Work a job queues for later (a retry after a back-off, a re-kick) goes to the queue the job
came from; what a clock or a callback queues goes by the action it serves, or is bulk.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from redis.exceptions import RedisError

from .. import redis
from ..models import Ban

log = logging.getLogger(__name__)

QUEUE = redis.QUEUE
INTERACTIVE_QUEUE = redis.INTERACTIVE_QUEUE

# Whether the job this worker runs now came from the interactive queue (moderation/worker.py).
_interactive_job = contextvars.ContextVar("interactive_job", default=False)


@contextlib.contextmanager
def running_from(queue_name: str):
    """A worker runs a job taken from `queue_name`: an interactive one's vendor calls go ahead
    of bulk calls, and what it queues goes to the interactive queue again."""
    token = _interactive_job.set(queue_name == INTERACTIVE_QUEUE)
    try:
        yield
    finally:
        _interactive_job.reset(token)


def interactive_now() -> bool:
    """Whether the work running now is interactive (an interactive queue's job)."""
    return _interactive_job.get()


def is_interactive(users: int) -> bool:
    """Whether a moderator's action on this many users goes ahead of bulk work."""
    return users <= settings.INTERACTIVE_MAX_USERS


def interactive_bans(ban_ids: Iterable[int]) -> set[int]:
    """Those of these bans that belong to an interactive action (a batch of a few), in one
    query: a banned user's every rejoin asks it."""
    ids = list(ban_ids)
    few = (
        Ban.objects.filter(batch__in=Ban.objects.filter(pk__in=ids).values("batch"))
        .order_by()
        .values("batch")
        .annotate(size=Count("pk"))
        .filter(size__lte=settings.INTERACTIVE_MAX_USERS)
        .values("batch")
    )
    return set(Ban.objects.filter(pk__in=ids, batch__in=few).values_list("pk", flat=True))


def dispatch(ban_ids: list[int], *, interactive: bool | None = None) -> bool:
    """Queues the vendor work; with Redis down the bans stay pending for `reconcile`.

    `interactive`: a moderator's action, on a few users or not; None (work dispatched again)
    sends each ban to the queue of the action it came from.
    """
    if interactive is None:
        few = interactive_bans(ban_ids)
        parts = [([pk for pk in ban_ids if pk in few], True)]
        parts.append(([pk for pk in ban_ids if pk not in few], False))
    else:
        parts = [(ban_ids, interactive)]
    # Marked before the jobs exist: a worker claiming while this UPDATE held the rows would
    # skip them (skip_locked) and finish an empty job.
    Ban.objects.filter(pk__in=ban_ids).update(dispatched_at=timezone.now())
    try:
        chunk = settings.BANS_PER_JOB
        for ids, to_interactive in parts:
            queue = redis.queue(interactive=to_interactive)
            for start in range(0, len(ids), chunk):
                queue.enqueue("moderation.jobs.apply_bans", ids[start : start + chunk])
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): %d bans stay pending until reconcile.",
            type(exc).__name__,
            len(ban_ids),
        )
        Ban.objects.filter(pk__in=ban_ids, status=Ban.Status.PENDING).update(dispatched_at=None)
        return False
    return True


def _enqueue(
    job: str,
    *args,
    delay: float = 0,
    at: datetime | None = None,
    job_id=None,
    then="",
    interactive: bool | None = None,
):
    """Queues one job (after `delay` seconds, or `at`); logs `then` if Redis is unavailable.

    `interactive` None: the queue of the job running now (bulk outside a job).
    """
    if interactive is None:
        interactive = interactive_now()
    try:
        queue = redis.queue(interactive=interactive)
        if at is not None:
            queue.enqueue_at(at, job, *args, job_id=job_id)
        elif delay:
            queue.enqueue_in(timedelta(seconds=delay), job, *args)
        else:
            queue.enqueue(job, *args)
    except RedisError as exc:
        log.warning("Queue unavailable (%s): %s", type(exc).__name__, then)


def enqueue_apply(ban_ids: list[int], attempt: int, *, delay: float) -> None:
    then = f"{len(ban_ids)} bans are dispatched again by reconcile."
    _enqueue("moderation.jobs.apply_bans", ban_ids, attempt, delay=delay, then=then)


def enqueue_sync(ban_id: int, attempt: int = 1, delay: float = 0) -> None:
    then = f"ban {ban_id} is synced by reconcile."
    _enqueue("moderation.jobs.sync_ban", ban_id, attempt, delay=delay, then=then)


def enqueue_reapply(ban_id: int) -> None:
    _enqueue(
        "moderation.jobs.reapply_ban",
        ban_id,
        then=f"ban {ban_id} is re-applied later.",
        interactive=False,
    )


def schedule_reapply(ban: Ban) -> None:
    """Volcengine's re-apply timer; its job id makes a new schedule replace the old one.

    Expiry has no timer of its own: `expire_due` runs each second and ends whatever is due.
    """
    at = reapply_at(ban)
    if at is not None:
        _enqueue(
            "moderation.jobs.reapply_ban",
            ban.pk,
            at=at,
            job_id=f"reapply-{ban.pk}",
            then=f"ban {ban.pk} is re-applied by reconcile.",
            interactive=False,  # a timer days ahead, whatever set it
        )


def reapply_at(ban: Ban) -> datetime | None:
    """When the vendor's window must be renewed, or None if the ban ends within it.

    Mutes are never renewed: a vendor's timed mute lasts exactly as long as the mute, and any
    other is untimed at the vendor and ended by us.
    """
    if ban.vendor_until is None or ban.kind == Ban.Kind.MUTE:
        return None
    if ban.expires_at is not None and ban.expires_at <= ban.vendor_until:
        return None
    return ban.vendor_until - timedelta(seconds=settings.REAPPLY_MARGIN_SECONDS)


def enqueue_rekick(
    app_pk, room_id, user_id, *, attempt=1, delay=0.0, require_presence=True, interactive=None
):
    _enqueue(
        "moderation.jobs.rekick_user",
        app_pk,
        room_id,
        user_id,
        attempt,
        require_presence,
        delay=delay,
        then=f"{user_id} in room {room_id} is re-kicked by reconcile.",
        interactive=interactive,
    )


def enqueue_stop_stream(app_pk: int, stream_id: str, attempt: int = 1, *, delay: float = 0):
    _enqueue(
        "moderation.jobs.stop_stream",
        app_pk,
        stream_id,
        attempt,
        delay=delay,
        then=f"stream {stream_id} is stopped by the sweep in reconcile.",
    )


def retry_delay(attempt: int) -> float:
    """Back-off before `attempt` (2, 3, ...): exponential, capped, with jitter."""
    base = settings.VENDOR_RETRY_BASE_SECONDS * 2 ** (attempt - 2)
    return min(settings.VENDOR_RETRY_CAP_SECONDS, base) * random.uniform(0.5, 1.5)

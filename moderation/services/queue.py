"""Handing work to the RQ workers. Redis may be down: the database keeps what is owed and
`reconcile` queues it again, so nothing here raises for a lost queue.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from .. import redis
from ..models import Ban

log = logging.getLogger(__name__)

QUEUE = redis.QUEUE


def dispatch(ban_ids: list[int]) -> bool:
    """Queues the vendor work; with Redis down the bans stay pending for `reconcile`."""
    # Marked before the jobs exist: a worker claiming while this UPDATE held the rows would
    # skip them (skip_locked) and finish an empty job.
    Ban.objects.filter(pk__in=ban_ids).update(dispatched_at=timezone.now())
    try:
        queue = redis.queue()
        chunk = settings.BANS_PER_JOB
        for start in range(0, len(ban_ids), chunk):
            queue.enqueue("moderation.jobs.apply_bans", ban_ids[start : start + chunk])
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): %d bans stay pending until reconcile.",
            type(exc).__name__,
            len(ban_ids),
        )
        Ban.objects.filter(pk__in=ban_ids, status=Ban.Status.PENDING).update(dispatched_at=None)
        return False
    return True


def _enqueue(job: str, *args, delay: float = 0, at: datetime | None = None, job_id=None, then=""):
    """Queues one job (after `delay` seconds, or `at`); logs `then` if Redis is unavailable."""
    try:
        queue = redis.queue()
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
    _enqueue("moderation.jobs.reapply_ban", ban_id, then=f"ban {ban_id} is re-applied later.")


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


def enqueue_rekick(app_pk, room_id, user_id, *, attempt=1, delay=0.0, require_presence=True):
    _enqueue(
        "moderation.jobs.rekick_user",
        app_pk,
        room_id,
        user_id,
        attempt,
        require_presence,
        delay=delay,
        then=f"{user_id} in room {room_id} is re-kicked by reconcile.",
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

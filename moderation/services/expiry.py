"""Ending bans on time: the clock calls `expire_due` every second."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import metrics
from ..models import Ban, ModerationLog
from ..transactions import writing
from .queue import enqueue_sync
from .records import refresh_cache_on_commit

# A backlog (the clock stopped for a while) is worked off this many bans per second.
EXPIRE_BATCH = 5000


def expire_due() -> int:
    """Ends every timed ban and mute whose time is up; returns how many it ended.

    A ban calls nothing at the vendor: Volcengine's window ends by itself, and the kick-only
    vendors only stop being enforced by us. A mute the vendor does not time itself (Tencent,
    ZEGO, and Volcengine's outside 60 s to 3 days) is ended there by `sync`. A ban being lifted
    or changed right now is locked and skipped; the next run sees what that left.
    """
    due = Ban.objects.filter(status=Ban.Status.ACTIVE, expires_at__lte=timezone.now())
    if not due.exists():
        return 0  # without the write lock: on SQLite it would queue every second for nothing
    with writing():
        rows = list(
            due.select_for_update(skip_locked=True).values_list("pk", "expires_at")[:EXPIRE_BATCH]
        )
        if not rows:
            return 0
        ids = [pk for pk, _ends in rows]
        now = timezone.now()
        transaction.on_commit(
            lambda: metrics.expired((now - ends).total_seconds() for _pk, ends in rows)
        )
        Ban.objects.filter(pk__in=ids, status=Ban.Status.ACTIVE).update(
            status=Ban.Status.EXPIRED, updated_at=timezone.now()
        )
        ModerationLog.objects.bulk_create(
            [ModerationLog(ban_id=pk, event=ModerationLog.Event.EXPIRED) for pk in ids]
        )
        refresh_cache_on_commit(ids)
        to_unmute = _held_by_the_vendor(ids)
        if to_unmute:
            Ban.objects.filter(pk__in=to_unmute).update(vendor_sync_due=True)
            transaction.on_commit(lambda: [enqueue_sync(pk) for pk in to_unmute])
    return len(ids)


def _held_by_the_vendor(ids: list[int]) -> list[int]:
    """The ended mutes that the vendor still holds: untimed there, or timed to end later."""
    mutes = Ban.objects.filter(pk__in=ids, kind=Ban.Kind.MUTE)
    return [
        pk
        for pk, vendor_until, expires_at in mutes.values_list("pk", "vendor_until", "expires_at")
        if vendor_until is None or vendor_until > expires_at + timedelta(seconds=1)
    ]

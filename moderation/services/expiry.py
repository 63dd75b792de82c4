"""Ending bans on time: the clock calls `expire_due` every second."""

from __future__ import annotations

from django.utils import timezone

from ..models import Ban, ModerationLog
from ..transactions import writing
from .records import refresh_cache_on_commit

# A backlog (the clock stopped for a while) is worked off this many bans per second.
EXPIRE_BATCH = 5000


def expire_due() -> int:
    """Ends every timed ban whose time is up; returns how many it ended.

    Nothing is called at the vendor: Volcengine's window ends by itself, and the kick-only
    vendors only stop being enforced by us. A ban being lifted or changed right now is locked
    and skipped; the next run sees what that left.
    """
    due = Ban.objects.filter(status=Ban.Status.ACTIVE, expires_at__lte=timezone.now())
    if not due.exists():
        return 0  # without the write lock: on SQLite it would queue every second for nothing
    with writing():
        ids = list(
            due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:EXPIRE_BATCH]
        )
        if not ids:
            return 0
        Ban.objects.filter(pk__in=ids, status=Ban.Status.ACTIVE).update(
            status=Ban.Status.EXPIRED, updated_at=timezone.now()
        )
        ModerationLog.objects.bulk_create(
            [ModerationLog(ban_id=pk, event=ModerationLog.Event.EXPIRED) for pk in ids]
        )
        refresh_cache_on_commit(ids)
    return len(ids)

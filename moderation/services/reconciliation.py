"""The database is the truth; `reconcile` catches whatever Redis lost or never got.

One clock runs it every RECONCILE_SECONDS. It only queues work: the vendor calls it finds owed
are made by the workers.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from .. import bancheck, presence
from ..models import Ban
from .claims import release_dead_claims
from .enforcement import sweep_presence
from .expiry import expire_due
from .queue import dispatch, enqueue_reapply, enqueue_sync
from .streams import sweep_streams

log = logging.getLogger(__name__)

Status = Ban.Status


def reconcile() -> dict:
    """Queues what is owed and repairs the ban check's cache; returns a count per kind of work."""
    try:
        released = release_dead_claims()
    except RedisError as exc:
        log.warning("Workers' leases not checked (%s): Redis is unavailable.", type(exc).__name__)
        released = 0
    now = timezone.now()
    undispatched = _undispatched(now)
    if undispatched:
        dispatch(undispatched)  # each to its action's queue: a raid's bans stay bulk
    unsynced = _unsynced(now)
    for pk in unsynced:
        enqueue_sync(pk)
    expired = expire_due()
    renewals = _renewals_due(now)
    for pk in renewals:
        enqueue_reapply(pk)
    try:
        cache_repaired = bancheck.repair()
    except RedisError as exc:
        log.warning("Ban-check cache not checked (%s): Redis is unavailable.", type(exc).__name__)
        cache_repaired = 0
    return {
        "released": released,
        "dispatched": len(undispatched),
        "synced": len(unsynced),
        "expired": expired,
        "reapplied": len(renewals),
        "rekicks": sweep_presence(),
        "streams_stopped": sweep_streams(),
        "cache_repaired": cache_repaired,
        "pruned": presence.prune(),
    }


def _grace() -> timedelta:
    return timedelta(seconds=settings.DISPATCH_GRACE_SECONDS)


def _undispatched(now) -> list[int]:
    """Pending bans no job holds: never queued, or queued long ago and not taken."""
    grace = _grace()
    return list(
        Ban.objects.filter(status=Status.PENDING)
        .filter(
            Q(dispatched_at__isnull=True, created_at__lt=now - grace)
            | Q(dispatched_at__lt=now - grace * 10)
        )
        .filter(claimed_by="")  # a dead worker's claims are freed each second, not here
        .values_list("pk", flat=True)[:10_000]
    )


def _unsynced(now) -> list[int]:
    return list(
        Ban.objects.filter(vendor_sync_due=True, updated_at__lt=now - _grace()).values_list(
            "pk", flat=True
        )[:1000]
    )


def _renewals_due(now) -> list[int]:
    """Active bans whose vendor window ends before they do, within the re-apply margin."""
    margin = timedelta(seconds=settings.REAPPLY_MARGIN_SECONDS)
    return list(
        Ban.objects.filter(status=Status.ACTIVE, kind=Ban.Kind.BAN, vendor_until__lte=now + margin)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now + margin))
        .values_list("pk", flat=True)[:1000]
    )

"""Who is sending a ban to the vendor now: two workers never call for one ban.

A ban stays with its claimant while the claimant's lease lives and its job runs (`liveness`),
and is free again once either has ended.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .. import liveness
from ..messages import N_, Text
from ..models import Ban, ModerationLog
from ..transactions import writing
from .queue import dispatch
from .records import log_many

log = logging.getLogger(__name__)

Status = Ban.Status
SENT_AGAIN = N_("The job sending this stopped before it recorded the vendor's answer; sent again.")


def claim(ban_ids: list[int], status: str = Status.PENDING) -> list[Ban]:
    """Takes these bans, if still in `status`, for this process."""
    me = liveness.claimant()
    with writing():
        rows = list(
            Ban.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ban_ids, status=status)
            .values_list("pk", "claimed_by")
        )
        free = liveness.released(by for _pk, by in rows if by not in ("", me))
        ids = [pk for pk, by in rows if by in ("", me) or by in free]
        Ban.objects.filter(pk__in=ids).update(claimed_by=me, claimed_at=timezone.now())
    return list(Ban.objects.filter(pk__in=ids).select_related("app", "room").order_by("pk"))


def release(bans: list[Ban]) -> None:
    """Gives up the claims still held on these bans (a job that stopped half-way, a renewal)."""
    Ban.objects.filter(pk__in=[b.pk for b in bans], claimed_by=liveness.claimant()).update(
        claimed_by="", claimed_at=None
    )


def release_dead_claims() -> int:
    """Dispatches again, at once, pending bans whose worker is gone (its lease lapsed) or whose
    job ended without finishing them (the database went away under it).

    The clock runs this each second, so a killed worker's bans move on within seconds. Bans
    whose claimant still runs the job that claimed them are left alone: it may be calling the
    vendor now.
    """
    claims = set(
        Ban.objects.filter(status=Status.PENDING)
        .exclude(claimed_by="")
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    dead = liveness.released(claims)
    if not dead:
        return 0
    with writing():
        ids = list(
            Ban.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, claimed_by__in=dead)
            .values_list("pk", flat=True)
        )
        Ban.objects.filter(pk__in=ids).update(claimed_by="", claimed_at=None)
        log_many(
            [Ban(pk=pk) for pk in ids],
            ModerationLog.Event.RETRIED,
            message=Text(SENT_AGAIN),
        )
        # Each to its action's queue: a raid's bans stay bulk, a single kick interactive.
        transaction.on_commit(lambda: dispatch(ids))
    log.info("Claims %s have ended: %d bans dispatched again.", sorted(dead), len(ids))
    return len(ids)

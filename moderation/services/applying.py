"""The worker's side of a kick, ban or mute: claim the pending ones, call the vendor, record the
answer.

`apply` is idempotent: a re-run finds nothing pending and changes nothing.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from ..messages import N_, Text
from ..models import Ban, ModerationLog
from ..transactions import writing
from ..vendors.base import CallResult, VendorInputError
from . import streams
from .claims import claim, release
from .enforcement import enforce_after_activation
from .queue import enqueue_apply, enqueue_sync, retry_delay, schedule_reapply
from .records import log_many, refresh_cache_on_commit, result_details, said, vendor_answer
from .vendor_calls import Outcome, capabilities, outcome, requests_for, send, vendor_client

Status = Ban.Status
Event = ModerationLog.Event

WAITING_FOR_STREAM = N_(
    "{vendor}: {user} publishes nothing in room {room} now. The mute holds: each stream they "
    "start is stopped at once."
)
NOBODY_TO_REMOVE = N_(
    "{vendor}: nobody to remove now ({answer}) The ban holds: re-kicks and the ban check keep "
    "them out."
)


def apply(*, ban_ids: list[int], attempt: int = 1) -> None:
    """Makes the vendor calls for pending bans."""
    try:
        _apply(ban_ids, attempt)
    except DatabaseError:
        # The database went away under the job: it runs again after a back-off, and takes
        # back what it had claimed (the clock may have dispatched that already).
        enqueue_apply(ban_ids, attempt, delay=retry_delay(2))
        raise


def _apply(ban_ids: list[int], attempt: int) -> None:
    bans = claim(ban_ids)
    groups = defaultdict(list)
    for b in bans:
        key = (b.app_id, b.kind, b.media, b.scope, b.room_id, b.reason, b.requested_seconds)
        groups[key].append(b)
    to_retry, clients = [], {}
    try:
        for group in groups.values():
            app = group[0].app
            client = clients.get(app.pk) or clients.setdefault(app.pk, vendor_client(app))
            to_retry += _apply_group(client, app, group, attempt)
    except BaseException:
        # What was not sent goes back to the pool: reconcile dispatches it again.
        with contextlib.suppress(Exception):
            release(bans)
        raise
    finally:
        for client in clients.values():
            client.close()
    if to_retry:
        _retry_later(to_retry, attempt)


def _apply_group(client, app, group: list[Ban], attempt: int) -> list[tuple[list[Ban], CallResult]]:
    """Sends one group's calls; returns the bans to try again, with the answer that said so."""
    first = group[0]
    if first.kind == Ban.Kind.MUTE:
        return [answer for mute in group for answer in _apply_mute(client, app, mute, attempt)]
    by_user = {b.user_id: b for b in group}
    try:
        plan = requests_for(
            client,
            kind=first.kind,
            scope=first.scope,
            room_id=first.room.room_id if first.room else None,
            user_ids=[b.user_id for b in group if b.user_id],
            reason=first.reason,
            seconds=first.requested_seconds,
        )
    except VendorInputError as exc:
        mark_failed(group, message=f"{exc.field}: {exc.message}")
        return []
    started = timezone.now()
    if not plan:
        mark_applied(group, result=None, window=None)
    kick_only_ban = first.kind == Ban.Kind.BAN and not client.capabilities.native_ban
    to_retry = []
    for request, user_ids in plan:
        covered = [by_user[u] for u in user_ids if u in by_user]
        result = send(client, app, request, covered, attempt)
        answer = outcome(client, result, attempt)
        if answer is Outcome.NOBODY_THERE and kick_only_ban:
            # A kick-only vendor's ban of someone who is not there now still holds: re-kicks
            # and the ban check keep them out.
            result.told(Text(NOBODY_TO_REMOVE, {"vendor": client.label, "answer": said(result)}))
            answer = Outcome.DONE
        if answer is Outcome.DONE:
            window = result.details.get("forbidden_interval") if result.ok else None
            mark_applied(covered, result=result, window=window)
        elif answer is Outcome.RETRY:
            to_retry.append((covered, result))
        else:
            mark_failed(covered, message=said(result), result=result, attempt=attempt)
    if first.kind == Ban.Kind.BAN:
        enforce_after_activation(client, app, group, since=started)
    return to_retry


def _apply_mute(client, app, mute: Ban, attempt: int) -> list[tuple[list[Ban], CallResult]]:
    """One user's mute: one call (Volcengine, Tencent) or one per stream they publish (ZEGO)."""
    room_id = mute.room.room_id
    if client.capabilities.mute_by == "stream":
        answers = streams.forbid(client, app, mute, list(streams.streams_of(mute)), attempt)
        if not answers:
            values = {"vendor": client.label, "user": mute.user_id, "room": room_id}
            mark_applied([mute], result=None, window=None, message=Text(WAITING_FOR_STREAM, values))
            return []
    else:
        try:
            request = client.mute_request(
                room_id=room_id,
                user_id=mute.user_id,
                media=mute.media,
                seconds=mute.requested_seconds,
            )
        except VendorInputError as exc:
            mark_failed([mute], message=f"{exc.field}: {exc.message}")
            return []
        result = send(client, app, request, [mute], attempt)
        answers = [(result, outcome(client, result, attempt))]
    failed = [(r, a) for r, a in answers if a in (Outcome.FAILED, Outcome.NOBODY_THERE)]
    retry = [(r, a) for r, a in answers if a is Outcome.RETRY]
    if failed:
        result = failed[0][0]
        mark_failed([mute], message=said(result), result=result, attempt=attempt)
        return []
    if retry:
        return [([mute], retry[0][0])]
    result = answers[-1][0]
    # Volcengine times the mute itself where it can (ForbiddenInterval); 0: until we end it.
    mark_applied([mute], result=result, window=result.details.get("forbidden_interval"))
    return []


def mark_applied(
    bans: list[Ban],
    *,
    result: CallResult | None,
    window: int | None,
    message: str | Text | None = None,
):
    """Pending bans and mutes become active (kicks done) with the vendor's answer and window."""
    now = timezone.now()
    if message is None:
        message = said(result) if result else ""
    request_ids = [result.request_id] if result and result.request_id else []
    vendor_until = now + timedelta(seconds=window) if window else None
    with writing():
        pending = list(
            Ban.objects.select_for_update().filter(
                pk__in=[b.pk for b in bans], status=Status.PENDING
            )
        )
        # One UPDATE per kind and duration: the bans of one call share everything else, and
        # a bulk_update's CASE per row held the rows' locks several times as long.
        shapes = defaultdict(list)
        for b in pending:
            shapes[(b.kind, b.effective_seconds)].append(b)
        for (kind, seconds), group in shapes.items():
            fields = {
                "claimed_at": None,
                "claimed_by": "",
                **vendor_answer(message),
                "vendor_request_ids": request_ids,
                "updated_at": now,
            }
            if kind == Ban.Kind.KICK:
                fields["status"] = Status.DONE
            else:
                fields.update(
                    status=Status.ACTIVE,
                    starts_at=now,
                    expires_at=None if seconds is None else now + timedelta(seconds=seconds),
                    vendor_until=vendor_until,
                )
            Ban.objects.filter(pk__in=[b.pk for b in group]).update(**fields)
            for b in group:
                for name, value in fields.items():
                    setattr(b, name, value)
        log_many(pending, Event.APPLIED, message=message, details=result_details(result))
        active = [b for b in pending if b.status == Status.ACTIVE]
        refresh_cache_on_commit([b.pk for b in active])
        transaction.on_commit(lambda: [schedule_reapply(b) for b in active])
        _undo_if_lifted_meanwhile([b for b in bans if b.pk not in {p.pk for p in pending}], result)


def _undo_if_lifted_meanwhile(bans: list[Ban], result: CallResult | None):
    """A ban lifted while its call was in flight: the vendor now holds a ban nobody wants."""
    if result is None or not bans:
        return
    lifted = Ban.objects.filter(
        pk__in=[b.pk for b in bans], status=Status.LIFTED, kind__in=[Ban.Kind.BAN, Ban.Kind.MUTE]
    )
    ids = [b.pk for b in lifted.select_related("app") if b.is_mute or capabilities(b.app).lift]
    if ids:
        Ban.objects.filter(pk__in=ids).update(vendor_sync_due=True)
        transaction.on_commit(lambda: [enqueue_sync(pk) for pk in ids])


def mark_failed(bans, *, message, result=None, attempt=None):
    """Pending bans fail with the vendor's (or our) reason."""
    with writing():
        ids = list(
            Ban.objects.filter(pk__in=[b.pk for b in bans], status=Status.PENDING).values_list(
                "pk", flat=True
            )
        )
        Ban.objects.filter(pk__in=ids).update(
            status=Status.FAILED,
            claimed_at=None,
            claimed_by="",
            **vendor_answer(message),
            updated_at=timezone.now(),
        )
        log_many(
            [b for b in bans if b.pk in ids],
            Event.FAILED,
            message=message,
            details=result_details(result, attempt),
        )
        # A pending ban is in the ban check's cache: the refresh takes it out.
        refresh_cache_on_commit(ids)


def _retry_later(answers: list[tuple[list[Ban], CallResult]], attempt: int):
    """The vendor asked us to try again: the next attempt runs after a back-off."""
    delay = retry_delay(attempt + 1)
    ids = [b.pk for bans, _result in answers for b in bans]
    with writing():
        for bans, result in answers:
            log_many(
                bans, Event.RETRIED, message=said(result), details=result_details(result, attempt)
            )
            # The ban's page shows the vendor's last answer while it is tried again.
            Ban.objects.filter(pk__in=[b.pk for b in bans], status=Status.PENDING).update(
                **vendor_answer(said(result))
            )
        # dispatched_at is when the retry is due, so reconcile leaves it alone until then.
        Ban.objects.filter(pk__in=ids, status=Status.PENDING).update(
            claimed_at=None,
            claimed_by="",
            attempts=attempt,
            dispatched_at=timezone.now() + timedelta(seconds=delay),
        )
        # enqueue_in writes to Redis at once: a job that ran before this committed would find
        # the bans still claimed.
        transaction.on_commit(lambda: enqueue_apply(ids, attempt + 1, delay=delay))

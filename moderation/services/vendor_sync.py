"""Keeping the vendor's own ban or mute in step with ours.

`sync` sends a lift or change (Volcengine UpdateBanRoomUserRule; ZEGO where its ban is enabled)
and a mute's end (every vendor's unmute); `reapply` renews a window that a long ban outlasts
(Volcengine: 7 days at most).
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..messages import N_, Text
from ..models import Ban, ModerationLog
from ..transactions import writing
from . import streams
from .claims import claim, release
from .queue import enqueue_sync, reapply_at, retry_delay, schedule_reapply
from .records import log_many, result_details, said, vendor_answer
from .vendor_calls import Outcome, capabilities, outcome, send, vendor_client, vendor_window

Status = Ban.Status
Event = ModerationLog.Event

NOTHING_TO_RESUME = N_("No stream of this user was stopped: nothing to resume.")


def sync(*, ban_id: int, attempt: int = 1) -> None:
    """Tells the vendor about a lift or change, if one is still due."""
    ban = Ban.objects.select_related("app", "room").get(pk=ban_id)
    if not ban.vendor_sync_due:
        return
    if ban.is_mute:
        _sync_mute(ban, attempt)
        return
    now = timezone.now()
    if ban.status == Status.ACTIVE:
        remaining = None if ban.expires_at is None else (ban.expires_at - now).total_seconds()
        window = vendor_window(
            capabilities(ban.app),
            None if remaining is None else max(1, int(remaining + 0.999)),
        )
    else:
        window = 0
    result, answer = _call_vendor(ban, window, attempt, update=True)
    _record_sync(ban, result, answer, window, attempt, now)


def _record_sync(ban: Ban, result, answer: Outcome, window: int, attempt: int, now) -> None:
    if answer is Outcome.DONE:
        with writing():
            # Only if nothing changed meanwhile; a newer change has queued its own sync.
            request_ids = [result.request_id] if result and result.request_id else []
            Ban.objects.filter(pk=ban.pk, status=ban.status, expires_at=ban.expires_at).update(
                vendor_sync_due=False,
                vendor_until=now + timedelta(seconds=window) if window else None,
                vendor_request_ids=ban.vendor_request_ids + request_ids,
            )
            log_many(
                [ban],
                Event.APPLIED,
                message=said(result) if result else Text(NOTHING_TO_RESUME),
                details={**result_details(result), "window": window},
            )
    elif answer is Outcome.RETRY:
        log_many(
            [ban], Event.RETRIED, message=said(result), details=result_details(result, attempt)
        )
        enqueue_sync(ban.pk, attempt + 1, delay=retry_delay(attempt + 1))
    else:
        with writing():
            Ban.objects.filter(pk=ban.pk).update(
                vendor_sync_due=False, **vendor_answer(said(result))
            )
            log_many(
                [ban], Event.FAILED, message=said(result), details=result_details(result, attempt)
            )


def _sync_mute(mute: Ban, attempt: int) -> None:
    """A mute's new end (a vendor that times it: Volcengine) or its end (every vendor)."""
    now = timezone.now()
    client = vendor_client(mute.app)
    try:
        room_id, user_id = mute.room.room_id, mute.user_id
        window = 0
        if mute.status == Status.ACTIVE:
            remaining = None if mute.expires_at is None else (mute.expires_at - now).total_seconds()
            seconds = None if remaining is None else max(1, int(remaining + 0.999))
            request = client.mute_request(
                room_id=room_id, user_id=user_id, media=mute.media, seconds=seconds
            )
            answers = [_send(client, mute, request, attempt)]
            window = answers[0][0].details.get("forbidden_interval") or 0
        elif client.capabilities.mute_by == "stream":
            answers = streams.resume(client, mute.app, mute, attempt)
        else:
            request = client.unmute_request(room_id=room_id, user_id=user_id, media=mute.media)
            answers = [_send(client, mute, request, attempt)]
    finally:
        client.close()
    # Nobody there to unmute (the room is gone): nothing is left to end.
    answers = [(r, Outcome.DONE if a is Outcome.NOBODY_THERE else a) for r, a in answers]
    worst = next(
        (pair for kind in (Outcome.FAILED, Outcome.RETRY) for pair in answers if pair[1] is kind),
        answers[-1] if answers else (None, Outcome.DONE),
    )
    _record_sync(mute, worst[0], worst[1], window, attempt, now)


def _send(client, ban: Ban, request, attempt: int):
    result = send(client, ban.app, request, [ban], attempt)
    return result, outcome(client, result, attempt)


def reapply(*, ban_id: int) -> None:
    """Renews the vendor's window of an active ban that outlasts it, once it is due.

    The renewal is claimed like an apply, so two clocks or workers never renew one ban twice.
    """
    claimed = claim([ban_id], status=Status.ACTIVE)
    if not claimed:
        return
    try:
        _renew(claimed[0])
    finally:
        release(claimed)


def _renew(ban: Ban) -> None:
    due = reapply_at(ban)
    if due is None or due > timezone.now():
        return
    now = timezone.now()
    remaining = None if ban.expires_at is None else int((ban.expires_at - now).total_seconds())
    window = vendor_window(capabilities(ban.app), remaining)
    result, answer = _call_vendor(ban, window, 1, update=False)
    if answer is not Outcome.DONE:
        log_many([ban], Event.FAILED, message=said(result), details=result_details(result))
        return
    ban.vendor_until = now + timedelta(seconds=window)
    with writing():
        Ban.objects.filter(pk=ban.pk, status=Status.ACTIVE).update(vendor_until=ban.vendor_until)
        log_many(
            [ban],
            Event.APPLIED,
            message=said(result),
            details={**result_details(result), "reapplied_window": window},
        )
        transaction.on_commit(lambda: schedule_reapply(ban))


def _call_vendor(ban: Ban, seconds: int, attempt: int, *, update: bool):
    """Bans the ban's target at the vendor for `seconds`; `update` changes the vendor's ban
    instead, and 0 seconds ends it."""
    client = vendor_client(ban.app)
    try:
        make = client.update_ban_request if update else client.ban_request
        request = make(
            room_id=ban.room.room_id if ban.room else None,
            user_id=ban.user_id or None,
            seconds=seconds,
        )
        result = send(client, ban.app, request, [ban], attempt)
        return result, outcome(client, result, attempt)
    finally:
        client.close()

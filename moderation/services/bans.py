"""The moderators' actions: kick, ban, mute, lift, change, retry.

Each validates, records the bans and their log entries in one transaction, and hands the vendor
work to the queue once that transaction has committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..messages import N_, Text
from ..models import Ban, ModerationLog, Room, VendorApp
from ..transactions import writing
from .queue import dispatch, enqueue_sync, is_interactive, schedule_reapply
from .records import log_many, refresh_cache_on_commit
from .validation import (
    check_app,
    check_for_vendor,
    check_mute_scope,
    check_room,
    clean_media,
    clean_reason,
    clean_room_id,
    clean_seconds,
    clean_user_ids,
    clean_user_ids_or_empty,
    effective_seconds,
)
from .vendor_calls import capabilities

Status = Ban.Status
Event = ModerationLog.Event

RETRIED_BY_MODERATOR = N_("Retried by a moderator.")


def room_for(*, app: VendorApp, room_id: str) -> Room:
    """The app's room with this vendor room id, recorded on first use."""
    room, _created = Room.objects.get_or_create(app=app, room_id=clean_room_id(room_id))
    return room


@dataclass(frozen=True)
class PreparedAction:
    """A kick, ban or mute that passed every check, ours and the vendor's, not yet saved."""

    app: VendorApp
    room: Room | None
    kind: str
    scope: str
    user_ids: list[str]  # [""] for a whole room
    seconds: int | None
    effective_seconds: int | None
    reason: str
    media: str = ""  # a mute's: audio, video or both


def prepare_kick(
    *, app: VendorApp, room: Room, user_ids: Iterable[str] | str, reason: str
) -> PreparedAction:
    check_app(app)
    check_room(app, room, required=True)
    user_ids = clean_user_ids(user_ids)
    reason = clean_reason(reason)
    kind, scope = Ban.Kind.KICK, Ban.Scope.USER_IN_ROOM
    check_for_vendor(
        app, kind=kind, scope=scope, room=room, user_ids=user_ids, reason=reason, seconds=None
    )
    return PreparedAction(app, room, kind, scope, user_ids, None, None, reason)


def prepare_ban(
    *,
    app: VendorApp,
    scope: str,
    room: Room | None = None,
    user_ids: Iterable[str] | str = (),
    seconds: int | None,
    reason: str,
) -> PreparedAction:
    check_app(app)
    if scope not in Ban.Scope.values:
        raise ValidationError(
            {"scope": _("Choose one user in one room, the whole room, or one user in every room.")}
        )
    check_room(app, room, required=scope != Ban.Scope.USER_EVERYWHERE)
    if scope == Ban.Scope.USER_EVERYWHERE and room is not None:
        raise ValidationError({"room": _("A ban in every room names no room.")})
    if scope == Ban.Scope.WHOLE_ROOM:
        if clean_user_ids_or_empty(user_ids):
            raise ValidationError({"user_ids": _("A whole-room ban names no users.")})
        user_ids = [""]
    else:
        user_ids = clean_user_ids(user_ids)
    seconds = clean_seconds(seconds)
    reason = clean_reason(reason)
    check_for_vendor(
        app,
        kind=Ban.Kind.BAN,
        scope=scope,
        room=room,
        user_ids=[u for u in user_ids if u],
        reason=reason,
        seconds=seconds,
    )
    return PreparedAction(
        app, room, Ban.Kind.BAN, scope, user_ids, seconds, effective_seconds(app, seconds), reason
    )


def prepare_mute(
    *,
    app: VendorApp,
    room: Room | None,
    user_ids: Iterable[str] | str,
    media: str | None = None,
    seconds: int | None,
    reason: str,
    scope: str = Ban.Scope.USER_IN_ROOM,
) -> PreparedAction:
    check_app(app)
    check_mute_scope(scope)
    check_room(app, room, required=True)
    user_ids = clean_user_ids(user_ids)
    media = clean_media(media)
    seconds = clean_seconds(seconds)
    reason = clean_reason(reason)
    check_for_vendor(
        app,
        kind=Ban.Kind.MUTE,
        scope=scope,
        room=room,
        user_ids=user_ids,
        reason=reason,
        seconds=seconds,
        media=media,
    )
    _refuse_second_mute(room, user_ids)
    # Every vendor's mute lasts exactly as asked: where the vendor cannot time it, we end it.
    return PreparedAction(
        app, room, Ban.Kind.MUTE, scope, user_ids, seconds, seconds, reason, media
    )


def _refuse_second_mute(room: Room, user_ids: list[str]) -> None:
    """One mute at a time per user and room, so that ending one never unmutes another's."""
    if room.pk is None:
        return
    muted = list(
        Ban.objects.filter(
            room=room,
            user_id__in=user_ids,
            kind=Ban.Kind.MUTE,
            status__in=[Status.PENDING, Status.ACTIVE],
        ).values_list("user_id", flat=True)
    )
    if muted:
        raise ValidationError(
            {
                "user_ids": _(
                    "Already muted in this room: %(users)s. Change or lift that mute instead."
                )
                % {"users": ", ".join(sorted(muted)[:20])}
            }
        )


def kick(
    *, app: VendorApp, room: Room, user_ids: Iterable[str] | str, reason: str, actor
) -> list[Ban]:
    """Removes users from a room now; they may rejoin at once."""
    return create(prepare_kick(app=app, room=room, user_ids=user_ids, reason=reason), actor)


def ban(
    *,
    app: VendorApp,
    scope: str,
    room: Room | None = None,
    user_ids: Iterable[str] | str = (),
    seconds: int | None,
    reason: str,
    actor,
) -> list[Ban]:
    """Keeps users (or everyone, for a whole room) out for `seconds`, or for good with None."""
    action = prepare_ban(
        app=app, scope=scope, room=room, user_ids=user_ids, seconds=seconds, reason=reason
    )
    return create(action, actor)


def mute(
    *,
    app: VendorApp,
    room: Room | None,
    user_ids: Iterable[str] | str,
    media: str | None = None,
    seconds: int | None,
    reason: str,
    actor,
    scope: str = Ban.Scope.USER_IN_ROOM,
) -> list[Ban]:
    """Stops what users publish in a room (audio, video or both) for `seconds`, or until lifted;
    they stay in the room and hear the others."""
    action = prepare_mute(
        app=app,
        room=room,
        user_ids=user_ids,
        media=media,
        seconds=seconds,
        reason=reason,
        scope=scope,
    )
    return create(action, actor)


def create(action: PreparedAction, actor) -> list[Ban]:
    """Records a prepared kick, ban or mute, one batch per moderator action, and queues it."""
    app, room = action.app, action.room
    if room is not None and room.pk is None:
        # A room named for the first time is recorded with the ban that names it, not before.
        room, _created = Room.objects.get_or_create(app=app, room_id=room.room_id)
    batch = uuid.uuid4()
    try:
        return _record(action, room, batch, actor)
    except IntegrityError:
        if action.kind != Ban.Kind.MUTE:
            raise
        # Another moderator muted one of them a moment ago.
        _refuse_second_mute(room, action.user_ids)
        raise


def _record(action: PreparedAction, room: Room | None, batch, actor) -> list[Ban]:
    app, kind, scope = action.app, action.kind, action.scope
    user_ids, seconds, reason = action.user_ids, action.seconds, action.reason
    effective = action.effective_seconds
    with transaction.atomic():
        bans = Ban.objects.bulk_create(
            [
                Ban(
                    app=app,
                    room=room,
                    user_id=user_id,
                    kind=kind,
                    scope=scope,
                    media=action.media,
                    requested_seconds=seconds,
                    effective_seconds=effective,
                    reason=reason,
                    created_by=actor,
                    batch=batch,
                )
                for user_id in user_ids
            ]
        )
        ModerationLog.objects.bulk_create(
            [
                ModerationLog(
                    ban=b,
                    event=Event.CREATED,
                    actor=actor,
                    details={
                        "requested_seconds": seconds,
                        "effective_seconds": effective,
                        **({"media": action.media} if action.media else {}),
                    },
                )
                for b in bans
            ]
        )
        ids = [b.pk for b in bans]
        # An action on a few users goes ahead of any bulk action's work (`queue`).
        transaction.on_commit(lambda: dispatch(ids, interactive=is_interactive(len(ids))))
        if kind != Ban.Kind.KICK:
            # After the dispatch, so the vendor call is not kept waiting for the cache.
            refresh_cache_on_commit(ids)
    return bans


def _lock_open_ban(ban: Ban, refusal: str, mute_refusal: str) -> Ban:
    """The ban or mute, locked for this transaction, if it is pending or active; else the
    refusal that names its kind."""
    ban = Ban.objects.select_for_update(of=("self",)).select_related("app", "room").get(pk=ban.pk)
    if ban.kind == Ban.Kind.KICK or ban.status not in (Status.PENDING, Status.ACTIVE):
        refusal = mute_refusal if ban.is_mute else refusal
        raise ValidationError(refusal % {"status": ban.get_status_display()})
    return ban


def lift(*, ban: Ban, reason: str, actor) -> Ban:
    """Ends a ban or mute early."""
    reason = clean_reason(reason)
    with writing():
        ban = _lock_open_ban(
            ban,
            _("Only a pending or active ban can be lifted; this one is %(status)s."),
            _("Only a pending or active mute can be lifted; this one is %(status)s."),
        )
        # Every vendor unmutes on request; of the bans, only a vendor's own ban needs a call.
        needs_vendor = ban.status == Status.ACTIVE and (ban.is_mute or capabilities(ban.app).lift)
        ban.status = Status.LIFTED
        ban.lifted_by = actor
        ban.lifted_at = timezone.now()
        ban.lift_reason = reason
        ban.vendor_sync_due = needs_vendor
        ban.save(
            update_fields=[
                "status",
                "lifted_by",
                "lifted_at",
                "lift_reason",
                "vendor_sync_due",
                "updated_at",
            ]
        )
        ModerationLog.objects.create(ban=ban, event=Event.LIFTED, actor=actor, message=reason)
        refresh_cache_on_commit([ban.pk])
        if needs_vendor:
            transaction.on_commit(lambda: enqueue_sync(ban.pk))
    return ban


def change(*, ban: Ban, seconds: int | None, reason: str, actor) -> Ban:
    """Sets a new total duration, counted from the ban's start: extends or shortens it."""
    seconds = clean_seconds(seconds)
    reason = clean_reason(reason)
    with writing():
        ban = _lock_open_ban(
            ban,
            _("Only a pending or active ban can be changed; this one is %(status)s."),
            _("Only a pending or active mute can be changed; this one is %(status)s."),
        )
        before = {"requested_seconds": ban.requested_seconds, "expires_at": _iso(ban.expires_at)}
        effective = seconds if ban.is_mute else effective_seconds(ban.app, seconds)
        if ban.status == Status.ACTIVE:
            expires_at = None if effective is None else ban.starts_at + timedelta(seconds=effective)
            if expires_at is not None and expires_at <= timezone.now() + timedelta(seconds=1):
                passed = (
                    _("That duration has already passed: lift the mute instead.")
                    if ban.is_mute
                    else _("That duration has already passed: lift the ban instead.")
                )
                raise ValidationError({"duration": passed})
            ban.expires_at = expires_at
            caps = capabilities(ban.app)
            # Only a vendor that times the mute (or ban) itself is told the new end.
            ban.vendor_sync_due = caps.mute_seconds is not None if ban.is_mute else caps.native_ban
        ban.requested_seconds = seconds
        ban.effective_seconds = effective
        ban.save(
            update_fields=[
                "requested_seconds",
                "effective_seconds",
                "expires_at",
                "vendor_sync_due",
                "updated_at",
            ]
        )
        after = {"requested_seconds": seconds, "expires_at": _iso(ban.expires_at)}
        ModerationLog.objects.create(
            ban=ban,
            event=Event.CHANGED,
            actor=actor,
            message=reason,
            details={"from": before, "to": after},
        )
        if ban.status == Status.ACTIVE:
            refresh_cache_on_commit([ban.pk])
            transaction.on_commit(lambda: schedule_reapply(ban))
            if ban.vendor_sync_due:
                transaction.on_commit(lambda: enqueue_sync(ban.pk))
    return ban


def retry(*, ban: Ban, actor) -> Ban:
    """Sends a failed kick, ban or mute to the vendor again, e.g. after its credentials were
    fixed."""
    with writing():
        ban = (
            Ban.objects.select_for_update(of=("self",)).select_related("app", "room").get(pk=ban.pk)
        )
        if ban.status != Status.FAILED:
            raise ValidationError(
                _("Only a failed kick or ban can be retried; this one is %(status)s.")
                % {"status": ban.get_status_display()}
            )
        check_app(ban.app)
        if ban.is_mute:
            _refuse_second_mute(ban.room, [ban.user_id])
        ban.status = Status.PENDING
        ban.claimed_at = ban.dispatched_at = None
        ban.claimed_by = ""
        ban.attempts = 0
        ban.vendor_message = ""
        ban.vendor_text = {}
        ban.save(
            update_fields=[
                "status",
                "claimed_at",
                "claimed_by",
                "dispatched_at",
                "attempts",
                "vendor_message",
                "vendor_text",
                "updated_at",
            ]
        )
        log_many([ban], Event.RETRIED, actor=actor, message=Text(RETRIED_BY_MODERATOR))
        transaction.on_commit(lambda: dispatch([ban.pk], interactive=True))
        refresh_cache_on_commit([ban.pk])  # pending again: it holds while the vendor is asked
    return ban


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

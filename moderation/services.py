"""The one place a ban changes state.

Moderators' actions (`kick`, `ban`, `lift`, `change`) validate, record the bans and their log
entries in one transaction, and hand the vendor work to the queue once that transaction has
committed. The jobs call the worker-side services below them (`apply`, `sync`, `expire`,
`reapply`, `reconcile`), which make the vendor calls and record every one of them.
"""

from __future__ import annotations

import logging
import random
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import django_rq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from .models import ID_MAX_LENGTH, Ban, ModerationLog, Room, Vendor, VendorApp, VendorCall
from .ratelimit import vendor_call_slot
from .vendors import capabilities_for, client_for
from .vendors.base import CallResult, VendorInputError, VendorRequest

log = logging.getLogger(__name__)

QUEUE = "moderation"
PERMANENT = None
EARLY_TIMER_SLEEP_SECONDS = 5
MAX_BAN_SECONDS = 10 * 365 * 24 * 3600
REASON_MAX_LENGTH = 1000

Status = Ban.Status
Event = ModerationLog.Event


# --- Validation -------------------------------------------------------------------------------


def _has_control_characters(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(c)[0] == "C" and c not in allowed for c in text)


def clean_user_ids(user_ids: Iterable[str] | str) -> list[str]:
    """Strips, drops empties and duplicates (first order kept); accepts a list or one string."""
    if isinstance(user_ids, str):
        user_ids = user_ids.replace(",", "\n").splitlines()
    cleaned = list(dict.fromkeys(str(u).strip() for u in user_ids if str(u).strip()))
    if not cleaned:
        raise ValidationError({"user_ids": _("Enter at least one user ID.")})
    for user_id in cleaned:
        if len(user_id) > ID_MAX_LENGTH:
            raise ValidationError(
                {
                    "user_ids": _(
                        "User IDs are at most %(max)d characters; this one is longer: %(id)s"
                    )
                    % {"max": ID_MAX_LENGTH, "id": user_id[:40] + "…"}
                }
            )
        if _has_control_characters(user_id) or any(c.isspace() for c in user_id):
            raise ValidationError(
                {
                    "user_ids": _("User IDs cannot contain spaces or control characters: %(id)r")
                    % {"id": user_id[:40]}
                }
            )
    return cleaned


def clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason: it is kept in the ban history.")})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("A reason is at most %(max)d characters.") % {"max": REASON_MAX_LENGTH}}
        )
    if _has_control_characters(reason, allowed="\n\t"):
        raise ValidationError({"reason": _("The reason contains control characters.")})
    return reason


def clean_seconds(seconds: int | None) -> int | None:
    """A duration in whole seconds, or None for permanent."""
    if seconds is PERMANENT:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValidationError(
            {"duration": _("Give the duration as a whole number of seconds, or permanent.")}
        )
    if seconds <= 0:
        raise ValidationError(
            {"duration": _("A duration must be at least 1 second (or permanent).")}
        )
    if seconds > MAX_BAN_SECONDS:
        raise ValidationError(
            {"duration": _("A duration is at most 10 years; choose permanent for longer.")}
        )
    return seconds


def effective_seconds(app: VendorApp, seconds: int | None) -> int | None:
    """What the moderator gets once the vendor's own limits apply (Volcengine: at least 10 s)."""
    if seconds is None or app.vendor != Vendor.VOLCENGINE:
        return seconds
    return max(seconds, 10)


def _check_app(app: VendorApp):
    if not app.enabled:
        raise ValidationError({"app": _("This app is disabled: a staff member can enable it.")})


def _check_room(app: VendorApp, room: Room | None, *, required: bool):
    if room is None:
        if required:
            raise ValidationError({"room": _("Choose a room.")})
        return
    if room.app_id != app.pk:
        raise ValidationError({"room": _("This room belongs to another app.")})


def _vendor_field(name: str) -> str:
    lowered = name.lower()
    for key, field in (("reason", "reason"), ("user", "user_ids"), ("room", "room")):
        if key in lowered:
            return field
    if "interval" in lowered or "second" in lowered:
        return "duration"
    return "app"


def _validate_for_vendor(app: VendorApp, *, kind, scope, room, user_ids, reason, seconds):
    """Every limit the vendor puts on these parameters, checked before anything is saved."""
    client = client_for(app.connection())
    try:
        _requests_for(
            client,
            app,
            kind=kind,
            scope=scope,
            room_id=room.room_id if room else None,
            user_ids=user_ids,
            reason=reason,
            seconds=seconds,
        )
    except VendorInputError as exc:
        raise ValidationError({_vendor_field(exc.field): exc.message}) from None
    finally:
        client.close()


# --- Moderators' actions ----------------------------------------------------------------------


def clean_room_id(room_id: str) -> str:
    room_id = (room_id or "").strip()
    if not room_id:
        raise ValidationError({"room": _("Enter a room ID.")})
    if len(room_id) > ID_MAX_LENGTH or _has_control_characters(room_id):
        raise ValidationError(
            {
                "room": _("A room ID is at most %(max)d characters, without control characters.")
                % {"max": ID_MAX_LENGTH}
            }
        )
    return room_id


def room_for(*, app: VendorApp, room_id: str) -> Room:
    """The app's room with this vendor room id, recorded on first use."""
    room, _created = Room.objects.get_or_create(app=app, room_id=clean_room_id(room_id))
    return room


@dataclass(frozen=True)
class PreparedAction:
    """A kick or ban that passed every check, ours and the vendor's, and is not yet saved."""

    app: VendorApp
    room: Room | None
    kind: str
    scope: str
    user_ids: list[str]  # [""] for a whole room
    seconds: int | None
    effective_seconds: int | None
    reason: str


def prepare_kick(
    *, app: VendorApp, room: Room, user_ids: Iterable[str] | str, reason: str
) -> PreparedAction:
    _check_app(app)
    _check_room(app, room, required=True)
    user_ids = clean_user_ids(user_ids)
    reason = clean_reason(reason)
    kind, scope = Ban.Kind.KICK, Ban.Scope.USER_IN_ROOM
    _validate_for_vendor(
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
    _check_app(app)
    if scope not in Ban.Scope.values:
        raise ValidationError(
            {"scope": _("Choose one user in one room, the whole room, or one user in every room.")}
        )
    _check_room(app, room, required=scope != Ban.Scope.USER_EVERYWHERE)
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
    _validate_for_vendor(
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


def kick(
    *, app: VendorApp, room: Room, user_ids: Iterable[str] | str, reason: str, actor
) -> list[Ban]:
    """Removes users from a room now; they may rejoin at once."""
    return _create(prepare_kick(app=app, room=room, user_ids=user_ids, reason=reason), actor)


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
    return _create(action, actor)


def clean_user_ids_or_empty(user_ids) -> list[str]:
    try:
        return clean_user_ids(user_ids)
    except ValidationError:
        return []


def _create(action: PreparedAction, actor) -> list[Ban]:
    app, room, kind, scope = action.app, action.room, action.kind, action.scope
    user_ids, seconds, reason = action.user_ids, action.seconds, action.reason
    effective = action.effective_seconds
    batch = uuid.uuid4()  # one moderator action, one batch
    with transaction.atomic():
        bans = Ban.objects.bulk_create(
            [
                Ban(
                    app=app,
                    room=room,
                    user_id=user_id,
                    kind=kind,
                    scope=scope,
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
                    details={"requested_seconds": seconds, "effective_seconds": effective},
                )
                for b in bans
            ]
        )
        ids = [b.pk for b in bans]
        transaction.on_commit(lambda: dispatch(ids))
    return bans


def lift(*, ban: Ban, reason: str, actor) -> Ban:
    """Ends a ban early."""
    reason = clean_reason(reason)
    with transaction.atomic():
        ban = (
            Ban.objects.select_for_update(of=("self",)).select_related("app", "room").get(pk=ban.pk)
        )
        if ban.kind != Ban.Kind.BAN or ban.status not in (Status.PENDING, Status.ACTIVE):
            raise ValidationError(
                _("Only a pending or active ban can be lifted; this one is %(status)s.")
                % {"status": ban.get_status_display()}
            )
        needs_vendor = ban.status == Status.ACTIVE and capabilities_for(ban.app.vendor).lift
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
        if needs_vendor:
            transaction.on_commit(lambda: _enqueue_sync(ban.pk))
    return ban


def change(*, ban: Ban, seconds: int | None, reason: str, actor) -> Ban:
    """Sets a new total duration, counted from the ban's start: extends or shortens it."""
    seconds = clean_seconds(seconds)
    reason = clean_reason(reason)
    with transaction.atomic():
        ban = (
            Ban.objects.select_for_update(of=("self",)).select_related("app", "room").get(pk=ban.pk)
        )
        if ban.kind != Ban.Kind.BAN or ban.status not in (Status.PENDING, Status.ACTIVE):
            raise ValidationError(
                _("Only a pending or active ban can be changed; this one is %(status)s.")
                % {"status": ban.get_status_display()}
            )
        before = {"requested_seconds": ban.requested_seconds, "expires_at": _iso(ban.expires_at)}
        effective = effective_seconds(ban.app, seconds)
        if ban.status == Status.ACTIVE:
            expires_at = None if effective is None else ban.starts_at + timedelta(seconds=effective)
            if expires_at is not None and expires_at <= timezone.now() + timedelta(seconds=1):
                raise ValidationError(
                    {"duration": _("That duration has already passed: lift the ban instead.")}
                )
            ban.expires_at = expires_at
            ban.vendor_sync_due = capabilities_for(ban.app.vendor).native_ban
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
            transaction.on_commit(lambda: _schedule_timers(ban))
            if ban.vendor_sync_due:
                transaction.on_commit(lambda: _enqueue_sync(ban.pk))
    return ban


def retry(*, ban: Ban, actor) -> Ban:
    """Sends a failed kick or ban to the vendor again, e.g. after its credentials were fixed."""
    with transaction.atomic():
        ban = Ban.objects.select_for_update(of=("self",)).select_related("app").get(pk=ban.pk)
        if ban.status != Status.FAILED:
            raise ValidationError(
                _("Only a failed kick or ban can be retried; this one is %(status)s.")
                % {"status": ban.get_status_display()}
            )
        _check_app(ban.app)
        ban.status = Status.PENDING
        ban.claimed_at = ban.dispatched_at = None
        ban.attempts = 0
        ban.vendor_message = ""
        ban.save(
            update_fields=[
                "status",
                "claimed_at",
                "dispatched_at",
                "attempts",
                "vendor_message",
                "updated_at",
            ]
        )
        ModerationLog.objects.create(
            ban=ban, event=Event.RETRIED, actor=actor, message=_("Retried by a moderator.")
        )
        transaction.on_commit(lambda: dispatch([ban.pk]))
    return ban


# --- Queue ------------------------------------------------------------------------------------


def _queue():
    return django_rq.get_queue(QUEUE, connection=_redis())


_connection = None


def _redis():
    """One Redis client per process: django-rq would open a new connection pool per call."""
    global _connection
    if _connection is None:
        _connection = django_rq.get_connection(QUEUE)
    return _connection


def dispatch(ban_ids: list[int]) -> bool:
    """Queues the vendor work; with Redis down the bans stay pending for `reconcile`."""
    try:
        queue = _queue()
        chunk = settings.BANS_PER_JOB
        for start in range(0, len(ban_ids), chunk):
            queue.enqueue("moderation.jobs.apply_bans", ban_ids[start : start + chunk])
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): %d bans stay pending until reconcile.",
            type(exc).__name__,
            len(ban_ids),
        )
        return False
    Ban.objects.filter(pk__in=ban_ids).update(dispatched_at=timezone.now())
    return True


def _enqueue_sync(ban_id: int, attempt: int = 1, delay: float = 0):
    try:
        if delay:
            _queue().enqueue_in(
                timedelta(seconds=delay), "moderation.jobs.sync_ban", ban_id, attempt
            )
        else:
            _queue().enqueue("moderation.jobs.sync_ban", ban_id, attempt)
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): ban %s is synced by reconcile.", type(exc).__name__, ban_id
        )


def _schedule_timers(ban: Ban):
    """Expiry and re-apply timers; the job ids make a new schedule replace the old one."""
    try:
        queue = _queue()
        if ban.expires_at is not None:
            queue.enqueue_at(
                ban.expires_at,
                "moderation.jobs.expire_ban",
                ban.pk,
                _iso(ban.expires_at),
                job_id=f"expire-{ban.pk}",
            )
        reapply_at = _reapply_at(ban)
        if reapply_at is not None:
            queue.enqueue_at(
                reapply_at, "moderation.jobs.reapply_ban", ban.pk, job_id=f"reapply-{ban.pk}"
            )
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): ban %s timers are kept by the sweep.",
            type(exc).__name__,
            ban.pk,
        )


def _reapply_at(ban: Ban) -> datetime | None:
    if ban.vendor_until is None:
        return None
    if ban.expires_at is not None and ban.expires_at <= ban.vendor_until:
        return None
    return ban.vendor_until - timedelta(seconds=settings.REAPPLY_MARGIN_SECONDS)


def _retry_delay(attempt: int) -> float:
    """Back-off before `attempt` (2, 3, ...): exponential, capped, with jitter."""
    base = settings.VENDOR_RETRY_BASE_SECONDS * 2 ** (attempt - 2)
    return min(settings.VENDOR_RETRY_CAP_SECONDS, base) * random.uniform(0.5, 1.5)


# --- Worker side: vendor calls ----------------------------------------------------------------


def _requests_for(client, app, *, kind, scope, room_id, user_ids, reason, seconds):
    """The vendor calls for one group of bans: [(request, user ids it covers)]."""
    caps = client.capabilities
    if kind == Ban.Kind.BAN and caps.native_ban:
        window = _vendor_window(caps, seconds)
        if scope == Ban.Scope.WHOLE_ROOM:
            return [(client.ban_request(room_id=room_id, user_id=None, seconds=window), [""])]
        return [
            (client.ban_request(room_id=room_id, user_id=u, seconds=window), [u]) for u in user_ids
        ]
    if scope == Ban.Scope.WHOLE_ROOM:
        return [(client.close_room_request(room_id=room_id, reason=reason), [""])]
    if scope == Ban.Scope.USER_EVERYWHERE:
        # Kick-only vendors: no call knows every room; presence and the ban check enforce it.
        return []
    return [
        (request, list(request.user_ids))
        for request in client.kick_requests(room_id=room_id, user_ids=user_ids, reason=reason)
    ]


def _vendor_window(caps, seconds: int | None) -> int:
    if seconds is None:
        return caps.max_ban_seconds
    return min(seconds, caps.max_ban_seconds)


def _send(client, app: VendorApp, request: VendorRequest, bans: list[Ban], attempt: int):
    rate = app.rate_limits.get(request.action) or client.capabilities.rate_limits[request.action]
    with vendor_call_slot(_redis(), app_pk=app.pk, action=request.action, rate=rate):
        result = client.send(request)
    call = VendorCall.objects.create(
        app=app,
        action=result.action,
        request_params=result.params,
        ok=result.ok,
        retryable=result.retryable,
        http_status=result.http_status,
        vendor_code=str(result.vendor_code)[:128],
        vendor_message=result.vendor_message,
        vendor_request_id=result.request_id[:128],
        latency_ms=result.latency_ms,
        attempt=attempt,
    )
    if bans:
        call.bans.add(*bans)
    return result


def _claim(ban_ids: list[int]) -> list[Ban]:
    """Takes the still-pending bans for this worker; two workers never call for the same ban."""
    now = timezone.now()
    lapsed = now - timedelta(seconds=settings.CLAIM_SECONDS)
    with transaction.atomic():
        ids = list(
            Ban.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ban_ids, status=Status.PENDING)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=lapsed))
            .values_list("pk", flat=True)
        )
        Ban.objects.filter(pk__in=ids).update(claimed_at=now)
    return list(Ban.objects.filter(pk__in=ids).select_related("app", "room").order_by("pk"))


def apply(*, ban_ids: list[int], attempt: int = 1) -> None:
    """Makes the vendor calls for pending bans; idempotent, so a re-run changes nothing."""
    bans = _claim(ban_ids)
    groups = defaultdict(list)
    for b in bans:
        groups[(b.app_id, b.kind, b.scope, b.room_id, b.reason, b.requested_seconds)].append(b)
    to_retry, clients = [], {}
    try:
        for group in groups.values():
            app = group[0].app
            client = clients.get(app.pk) or clients.setdefault(app.pk, client_for(app.connection()))
            to_retry += _apply_group(client, app, group, attempt)
    finally:
        for client in clients.values():
            client.close()
    if to_retry:
        _retry(to_retry, attempt + 1)


def _apply_group(client, app, group: list[Ban], attempt: int) -> list[Ban]:
    first = group[0]
    by_user = {b.user_id: b for b in group}
    try:
        plan = _requests_for(
            client,
            app,
            kind=first.kind,
            scope=first.scope,
            room_id=first.room.room_id if first.room else None,
            user_ids=[b.user_id for b in group if b.user_id],
            reason=first.reason,
            seconds=first.requested_seconds,
        )
    except VendorInputError as exc:
        _mark_failed(group, message=f"{exc.field}: {exc.message}")
        return []
    if not plan:
        _mark_applied(group, result=None, window=None)
        return []
    to_retry = []
    for request, user_ids in plan:
        covered = [by_user[u] for u in user_ids if u in by_user]
        result = _send(client, app, request, covered, attempt)
        if result.ok:
            _mark_applied(covered, result=result, window=result.details.get("forbidden_interval"))
        elif result.retryable and attempt < settings.VENDOR_MAX_ATTEMPTS:
            to_retry += covered
            _log_many(
                covered,
                Event.RETRIED,
                message=result.message,
                details=_result_details(result, attempt),
            )
        else:
            _mark_failed(covered, message=result.message, result=result, attempt=attempt)
    return to_retry


def _result_details(result: CallResult | None, attempt: int | None = None) -> dict:
    if result is None:
        return {}
    details = {
        "action": result.action,
        "request_id": result.request_id,
        "vendor_code": str(result.vendor_code),
        "vendor_message": result.vendor_message,
        "http_status": result.http_status,
    }
    if attempt is not None:
        details["attempt"] = attempt
    return details


def _log_many(bans: list[Ban], event: str, *, message: str = "", details=None, actor=None):
    ModerationLog.objects.bulk_create(
        [
            ModerationLog(ban=b, event=event, actor=actor, message=message, details=details or {})
            for b in bans
        ]
    )


def _mark_applied(bans: list[Ban], *, result: CallResult | None, window: int | None):
    now = timezone.now()
    with transaction.atomic():
        pending = list(
            Ban.objects.select_for_update().filter(
                pk__in=[b.pk for b in bans], status=Status.PENDING
            )
        )
        for b in pending:
            b.claimed_at = None
            b.vendor_message = result.message if result else ""
            b.vendor_request_ids = [result.request_id] if result and result.request_id else []
            if b.kind == Ban.Kind.KICK:
                b.status = Status.DONE
            else:
                b.status = Status.ACTIVE
                b.starts_at = now
                b.expires_at = (
                    None
                    if b.effective_seconds is None
                    else now + timedelta(seconds=b.effective_seconds)
                )
                b.vendor_until = now + timedelta(seconds=window) if window else None
        Ban.objects.bulk_update(
            pending,
            [
                "status",
                "claimed_at",
                "vendor_message",
                "vendor_request_ids",
                "starts_at",
                "expires_at",
                "vendor_until",
                "updated_at",
            ],
        )
        _log_many(
            pending,
            Event.APPLIED,
            message=result.message if result else "",
            details=_result_details(result),
        )
        active = [b for b in pending if b.status == Status.ACTIVE]
        transaction.on_commit(lambda: [_schedule_timers(b) for b in active])
        _undo_if_lifted_meanwhile([b for b in bans if b.pk not in {p.pk for p in pending}], result)


def _undo_if_lifted_meanwhile(bans: list[Ban], result: CallResult | None):
    """A ban lifted while its call was in flight: the vendor now holds a ban nobody wants."""
    if result is None or not bans:
        return
    lifted = Ban.objects.filter(
        pk__in=[b.pk for b in bans], status=Status.LIFTED, kind=Ban.Kind.BAN
    )
    ids = [b.pk for b in lifted if capabilities_for(b.app.vendor).lift]
    if ids:
        Ban.objects.filter(pk__in=ids).update(vendor_sync_due=True)
        transaction.on_commit(lambda: [_enqueue_sync(pk) for pk in ids])


def _mark_failed(bans, *, message, result=None, attempt=None):
    with transaction.atomic():
        ids = list(
            Ban.objects.filter(pk__in=[b.pk for b in bans], status=Status.PENDING).values_list(
                "pk", flat=True
            )
        )
        Ban.objects.filter(pk__in=ids).update(
            status=Status.FAILED,
            claimed_at=None,
            vendor_message=message,
            updated_at=timezone.now(),
        )
        _log_many(
            [b for b in bans if b.pk in ids],
            Event.FAILED,
            message=message,
            details=_result_details(result, attempt),
        )


def _retry(bans: list[Ban], attempt: int):
    delay = _retry_delay(attempt)
    ids = [b.pk for b in bans]
    # dispatched_at is when the retry is due, so reconcile leaves it alone until then.
    Ban.objects.filter(pk__in=ids, status=Status.PENDING).update(
        claimed_at=None,
        attempts=attempt - 1,
        dispatched_at=timezone.now() + timedelta(seconds=delay),
    )
    try:
        _queue().enqueue_in(timedelta(seconds=delay), "moderation.jobs.apply_bans", ids, attempt)
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): %d bans are retried by reconcile.",
            type(exc).__name__,
            len(ids),
        )


def sync(*, ban_id: int, attempt: int = 1) -> None:
    """Tells the vendor about a lift or change (Volcengine UpdateBanRoomUserRule)."""
    ban = Ban.objects.select_related("app", "room").get(pk=ban_id)
    if not ban.vendor_sync_due:
        return
    now = timezone.now()
    if ban.status == Status.ACTIVE:
        remaining = None if ban.expires_at is None else (ban.expires_at - now).total_seconds()
        window = _vendor_window(
            capabilities_for(ban.app.vendor),
            None if remaining is None else max(1, int(remaining + 0.999)),
        )
    else:
        window = 0
    client = client_for(ban.app.connection())
    try:
        request = client.update_ban_request(
            room_id=ban.room.room_id if ban.room else None,
            user_id=ban.user_id or None,
            seconds=window,
        )
        result = _send(client, ban.app, request, [ban], attempt)
    finally:
        client.close()
    if result.ok:
        # Only if nothing changed meanwhile; a newer change has queued its own sync.
        Ban.objects.filter(pk=ban.pk, status=ban.status, expires_at=ban.expires_at).update(
            vendor_sync_due=False,
            vendor_until=now + timedelta(seconds=window) if window else None,
            vendor_request_ids=ban.vendor_request_ids + [result.request_id],
        )
        ModerationLog.objects.create(
            ban=ban,
            event=Event.APPLIED,
            message=result.message,
            details={**_result_details(result), "window": window},
        )
    elif result.retryable and attempt < settings.VENDOR_MAX_ATTEMPTS:
        ModerationLog.objects.create(
            ban=ban,
            event=Event.RETRIED,
            message=result.message,
            details=_result_details(result, attempt),
        )
        _enqueue_sync(ban.pk, attempt + 1, delay=_retry_delay(attempt + 1))
    else:
        Ban.objects.filter(pk=ban.pk).update(vendor_sync_due=False, vendor_message=result.message)
        ModerationLog.objects.create(
            ban=ban,
            event=Event.FAILED,
            message=result.message,
            details=_result_details(result, attempt),
        )


def reapply(*, ban_id: int) -> None:
    """Renews the vendor's window of a ban that outlasts it (Volcengine: 7 days at most)."""
    ban = Ban.objects.select_related("app", "room").get(pk=ban_id)
    reapply_at = _reapply_at(ban) if ban.status == Status.ACTIVE else None
    if reapply_at is None or reapply_at > timezone.now():
        return
    caps = capabilities_for(ban.app.vendor)
    now = timezone.now()
    remaining = None if ban.expires_at is None else int((ban.expires_at - now).total_seconds())
    window = _vendor_window(caps, remaining)
    client = client_for(ban.app.connection())
    try:
        request = client.ban_request(
            room_id=ban.room.room_id if ban.room else None,
            user_id=ban.user_id or None,
            seconds=window,
        )
        result = _send(client, ban.app, request, [ban], 1)
    finally:
        client.close()
    if not result.ok:
        ModerationLog.objects.create(
            ban=ban, event=Event.FAILED, message=result.message, details=_result_details(result)
        )
        return
    ban.vendor_until = now + timedelta(seconds=window)
    Ban.objects.filter(pk=ban.pk, status=Status.ACTIVE).update(vendor_until=ban.vendor_until)
    ModerationLog.objects.create(
        ban=ban,
        event=Event.APPLIED,
        message=result.message,
        details={**_result_details(result), "reapplied_window": window},
    )
    _schedule_timers(ban)


# --- Worker side: time ------------------------------------------------------------------------


def expire(*, ban_id: int, expires_at: str) -> bool:
    """Ends a timed ban, unless a lift, change or newer ban has moved it since the timer was set.

    Nothing is called at the vendor: Volcengine's window ends by itself, and the kick-only
    vendors only stop being enforced by us.
    """
    expected = datetime.fromisoformat(expires_at)
    early = (expected - timezone.now()).total_seconds()
    if early > 0:
        # RQ schedules to the whole second, so a timer may fire up to a second early.
        if early > EARLY_TIMER_SLEEP_SECONDS:
            ban = Ban.objects.filter(pk=ban_id, status=Status.ACTIVE, expires_at=expected).first()
            if ban:
                _schedule_timers(ban)
            return False
        time.sleep(early)
    now = timezone.now()
    with transaction.atomic():
        ended = Ban.objects.filter(
            pk=ban_id, status=Status.ACTIVE, expires_at=expected, expires_at__lte=now
        ).update(status=Status.EXPIRED, updated_at=now)
        if ended:
            ModerationLog.objects.create(ban_id=ban_id, event=Event.EXPIRED)
    return bool(ended)


def reconcile() -> dict:
    """The database is the truth; this catches whatever Redis lost or never got."""
    now = timezone.now()
    grace = timedelta(seconds=settings.DISPATCH_GRACE_SECONDS)
    lapsed_claim = now - timedelta(seconds=settings.CLAIM_SECONDS)
    undispatched = list(
        Ban.objects.filter(status=Status.PENDING)
        .filter(
            Q(dispatched_at__isnull=True, created_at__lt=now - grace)
            | Q(dispatched_at__lt=now - grace * 10)
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=lapsed_claim))
        .values_list("pk", flat=True)[:10_000]
    )
    if undispatched:
        dispatch(undispatched)
    unsynced = list(
        Ban.objects.filter(vendor_sync_due=True, updated_at__lt=now - grace).values_list(
            "pk", flat=True
        )[:1000]
    )
    for pk in unsynced:
        _enqueue_sync(pk)
    expired = [
        expire(ban_id=pk, expires_at=_iso(at))
        for pk, at in Ban.objects.filter(status=Status.ACTIVE, expires_at__lte=now).values_list(
            "pk", "expires_at"
        )[:10_000]
    ]
    margin = timedelta(seconds=settings.REAPPLY_MARGIN_SECONDS)
    due = list(
        Ban.objects.filter(status=Status.ACTIVE, vendor_until__lte=now + margin)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now + margin))
        .values_list("pk", flat=True)[:1000]
    )
    for pk in due:
        reapply(ban_id=pk)
    return {
        "dispatched": len(undispatched),
        "synced": len(unsynced),
        "expired": sum(expired),
        "reapplied": len(due),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

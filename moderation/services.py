"""The one place a ban changes state.

Moderators' actions (`kick`, `ban`, `lift`, `change`) validate, record the bans and their log
entries in one transaction, and hand the vendor work to the queue once that transaction has
committed. The jobs call the worker-side services below them (`apply`, `sync`, `expire`,
`reapply`, `reconcile`), which make the vendor calls and record every one of them.

Every change of a ban's state refreshes the ban check's cache (`bancheck`) once it has
committed. Room callbacks (`receive_room_event`) keep presence, and a banned user whom they
report entering a room is kicked again (`rekick`): that is how bans hold on the vendors that
can only kick.
"""

from __future__ import annotations

import contextlib
import logging
import random
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from . import bancheck, liveness, presence, redis
from .credentials import CredentialError
from .models import (
    ID_MAX_LENGTH,
    Ban,
    CallbackDelivery,
    ModerationLog,
    Presence,
    Room,
    Vendor,
    VendorApp,
    VendorCall,
)
from .ratelimit import vendor_call_slot
from .transactions import writing
from .vendors import RoomEvent, capabilities_for, client_for
from .vendors.base import CallResult, Capabilities, VendorInputError, VendorRequest

log = logging.getLogger(__name__)

QUEUE = redis.QUEUE
PERMANENT = None
# A backlog (cron stopped for a while) is worked off this many bans per second.
EXPIRE_BATCH = 5000
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
        # Chinese keyboards type the full-width comma and the enumeration comma.
        for separator in (",", "，", "、"):
            user_ids = user_ids.replace(separator, "\n")
        user_ids = user_ids.splitlines()
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


def _caps(app: VendorApp) -> Capabilities:
    """What this app's vendor account can do (ZEGO's own ban only where it was enabled)."""
    return capabilities_for(
        app.vendor, native_ban=app.vendor == Vendor.ZEGO and app.zego_native_ban
    )


def _refresh_cache_on_commit(ban_ids) -> None:
    """The ban check's cache follows each state change, once the change is committed."""
    ids = list(ban_ids)
    if ids:
        transaction.on_commit(lambda: bancheck.refresh_ban_ids(ids))


def vendor_client(app: VendorApp):
    """A client for the app's vendor, with the configured timeouts; raises CredentialError."""
    timeout = (settings.VENDOR_CONNECT_TIMEOUT_SECONDS, settings.VENDOR_READ_TIMEOUT_SECONDS)
    return client_for(app.connection(), timeout=timeout)


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
    try:
        client = vendor_client(app)
    except CredentialError:
        raise ValidationError(
            {
                "app": _(
                    "This app's stored secret cannot be read with the current keys: a staff "
                    "member must enter it again."
                )
            }
        ) from None
    except VendorInputError as exc:
        raise ValidationError({"app": f"{exc.field}: {exc.message}"}) from None
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
    if room is not None and room.pk is None:
        # A room named for the first time is recorded with the ban that names it, not before.
        room, _created = Room.objects.get_or_create(app=app, room_id=room.room_id)
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
        if kind == Ban.Kind.BAN:
            # After the dispatch, so the vendor call is not kept waiting for the cache.
            _refresh_cache_on_commit(ids)
    return bans


def _lock_open_ban(ban: Ban, refusal: str) -> Ban:
    """The ban, locked for this transaction, if it is a pending or active ban; else `refusal`."""
    ban = Ban.objects.select_for_update(of=("self",)).select_related("app", "room").get(pk=ban.pk)
    if ban.kind != Ban.Kind.BAN or ban.status not in (Status.PENDING, Status.ACTIVE):
        raise ValidationError(refusal % {"status": ban.get_status_display()})
    return ban


def lift(*, ban: Ban, reason: str, actor) -> Ban:
    """Ends a ban early."""
    reason = clean_reason(reason)
    with writing():
        ban = _lock_open_ban(
            ban, _("Only a pending or active ban can be lifted; this one is %(status)s.")
        )
        needs_vendor = ban.status == Status.ACTIVE and _caps(ban.app).lift
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
        _refresh_cache_on_commit([ban.pk])
        if needs_vendor:
            transaction.on_commit(lambda: _enqueue_sync(ban.pk))
    return ban


def change(*, ban: Ban, seconds: int | None, reason: str, actor) -> Ban:
    """Sets a new total duration, counted from the ban's start: extends or shortens it."""
    seconds = clean_seconds(seconds)
    reason = clean_reason(reason)
    with writing():
        ban = _lock_open_ban(
            ban, _("Only a pending or active ban can be changed; this one is %(status)s.")
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
            ban.vendor_sync_due = _caps(ban.app).native_ban
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
            _refresh_cache_on_commit([ban.pk])
            transaction.on_commit(lambda: _schedule_reapply(ban))
            if ban.vendor_sync_due:
                transaction.on_commit(lambda: _enqueue_sync(ban.pk))
    return ban


def retry(*, ban: Ban, actor) -> Ban:
    """Sends a failed kick or ban to the vendor again, e.g. after its credentials were fixed."""
    with writing():
        ban = Ban.objects.select_for_update(of=("self",)).select_related("app").get(pk=ban.pk)
        if ban.status != Status.FAILED:
            raise ValidationError(
                _("Only a failed kick or ban can be retried; this one is %(status)s.")
                % {"status": ban.get_status_display()}
            )
        _check_app(ban.app)
        ban.status = Status.PENDING
        ban.claimed_at = ban.dispatched_at = None
        ban.claimed_by = ""
        ban.attempts = 0
        ban.vendor_message = ""
        ban.save(
            update_fields=[
                "status",
                "claimed_at",
                "claimed_by",
                "dispatched_at",
                "attempts",
                "vendor_message",
                "updated_at",
            ]
        )
        ModerationLog.objects.create(
            ban=ban, event=Event.RETRIED, actor=actor, message="Retried by a moderator."
        )
        transaction.on_commit(lambda: dispatch([ban.pk]))
        _refresh_cache_on_commit([ban.pk])  # pending again: it holds while the vendor is asked
    return ban


# --- Queue ------------------------------------------------------------------------------------


_queue = redis.queue
_redis = redis.connection


def dispatch(ban_ids: list[int]) -> bool:
    """Queues the vendor work; with Redis down the bans stay pending for `reconcile`."""
    # Marked before the jobs exist: a worker claiming while this UPDATE held the rows would
    # skip them (skip_locked) and finish an empty job.
    Ban.objects.filter(pk__in=ban_ids).update(dispatched_at=timezone.now())
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
        Ban.objects.filter(pk__in=ban_ids, status=Status.PENDING).update(dispatched_at=None)
        return False
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


def _schedule_reapply(ban: Ban):
    """Volcengine's re-apply timer; its job id makes a new schedule replace the old one.

    Expiry has no timer of its own: `expire_due` runs each second and ends whatever is due.
    """
    reapply_at = _reapply_at(ban)
    if reapply_at is None:
        return
    try:
        _queue().enqueue_at(
            reapply_at, "moderation.jobs.reapply_ban", ban.pk, job_id=f"reapply-{ban.pk}"
        )
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): ban %s is re-applied by reconcile.",
            type(exc).__name__,
            ban.pk,
        )


def _enqueue_reapply(ban_id: int):
    try:
        _queue().enqueue("moderation.jobs.reapply_ban", ban_id)
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): ban %s is re-applied later.", type(exc).__name__, ban_id
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
    # A worker that cannot renew its lease may have had its bans handed to another.
    liveness.ensure_held()
    # An action without a documented limit (none today) goes at one call a second.
    rate = app.rate_limits.get(request.action) or client.capabilities.rate_limits.get(
        request.action, 1
    )
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


def _claim(ban_ids: list[int], status: str = Status.PENDING) -> list[Ban]:
    """Takes these bans, if still in `status`, for this process; two never call for one ban.

    A ban stays with its claimant while the claimant's lease lives and its job runs
    (`liveness`), and is free again once either has ended.
    """
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


def _release(bans: list[Ban]) -> None:
    """Gives up the claims still held on these bans (a job that stopped half-way, a renewal)."""
    Ban.objects.filter(pk__in=[b.pk for b in bans], claimed_by=liveness.claimant()).update(
        claimed_by="", claimed_at=None
    )


def apply(*, ban_ids: list[int], attempt: int = 1) -> None:
    """Makes the vendor calls for pending bans; idempotent, so a re-run changes nothing."""
    try:
        _apply(ban_ids, attempt)
    except DatabaseError:
        # The database went away under the job: it runs again after a back-off, and takes
        # back what it had claimed (the clock may have dispatched that already).
        _run_again(ban_ids, attempt)
        raise


def _run_again(ban_ids: list[int], attempt: int) -> None:
    delay = timedelta(seconds=_retry_delay(2))
    try:
        _queue().enqueue_in(delay, "moderation.jobs.apply_bans", ban_ids, attempt)
    except RedisError:
        log.warning("Queue unavailable: %d bans are dispatched by reconcile.", len(ban_ids))


def _apply(ban_ids: list[int], attempt: int) -> None:
    bans = _claim(ban_ids)
    groups = defaultdict(list)
    for b in bans:
        groups[(b.app_id, b.kind, b.scope, b.room_id, b.reason, b.requested_seconds)].append(b)
    to_retry, clients = [], {}
    try:
        for group in groups.values():
            app = group[0].app
            client = clients.get(app.pk) or clients.setdefault(app.pk, vendor_client(app))
            to_retry += _apply_group(client, app, group, attempt)
    except BaseException:
        # What was not sent goes back to the pool: reconcile dispatches it again.
        with contextlib.suppress(Exception):
            _release(bans)
        raise
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
    started = timezone.now()
    if not plan:
        _mark_applied(group, result=None, window=None)
    to_retry = []
    for request, user_ids in plan:
        covered = [by_user[u] for u in user_ids if u in by_user]
        result = _send(client, app, request, covered, attempt)
        if not result.ok and _nobody_to_remove(client, first, result):
            # A kick-only vendor's ban of someone who is not there now still holds: re-kicks
            # and the ban check keep them out.
            result.message = _(
                "%(vendor)s: nobody to remove now (%(answer)s) The ban holds: re-kicks and the "
                "ban check keep them out."
            ) % {"vendor": client.label, "answer": result.message}
            _mark_applied(covered, result=result, window=None)
        elif result.ok:
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
    if first.kind == Ban.Kind.BAN:
        _enforce_after_activation(client, app, group, since=started)
    return to_retry


def _nobody_to_remove(client, ban: Ban, result: CallResult) -> bool:
    return (
        ban.kind == Ban.Kind.BAN
        and not client.capabilities.native_ban
        and result.vendor_code in client.MISSING_TARGET_CODES
    )


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
    message = result.message if result else ""
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
                "vendor_message": message,
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
        _log_many(pending, Event.APPLIED, message=message, details=_result_details(result))
        active = [b for b in pending if b.status == Status.ACTIVE]
        _refresh_cache_on_commit([b.pk for b in active])
        transaction.on_commit(lambda: [_schedule_reapply(b) for b in active])
        _undo_if_lifted_meanwhile([b for b in bans if b.pk not in {p.pk for p in pending}], result)


def _undo_if_lifted_meanwhile(bans: list[Ban], result: CallResult | None):
    """A ban lifted while its call was in flight: the vendor now holds a ban nobody wants."""
    if result is None or not bans:
        return
    lifted = Ban.objects.filter(
        pk__in=[b.pk for b in bans], status=Status.LIFTED, kind=Ban.Kind.BAN
    )
    ids = [b.pk for b in lifted.select_related("app") if _caps(b.app).lift]
    if ids:
        Ban.objects.filter(pk__in=ids).update(vendor_sync_due=True)
        transaction.on_commit(lambda: [_enqueue_sync(pk) for pk in ids])


def _mark_failed(bans, *, message, result=None, attempt=None):
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
            vendor_message=message,
            updated_at=timezone.now(),
        )
        _log_many(
            [b for b in bans if b.pk in ids],
            Event.FAILED,
            message=message,
            details=_result_details(result, attempt),
        )
        # A pending ban is in the ban check's cache: the refresh takes it out.
        _refresh_cache_on_commit(ids)


def _retry(bans: list[Ban], attempt: int):
    delay = _retry_delay(attempt)
    ids = [b.pk for b in bans]
    # dispatched_at is when the retry is due, so reconcile leaves it alone until then.
    Ban.objects.filter(pk__in=ids, status=Status.PENDING).update(
        claimed_at=None,
        claimed_by="",
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
            _caps(ban.app),
            None if remaining is None else max(1, int(remaining + 0.999)),
        )
    else:
        window = 0
    client = vendor_client(ban.app)
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
        with writing():
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
        with writing():
            Ban.objects.filter(pk=ban.pk).update(
                vendor_sync_due=False, vendor_message=result.message
            )
            ModerationLog.objects.create(
                ban=ban,
                event=Event.FAILED,
                message=result.message,
                details=_result_details(result, attempt),
            )


def reapply(*, ban_id: int) -> None:
    """Renews the vendor's window of a ban that outlasts it (Volcengine: 7 days at most).

    The renewal is claimed like an apply, so two clocks or workers never renew one ban twice.
    """
    claimed = _claim([ban_id], status=Status.ACTIVE)
    if not claimed:
        return
    try:
        _renew(claimed[0])
    finally:
        _release(claimed)


def _renew(ban: Ban) -> None:
    reapply_at = _reapply_at(ban)
    if reapply_at is None or reapply_at > timezone.now():
        return
    caps = _caps(ban.app)
    now = timezone.now()
    remaining = None if ban.expires_at is None else int((ban.expires_at - now).total_seconds())
    window = _vendor_window(caps, remaining)
    client = vendor_client(ban.app)
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
    with writing():
        Ban.objects.filter(pk=ban.pk, status=Status.ACTIVE).update(vendor_until=ban.vendor_until)
        ModerationLog.objects.create(
            ban=ban,
            event=Event.APPLIED,
            message=result.message,
            details={**_result_details(result), "reapplied_window": window},
        )
        transaction.on_commit(lambda: _schedule_reapply(ban))


# --- Worker side: time ------------------------------------------------------------------------


def expire_due() -> int:
    """Ends every timed ban whose time is up; cron runs this each second.

    Nothing is called at the vendor: Volcengine's window ends by itself, and the kick-only
    vendors only stop being enforced by us. A ban being lifted or changed right now is locked
    and skipped; the next run sees what that left.
    """
    due = Ban.objects.filter(status=Status.ACTIVE, expires_at__lte=timezone.now())
    if not due.exists():
        return 0  # without the write lock: on SQLite it would queue every second for nothing
    with writing():
        ids = list(
            due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:EXPIRE_BATCH]
        )
        if not ids:
            return 0
        Ban.objects.filter(pk__in=ids, status=Status.ACTIVE).update(
            status=Status.EXPIRED, updated_at=timezone.now()
        )
        ModerationLog.objects.bulk_create(
            [ModerationLog(ban_id=pk, event=Event.EXPIRED) for pk in ids]
        )
        _refresh_cache_on_commit(ids)
    return len(ids)


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
        _log_many(
            [Ban(pk=pk) for pk in ids],
            Event.RETRIED,
            message=_(
                "The job sending this stopped before it recorded the vendor's answer; sent again."
            ),
        )
        transaction.on_commit(lambda: dispatch(ids))
    log.info("Claims %s have ended: %d bans dispatched again.", sorted(dead), len(ids))
    return len(ids)


def reconcile() -> dict:
    """The database is the truth; this catches whatever Redis lost or never got."""
    try:
        released = release_dead_claims()
    except RedisError as exc:
        log.warning("Workers' leases not checked (%s): Redis is unavailable.", type(exc).__name__)
        released = 0
    now = timezone.now()
    grace = timedelta(seconds=settings.DISPATCH_GRACE_SECONDS)
    undispatched = list(
        Ban.objects.filter(status=Status.PENDING)
        .filter(
            Q(dispatched_at__isnull=True, created_at__lt=now - grace)
            | Q(dispatched_at__lt=now - grace * 10)
        )
        .filter(claimed_by="")  # a dead worker's claims are freed each second, not here
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
    expired = expire_due()
    margin = timedelta(seconds=settings.REAPPLY_MARGIN_SECONDS)
    due = list(
        Ban.objects.filter(status=Status.ACTIVE, vendor_until__lte=now + margin)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now + margin))
        .values_list("pk", flat=True)[:1000]
    )
    for pk in due:
        _enqueue_reapply(pk)
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
        "reapplied": len(due),
        "rekicks": _sweep_presence(),
        "cache_repaired": cache_repaired,
        "pruned": _prune(),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- Enforcement: presence, re-kicks ----------------------------------------------------------
# Kick-only vendors (ZEGO without its own ban, Tencent) let a kicked user back in at once. A ban
# holds there because (1) the customer's token server asks the ban check before every join, and
# (2) whoever the room callbacks report inside a banned room is kicked again, at once.

REKICK_REASON_MAX = 64
SWEEP_RETRY_SECONDS = 600
SWEEP_LIMIT = 1000


def receive_room_event(*, app: VendorApp, event: RoomEvent) -> bool:
    """Keeps presence from one verified room callback; a banned user entering is kicked again.

    Returns False for a delivery seen before (the vendors retry): it changes nothing.
    """
    if not presence.record(app=app, event=event):
        return False
    if event.kind == RoomEvent.JOIN:
        # Presence is committed before the cache is read, and a ban becoming active refreshes
        # the cache before it reads presence: whichever comes second sees the other.
        try:
            answer = bancheck.covering_ban(app, event.room_id, event.user_id)
        except (DatabaseError, RedisError) as exc:
            # The entry is kept; the sweep in reconcile re-kicks from presence.
            log.warning("Entry of %s not checked now (%s).", event.user_id, type(exc).__name__)
            return True
        if answer.banned:
            _enqueue_rekick(app.pk, event.room_id, event.user_id)
    return True


def _enqueue_rekick(app_pk, room_id, user_id, *, attempt=1, delay=0.0, require_presence=True):
    try:
        args = (app_pk, room_id, user_id, attempt, require_presence)
        if delay:
            _queue().enqueue_in(timedelta(seconds=delay), "moderation.jobs.rekick_user", *args)
        else:
            _queue().enqueue("moderation.jobs.rekick_user", *args)
    except RedisError as exc:
        log.warning(
            "Queue unavailable (%s): %s in room %s is re-kicked by reconcile.",
            type(exc).__name__,
            user_id,
            room_id,
        )


def _holding_ban(app: VendorApp, room_id: str, user_id: str) -> Ban | None:
    answer = bancheck.answer_from_db(app.pk, room_id, user_id)
    return Ban.objects.filter(pk=answer.ban_id).first() if answer.banned else None


def rekick(
    *, app_id: int, room_id: str, user_id: str, attempt: int = 1, require_presence: bool = True
) -> bool:
    """Kicks a user whom an active ban keeps out of the room; nothing if no ban holds any more.

    `require_presence`: only while presence says they are inside (not for the kicks that go
    with ZEGO's own ban, which no callback may have reported).
    """
    app = VendorApp.objects.filter(pk=app_id).first()
    if app is None:
        return False
    ban = _holding_ban(app, room_id, user_id)
    if ban is None:
        log.info(
            "No ban holds %s in room %s of app %s any more: left alone.", user_id, room_id, app.pk
        )
        return False
    if require_presence and not presence.is_in(app=app, room_id=room_id, user_id=user_id):
        return False
    client = vendor_client(app)
    try:
        return _kick(
            client,
            app,
            room_id,
            [(user_id, ban)],
            attempt=attempt,
            trigger="entry" if require_presence else "ban_applied",
            require_presence=require_presence,
        )
    finally:
        client.close()


def _record_rekick(app, room_id, user_ids, bans_by_user, result, *, attempt, trigger, started):
    """Who is out of the room now, and (if the kick went through) the re-kick on each ban."""
    with writing():
        for user in user_ids:
            presence.mark_removed(
                app=app,
                room_id=room_id,
                user_id=user,
                before=started,
                why=f"kicked: ban {bans_by_user[user].pk}",
            )
        if not result.ok:
            return
        ModerationLog.objects.bulk_create(
            [
                ModerationLog(
                    ban=bans_by_user[user],
                    event=Event.REKICKED,
                    message=_("Kicked %(user)s from room %(room)s again: this ban holds.")
                    % {"user": user, "room": room_id},
                    details={
                        "room": room_id,
                        "user_id": user,
                        "ban_id": bans_by_user[user].pk,
                        "trigger": trigger,
                        **_result_details(result, attempt),
                    },
                )
                for user in user_ids
            ]
        )


def _kick(client, app, room_id, pairs, *, attempt, trigger, require_presence=True) -> bool:
    """Kicks (user, enforced ban) pairs from one room, logging a re-kick on each ban."""
    bans_by_user = dict(pairs)
    started = timezone.now()
    try:
        requests = client.kick_requests(room_id=room_id, user_ids=list(bans_by_user))
    except VendorInputError as exc:
        _log_many(
            list({b.pk: b for b in bans_by_user.values()}.values()),
            Event.FAILED,
            message=_("Cannot kick from room %(room)s: %(error)s")
            % {"room": room_id, "error": f"{exc.field}: {exc.message}"},
            details={"rekick": True, "room": room_id, "trigger": trigger},
        )
        return False
    kicked_any = False
    for request in requests:
        covered = {bans_by_user[u].pk: bans_by_user[u] for u in request.user_ids}
        result = _send(client, app, request, list(covered.values()), attempt)
        if result.ok or result.vendor_code in client.MISSING_TARGET_CODES:
            _record_rekick(
                app,
                room_id,
                request.user_ids,
                bans_by_user,
                result,
                attempt=attempt,
                trigger=trigger,
                started=started,
            )
        if result.ok:
            kicked_any = True
            for user in request.user_ids:
                log.info(
                    "Re-kicked %s from room %s of app %s, enforcing ban %s (%s).",
                    user,
                    room_id,
                    app.pk,
                    bans_by_user[user].pk,
                    trigger,
                )
        elif result.vendor_code in client.MISSING_TARGET_CODES:
            log.info(
                "%s: nobody to re-kick in room %s (%s).", client.label, room_id, result.message
            )
        elif result.retryable and attempt < settings.VENDOR_MAX_ATTEMPTS:
            for user in request.user_ids:
                _enqueue_rekick(
                    app.pk,
                    room_id,
                    user,
                    attempt=attempt + 1,
                    delay=_retry_delay(attempt + 1),
                    require_presence=require_presence,
                )
        else:
            _log_many(
                list(covered.values()),
                Event.FAILED,
                message=result.message,
                details={
                    "rekick": True,
                    "room": room_id,
                    "trigger": trigger,
                    **_result_details(result, attempt),
                },
            )
    return kicked_any


def _covered_by(bans: list[Ban]) -> Exists:
    """Presence rows (in a room) that these bans cover."""
    return Exists(
        Ban.objects.filter(pk__in=[b.pk for b in bans]).covering(
            OuterRef("room_id"), OuterRef("user_id")
        )
    )


def _enforce_after_activation(client, app: VendorApp, group: list[Ban], *, since) -> None:
    """Removes whoever the newly active bans cover and the vendor call did not remove."""
    active = list(
        Ban.objects.filter(pk__in=[b.pk for b in group], status=Status.ACTIVE).select_related(
            "room"
        )
    )
    caps = client.capabilities
    if not active or (caps.native_ban and caps.native_ban_removes):
        return  # Volcengine's ban removed them itself
    scope, room = active[0].scope, active[0].room
    if caps.native_ban and scope == Ban.Scope.USER_IN_ROOM:
        # ZEGO's rule refuses the next login only: kick whoever may be inside, known or not.
        _kick(
            client,
            app,
            room.room_id,
            [(b.user_id, b) for b in active],
            attempt=1,
            trigger="ban_applied",
            require_presence=False,
        )
        return
    if caps.native_ban and scope == Ban.Scope.WHOLE_ROOM:
        result = _send(client, app, client.close_room_request(room_id=room.room_id), active, 1)
        if not result.ok:
            _log_many(active, Event.FAILED, message=result.message, details=_result_details(result))
        return
    rows = Presence.objects.filter(app=app, in_room=True).filter(_covered_by(active))
    if scope != Ban.Scope.USER_EVERYWHERE and not caps.native_ban:
        # The apply call itself removed who was there; only who entered since is left.
        rows = rows.filter(updated_at__gte=since)
    _kick_present(client, app, active, rows, trigger="ban_applied")


def _kick_present(client, app, bans: list[Ban], rows, *, trigger: str) -> None:
    by_room = defaultdict(list)
    for room_id, user_id in rows.values_list("room_id", "user_id")[:SWEEP_LIMIT]:
        ban = next(b for b in bans if b.covers(room_id, user_id))
        by_room[room_id].append((user_id, ban))
    for room_id, pairs in by_room.items():
        _kick(client, app, room_id, pairs, attempt=1, trigger=trigger)


def _sweep_presence() -> int:
    """Catches whoever is inside a banned room and was not re-kicked (Redis down, lost jobs)."""
    now = timezone.now()
    covering = (
        Ban.objects.filter(app=OuterRef("app"), status=Status.ACTIVE)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .covering(OuterRef("room_id"), OuterRef("user_id"))
    )
    rows = (
        Presence.objects.filter(in_room=True, updated_at__lt=now - timedelta(seconds=5))
        .filter(Exists(covering))
        .values_list("app_id", "room_id", "user_id")[:SWEEP_LIMIT]
    )
    queued = 0
    for app_pk, room_id, user_id in rows:
        # One try per user and room every ten minutes: a kick the vendor refuses for good is
        # not repeated every sweep.
        marker = f"moderation:sweep:{app_pk}:{bancheck.token_hash(room_id + chr(31) + user_id)}"
        try:
            if not _redis().set(marker, 1, nx=True, ex=SWEEP_RETRY_SECONDS):
                continue
        except RedisError:
            return queued
        _enqueue_rekick(app_pk, room_id, user_id)
        queued += 1
    return queued


def _prune() -> int:
    """Forgets callback deliveries past their replay window and presence long gone."""
    now = timezone.now()
    pruned = 0
    for queryset in (
        CallbackDelivery.objects.filter(received_at__lt=now - presence.DELIVERY_KEPT),
        Presence.objects.filter(in_room=False, updated_at__lt=now - presence.LEFT_KEPT),
    ):
        pks = list(queryset.values_list("pk", flat=True)[:10_000])
        if pks:
            pruned += queryset.model.objects.filter(pk__in=pks).delete()[0]
    return pruned

"""Keeping banned users out on the vendors that can only kick.

Kick-only vendors (ZEGO without its own ban, Tencent) let a kicked user back in at once. A ban
holds there because (1) the customer's token server asks the ban check before every join, and
(2) whoever the room callbacks report inside a banned room is kicked again, at once. The sweep
in `reconcile` catches whoever those missed. A stream that ZEGO's stream callbacks report from a
muted user is stopped at once, the same way (`streams`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from redis.exceptions import RedisError

from .. import bancheck, presence, redis
from ..messages import N_, Text
from ..models import Ban, ModerationLog, Presence, VendorApp
from ..transactions import writing
from ..vendors import Delivery, RoomEvent
from ..vendors.base import VendorInputError
from .queue import enqueue_rekick, enqueue_stop_stream, interactive_bans, retry_delay
from .records import log_many, result_details, said
from .vendor_calls import Outcome, outcome, send, vendor_client

log = logging.getLogger(__name__)

Status = Ban.Status
Event = ModerationLog.Event

CANNOT_KICK = N_("Cannot kick from room {room}: {error}")
REKICKED = N_("Kicked {user} from room {room} again: this ban holds.")
SWEEP_RETRY_SECONDS = 600
SWEEP_LIMIT = 1000


def receive_room_event(*, app: VendorApp, delivery: Delivery) -> bool:
    """Keeps presence from one verified room (or stream) callback; a banned user entering is
    kicked again, a muted user's new stream is stopped.

    Returns False for a delivery seen before (the vendors retry): it changes nothing. Raises
    presence.SignatureReused, keeping nothing, when a signature that leaves the body out comes
    back with another body.
    """
    event = delivery.event
    if not presence.record(app=app, event=event, signed_pair=delivery.signed_pair):
        return False
    if event is None:
        return True
    if event.kind == RoomEvent.PUBLISH:
        try:
            answer = bancheck.covering_ban(app, event.room_id, event.user_id)
        except (DatabaseError, RedisError) as exc:
            log.warning("Stream of %s not checked now (%s).", event.user_id, type(exc).__name__)
            return True
        if answer.muted:
            enqueue_stop_stream(app.pk, event.stream_id)
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
            # As urgent as the ban it enforces: a raid's bans re-kick as bulk work.
            try:
                interactive = answer.ban_id in interactive_bans([answer.ban_id])
            except DatabaseError:
                interactive = False  # the cache answered; the re-kick must not wait for that
            enqueue_rekick(app.pk, event.room_id, event.user_id, interactive=interactive)
    return True


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
    answer = bancheck.answer_from_db(app.pk, room_id, user_id)
    ban = Ban.objects.filter(pk=answer.ban_id).first() if answer.banned else None
    if ban is None:
        log.info(
            "No ban holds %s in room %s of app %s any more: left alone.", user_id, room_id, app.pk
        )
        return False
    if require_presence and not presence.is_in(app=app, room_id=room_id, user_id=user_id):
        return False
    client = vendor_client(app)
    try:
        return kick_from_room(
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


def kick_from_room(client, app, room_id, pairs, *, attempt, trigger, require_presence=True):
    """Kicks (user, enforced ban) pairs from one room, logging a re-kick on each ban.

    True if the vendor removed anyone.
    """
    bans_by_user = dict(pairs)
    started = timezone.now()
    try:
        requests = client.kick_requests(room_id=room_id, user_ids=list(bans_by_user))
    except VendorInputError as exc:
        log_many(
            list({b.pk: b for b in bans_by_user.values()}.values()),
            Event.FAILED,
            message=Text(CANNOT_KICK, {"room": room_id, "error": f"{exc.field}: {exc.message}"}),
            details={"rekick": True, "room": room_id, "trigger": trigger},
        )
        return False
    kicked_any = False
    for request in requests:
        covered = {bans_by_user[u].pk: bans_by_user[u] for u in request.user_ids}
        result = send(client, app, request, list(covered.values()), attempt)
        answer = outcome(client, result, attempt)
        if answer in (Outcome.DONE, Outcome.NOBODY_THERE):
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
        if answer is Outcome.DONE:
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
        elif answer is Outcome.NOBODY_THERE:
            log.info(
                "%s: nobody to re-kick in room %s (%s).", client.label, room_id, result.message
            )
        elif answer is Outcome.RETRY:
            for user in request.user_ids:
                enqueue_rekick(
                    app.pk,
                    room_id,
                    user,
                    attempt=attempt + 1,
                    delay=retry_delay(attempt + 1),
                    require_presence=require_presence,
                )
        else:
            log_many(
                list(covered.values()),
                Event.FAILED,
                message=said(result),
                details={
                    "rekick": True,
                    "room": room_id,
                    "trigger": trigger,
                    **result_details(result, attempt),
                },
            )
    return kicked_any


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
        for user in user_ids:
            log_many(
                [bans_by_user[user]],
                Event.REKICKED,
                message=Text(REKICKED, {"user": user, "room": room_id}),
                details={
                    "room": room_id,
                    "user_id": user,
                    "ban_id": bans_by_user[user].pk,
                    "trigger": trigger,
                    **result_details(result, attempt),
                },
            )


def enforce_after_activation(client, app: VendorApp, group: list[Ban], *, since) -> None:
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
        kick_from_room(
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
        result = send(client, app, client.close_room_request(room_id=room.room_id), active, 1)
        if not result.ok:
            log_many(active, Event.FAILED, message=said(result), details=result_details(result))
        return
    covered = Exists(
        Ban.objects.filter(pk__in=[b.pk for b in active]).covering(
            OuterRef("room_id"), OuterRef("user_id")
        )
    )
    rows = Presence.objects.filter(app=app, in_room=True).filter(covered)
    if scope != Ban.Scope.USER_EVERYWHERE and not caps.native_ban:
        # The apply call itself removed who was there; only who entered since is left.
        rows = rows.filter(updated_at__gte=since)
    by_room = defaultdict(list)
    for room_id, user_id in rows.values_list("room_id", "user_id")[:SWEEP_LIMIT]:
        ban = next(b for b in active if b.covers(room_id, user_id))
        by_room[room_id].append((user_id, ban))
    for room_id, pairs in by_room.items():
        kick_from_room(client, app, room_id, pairs, attempt=1, trigger="ban_applied")


def sweep_presence() -> int:
    """Catches whoever is inside a banned room and was not re-kicked (Redis down, lost jobs)."""
    now = timezone.now()
    covering = (
        Ban.objects.filter(app=OuterRef("app"), status=Status.ACTIVE, kind=Ban.Kind.BAN)
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
            if not redis.connection().set(marker, 1, nx=True, ex=SWEEP_RETRY_SECONDS):
                continue
        except RedisError:
            return queued
        enqueue_rekick(app_pk, room_id, user_id)
        queued += 1
    return queued

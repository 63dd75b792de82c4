"""Room presence from the vendors' room callbacks: who is in which room, since when.

Vendors retry callbacks and may deliver them out of order, so each delivery is recorded once
(by its delivery key) and applied only if it is newer, in the vendor's clock, than what the row
already knows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import CallbackDelivery, CallbackNonce, Presence, PublishedStream, Room, VendorApp
from .vendors import RoomEvent, SignedPair

ROOM_SEEN_EVERY = timedelta(seconds=60)
# A delivery signed further than the acceptance window (CALLBACK_MAX_AGE_SECONDS, at most a day)
# from now is refused; deliveries are remembered (to act once) for longer than that, so a replay
# is refused either by age or as a duplicate.
DELIVERY_KEPT = timedelta(days=2)
LEFT_KEPT = timedelta(days=7)


class SignatureReused(Exception):
    """A signed pair came back with another body: a replay with changed fields, refused."""


def acceptance_window() -> timedelta:
    """How far from now a delivery may have been signed, by the vendor's clock, and be accepted."""
    return timedelta(seconds=settings.CALLBACK_MAX_AGE_SECONDS)


def record(
    *, app: VendorApp, event: RoomEvent | None, signed_pair: SignedPair | None = None
) -> bool:
    """Stores one callback delivery and what it says; False when it was delivered before.

    `signed_pair`: what the signature covered where it leaves the body out (ZEGO), kept in the
    same transaction; SignatureReused, and nothing kept, when the pair came before with another
    body. `event` None (an event the product ignores): only the pair is kept.
    """
    with transaction.atomic():
        if signed_pair is not None and not _spend(app, signed_pair):
            return False  # this very body was delivered before
        if event is None:
            return True
        if not _keep(app, event):
            return False
    now = timezone.now()
    Room.objects.filter(app=app, room_id=event.room_id).filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - ROOM_SEEN_EVERY)
    ).update(last_seen_at=now)
    return True


def _insert_once(model, **fields) -> bool:
    """Inserts one row; False when a unique constraint holds it already. In a savepoint: on
    PostgreSQL a failed insert would otherwise spoil the transaction. The constraint makes the
    second of two inserts at once wait for the first, then see its row."""
    try:
        with transaction.atomic():
            model.objects.create(**fields)
    except IntegrityError:
        return False
    return True


def _spend(app: VendorApp, pair: SignedPair) -> bool:
    """Remembers a signed pair with its body; False when this pair came before with this body."""
    if _insert_once(
        CallbackNonce,
        app=app,
        pair=pair.key,
        body_sha256=pair.body_sha256,
        signed_at=datetime.fromtimestamp(pair.sent_at, UTC),
    ):
        return True
    if CallbackNonce.objects.filter(app=app, pair=pair.key, body_sha256=pair.body_sha256).exists():
        return False
    raise SignatureReused


def _keep(app: VendorApp, event: RoomEvent) -> bool:
    """The delivery and the presence it implies; False when the event was delivered before."""
    happened = datetime.fromtimestamp(event.at_ms / 1000, UTC)
    if not _insert_once(
        CallbackDelivery,
        app=app,
        key=event.delivery_key,
        event=event.kind,
        vendor_event=event.vendor_event,
        room_id=event.room_id,
        user_id=event.user_id,
        happened_at=happened,
    ):
        return False
    if event.kind == RoomEvent.JOIN:
        _apply(app, event.room_id, event.user_id, happened, entering=True)
    elif event.kind == RoomEvent.LEAVE:
        _apply(app, event.room_id, event.user_id, happened, entering=False, why=event.reason)
    elif event.kind in (RoomEvent.PUBLISH, RoomEvent.UNPUBLISH):
        _apply_stream(app, event, happened)
    elif event.kind == RoomEvent.CLOSE:
        Presence.objects.filter(
            app=app, room_id=event.room_id, in_room=True, event_at__lte=happened
        ).update(
            in_room=False,
            left_at=happened,
            left_reason="room closed",
            event_at=happened,
            updated_at=timezone.now(),
        )
    return True


def _apply(app, room_id, user_id, happened, *, entering: bool, why: str = "") -> None:
    rows = Presence.objects.select_for_update().filter(app=app, room_id=room_id, user_id=user_id)
    row = rows.first()
    if row is None:
        try:
            with transaction.atomic():
                Presence.objects.create(
                    app=app,
                    room_id=room_id,
                    user_id=user_id,
                    in_room=entering,
                    entered_at=happened,
                    left_at=None if entering else happened,
                    left_reason="" if entering else why[:64],
                    event_at=happened,
                )
            return
        except IntegrityError:
            row = rows.get()  # another delivery made the row first
    if happened < row.event_at:
        return  # an older event delivered late: the row already knows better
    if entering:
        if not row.in_room:
            row.entered_at = happened
        row.in_room, row.left_at, row.left_reason = True, None, ""
    else:
        row.in_room, row.left_at, row.left_reason = False, happened, why[:64]
    row.event_at = happened
    row.save()


def _apply_stream(app, event: RoomEvent, happened) -> None:
    """Which stream the user publishes in the room; a late, older delivery changes nothing."""
    publishing = event.kind == RoomEvent.PUBLISH
    row = PublishedStream.objects.select_for_update().filter(app=app, stream_id=event.stream_id)
    row = row.first()
    if row is None:
        try:
            with transaction.atomic():
                PublishedStream.objects.create(
                    app=app,
                    room_id=event.room_id,
                    user_id=event.user_id,
                    stream_id=event.stream_id,
                    publishing=publishing,
                    started_at=happened,
                    stopped_at=None if publishing else happened,
                    event_at=happened,
                )
            return
        except IntegrityError:
            row = PublishedStream.objects.select_for_update().get(
                app=app, stream_id=event.stream_id
            )
    # A close at the same millisecond as its create is the later of the two.
    if happened < row.event_at or (happened == row.event_at and publishing):
        return
    row.publishing = publishing
    row.room_id, row.user_id = event.room_id, event.user_id
    if publishing:
        row.started_at, row.stopped_at = happened, None
    else:
        row.stopped_at = happened
    row.event_at = happened
    row.save()


def mark_removed(*, app: VendorApp, room_id: str, user_id: str, before: datetime, why: str):
    """We removed the user (a kick): unless they entered again after `before`, they are out."""
    now = timezone.now()
    Presence.objects.filter(
        app=app, room_id=room_id, user_id=user_id, in_room=True, updated_at__lte=before
    ).update(in_room=False, left_at=now, left_reason=why[:64], updated_at=now)


# --- Reads ------------------------------------------------------------------------------------


def is_in(*, app: VendorApp, room_id: str, user_id: str) -> bool:
    return Presence.objects.filter(app=app, room_id=room_id, user_id=user_id, in_room=True).exists()


def rooms_of(*, app: VendorApp, user_id: str) -> list[str]:
    """The rooms the user is in now, as far as the callbacks told us."""
    return list(
        Presence.objects.filter(app=app, user_id=user_id, in_room=True)
        .order_by("room_id")
        .values_list("room_id", flat=True)
    )


def members(*, app: VendorApp, room_id: str) -> list[str]:
    return list(
        Presence.objects.filter(app=app, room_id=room_id, in_room=True)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def prune() -> int:
    """Forgets callback deliveries and signed pairs past their replay window, and presence
    long gone."""
    now = timezone.now()
    pruned = 0
    for queryset in (
        CallbackDelivery.objects.filter(received_at__lt=now - DELIVERY_KEPT),
        # Signed before the window: any delivery with this pair is now refused by its age.
        CallbackNonce.objects.filter(signed_at__lt=now - acceptance_window()),
        Presence.objects.filter(in_room=False, updated_at__lt=now - LEFT_KEPT),
        # A stopped stream's id stays known while a mute holds it at the vendor.
        PublishedStream.objects.filter(
            publishing=False, forbidden_by__isnull=True, updated_at__lt=now - LEFT_KEPT
        ),
    ):
        pks = list(queryset.values_list("pk", flat=True)[:10_000])
        if pks:
            pruned += queryset.model.objects.filter(pk__in=pks).delete()[0]
    return pruned

"""Room presence: newest event wins, closes empty rooms, our kicks count, old rows are pruned."""

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from moderation import presence, services
from moderation.models import Ban, CallbackDelivery, CallbackNonce, Presence, PublishedStream
from moderation.vendors import RoomEvent, SignedPair

from .support.bans import active_ban

pytestmark = pytest.mark.django_db(transaction=True)

_keys = iter(range(10**6))


def event(kind, room, user="", *, at=None):
    return RoomEvent(
        kind=kind,
        room_id=room,
        user_id=user,
        at_ms=int((at or time.time()) * 1000),
        delivery_key=f"key-{next(_keys)}",
        vendor_event=kind,
    )


def stream_event(kind, stream, *, room="r", user="u", at=None):
    return RoomEvent(
        kind=kind,
        room_id=room,
        user_id=user,
        at_ms=int((at or time.time()) * 1000),
        delivery_key=f"key-{next(_keys)}",
        vendor_event=kind,
        stream_id=stream,
    )


def test_a_stream_is_kept_from_its_create_and_close_callbacks_newest_event_winning(zego_app):
    now = time.time()
    presence.record(app=zego_app, event=stream_event(RoomEvent.PUBLISH, "cam", at=now))
    assert PublishedStream.objects.get().publishing

    presence.record(app=zego_app, event=stream_event(RoomEvent.UNPUBLISH, "cam", at=now + 5))
    # A create delivered late, after the close it came before, changes nothing.
    presence.record(app=zego_app, event=stream_event(RoomEvent.PUBLISH, "cam", at=now + 1))

    stream = PublishedStream.objects.get()
    assert (stream.publishing, stream.room_id, stream.user_id) == (False, "r", "u")
    assert stream.stopped_at is not None

    presence.record(app=zego_app, event=stream_event(RoomEvent.PUBLISH, "cam", at=now + 9))
    assert PublishedStream.objects.get().publishing  # published again under the same id


def test_an_old_join_delivered_after_a_newer_leave_is_ignored(zego_app):
    now = time.time()
    presence.record(app=zego_app, event=event("leave", "r", "u", at=now))
    presence.record(app=zego_app, event=event("join", "r", "u", at=now - 10))

    row = Presence.objects.get()
    assert not row.in_room
    assert presence.rooms_of(app=zego_app, user_id="u") == []


def test_entering_again_keeps_the_first_entry_time_of_the_stay(zego_app):
    now = time.time()
    presence.record(app=zego_app, event=event("join", "r", "u", at=now))
    presence.record(app=zego_app, event=event("join", "r", "u", at=now + 5))  # a second device

    assert abs(Presence.objects.get().entered_at.timestamp() - now) < 0.01


def test_a_closed_room_is_left_by_everyone_in_it(zego_app):
    now = time.time()
    for user in ("a", "b"):
        presence.record(app=zego_app, event=event("join", "r", user, at=now))
    presence.record(app=zego_app, event=event("join", "other", "a", at=now))

    presence.record(app=zego_app, event=event("close", "r", at=now + 1))

    assert presence.members(app=zego_app, room_id="r") == []
    assert presence.rooms_of(app=zego_app, user_id="a") == ["other"]
    assert set(Presence.objects.filter(room_id="r").values_list("left_reason", flat=True)) == {
        "room closed"
    }


def test_a_kick_marks_the_user_out_unless_they_entered_again_since(zego_app):
    presence.record(app=zego_app, event=event("join", "r", "u"))
    before_kick = timezone.now()
    presence.record(app=zego_app, event=event("join", "r", "late"))

    for user in ("u", "late"):
        presence.mark_removed(app=zego_app, room_id="r", user_id=user, before=before_kick, why="x")

    assert presence.members(app=zego_app, room_id="r") == ["late"]


def test_a_delivery_is_recorded_once(zego_app):
    once = event("join", "r", "u")

    assert presence.record(app=zego_app, event=once) is True
    assert presence.record(app=zego_app, event=once) is False
    assert CallbackDelivery.objects.count() == 1


def test_reconcile_prunes_old_deliveries_and_long_gone_presence(zego_app, redis_connection):
    presence.record(app=zego_app, event=event("join", "r", "stays"))
    presence.record(app=zego_app, event=event("leave", "r", "gone"))
    long_ago = timezone.now() - timedelta(days=8)
    CallbackDelivery.objects.update(received_at=long_ago)
    Presence.objects.update(updated_at=long_ago)

    assert services.reconcile()["pruned"] == 3

    assert list(Presence.objects.values_list("user_id", flat=True)) == ["stays"]


def signed_pair(nonce, *, signed_ago=0.0, body="body"):
    return SignedPair(
        timestamp=str(int(time.time() - signed_ago)),
        nonce=nonce,
        body_sha256=body,
        sent_at=time.time() - signed_ago,
    )


def test_a_signed_pair_is_kept_with_its_delivery_and_refused_with_another_body(zego_app):
    pair = signed_pair("1")
    join = event("join", "r", "u")

    assert presence.record(app=zego_app, event=join, signed_pair=pair) is True
    with pytest.raises(presence.SignatureReused):
        presence.record(
            app=zego_app, event=event("leave", "r", "u"), signed_pair=replace(pair, body_sha256="x")
        )
    assert presence.record(app=zego_app, event=join, signed_pair=pair) is False

    assert (CallbackNonce.objects.count(), CallbackDelivery.objects.count()) == (1, 1)
    assert presence.is_in(app=zego_app, room_id="r", user_id="u")


def test_prune_forgets_signed_pairs_past_the_window_and_keeps_younger_ones(zego_app, settings):
    settings.CALLBACK_MAX_AGE_SECONDS = 300
    pairs = {
        n: signed_pair(n, signed_ago=ago)
        for n, ago in (("old", 310), ("young", 290), ("ahead", -200))
    }
    for pair in pairs.values():
        presence.record(app=zego_app, event=None, signed_pair=pair)

    assert presence.prune() == 1

    kept = set(CallbackNonce.objects.values_list("pair", flat=True))
    assert kept == {pairs["young"].key, pairs["ahead"].key}
    assert CallbackDelivery.objects.count() == 0  # an ignored event keeps only its pair


def test_zegos_own_whole_room_ban_sets_a_room_rule_then_closes_the_room(
    callback_app, emulator, redis_connection
):
    app = callback_app("zego", forbid_rules=True, zego_native_ban=True)
    for user in ("a", "b"):
        emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id="stage", user_id=user)

    ban = active_ban(app, "stage", "", scope=Ban.Scope.WHOLE_ROOM, seconds=90_000)

    assert [c.action for c in emulator.calls] == ["SetForbidUserRule", "CloseRoom"]
    assert emulator.calls[0].params["EffectiveTime"] == "86400"  # a day at most; renewed
    assert ban.vendor_until - ban.starts_at == timedelta(days=1)
    assert emulator.members(vendor="zego", app_id=app.vendor_app_id, room_id="stage") == set()
    assert not emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id="stage", user_id="c")


def test_zegos_own_ban_is_only_for_zego_apps(emulated_app):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        emulated_app("tencent", zego_native_ban=True)

    assert "zego_native_ban" in error.value.message_dict

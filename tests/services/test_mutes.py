"""Mutes end to end on each vendor: a real worker and clock call the emulated vendor over HTTP,
ZEGO's stream callbacks reach our live server, and the token servers' ban check agrees."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rq import Worker

from moderation import services
from moderation.models import Ban, ModerationLog, PublishedStream, VendorCall

from ..support.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ROOM = {"volcengine": "lobby", "zego": "live-1", "tencent": "1234"}
UNMUTE = {"volcengine": "UnbanUserStream", "zego": "ResumeRTCStream", "tencent": "SetUserBlocked"}
URL = "/api/v1/bans/check"


@pytest.fixture
def ready_worker(worker, redis_connection):
    wait_until(lambda: Worker.all(connection=redis_connection), message="the worker")
    return worker


@pytest.fixture
def seated(callback_app, emulator, live_server):
    """seated(vendor): an app whose emulated vendor reports to our live server, with a user
    "loud" in the vendor's test room (on ZEGO publishing the stream "loud_main")."""

    def make(vendor):
        app = callback_app(vendor, base_url=live_server.url)
        where = {"vendor": vendor, "app_id": app.vendor_app_id, "room_id": ROOM[vendor]}
        assert emulator.join(**where, user_id="loud")
        if vendor == "zego":
            emulator.publish(**where, user_id="loud", stream_id="loud_main")
            wait_until(
                lambda: PublishedStream.objects.filter(app=app, stream_id="loud_main").exists(),
                message="the stream_create callback",
            )
        return app

    return make


def mute(app, *, user="loud", media="audio", seconds=5):
    (the_mute,) = services.mute(
        app=app,
        room=services.room_for(app=app, room_id=ROOM[app.vendor]),
        user_ids=[user],
        media=media,
        seconds=seconds,
        reason="shouting",
        actor=None,
    )
    return the_mute


def status(ban):
    return Ban.objects.get(pk=ban.pk).status


def muted_at_vendor(emulator, app, user="loud"):
    return emulator.muted(
        vendor=app.vendor, app_id=app.vendor_app_id, room_id=ROOM[app.vendor], user_id=user
    )


def calls(app, action):
    return list(VendorCall.objects.filter(app=app, action=action).order_by("pk"))


def unmutes(app):
    """The vendor calls that ended a mute (Tencent: SetUserBlocked with IsMute 0)."""
    return [
        c
        for c in calls(app, UNMUTE[app.vendor])
        if app.vendor != "tencent" or c.request_params.get("IsMute") == 0
    ]


def ask(client, token, app, user="loud"):
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get(URL, {"room": ROOM[app.vendor], "user": user}, headers=headers)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("vendor", ["volcengine", "tencent", "zego"])
def test_a_five_second_audio_mute_is_applied_checked_and_ends_with_the_unmute_call(
    vendor, seated, emulator, ready_worker, clock, client, api_token
):
    app = seated(vendor)
    token = api_token(app)

    the_mute = mute(app)

    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    stopped = muted_at_vendor(emulator, app)
    # ZEGO stops the whole stream; the others only what was asked.
    assert stopped == {"audio": True, "video": vendor == "zego"}
    assert emulator.members(vendor=vendor, app_id=app.vendor_app_id, room_id=ROOM[vendor]) == {
        "loud"
    }
    checked = ask(client, token, app)
    active = Ban.objects.get(pk=the_mute.pk)
    assert (checked["banned"], checked["muted"]) == (False, True)
    assert checked["mute_until"] == active.expires_at.isoformat().replace("+00:00", "Z")
    assert active.expires_at - active.starts_at == timedelta(seconds=5)

    wait_until(lambda: status(the_mute) == Ban.Status.EXPIRED, timeout=10, message="expiry")
    wait_until(
        lambda: muted_at_vendor(emulator, app) == {"audio": False, "video": False},
        message="the vendor's unmute",
    )
    # The call's record is written once the vendor's answer is back: wait for it too.
    wait_until(lambda: unmutes(app), message="the unmute call's record")
    (unmute,) = unmutes(app)
    assert unmute.ok
    assert ask(client, token, app)["muted"] is False
    wait_until(
        lambda: not Ban.objects.get(pk=the_mute.pk).vendor_sync_due, message="the sync recorded"
    )


@pytest.mark.parametrize("vendor", ["volcengine", "tencent", "zego"])
def test_a_lifted_mute_calls_the_vendors_unmute(vendor, seated, emulator, ready_worker):
    app = seated(vendor)
    the_mute = mute(app, media="both", seconds=3600)
    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    assert muted_at_vendor(emulator, app) == {"audio": True, "video": True}

    services.lift(ban=the_mute, reason="calmed down", actor=None)

    wait_until(
        lambda: muted_at_vendor(emulator, app) == {"audio": False, "video": False},
        message="the vendor's unmute",
    )
    wait_until(lambda: unmutes(app), message="the unmute call's record")
    assert [c.ok for c in unmutes(app)] == [True]
    wait_until(
        lambda: not Ban.objects.get(pk=the_mute.pk).vendor_sync_due, message="the sync recorded"
    )
    assert Ban.objects.get(pk=the_mute.pk).status == Ban.Status.LIFTED


def test_volcengine_times_a_mute_of_60_seconds_to_3_days_itself(seated, ready_worker):
    """A mute within Volcengine's window is timed by Volcengine: its end calls nothing."""
    app = seated("volcengine")
    the_mute = mute(app, seconds=120)
    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    (call,) = calls(app, "BanUserStream")
    assert call.request_params["ForbiddenInterval"] == 120
    active = Ban.objects.get(pk=the_mute.pk)
    assert abs((active.vendor_until - active.expires_at).total_seconds()) < 1

    # Two minutes later, by both clocks: ours and the vendor's window end together.
    ended_at = timezone.now() - timedelta(seconds=1)
    Ban.objects.filter(pk=the_mute.pk).update(expires_at=ended_at, vendor_until=ended_at)
    assert services.expire_due() == 1

    ended = Ban.objects.get(pk=the_mute.pk)
    assert (ended.status, ended.vendor_sync_due) == (Ban.Status.EXPIRED, False)


@pytest.mark.parametrize("seconds", [5, 4 * 24 * 3600, None])
def test_volcengine_holds_untimed_what_its_window_cannot_time(seated, ready_worker, seconds):
    """Under 60 s, over 3 days, or permanent: ForbiddenInterval 0, ended by our UnbanUserStream."""
    app = seated("volcengine")
    the_mute = mute(app, seconds=seconds)
    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    (call,) = calls(app, "BanUserStream")
    assert call.request_params["ForbiddenInterval"] == 0
    assert Ban.objects.get(pk=the_mute.pk).vendor_until is None


def test_a_zego_stream_started_during_a_mute_is_stopped_within_2_seconds(
    seated, emulator, ready_worker
):
    app = seated("zego")
    the_mute = mute(app, media="video", seconds=3600)
    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    started = time.time()

    emulator.publish(
        vendor="zego", app_id=app.vendor_app_id, room_id="live-1", user_id="loud", stream_id="cam2"
    )

    def forbidden():
        return emulator.stream_forbidden(vendor="zego", app_id=app.vendor_app_id, stream_id="cam2")

    wait_until(forbidden, message="the new stream stopped")
    # What the worker records once ZEGO's answer is back.
    wait_until(
        lambda: (
            PublishedStream.objects.get(app=app, stream_id="cam2").forbidden_by_id == the_mute.pk
        ),
        message="the stopped stream recorded",
    )
    created = next(
        r for r in emulator.callbacks if r.event == "stream_create" and r.sent_at >= started
    )
    stop = next(
        c
        for c in emulator.calls
        if c.action == "ForbidRTCStream" and c.params.get("StreamId") == "cam2"
    )
    print(f"STREAM_STOP {stop.time - created.sent_at:.3f} s after stream_create was sent")
    assert stop.time - created.sent_at <= 2.0
    wait_until(
        lambda: ModerationLog.objects.filter(
            ban=the_mute, event=ModerationLog.Event.APPLIED, details__stream_id="cam2"
        ).exists(),
        message="the stop logged on the mute",
    )


def test_a_zego_mute_of_a_user_who_publishes_nothing_waits_for_their_stream(
    callback_app, emulator, live_server, ready_worker
):
    app = callback_app("zego", base_url=live_server.url)
    assert emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id="live-1", user_id="quiet")

    the_mute = mute(app, user="quiet", seconds=3600)

    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    active = Ban.objects.get(pk=the_mute.pk)
    assert "publishes nothing" in active.vendor_message
    assert calls(app, "ForbidRTCStream") == []

    emulator.publish(
        vendor="zego", app_id=app.vendor_app_id, room_id="live-1", user_id="quiet", stream_id="q1"
    )

    wait_until(
        lambda: emulator.stream_forbidden(vendor="zego", app_id=app.vendor_app_id, stream_id="q1"),
        message="their first stream stopped",
    )


def test_zego_sequences_grow_per_stream_across_forbid_and_resume(seated, ready_worker):
    app = seated("zego")
    the_mute = mute(app, seconds=3600)
    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    services.lift(ban=the_mute, reason="ok", actor=None)
    wait_until(lambda: calls(app, "ResumeRTCStream"), message="the resume's record")

    forbid, resume = calls(app, "ForbidRTCStream")[0], calls(app, "ResumeRTCStream")[0]
    assert resume.ok
    assert int(resume.request_params["Sequence"]) > int(forbid.request_params["Sequence"])


def test_a_zego_account_without_stream_control_fails_the_mute_as_zego_said(
    seated, emulator, ready_worker, live_server
):
    app = seated("zego")
    emulator.add_app(
        vendor="zego",
        app_id=app.vendor_app_id,
        secret=app.secret,
        callback_url=f"{live_server.url}/callbacks/{app.callback_id}/",
        callback_secret=app.callback_secret,
        stream_control=False,
    )

    the_mute = mute(app, seconds=3600)

    wait_until(lambda: status(the_mute) == Ban.Status.FAILED, message="a failed mute")
    failed = Ban.objects.get(pk=the_mute.pk)
    assert failed.vendor_message == (
        "This ZEGO app may not call ForbidRTCStream: ask ZEGO support to enable it."
    )
    (call,) = calls(app, "ForbidRTCStream")
    assert (call.vendor_code, call.vendor_message) == (
        "9",
        "No permission: stream control is not enabled for this app.",
    )


@pytest.mark.parametrize(
    ("scope", "field"),
    [(Ban.Scope.WHOLE_ROOM, "scope"), (Ban.Scope.USER_EVERYWHERE, "scope")],
)
def test_whole_room_and_every_room_mutes_are_refused_with_what_to_do(emulated_app, scope, field):
    app = emulated_app("tencent")
    with pytest.raises(ValidationError) as refused:
        services.mute(
            app=app,
            room=services.room_for(app=app, room_id="1234"),
            user_ids=["loud"],
            seconds=60,
            reason="noise",
            actor=None,
            scope=scope,
        )
    assert "no vendor mutes a whole room" in str(refused.value.message_dict[field])
    assert not Ban.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        ({"user_ids": []}, "user_ids", "at least one user"),
        ({"room": None}, "room", "Choose a room"),
        ({"media": "smell"}, "media", "audio, video, or both"),
    ],
)
def test_a_mute_without_a_user_or_room_or_with_odd_media_says_what_to_fix(
    emulated_app, arguments, field, words
):
    app = emulated_app("volcengine")
    values = {
        "app": app,
        "room": services.room_for(app=app, room_id="lobby"),
        "user_ids": ["loud"],
        "media": "audio",
        "seconds": 60,
        "reason": "noise",
        "actor": None,
    }
    with pytest.raises(ValidationError) as refused:
        services.mute(**{**values, **arguments})
    assert words in " ".join(refused.value.message_dict[field])
    assert not Ban.objects.exists()


def test_a_second_mute_of_the_same_user_in_the_room_is_refused(emulated_app, redis_connection):
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="1234")
    services.mute(app=app, room=room, user_ids=["loud"], seconds=60, reason="a", actor=None)

    with pytest.raises(ValidationError) as refused:
        services.mute(
            app=app, room=room, user_ids=["calm", "loud"], seconds=60, reason="b", actor=None
        )

    assert "Already muted in this room: loud" in refused.value.message_dict["user_ids"][0]
    assert Ban.objects.count() == 1


def test_a_mute_the_vendor_answers_with_a_5xx_is_retried_until_applied(
    seated, emulator, ready_worker
):
    app = seated("tencent")
    emulator.fail_next(vendor="tencent", mode="5xx", count=1)

    the_mute = mute(app, seconds=3600)

    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    assert [c.ok for c in calls(app, "SetUserBlocked")] == [False, True]
    assert ModerationLog.objects.filter(ban=the_mute, event=ModerationLog.Event.RETRIED).exists()
    assert muted_at_vendor(emulator, app) == {"audio": True, "video": False}


def test_reconcile_stops_a_muted_users_stream_whose_stop_was_lost(
    seated, emulator, ready_worker, redis_connection
):
    """A stream that no stop job reached (Redis lost it) is stopped by the next reconcile."""
    app = seated("zego")
    the_mute = mute(app, seconds=3600)
    wait_until(lambda: status(the_mute) == Ban.Status.ACTIVE, message="an active mute")
    lost = PublishedStream.objects.create(
        app=app,
        room_id="live-1",
        user_id="loud",
        stream_id="lost_cam",
        started_at=timezone.now() - timedelta(seconds=30),
        event_at=timezone.now() - timedelta(seconds=30),
    )
    PublishedStream.objects.filter(pk=lost.pk).update(
        updated_at=timezone.now() - timedelta(seconds=30)
    )

    assert services.reconcile()["streams_stopped"] == 1

    wait_until(
        lambda: emulator.stream_forbidden(
            vendor="zego", app_id=app.vendor_app_id, stream_id="lost_cam"
        ),
        message="the lost stream stopped",
    )
    wait_until(
        lambda: PublishedStream.objects.get(pk=lost.pk).forbidden_by_id == the_mute.pk,
        message="the stopped stream recorded",
    )
    assert services.reconcile()["streams_stopped"] == 0

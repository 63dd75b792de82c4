"""The ban check for token servers: right before, during and after a ban, and only for tokens."""

from datetime import timedelta

import pytest
import redis
import time_machine
from django.test import Client
from django.utils import timezone

from moderation import bancheck, services
from moderation import redis as moderation_redis
from moderation.models import Ban, CacheRepair
from moderation.tokens import revoke_token

from .support.bans import active_ban

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/bans/check"


@pytest.fixture
def app(emulated_app, redis_connection):
    return emulated_app("zego")


@pytest.fixture
def ask(client, app, api_token):
    token = api_token(app)

    def ask(room="live-1", user="troll", token=token, **extra):
        params = {k: v for k, v in (("room", room), ("user", user)) if v is not None}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get(URL, params, headers={**headers, **extra})

    return ask


# Neither banned nor muted.
NOBODY = {"banned": False, "until": None, "ban_id": None, "muted": False, "mute_until": None}
UNMUTED = {"muted": False, "mute_until": None}


def answer(response):
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()


def test_it_answers_before_during_and_after_a_lift(ask, app, moderator):
    assert answer(ask()) == NOBODY

    ban = active_ban(app, "live-1", "troll")

    during = answer(ask())
    assert during == {
        "banned": True,
        "until": ban.expires_at.isoformat().replace("+00:00", "Z"),
        "ban_id": ban.pk,
        **UNMUTED,
    }
    assert answer(ask(room="other-room")) == NOBODY
    assert answer(ask(user="someone-else"))["banned"] is False

    services.lift(ban=ban, reason="appeal accepted", actor=moderator)

    assert answer(ask()) == NOBODY


def test_a_ban_holds_while_it_waits_for_the_vendor_and_ends_when_lifted(ask, app, moderator):
    room = services.room_for(app=app, room_id="live-1")
    services.kick(app=app, room=room, user_ids=["troll"], reason="spam", actor=moderator)
    assert answer(ask())["banned"] is False  # a kick is no ban

    (ban,) = services.ban(
        app=app,
        scope=Ban.Scope.USER_IN_ROOM,
        room=room,
        user_ids=["troll"],
        seconds=600,
        reason="spam",
        actor=moderator,
    )

    assert ban.status == Ban.Status.PENDING
    # Its end counts from the vendor's confirmation, so none is known yet.
    assert answer(ask()) == {"banned": True, "until": None, "ban_id": ban.pk, **UNMUTED}
    assert bancheck.answer_from_db(app.pk, "live-1", "troll").banned

    services.lift(ban=ban, reason="wrong user", actor=moderator)

    assert answer(ask())["banned"] is False


def test_a_change_moves_the_end_it_reports(ask, app, moderator):
    ban = active_ban(app, "live-1", "troll", seconds=600)

    services.change(ban=ban, seconds=7200, reason="repeat offender", actor=moderator)

    until = answer(ask())["until"]
    assert until == (ban.starts_at + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    services.change(ban=ban, seconds=None, reason="for good", actor=moderator)
    assert answer(ask()) == {"banned": True, "until": None, "ban_id": ban.pk, **UNMUTED}


def test_it_says_not_banned_once_a_ban_has_ended_and_after_it_expired(ask, app):
    ban = active_ban(app, "live-1", "troll", seconds=60)

    with time_machine.travel(ban.expires_at + timedelta(seconds=1)):
        # The expiry job has not run yet; the entry's own end decides.
        assert answer(ask())["banned"] is False
        assert services.expire_due() == 1

    assert Ban.objects.get(pk=ban.pk).status == Ban.Status.EXPIRED
    assert answer(ask())["banned"] is False


def test_whole_room_and_every_room_bans_cover_everyone_and_everywhere(ask, app):
    room_ban = active_ban(app, "closed-room", "", scope=Ban.Scope.WHOLE_ROOM)
    everywhere = active_ban(app, None, "evader", scope=Ban.Scope.USER_EVERYWHERE, seconds=None)

    assert answer(ask(room="closed-room", user="anyone"))["ban_id"] == room_ban.pk
    assert answer(ask(room="any-room", user="evader")) == {
        "banned": True,
        "until": None,
        "ban_id": everywhere.pk,
        **UNMUTED,
    }
    # Two bans cover this one: the one that lasts longer is reported.
    assert answer(ask(room="closed-room", user="evader"))["ban_id"] == everywhere.pk


def test_a_mute_says_muted_with_its_end_while_it_holds_and_never_banned(ask, app, moderator):
    room = services.room_for(app=app, room_id="live-1")
    (mute,) = services.mute(
        app=app, room=room, user_ids=["troll"], seconds=600, reason="noise", actor=moderator
    )
    # Waiting for the vendor: held already, its end not yet known.
    assert answer(ask()) == {**NOBODY, "muted": True}

    from moderation.services.applying import mark_applied

    mark_applied([mute], result=None, window=None)
    mute.refresh_from_db()
    until = mute.expires_at.isoformat().replace("+00:00", "Z")
    assert answer(ask()) == {**NOBODY, "muted": True, "mute_until": until}
    assert answer(ask(room="other-room"))["muted"] is False
    assert bancheck.answer_from_db(app.pk, "live-1", "troll").mute_until == mute.expires_at

    with time_machine.travel(mute.expires_at + timedelta(seconds=1)):
        assert answer(ask()) == NOBODY  # the entry's own end decides before the expiry job

    services.lift(ban=mute, reason="calm", actor=moderator)
    assert answer(ask()) == NOBODY


def test_a_token_sees_only_its_own_apps_bans(ask, app, emulated_app, api_token):
    other = emulated_app("tencent")
    active_ban(app, "live-1", "troll")

    assert answer(ask(token=api_token(other)))["banned"] is False


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer rtcm_not-a-token"],
)
def test_a_missing_or_unknown_token_gets_a_401(client, app, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = client.get(URL, {"room": "r", "user": "u"}, headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()


def test_a_revoked_token_is_refused_at_once(client, app):
    from moderation.tokens import create_token

    token, plaintext = create_token(app=app, name="token server")
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(URL, {"room": "r", "user": "u"}, headers=headers).status_code == 200

    revoke_token(token=token)

    assert client.get(URL, {"room": "r", "user": "u"}, headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("room", "user", "field"),
    [
        (None, "u", "room"),
        ("r", None, "user"),
        ("", "u", "room"),
        ("r", "x" * 129, "user"),
        ("r\x00", "u", "room"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_field(ask, room, user, field):
    response = ask(room=room, user=user)

    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_every_method_but_get_and_head_gets_a_json_405_with_allow_even_with_cookies_and_no_csrf(
    app, api_token, method
):
    # The CSRF middleware enforced, as a browser or a token server would meet it, with a CSRF
    # cookie and a session cookie sent but no CSRF token: still this view's JSON 405.
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    client.cookies["sessionid"] = "not-a-session"
    headers = {"Authorization": f"Bearer {api_token(app)}"}

    response = getattr(client, method)(URL, {"room": "r", "user": "u"}, headers=headers)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert "GET" in response.json()["error"]


def test_head_is_answered_like_get_without_a_body(app, api_token):
    client = Client(enforce_csrf_checks=True)
    headers = {"Authorization": f"Bearer {api_token(app)}"}

    response = client.head(URL, {"room": "r", "user": "u"}, headers=headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b""


def test_a_token_is_rate_limited_with_a_retry_after(client, app, api_token):
    token = api_token(app, rate_per_second=2)
    headers = {"Authorization": f"Bearer {token}"}

    statuses = [client.get(URL, {"room": "r", "user": "u"}, headers=headers) for _ in range(6)]

    assert [r.status_code for r in statuses].count(429) >= 3
    limited = next(r for r in statuses if r.status_code == 429)
    assert int(limited["Retry-After"]) >= 1


def test_a_flushed_cache_answers_from_the_database_and_is_built_again(ask, app, redis_connection):
    ban = active_ban(app, "live-1", "troll")
    assert answer(ask())["banned"] is True
    redis_connection.flushdb()

    assert answer(ask())["ban_id"] == ban.pk

    assert redis_connection.hget(bancheck.PREFIX + bancheck.app_key(app), "_ready")
    assert answer(ask())["ban_id"] == ban.pk


def test_with_redis_down_it_answers_from_the_database(ask, app, monkeypatch):
    ban = active_ban(app, "live-1", "troll")
    monkeypatch.setattr(
        moderation_redis, "_connection", redis.Redis(port=1, socket_connect_timeout=0.2)
    )

    assert answer(ask())["ban_id"] == ban.pk


def test_a_lift_that_redis_missed_is_repaired_by_reconcile(ask, app, monkeypatch, moderator):
    ban = active_ban(app, "live-1", "troll")
    assert answer(ask())["banned"] is True
    monkeypatch.setattr(
        moderation_redis, "_connection", redis.Redis(port=1, socket_connect_timeout=0.2)
    )

    services.lift(ban=ban, reason="appeal", actor=moderator)

    assert CacheRepair.objects.filter(app=app).exists()
    monkeypatch.setattr(moderation_redis, "_connection", None)  # Redis is back, with the old entry
    assert services.reconcile()["cache_repaired"] >= 1
    assert answer(ask())["banned"] is False
    assert not CacheRepair.objects.exists()


def test_reconcile_finds_and_rebuilds_a_cache_that_differs_from_the_database(
    ask, app, redis_connection
):
    ban = active_ban(app, "live-1", "troll")
    assert answer(ask())["banned"] is True
    key = bancheck.PREFIX + bancheck.app_key(app)
    field = bancheck.ban_field(Ban.Scope.USER_IN_ROOM, "live-1", "troll")
    redis_connection.hset(key, field, "999999||")  # an entry that says nothing holds

    assert answer(ask())["banned"] is False
    assert services.reconcile()["cache_repaired"] == 1
    assert answer(ask())["ban_id"] == ban.pk


def test_an_older_refresh_never_overwrites_a_newer_one(app, redis_connection):
    key = bancheck.PREFIX + bancheck.app_key(app)
    assert bancheck.rebuild_app(app)
    field = bancheck.ban_field(Ban.Scope.USER_IN_ROOM, "r", "u")
    refresh = bancheck._script(bancheck._REFRESH)

    refresh(keys=[key], args=[100, field, "|"])  # newer: lifted
    refresh(keys=[key], args=[99, field, "7|"])  # older: still banned, written late

    assert redis_connection.hget(key, field) == b"100||"


def test_a_build_that_overlaps_a_refresh_gives_way(app, redis_connection):
    key = bancheck.PREFIX + bancheck.app_key(app)
    seq = redis_connection.incr(key + ":seq")
    redis_connection.incr(key + ":seq")  # a refresh took a number meanwhile

    swapped = bancheck._swap_in(key, {}, seq=seq, build=key + ":build:test")

    assert not swapped
    assert not redis_connection.exists(key)  # still a miss: the next check builds again


def test_the_answer_never_holds_a_secret_or_token(client, app, api_token):
    token = api_token(app)
    active_ban(app, "live-1", "troll")

    response = client.get(
        URL, {"room": "live-1", "user": "troll"}, headers={"Authorization": f"Bearer {token}"}
    )

    assert answer(response)["banned"] is True  # the answer the token server gets
    body = response.content.decode()
    assert token not in body and token.split("_")[-1] not in body
    assert app.secret not in body


def test_the_end_it_reports_is_iso_8601_utc(ask, app):
    active_ban(app, "live-1", "troll", seconds=90)

    until = answer(ask())["until"]

    assert until.endswith("Z")
    parsed = timezone.datetime.fromisoformat(until.replace("Z", "+00:00"))
    assert timedelta(seconds=80) < parsed - timezone.now() <= timedelta(seconds=90)

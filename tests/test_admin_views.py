"""The moderator and supervisor pages, through the test client (browser tests walk them too)."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from moderation import admin_views, services
from moderation.models import Ban, CannedReason, ModerationLog, Presence

pytestmark = pytest.mark.django_db


def moderate_form(app, **changes):
    data = {
        "app": app.pk,
        "scope": "user_in_room",
        "room": "live-1001",
        "user_ids": "troll1\ntroll2, troll3\ntroll1",
        "duration": "3600",
        "custom_duration": "",
        "canned_reason": "",
        "reason": "flooding the chat",
    }
    data.update(changes)
    return data


def test_the_form_asks_for_confirmation_before_anything_is_sent(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    client.force_login(moderator)
    url = reverse("admin:moderation_ban_moderate")

    preview = client.post(url, moderate_form(app, preview="Review"))

    assert preview.status_code == 200
    assert b"Ban 3 users?" in preview.content
    assert b"ZEGO can only kick" in preview.content
    assert not Ban.objects.exists()

    confirmed = client.post(url, moderate_form(app, confirm="Yes"))

    bans = list(Ban.objects.order_by("pk"))
    assert [b.user_id for b in bans] == ["troll1", "troll2", "troll3"]
    assert {b.created_by for b in bans} == {moderator}
    assert confirmed.url == reverse("admin:moderation_ban_batch", args=[bans[0].batch])


def test_the_confirmation_shows_volcengines_minimum_duration(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("volcengine")
    client.force_login(moderator)
    page = client.post(
        reverse("admin:moderation_ban_moderate"),
        moderate_form(app, duration="custom", custom_duration="5s", preview="Review"),
    )
    assert b"10 s" in page.content
    assert b"minimum; you asked for 5 s" in page.content


def test_bad_input_is_shown_on_the_field_it_concerns(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    client.force_login(moderator)
    url = reverse("admin:moderation_ban_moderate")
    cases = [
        ({"user_ids": " , "}, "user_ids", "Enter at least one user ID."),
        ({"duration": "custom", "custom_duration": "-5"}, "custom_duration", "Type a duration"),
        ({"reason": ""}, "reason", "Pick a reason or type one"),
        ({"reason": "原因" * 50}, "reason", "256"),
        ({"room": ""}, "room", "Enter a room ID."),
        ({"scope": "whole_room", "duration": "kick"}, "duration", "Kick only works"),
    ]
    for changes, field, message in cases:
        page = client.post(url, moderate_form(app, preview="Review", **changes))
        assert page.status_code == 200, changes
        assert message in str(page.context["form"].errors.get(field)), (
            changes,
            page.context["form"].errors,
        )
    assert not Ban.objects.exists()


def test_a_canned_reason_and_details_are_kept_together(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("tencent")
    reason = CannedReason.objects.get(text="Spam or advertising")
    client.force_login(moderator)
    client.post(
        reverse("admin:moderation_ban_moderate"),
        moderate_form(
            app, room="1234", canned_reason=reason.pk, reason="links in chat", confirm="Yes"
        ),
    )
    assert set(Ban.objects.values_list("reason", flat=True)) == {
        "Spam or advertising — links in chat"
    }


def test_lift_and_change_from_the_ban_page_are_recorded_with_their_reason(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    first, second = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["a", "b"],
        seconds=600,
        reason="x",
        actor=moderator,
    )
    client.force_login(moderator)

    client.post(
        reverse("admin:moderation_ban_lift", args=[first.pk]),
        {"reason": "appeal accepted", "apply": "1"},
    )
    client.post(
        reverse("admin:moderation_ban_duration", args=[second.pk]),
        {"duration": "2h", "reason": "repeat offender", "apply": "1"},
    )

    assert Ban.objects.get(pk=first.pk).status == Ban.Status.LIFTED
    assert Ban.objects.get(pk=second.pk).requested_seconds == 7200
    assert ModerationLog.objects.get(ban=first, event="lifted").message == "appeal accepted"


def test_a_bulk_lift_asks_for_a_reason_then_lifts_every_selected_ban(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    bans = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["a", "b", "c"],
        seconds=600,
        reason="x",
        actor=moderator,
    )
    client.force_login(moderator)
    url = reverse("admin:moderation_ban_changelist")
    selected = {"action": "lift_selected", "_selected_action": [b.pk for b in bans[:2]]}

    page = client.post(url, {**selected, "index": "0"})
    assert b"Lift 2 bans?" in page.content
    client.post(url, {**selected, "reason": "mass appeal", "apply": "1"})

    assert list(Ban.objects.order_by("pk").values_list("status", flat=True)) == [
        "lifted",
        "lifted",
        "pending",
    ]


def test_the_export_has_exactly_the_filtered_rows(
    client, supervisor, moderator, emulated_app, redis_connection
):
    zego, tencent = emulated_app("zego"), emulated_app("tencent")
    z_room = services.room_for(app=zego, room_id="live-1001")
    t_room = services.room_for(app=tencent, room_id="1234")
    services.ban(
        app=zego,
        scope="user_in_room",
        room=z_room,
        user_ids=["a", "b"],
        seconds=60,
        reason="=HYPERLINK(evil)",
        actor=moderator,
    )
    services.kick(app=tencent, room=t_room, user_ids=["c"], reason="spam", actor=moderator)
    client.force_login(supervisor)

    response = client.get(reverse("admin:moderation_ban_export"), {"app__id__exact": zego.pk})

    assert response.streaming
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert sorted(r["user_id"] for r in rows) == ["a", "b"]
    assert {r["reason"] for r in rows} == {"'=HYPERLINK(evil)"}  # never a live formula


def test_the_export_pages_through_every_ban_once_newest_first(
    client, supervisor, moderator, emulated_app, redis_connection, monkeypatch
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    bans = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=[f"u{n:02d}" for n in range(13)],
        seconds=60,
        reason="raid",
        actor=moderator,
    )
    # Ties on created_at across page ends: the id decides the order and nothing repeats.
    same_moment = timezone.now()
    Ban.objects.filter(pk__in=[b.pk for b in bans[2:9]]).update(created_at=same_moment)
    monkeypatch.setattr(admin_views, "EXPORT_FIRST_PAGE", 3)
    monkeypatch.setattr(admin_views, "EXPORT_PAGE", 4)
    client.force_login(supervisor)

    response = client.get(reverse("admin:moderation_ban_export"))

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    exported = [int(r["id"]) for r in csv.DictReader(io.StringIO(body))]
    assert exported == list(Ban.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert len(exported) == 13


def test_the_timeline_shows_everything_that_happened_to_a_user(
    client, supervisor, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    (ban,) = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["troll"],
        seconds=60,
        reason="x",
        actor=moderator,
    )
    services.lift(ban=ban, reason="mistake", actor=moderator)
    client.force_login(supervisor)
    page = client.get(reverse("admin:moderation_ban_timeline"), {"user": "troll"})
    assert [e.event for e in page.context["entries"]] == ["lifted", "created"]


def test_a_supervisor_can_read_but_not_act(
    client, supervisor, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    (ban,) = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["troll"],
        seconds=60,
        reason="x",
        actor=moderator,
    )
    client.force_login(supervisor)
    assert client.get(reverse("admin:moderation_ban_change", args=[ban.pk])).status_code == 200
    for name in (
        "admin:moderation_ban_lift",
        "admin:moderation_ban_duration",
        "admin:moderation_ban_retry",
    ):
        response = client.post(
            reverse(name, args=[ban.pk]), {"reason": "x", "duration": "1h", "apply": "1"}
        )
        assert response.status_code == 403, name
    assert (
        client.post(
            reverse("admin:moderation_ban_moderate"), moderate_form(app, confirm="Yes")
        ).status_code
        == 403
    )
    assert Ban.objects.get(pk=ban.pk).status == Ban.Status.PENDING
    assert Ban.objects.count() == 1


def test_test_connection_reports_what_the_vendor_said(client, credential_manager, emulated_app):
    app = emulated_app("tencent")
    client.force_login(credential_manager)
    response = client.post(reverse("admin:moderation_vendorapp_test", args=[app.pk]), follow=True)
    assert "Tencent TRTC answered: credentials accepted" in [
        str(m) for m in response.context["messages"]
    ]

    app.secret = "not-the-secret"
    app.save()
    response = client.post(reverse("admin:moderation_vendorapp_test", args=[app.pk]), follow=True)
    (message,) = [str(m) for m in response.context["messages"]]
    assert "credentials" in message and "not-the-secret" not in response.content.decode()


def test_the_history_filters_by_a_typed_room_id(
    client, supervisor, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    for room_id, user in [("live-1", "a"), ("live-2", "b")]:
        services.kick(
            app=app,
            room=services.room_for(app=app, room_id=room_id),
            user_ids=[user],
            reason="spam",
            actor=moderator,
        )
    client.force_login(supervisor)
    page = client.get(reverse("admin:moderation_ban_changelist"), {"room_id": "live-2"})
    assert [b.user_id for b in page.context["cl"].result_list] == ["b"]


def test_search_finds_a_user_a_room_or_words_of_the_reason_within_the_filters(
    client, supervisor, moderator, emulated_app, redis_connection
):
    zego, tencent = emulated_app("zego"), emulated_app("tencent")
    services.kick(
        app=zego,
        room=services.room_for(app=zego, room_id="live-1"),
        user_ids=["a"],
        reason="spam links",
        actor=moderator,
    )
    services.kick(
        app=zego,
        room=services.room_for(app=zego, room_id="live-2"),
        user_ids=["b"],
        reason="insults",
        actor=moderator,
    )
    services.kick(
        app=tencent,
        room=services.room_for(app=tencent, room_id="live-1"),
        user_ids=["c"],
        reason="spam",
        actor=moderator,
    )
    client.force_login(supervisor)
    url = reverse("admin:moderation_ban_changelist")

    def found(**params):
        page = client.get(url, params)
        return sorted(b.user_id for b in page.context["cl"].result_list)

    assert found(q="live-1") == ["a", "c"]
    assert found(q="live-1", app__id__exact=zego.pk) == ["a"]
    assert found(q="b") == ["b"]
    assert found(q="SPAM") == ["a", "c"]


def test_the_history_counts_at_most_ten_thousand_rows(
    client, supervisor, moderator, emulated_app, redis_connection, monkeypatch
):
    from moderation.admin import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 3)
    app = emulated_app("zego")
    services.kick(
        app=app,
        room=services.room_for(app=app, room_id="live-1"),
        user_ids=["a", "b", "c", "d", "e"],
        reason="spam",
        actor=moderator,
    )
    client.force_login(supervisor)
    page = client.get(reverse("admin:moderation_ban_changelist"))
    assert b"More than 3 bans: filter to narrow them down." in page.content
    assert len(page.context["cl"].result_list) == 5  # every row of the page is still shown


def test_the_history_filters_by_date_range_in_the_viewers_time_zone(
    client, supervisor, moderator, emulated_app, redis_connection
):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1")
    old, new = services.kick(
        app=app, room=room, user_ids=["old", "new"], reason="x", actor=moderator
    )
    shanghai = ZoneInfo("Asia/Shanghai")
    Ban.objects.filter(pk=old.pk).update(created_at=datetime(2026, 11, 10, 23, 30, tzinfo=shanghai))
    Ban.objects.filter(pk=new.pk).update(created_at=datetime(2026, 11, 11, 0, 30, tzinfo=shanghai))
    client.force_login(supervisor)
    client.cookies["tz"] = "Asia/Shanghai"

    page = client.get(
        reverse("admin:moderation_ban_changelist"),
        {"created_at__since": "2026-11-11", "created_at__until": "2026-11-11"},
    )

    assert [b.user_id for b in page.context["cl"].result_list] == ["new"]
    assert b'value="2026-11-11"' in page.content
    export = client.get(reverse("admin:moderation_ban_export"), {"created_at__since": "2026-11-11"})
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert ",new," in body and ",old," not in body


def test_a_credential_manager_makes_a_ban_check_token_seen_once_and_revokes_it(
    client, credential_manager, emulated_app, redis_connection, django_capture_on_commit_callbacks
):
    from moderation.models import ApiToken

    app = emulated_app("zego")
    client.force_login(credential_manager)
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post(
            reverse("admin:moderation_vendorapp_token_create", args=[app.pk]),
            {"name": "token server eu-1"},
        )
    plaintext = made.context["plaintext"]
    assert "no-store" in made["Cache-Control"]
    token = ApiToken.objects.get(app=app)
    assert plaintext not in token.token_hash

    check = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    url = reverse("ban_check")
    assert client.get(url, {"room": "r", "user": "u"}, **check).status_code == 200
    page = client.get(reverse("admin:moderation_vendorapp_change", args=[app.pk]))
    assert plaintext.encode() not in page.content  # never shown again
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:moderation_vendorapp_token_revoke", args=[app.pk, token.pk]))
    assert client.get(url, {"room": "r", "user": "u"}, **check).status_code == 401


def _present(app, room_id, *users):
    now = timezone.now()
    for user in users:
        Presence.objects.create(
            app=app, room_id=room_id, user_id=user, entered_at=now, event_at=now
        )


def test_the_confirmation_offers_to_extend_a_ban_that_already_holds(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    (first,) = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["troll2"],
        seconds=600,
        reason="spam",
        actor=moderator,
    )
    client.force_login(moderator)

    page = client.post(
        reverse("admin:moderation_ban_moderate"), moderate_form(app, preview="Review")
    )

    warned = page.context["summary"]["already_banned"]
    assert [(w["user_id"], w["ban"].pk) for w in warned] == [("troll2", first.pk)]
    assert reverse("admin:moderation_ban_duration", args=[first.pk]).encode() in page.content
    assert b"1 of them is already banned here" in page.content


def test_the_confirmation_names_users_never_seen_in_the_room(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    _present(app, "live-1001", "troll1")
    client.force_login(moderator)

    page = client.post(
        reverse("admin:moderation_ban_moderate"), moderate_form(app, preview="Review")
    )

    assert page.context["summary"]["never_seen"] == ["troll2", "troll3"]
    assert b"never seen these 2 users in room live-1001" in page.content


def test_an_every_room_ban_on_a_kick_only_vendor_lists_the_rooms_it_kicks_from(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("tencent")
    _present(app, "8080", "troll1")
    _present(app, "9090", "troll1", "troll3")
    client.force_login(moderator)

    page = client.post(
        reverse("admin:moderation_ban_moderate"),
        moderate_form(app, scope="user_everywhere", room="", preview="Review"),
    )

    assert page.context["summary"]["kick_rooms"] == [
        ("troll1", ["8080", "9090"]),
        ("troll3", ["9090"]),
    ]
    assert b"they are kicked now from the rooms they are in" in page.content


def test_a_users_page_shows_where_they_are_and_the_bans_that_hold_them(
    client, supervisor, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    _present(app, "live-1001", "troll")
    _present(app, "lobby", "troll")
    room = services.room_for(app=app, room_id="live-1001")
    (ban,) = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["troll"],
        seconds=600,
        reason="spam",
        actor=moderator,
    )
    client.force_login(supervisor)

    page = client.get(reverse("admin:moderation_ban_timeline"), {"user": "troll"})

    assert [p.room_id for p in page.context["whereabouts"]] == ["live-1001", "lobby"]
    assert [b.pk for b in page.context["in_force"]] == [ban.pk]
    assert [e.event for e in page.context["entries"]] == ["created"]
    assert b"mod-kick" not in page.content  # a supervisor reads, and is offered no action


def test_a_moderator_acts_from_a_users_page_on_a_room_not_recorded_yet(
    client, moderator, emulated_app
):
    app = emulated_app("zego")
    _present(app, "never-recorded", "troll")
    client.force_login(moderator)

    page = client.get(reverse("admin:moderation_ban_timeline"), {"user": "troll"})
    kick = f"?app={app.pk}&room_id=never-recorded&user=troll&action=kick"
    form = client.get(reverse("admin:moderation_ban_moderate") + kick).context["form"]

    assert kick.encode() in page.content
    assert (form.initial["app"], form.initial["room"]) == (app, "never-recorded")
    assert form.initial["user_ids"] == "troll"


def test_a_batch_whose_only_ban_failed_says_so_in_red_not_green(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    app.secret = "0" * 32  # not the secret the vendor knows: it refuses the call for good
    app.save()
    client.force_login(moderator)
    client.post(
        reverse("admin:moderation_ban_moderate"),
        moderate_form(app, user_ids="troll", confirm="Yes"),
    )
    (ban,) = Ban.objects.all()

    services.apply(ban_ids=[ban.pk])
    page = client.get(reverse("admin:moderation_ban_batch", args=[ban.batch]))
    status = client.get(reverse("admin:moderation_ban_batch_status", args=[ban.batch])).json()

    assert status["counts"] == {"pending": 0, "active": 0, "done": 0, "failed": 1, "ended": 0}
    assert b'class="batch-progress done has-failed"' in page.content
    assert [m.level_tag for m in page.context["messages"]] == ["info"]  # "Sent to", not green


def test_a_ban_being_retried_shows_its_attempt_and_the_vendors_last_answer(
    client, moderator, emulated_app, emulator, redis_connection, settings
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    (ban,) = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["troll"],
        seconds=600,
        reason="spam",
        actor=moderator,
    )
    emulator.fail_next(vendor="zego", mode="5xx")

    services.apply(ban_ids=[ban.pk])
    client.force_login(moderator)
    status = client.get(reverse("admin:moderation_ban_batch_status", args=[ban.batch])).json()

    (shown,) = status["bans"]
    assert shown["status"] == "pending"
    assert shown["retrying"] == f"Attempt 1 of {settings.VENDOR_MAX_ATTEMPTS} failed; trying again."
    assert shown["vendor_message"]  # the vendor's answer to attempt 1


def test_lift_this_batch_lifts_every_open_ban_of_it_and_returns_to_it(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    bans = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["a", "b", "c"],
        seconds=600,
        reason="raid",
        actor=moderator,
    )
    batch = bans[0].batch
    client.force_login(moderator)
    url = reverse("admin:moderation_ban_batch_lift", args=[batch])

    asked = client.get(url)
    done = client.post(url, {"reason": "raid over", "apply": "1"})

    assert b"Lift 3 bans?" in asked.content
    assert done.url == reverse("admin:moderation_ban_batch", args=[batch])
    assert set(Ban.objects.filter(batch=batch).values_list("status", flat=True)) == {"lifted"}


def test_the_ban_page_shows_durations_its_batch_and_what_a_change_changed(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    (ban,) = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["troll"],
        seconds=3600,
        reason="spam",
        actor=moderator,
    )
    services.change(ban=ban, seconds=86400, reason="again", actor=moderator)
    client.force_login(moderator)

    html = client.get(reverse("admin:moderation_ban_change", args=[ban.pk])).content.decode()

    assert "1 d" in html and "3600" not in html
    assert reverse("admin:moderation_ban_batch", args=[ban.batch]) in html
    assert "1 h → 1 d; ends never → never" in html  # pending: no end yet, either way
    assert 'href="#ban-history"' in html
    assert "/history/" not in html  # not Django's empty record of admin edits


def test_the_admin_home_shows_recent_moderation(client, moderator, emulated_app, redis_connection):
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1001")
    services.kick(app=app, room=room, user_ids=["troll"], reason="spam", actor=moderator)
    client.force_login(moderator)

    html = client.get(reverse("admin:index")).content.decode()

    assert "Recent moderation" in html
    assert "Created: troll" in html


def test_the_form_starts_on_the_app_the_moderator_used_last(
    client, moderator, emulated_app, redis_connection
):
    first = emulated_app("tencent")  # "tencent app" comes before "zego app"
    last = emulated_app("zego")
    services.kick(
        app=last,
        room=services.room_for(app=last, room_id="live-1001"),
        user_ids=["troll"],
        reason="spam",
        actor=moderator,
    )
    client.force_login(moderator)

    form = client.get(reverse("admin:moderation_ban_moderate")).context["form"]

    assert form.initial["app"] == last.pk != first.pk


def test_canned_reasons_read_in_chinese_and_are_recorded_as_written(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    spam = CannedReason.objects.get(text="Spam or advertising")
    client.force_login(moderator)
    url = reverse("admin:moderation_ban_moderate")

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.post(
        url,
        moderate_form(app, user_ids="troll", canned_reason=spam.pk, reason="", confirm="Yes"),
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )

    assert f'<option value="{spam.pk}">垃圾信息或广告</option>' in page.content.decode()
    assert Ban.objects.get().reason == "Spam or advertising"


# --- Mute ----------------------------------------------------------------------------------------


def mute_form(app, **changes):
    data = {
        "action": "mute",
        "app": app.pk,
        "room": "live-1001",
        "user_ids": "loud1\nloud2",
        "media": "audio",
        "duration": "600",
        "custom_duration": "",
        "canned_reason": "",
        "reason": "shouting",
    }
    data.update(changes)
    return data


def test_the_mute_form_confirms_what_stops_and_how_then_records_mutes(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("zego")
    client.force_login(moderator)
    url = reverse("admin:moderation_ban_moderate")

    form = client.get(url, {"action": "mute", "user": ["loud1"]})
    assert form.status_code == 200
    assert form.context["form"].initial["user_ids"] == "loud1"
    preview = client.post(url, mute_form(app, preview="Review"))

    assert preview.status_code == 200
    text = preview.content.decode()
    assert "Mute 2 users?" in text
    assert "ZEGO stops each stream they publish in this room" in text
    assert "audio and video stop together, not only the audio" in text
    assert not Ban.objects.exists()

    confirmed = client.post(url, mute_form(app, confirm="Yes"))

    mutes = list(Ban.objects.order_by("pk"))
    assert [(m.kind, m.media, m.user_id) for m in mutes] == [
        ("mute", "audio", "loud1"),
        ("mute", "audio", "loud2"),
    ]
    assert {m.requested_seconds for m in mutes} == {600}
    assert confirmed.url == reverse("admin:moderation_ban_batch", args=[mutes[0].batch])


@pytest.mark.parametrize(
    ("vendor", "duration", "words"),
    [
        ("volcengine", "600", "Volcengine RTC stops their audio itself for the whole duration"),
        ("volcengine", "30s", "times mutes of 1 minute to 3 days only"),
        ("tencent", "600", "Tencent TRTC stops their audio until told otherwise"),
    ],
)
def test_the_mute_confirmation_says_how_each_vendor_times_it(
    client, moderator, emulated_app, redis_connection, vendor, duration, words
):
    app = emulated_app(vendor)
    client.force_login(moderator)
    room = {"volcengine": "lobby", "tencent": "1234"}[vendor]

    picked = {"duration": duration} if duration.isdigit() else {"custom_duration": duration}
    page = client.post(
        reverse("admin:moderation_ban_moderate"),
        mute_form(app, room=room, **{"duration": "custom", **picked}, preview="Review"),
    )

    assert words in page.content.decode()
    assert "not only the audio" not in page.content.decode()


def test_a_mute_of_someone_already_muted_is_refused_on_the_users_field(
    client, moderator, emulated_app, redis_connection
):
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="1234")
    services.mute(app=app, room=room, user_ids=["loud1"], seconds=60, reason="x", actor=None)
    client.force_login(moderator)

    page = client.post(
        reverse("admin:moderation_ban_moderate"), mute_form(app, room="1234", preview="Review")
    )

    assert "Already muted in this room: loud1" in " ".join(page.context["form"].errors["user_ids"])
    assert Ban.objects.count() == 1


def test_a_mute_shows_in_the_history_the_export_and_the_rooms_member_list(
    client, supervisor, emulated_app, redis_connection
):
    app = emulated_app("tencent")
    room = services.room_for(app=app, room_id="1234")
    _present(app, "1234", "loud1")
    (mute,) = services.mute(
        app=app, room=room, user_ids=["loud1"], media="video", seconds=600, reason="x", actor=None
    )
    client.force_login(supervisor)

    history = client.get(reverse("admin:moderation_ban_changelist"), {"kind__exact": "mute"})
    export = client.get(reverse("admin:moderation_ban_export"), {"kind__exact": "mute"})
    members = client.get(reverse("admin:moderation_room_members", args=[room.pk])).json()

    assert "mute video" in history.content.decode()
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert [(r["kind"], r["media"], r["user_id"]) for r in rows] == [("mute", "video", "loud1")]
    (member,) = members["members"]
    assert member["mute"]["id"] == mute.pk
    assert member["mute"]["label"] == "muted: video"
    assert member["ban"] is None


def test_a_canned_reasons_position_beyond_the_column_is_refused_on_the_field(client, superuser):
    """The list's editable position stops at 32767, the column's limit, with a field error."""
    reason = CannedReason.objects.create(text="Spam", position=1)
    client.force_login(superuser)
    form = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(reason.pk),
        "form-0-text_zh": "",
        "form-0-active": "on",
        "form-0-position": "32768",
        "_save": "Save",
    }

    response = client.post(reverse("admin:moderation_cannedreason_changelist"), form)

    assert response.status_code == 200
    assert "32767" in response.content.decode()
    reason.refresh_from_db()
    assert reason.position == 1

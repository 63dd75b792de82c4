"""The room page (moderation/room_views.py): who is in the room now, and acting on them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from moderation import selectors
from moderation.models import Ban, Presence, Room

pytestmark = pytest.mark.django_db


def present(room, *users, since=None, in_room=True):
    since = since or timezone.now()
    for n, user in enumerate(users):
        Presence.objects.create(
            app=room.app,
            room_id=room.room_id,
            user_id=user,
            in_room=in_room,
            entered_at=since + timedelta(seconds=n),
            event_at=since + timedelta(seconds=n),
        )


def ban_in_force(room, user, **fields):
    fields.setdefault("scope", Ban.Scope.USER_IN_ROOM)
    return Ban.objects.create(
        app=room.app,
        room=room,
        user_id=user,
        kind=Ban.Kind.BAN,
        status=Ban.Status.ACTIVE,
        starts_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
        reason="spam",
        **fields,
    )


def test_the_room_page_lists_who_is_in_it_newest_first_with_their_ban(client, moderator, room):
    present(room, "early", "banned", "latest")
    present(room, "gone", in_room=False)
    ban = ban_in_force(room, "banned")
    client.force_login(moderator)

    page = client.get(reverse("admin:moderation_room_change", args=[room.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    rows = [m.user_id for m in page.context["members"].members]
    assert rows == ["latest", "banned", "early"]
    assert "gone" not in rows
    assert reverse("admin:moderation_ban_change", args=[ban.pk]) in html
    assert f'?room={room.pk}&user=banned&action=ban&duration=3600"' in html


def test_a_user_id_from_a_callback_is_shown_escaped(client, moderator, room):
    present(room, "<script>alert(1)</script>")
    client.force_login(moderator)

    html = client.get(reverse("admin:moderation_room_change", args=[room.pk])).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_members_json_filters_pages_and_names_the_ban(client, moderator, room, monkeypatch):
    monkeypatch.setattr(selectors, "MEMBERS_PAGE", 2)
    present(room, "viewer1", "viewer2", "troll1", "troll2", "troll3")
    ban_in_force(room, "troll2")
    client.force_login(moderator)
    url = reverse("admin:moderation_room_members", args=[room.pk])

    first = client.get(url, {"q": "troll"}).json()
    second = client.get(url, {"q": "troll", "page": "2"}).json()

    assert (first["total"], first["pages"], first["page"]) == (3, 2, 1)
    assert [m["user_id"] for m in first["members"]] == ["troll3", "troll2"]
    assert first["members"][0]["ban"] is None
    assert first["members"][1]["ban"]["status"] == "active"
    assert first["members"][1]["ban"]["remaining"].startswith("expires in")
    assert [m["user_id"] for m in second["members"]] == ["troll1"]


def test_a_whole_room_ban_shows_on_every_member(client, moderator, room):
    present(room, "a", "b")
    whole = ban_in_force(room, "", scope=Ban.Scope.WHOLE_ROOM)
    client.force_login(moderator)

    data = client.get(reverse("admin:moderation_room_members", args=[room.pk])).json()

    assert [m["ban"]["id"] for m in data["members"]] == [whole.pk, whole.pk]


def test_bad_page_numbers_and_long_filters_are_answered_not_refused(client, moderator, room):
    present(room, "a")
    client.force_login(moderator)
    url = reverse("admin:moderation_room_members", args=[room.pk])

    for params in ({"page": "-1"}, {"page": "x"}, {"page": "99999999999"}, {"q": "y" * 5000}):
        response = client.get(url, params)
        assert response.status_code == 200, params
        assert response.json()["page"] == 1


def test_the_member_list_costs_the_same_queries_at_any_size(room, django_assert_num_queries):
    present(room, *[f"user{n}" for n in range(300)])
    for n in range(0, 300, 7):
        ban_in_force(room, f"user{n}")

    with django_assert_num_queries(4):
        found = selectors.room_members(room, page=2)

    assert found.total == 300
    assert len(found.members) == selectors.MEMBERS_PAGE
    assert sum(1 for m in found.members if m.ban) > 0


def test_the_room_list_counts_members_and_bans_in_force_and_sorts_by_them(client, moderator, room):
    quiet = Room.objects.create(app=room.app, room_id="quiet")
    present(room, "a", "b", "c")
    present(quiet, "d")
    ban_in_force(room, "a")
    ended = ban_in_force(room, "b")
    Ban.objects.filter(pk=ended.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(moderator)
    url = reverse("admin:moderation_room_changelist")

    by_members = client.get(url, {"o": "-4"}).context["cl"].result_list

    assert [(r.room_id, r.member_count, r.ban_count) for r in by_members] == [
        ("live-1001", 3, 1),
        ("quiet", 1, 0),
    ]


def test_picked_members_open_the_form_with_them_and_the_preset(client, moderator, room):
    client.force_login(moderator)

    form = client.get(
        reverse("admin:moderation_ban_moderate"),
        {"room": room.pk, "user": ["troll1", "troll2"], "action": "ban", "duration": "86400"},
    ).context["form"]

    assert form.initial["user_ids"] == "troll1\ntroll2"
    assert form.initial["duration"] == "86400"
    assert form.initial["room"] == room.room_id


def test_the_room_picker_suggests_an_apps_rooms_by_id_or_label(client, moderator, room):
    Room.objects.create(app=room.app, room_id="lobby", label="Evening lobby")
    Room.objects.create(app=room.app, room_id="other")
    client.force_login(moderator)
    url = reverse("admin:moderation_room_search")

    found = client.get(url, {"app": room.app.pk, "q": "even"}).json()["rooms"]

    assert sorted(r["room_id"] for r in found) == ["live-1001", "lobby"]
    assert client.get(url, {"app": "x"}).json() == {"rooms": []}


def test_someone_without_room_access_gets_no_members(client, make_user, room):
    client.force_login(make_user("nobody"))

    response = client.get(reverse("admin:moderation_room_members", args=[room.pk]))

    assert response.status_code == 403

"""A room's page with 5,000 people in it: the page a moderator opens, and the member list its
script polls (plain, filtered, and a later page), at 100 members and at 5,000.

The members are presence rows as room callbacks leave them, one in twenty under a ban in force.
Times are server times measured at the client, a moderator's keep-alive connection to gunicorn
on loopback; query counts come from the same pages rendered in this process. The room and its
members are deleted afterwards.
"""

from __future__ import annotations

import statistics
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from moderation.models import Ban, Presence, Room
from moderation.roles import MODERATORS

from .click import Browser, percentile
from .common import MARKER, Context, Result, Stack, remove_apps
from .history import count_queries, logged_in_client, sample, timed_page

STACK = ("web",)  # what it uses of the run's Stack
MEMBERS = 5000
FEW = 100
BANNED_EVERY = 20
PAGE_TARGET_MS = 300.0


def _fill(room: Room, count: int, already: int) -> None:
    """Presence for users `already` .. `count` - 1, and a ban in force on every twentieth."""
    now = timezone.now()
    users = [f"{MARKER}-viewer-{n:05d}" for n in range(already, count)]
    Presence.objects.bulk_create(
        [
            Presence(
                app=room.app,
                room_id=room.room_id,
                user_id=user,
                entered_at=now - timedelta(seconds=n),
                event_at=now - timedelta(seconds=n),
            )
            for n, user in enumerate(users, start=already)
        ],
        batch_size=1000,
    )
    Ban.objects.bulk_create(
        [
            Ban(
                app=room.app,
                room=room,
                user_id=user,
                kind=Ban.Kind.BAN,
                scope=Ban.Scope.USER_IN_ROOM,
                status=Ban.Status.ACTIVE,
                starts_at=now,
                expires_at=now + timedelta(hours=1),
                requested_seconds=3600,
                effective_seconds=3600,
                reason="bench",
            )
            for n, user in enumerate(users, start=already)
            if n % BANNED_EVERY == 0
        ],
        batch_size=1000,
    )


def _pages(room: Room) -> dict[str, str]:
    members = reverse("admin:moderation_room_members", args=[room.pk])
    return {
        "page": reverse("admin:moderation_room_change", args=[room.pk]),
        "members": members,
        "filter": f"{members}?q=viewer-042",
        "later": f"{members}?page=40",
    }


def _measure(room, browser, client, write) -> dict:
    figures = {}
    for name, path in _pages(room).items():
        samples = sample(lambda p: timed_page(browser, p), path)
        figures[name] = (
            statistics.median(samples),
            percentile(samples, 95),
            count_queries(client, path, write),
        )
        p50, p95, queries = figures[name]
        write(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, {queries} queries")
    return figures


def run(context: Context) -> list[Result]:
    stack: Stack = context.extra["stack"]
    web = stack.web()
    app = stack.vendor_app("zego")
    room = Room.objects.create(app=app, room_id=f"{MARKER}-room", label="a busy room")
    moderator = stack.user(MODERATORS)
    browser = Browser(web.address, moderator)
    client = logged_in_client(moderator)
    try:
        _fill(room, FEW, 0)
        client.get(_pages(room)["page"])  # warm: the first page of a session reads more
        context.write(f"room: {FEW} members …")
        few = _measure(room, browser, client, context.write)
        _fill(room, MEMBERS, FEW)
        context.write(f"room: {MEMBERS} members …")
        many = _measure(room, browser, client, context.write)
    finally:
        browser.close()
        remove_apps([app])
    same = {name: few[name][2] for name in few}
    return [
        Result("room_page_p50_ms_5k", many["page"][0], "ms", f"≤ {PAGE_TARGET_MS:g} ms"),
        Result("room_page_p95_ms_5k", many["page"][1], "ms", "none"),
        Result("room_members_p50_ms_5k", many["members"][0], "ms", "none"),
        Result("room_members_filter_p50_ms_5k", many["filter"][0], "ms", "none"),
        Result("room_members_later_page_p50_ms_5k", many["later"][0], "ms", "none"),
        Result(
            "room_page_queries",
            many["page"][2],
            "queries",
            f"same as at {FEW} members: {same['page']}",
        ),
        Result(
            "room_members_queries",
            many["members"][2],
            "queries",
            f"same as at {FEW} members: {same['members']}",
        ),
    ]

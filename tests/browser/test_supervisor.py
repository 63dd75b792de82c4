"""A supervisor narrows the ban history, reads one user's timeline and exports what is shown."""

import csv
import re
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q
from django.utils import timezone
from playwright.sync_api import expect

from moderation import services
from moderation.models import Ban

from ..support.workers import wait_until
from .conftest import BROWSER_TEST, LANGUAGES, LOCALES, html_lang, words

pytestmark = BROWSER_TEST


@pytest.fixture
def history(emulated_app, moderator, worker):
    """Bans of two apps, answered by the vendors: in force, lifted, and from long ago."""
    zego, volcengine = emulated_app("zego"), emulated_app("volcengine")
    show = services.room_for(app=zego, room_id="live-1001")
    lobby = services.room_for(app=volcengine, room_id="lobby")

    def ban(app, room, users, reason):
        return services.ban(
            app=app,
            scope=Ban.Scope.USER_IN_ROOM,
            room=room,
            user_ids=users,
            seconds=86400,
            reason=reason,
            actor=moderator,
        )

    data = SimpleNamespace(
        zego=zego,
        spam=ban(zego, show, ["spammer1", "spammer2", "spammer3"], "spam — links in chat"),
        raid=ban(zego, show, ["raider1"], "raid"),
        other_app=ban(volcengine, lobby, ["spammer4"], "spam"),
        lifted=ban(zego, show, ["spammer5"], "spam"),
        long_ago=ban(zego, show, ["spammer6"], "spam"),
    )
    wait_until(
        lambda: not Ban.objects.filter(status=Ban.Status.PENDING).exists(),
        message="the vendors' answers",
    )
    services.lift(ban=data.lifted[0], reason="appeal accepted", actor=moderator)
    Ban.objects.filter(pk=data.long_ago[0].pk).update(
        created_at=timezone.now() - timedelta(days=10)
    )
    return data


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_supervisor_filters_the_history_and_exports_exactly_those_rows(
    language, log_in, live_server, screenshot, supervisor, history
):
    zone = ZoneInfo(LOCALES[language]["timezone_id"])
    since = timezone.now().astimezone(zone).date() - timedelta(days=3)
    page = log_in(supervisor)
    expect(page.locator("html")).to_have_attribute("lang", html_lang(language))
    expect(page.locator("a.mod-new")).to_have_count(0)

    page.goto(f"{live_server.url}/admin/moderation/ban/")
    filters = page.locator("#changelist-filter")
    filters.locator("a").filter(has_text=history.zego.name).click()
    expect(page).to_have_url(re.compile(rf"app__id__exact={history.zego.pk}\b"))
    filters.locator('a[href*="status__exact=active"]').click()
    expect(page).to_have_url(re.compile(r"status__exact=active"))
    since_box = page.locator("input[type=date][name=created_at__since]")
    since_box.fill(since.isoformat())
    page.locator("form", has=since_box).locator("button").click()
    expect(page).to_have_url(re.compile(r"created_at__since="))
    page.fill("#searchbar", "spam")
    page.press("#searchbar", "Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=spam"))
    shown_ids = {int(pk) for pk in page.locator("#result_list th.field-id a").all_text_contents()}
    shown = {
        "active": page.locator("#result_list .ban-status-active").first.text_content().strip(),
        "Export these rows (CSV)": page.text_content("a.export-csv").strip(),
    }
    screenshot("supervisor-history")

    with page.expect_download() as download:
        page.click("a.export-csv")
    with open(download.value.path(), encoding="utf-8-sig", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert {int(row["id"]) for row in rows} == shown_ids
    assert {(row["status"], row["app"]) for row in rows} == {("active", history.zego.name)}

    # The same filters in the database: app, status, created since, and the search.
    expected = set(
        Ban.objects.filter(
            app=history.zego,
            status=Ban.Status.ACTIVE,
            created_at__gte=datetime.combine(since, time.min, zone),
        )
        .filter(Q(user_id="spam") | Q(room__room_id="spam") | Q(reason__icontains="spam"))
        .values_list("pk", flat=True)
    )
    assert expected == {ban.pk for ban in history.spam}
    assert shown_ids == expected
    expect(since_box).to_have_value(since.isoformat())
    assert shown == words(language, "active", "Export these rows (CSV)")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_supervisor_reads_a_users_timeline_with_the_vendors_request_id(
    language, log_in, live_server, screenshot, supervisor, history
):
    page = log_in(supervisor)
    page.goto(f"{live_server.url}/admin/moderation/ban/?q=spammer1")
    page.click('#result_list a[href$="/timeline/?user=spammer1"]')

    expect(page).to_have_url(re.compile(r"/admin/moderation/ban/timeline/\?user=spammer1$"))
    expect(page.locator("html")).to_have_attribute("lang", html_lang(language))
    (ban,) = Ban.objects.filter(user_id="spammer1")
    (request_id,) = ban.vendor_request_ids
    expect(page.locator("table.timeline tr.event-created")).to_have_count(1)
    expect(page.locator("table.timeline tr.event-applied")).to_have_count(1)
    expect(page.locator("table.timeline tr.event-applied .call")).to_contain_text(request_id)
    screenshot("supervisor-timeline")

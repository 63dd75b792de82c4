"""At 1024 px the ban list keeps every column on screen, and ids and badges stay on one line."""

from datetime import timedelta

import pytest
from django.utils import timezone

from moderation.models import Ban, Room

from .conftest import BROWSER_TEST, LANGUAGES

pytestmark = BROWSER_TEST

LONG_ID = "user-" + "x" * 40


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_ban_list_fits_1024_px_with_ids_and_badges_on_one_line(
    language, log_in, live_server, moderator, emulated_app, screenshot
):
    app = emulated_app("zego")
    room = Room.objects.create(app=app, room_id="live-room-with-a-long-name-1001")
    now = timezone.now()
    for n, status in enumerate([Ban.Status.ACTIVE, Ban.Status.PENDING, Ban.Status.FAILED] * 4):
        Ban.objects.create(
            app=app,
            room=room,
            user_id=f"{LONG_ID}{n}",
            kind=Ban.Kind.BAN,
            scope=Ban.Scope.USER_IN_ROOM,
            status=status,
            starts_at=now,
            expires_at=now + timedelta(days=3),
            requested_seconds=3 * 86400,
            effective_seconds=3 * 86400,
            reason="spam — links in chat, again and again",
            created_by=moderator,
        )
    page = log_in(moderator)
    page.set_viewport_size({"width": 1024, "height": 768})

    page.goto(f"{live_server.url}/admin/moderation/ban/")

    table = page.locator("#result_list")
    box = table.bounding_box()
    assert box["x"] + box["width"] <= 1024, "the list runs off the screen"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    heights = page.eval_on_selector_all(
        "#result_list .ban-status", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    line = page.eval_on_selector(
        "#result_list .ban-status", "e => parseFloat(getComputedStyle(e).lineHeight) || 20"
    )
    assert heights and max(heights) < 2 * line, "a status badge wraps"
    ids = page.eval_on_selector_all(
        "#result_list .id-cell", "els => els.map(e => e.getClientRects().length)"
    )
    assert ids and max(ids) == 1, "a user id breaks across lines"
    screenshot("ban-list-1024")

"""A moderator bans a group of ZEGO users, watches them become active, then lifts and extends."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from moderation.models import Ban, CannedReason, ModerationLog, Room

from .conftest import BROWSER_TEST, LANGUAGES, html_lang, words

pytestmark = BROWSER_TEST

USERS = [f"spammer{n}" for n in range(1, 8)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_moderator_bans_seven_users_and_lifts_one_and_extends_another(
    language, log_in, live_server, screenshot, moderator, emulated_app, emulator, worker
):
    app = emulated_app("zego")
    room = Room.objects.create(app=app, room_id="live-1001", label="Evening show")
    spam, _ = CannedReason.objects.get_or_create(text="Spam or advertising")
    for user in USERS:
        emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id=room.room_id, user_id=user)
    # ZEGO answers the first kick late, so the batch page is seen to change by itself.
    emulator.fail_next(vendor="zego", mode="timeout", delay=2)

    page = log_in(moderator)
    expect(page.locator("html")).to_have_attribute("lang", html_lang(language))
    shown = {"Kick or ban": page.text_content("a.mod-new").strip()}

    # The room list's Ban button opens the form with the app and room filled in.
    page.goto(f"{live_server.url}/admin/moderation/room/")
    page.click(f'a.mod-ban[href$="?room={room.pk}&action=ban"]')
    expect(page.locator("#id_app")).to_have_value(str(app.pk))
    expect(page.locator("#id_room")).to_have_value("live-1001")
    expect(page.locator('input[name=scope][value="user_in_room"]')).to_be_checked()
    page.fill("#id_user_ids", "spammer1\nspammer2, spammer3\nspammer4,spammer5\nspammer6\nspammer7")
    page.check('input[name=duration][value="86400"]')
    page.select_option("#id_canned_reason", str(spam.pk))
    page.fill("#id_reason", "links in chat")
    screenshot("moderator-form")
    page.click("input[name=preview]")

    # Nothing is sent before the moderator confirms what the vendor will do.
    expect(page.locator(".confirm-action table.summary .user-list")).to_have_text(", ".join(USERS))
    expect(page.locator(".confirm-action .meaning")).to_contain_text("ZEGO")
    assert not Ban.objects.exists()
    shown["Yes, ban"] = page.get_attribute("input[name=confirm]", "value")
    screenshot("moderator-confirm")
    page.click("input[name=confirm]")
    page.wait_for_url(re.compile(r"/admin/moderation/ban/batch/[0-9a-f-]{36}/$"))
    batch_url = page.url

    expect(page.locator("tr[data-ban]")).to_have_count(7)
    expect(page.locator("tr[data-ban] .ban-status-pending")).to_have_count(7)
    page.evaluate("window.neverReloaded = true")
    expect(page.locator("p.batch-progress")).to_have_class(re.compile(r"\bdone\b"), timeout=20_000)
    expect(page.locator("tr[data-ban] .ban-status-active")).to_have_count(7)
    assert page.evaluate("window.neverReloaded === true")
    shown["active"] = page.locator("tr[data-ban] .ban-status-active").first.text_content().strip()
    screenshot("moderator-batch")

    bans = {ban.user_id: ban for ban in Ban.objects.filter(room=room)}
    assert sorted(bans) == USERS
    assert {ban.reason for ban in bans.values()} == {"Spam or advertising — links in chat"}
    assert emulator.members(vendor="zego", app_id=app.vendor_app_id, room_id="live-1001") == set()

    # Lift one, from its own page, with a reason.
    lifted = bans["spammer3"]
    page.click(f'tr[data-ban="{lifted.pk}"] a')
    page.wait_for_url(f"**/admin/moderation/ban/{lifted.pk}/change/")
    shown["Lift"] = page.text_content("a.mod-lift").strip()
    screenshot("moderator-ban")
    page.click("a.mod-lift")
    page.fill("#id_reason", "appeal accepted")
    page.click("input[name=apply]")
    page.wait_for_url(f"**/admin/moderation/ban/{lifted.pk}/change/")
    expect(page.locator(".ban-state .ban-status")).to_have_class(re.compile(r"ban-status-lifted"))
    expect(page.locator("a.mod-lift")).to_have_count(0)

    # Extend another to two hours in all.
    extended = bans["spammer4"]
    page.goto(batch_url)
    page.click(f'tr[data-ban="{extended.pk}"] a')
    page.click("a.mod-change")
    page.fill("#id_duration", "2h")
    page.fill("#id_reason", "repeat offender")
    screenshot("moderator-change")
    page.click("input[name=apply]")
    page.wait_for_url(f"**/admin/moderation/ban/{extended.pk}/change/")
    expect(page.locator(".ban-state .ban-status")).to_have_class(re.compile(r"ban-status-active"))

    lifted.refresh_from_db()
    assert lifted.status == Ban.Status.LIFTED
    assert (lifted.lifted_by, lifted.lift_reason) == (moderator, "appeal accepted")
    extended.refresh_from_db()
    assert extended.status == Ban.Status.ACTIVE
    assert extended.expires_at - extended.starts_at == timedelta(hours=2)
    assert ModerationLog.objects.filter(
        ban=extended, event="changed", actor=moderator, message="repeat offender"
    ).exists()
    others = Ban.objects.filter(room=room).exclude(pk__in=[lifted.pk, extended.pk])
    assert {(b.status, b.expires_at - b.starts_at) for b in others} == {
        (Ban.Status.ACTIVE, timedelta(days=1))
    }
    # ZEGO can only kick: seven users in two calls of five at most. Lifting and changing are
    # kept by the console itself, so they call ZEGO for nothing.
    kicks = [call for call in emulator.calls if call.ok]
    assert [call.action for call in kicks] == ["KickoutUser", "KickoutUser"]
    assert sorted(u for call in kicks for u in call.params["UserId[]"]) == USERS

    assert shown == words(language, "Kick or ban", "Yes, ban", "Lift", "active")

"""A moderator watches a room fill up, bans one member from the list, and is offered "extend"
when banning them again; a supervisor opens that user's page."""

import re

import pytest
from playwright.sync_api import expect

from moderation.models import Ban, CannedReason, Presence, Room

from ..support.workers import wait_until
from .conftest import BROWSER_TEST, LANGUAGES

pytestmark = BROWSER_TEST

MEMBERS = ["viewer1", "viewer2", "troll"]


def room_with_members(callback_app, emulator, live_server):
    app = callback_app("zego", base_url=live_server.url)
    room = Room.objects.create(app=app, room_id="live-1001", label="Evening show")
    return app, room


def ban_from_the_row(page, user):
    """The row's "Ban 1 h", a reason, Review, Yes: the form and confirmation every ban uses."""
    spam = CannedReason.objects.get_or_create(text="Spam or advertising")[0]
    page.click(f'tr.member[data-user="{user}"] a.mod-ban[data-duration="3600"]')
    expect(page.locator("#id_user_ids")).to_have_value(user)
    expect(page.locator('input[name=duration][value="3600"]')).to_be_checked()
    page.select_option("#id_canned_reason", str(spam.pk))
    page.click("input[name=preview]")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_moderator_sees_members_arrive_and_bans_one_from_the_list(
    language, log_in, live_server, screenshot, moderator, callback_app, emulator, worker
):
    app, room = room_with_members(callback_app, emulator, live_server)
    page = log_in(moderator)
    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")
    expect(page.locator(".room-members .member-empty")).to_be_visible()
    page.evaluate("window.neverReloaded = true")

    for user in MEMBERS:
        emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id="live-1001", user_id=user)

    expect(page.locator("tr.member")).to_have_count(3, timeout=15_000)
    expect(page.locator(".member-total")).to_have_text("3")
    assert page.evaluate("window.neverReloaded === true")
    # Newest first: the last to enter heads the list, in the browser's own time zone.
    expect(page.locator("tr.member .member-id").first).to_have_text("troll")
    zone = {"en": "UTC", "zh": "CST"}[language]  # the browsers' zones: UTC, Asia/Shanghai
    expect(page.locator("tr.member .member-since").first).to_have_text(re.compile(f" {zone}$"))

    page.fill("#member-search", "viewer")
    expect(page.locator("tr.member")).to_have_count(2)
    page.fill("#member-search", "")
    expect(page.locator("tr.member")).to_have_count(3)
    screenshot("room")

    ban_from_the_row(page, "troll")
    # ZEGO answers the kick late: the ban is seen on troll's row before ZEGO removes troll.
    emulator.fail_next(vendor="zego", mode="timeout", delay=4)
    page.click("input[name=confirm]")
    page.wait_for_url(re.compile(r"/admin/moderation/ban/batch/[0-9a-f-]{36}/$"))
    (ban,) = Ban.objects.filter(user_id="troll")

    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")
    page.evaluate("window.neverReloaded = true")
    row = page.locator('tr.member[data-user="troll"]')
    expect(row.locator(f'a[href$="/ban/{ban.pk}/change/"] .ban-status')).to_be_visible()
    expect(row).to_have_count(0, timeout=20_000)
    expect(page.locator(".member-total")).to_have_text("2")
    assert page.evaluate("window.neverReloaded === true")
    ban.refresh_from_db()
    assert ban.status == Ban.Status.ACTIVE


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_moderator_banning_someone_already_banned_is_offered_extend(
    language, log_in, live_server, moderator, callback_app, emulator, worker
):
    app, room = room_with_members(callback_app, emulator, live_server)
    emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id="live-1001", user_id="troll")
    page = log_in(moderator)
    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")
    expect(page.locator("tr.member")).to_have_count(1, timeout=15_000)
    # A pending ban holds too: the moderator is warned before a second one.
    (first,) = Ban.objects.bulk_create(
        [
            Ban(
                app=app,
                room=room,
                user_id="troll",
                kind=Ban.Kind.BAN,
                scope=Ban.Scope.USER_IN_ROOM,
                status=Ban.Status.PENDING,
                requested_seconds=600,
                effective_seconds=600,
                reason="spam",
                created_by=moderator,
            )
        ]
    )

    ban_from_the_row(page, "troll")

    warning = page.locator(".confirm-warning.already-banned")
    expect(warning).to_contain_text("troll")
    page.click("a.mod-extend")
    page.wait_for_url(f"**/admin/moderation/ban/{first.pk}/duration/")
    assert Ban.objects.filter(user_id="troll").count() == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_supervisor_opens_a_users_page_from_the_room(
    language, log_in, live_server, screenshot, supervisor, moderator, callback_app, emulator
):
    app, room = room_with_members(callback_app, emulator, live_server)
    Room.objects.create(app=app, room_id="lobby")
    for room_id in ("live-1001", "lobby"):
        emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id=room_id, user_id="troll")
    in_two_rooms = Presence.objects.filter(user_id="troll", in_room=True)
    wait_until(lambda: in_two_rooms.count() == 2, message="both rooms' entry callbacks")
    Ban.objects.create(
        app=app,
        room=room,
        user_id="troll",
        kind=Ban.Kind.BAN,
        scope=Ban.Scope.USER_IN_ROOM,
        status=Ban.Status.PENDING,
        reason="spam",
        created_by=moderator,
    )
    page = log_in(supervisor)
    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")
    expect(page.locator("tr.member")).to_have_count(1, timeout=15_000)
    expect(page.locator("tr.member .mod-kick")).to_have_count(0)  # supervisors read only

    page.click('tr.member[data-user="troll"] a.member-id')

    page.wait_for_url("**/admin/moderation/ban/timeline/?user=troll")
    expect(page.locator("tr.user-room .room-id")).to_have_text(["live-1001", "lobby"])
    expect(page.locator("table.user-bans tbody tr")).to_have_count(1)
    screenshot("user")


def test_a_moderator_bans_from_the_keyboard(log_in, live_server, moderator, callback_app, emulator):
    app, room = room_with_members(callback_app, emulator, live_server)
    emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id="live-1001", user_id="troll")
    page = log_in(moderator)
    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")
    page.click('tr.member[data-user="troll"] a.mod-ban[data-duration="3600"]')

    # App, room and user are filled in: the cursor starts at the reason.
    expect(page.locator("#id_canned_reason")).to_be_focused()
    page.locator("#id_reason").fill("flooding the chat")
    page.keyboard.press("Control+Enter")
    expect(page.locator("input[name=confirm]")).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/admin/moderation/ban/batch/[0-9a-f-]{36}/$"))
    (ban,) = Ban.objects.filter(user_id="troll")
    assert ban.reason == "flooding the chat"


def test_a_moderator_picks_several_members_and_bans_them_together(
    log_in, live_server, moderator, callback_app, emulator
):
    app, room = room_with_members(callback_app, emulator, live_server)
    for user in MEMBERS:
        emulator.join(vendor="zego", app_id=app.vendor_app_id, room_id="live-1001", user_id=user)
    page = log_in(moderator)
    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")
    expect(page.locator("tr.member")).to_have_count(3, timeout=15_000)

    page.check('tr.member[data-user="viewer1"] .member-pick')
    page.check('tr.member[data-user="troll"] .member-pick')
    expect(page.locator(".member-selected")).to_have_text("2")
    page.click("button.mod-ban-selected")

    expect(page.locator("#id_room")).to_have_value("live-1001")
    assert sorted(page.input_value("#id_user_ids").split("\n")) == ["troll", "viewer1"]


def test_the_room_field_suggests_the_apps_rooms_as_the_moderator_types(
    log_in, live_server, moderator, callback_app, emulator
):
    app, room = room_with_members(callback_app, emulator, live_server)
    Room.objects.create(app=app, room_id="lobby", label="Evening lobby")
    Room.objects.create(app=app, room_id="backstage")
    page = log_in(moderator)
    page.goto(f"{live_server.url}/admin/moderation/ban/moderate/")
    page.select_option("#id_app", str(app.pk))

    page.fill("#id_room", "even")

    options = page.locator("#room-suggestions option")
    expect(options).to_have_count(2)
    assert sorted(options.evaluate_all("os => os.map(o => o.value)")) == ["live-1001", "lobby"]


MUTED_LABEL = {"en": "muted: audio", "zh": "已禁言：音频"}
WHOLE_STREAM = {"en": "audio and video stop together", "zh": "音频和视频会一起停止"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_moderator_mutes_a_member_from_the_room_page(
    language, log_in, live_server, screenshot, moderator, callback_app, emulator, worker
):
    app, room = room_with_members(callback_app, emulator, live_server)
    where = {"vendor": "zego", "app_id": app.vendor_app_id, "room_id": "live-1001"}
    for user in MEMBERS:
        emulator.join(**where, user_id=user)
    emulator.publish(**where, user_id="troll", stream_id="troll_main")
    wait_until(lambda: Presence.objects.filter(in_room=True).count() == 3, message="presence")
    spam = CannedReason.objects.get_or_create(text="Spam or advertising")[0]
    page = log_in(moderator)
    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")

    page.click('tr.member[data-user="troll"] a.mod-mute')
    expect(page.locator("#id_user_ids")).to_have_value("troll")
    expect(page.locator('input[name=duration][value="600"]')).to_be_checked()
    page.check('input[name=media][value="audio"]')
    page.select_option("#id_canned_reason", str(spam.pk))
    page.click("input[name=preview]")
    # ZEGO stops the whole stream: the confirmation says so before anything is sent.
    expect(page.locator(".whole-stream")).to_contain_text(WHOLE_STREAM[language])
    screenshot("mute-confirm")
    page.click("input[name=confirm]")
    page.wait_for_url(re.compile(r"/admin/moderation/ban/batch/[0-9a-f-]{36}/$"))

    (mute,) = Ban.objects.filter(user_id="troll")
    assert (mute.kind, mute.media, mute.requested_seconds) == ("mute", "audio", 600)
    wait_until(
        lambda: emulator.stream_forbidden(
            vendor="zego", app_id=app.vendor_app_id, stream_id="troll_main"
        ),
        message="ZEGO stops troll's stream",
    )
    page.goto(f"{live_server.url}/admin/moderation/room/{room.pk}/change/")
    row = page.locator('tr.member[data-user="troll"]')
    expect(row.locator(".mute-badge")).to_have_text(MUTED_LABEL[language], timeout=10_000)
    # Muted, not removed: troll is still in the room.
    expect(page.locator(".member-total")).to_have_text("3")
    screenshot("room-muted")

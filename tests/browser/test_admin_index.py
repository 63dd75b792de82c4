"""Each role logs in with a real browser and sees only what it may use on the admin index."""

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def sections(page):
    return set(page.locator("#content-main table caption a").all_inner_texts()) | set(
        page.locator("#content-main th[scope=row] a").all_inner_texts()
    )


def test_a_moderator_sees_bans_and_rooms_and_no_vendor_apps(log_in, moderator, zego_app):
    page = log_in(moderator)
    names = sections(page)
    assert {"Bans", "Rooms"} <= names
    assert "Vendor apps" not in names
    assert zego_app.secret not in page.content()


def test_a_supervisor_sees_history_records_and_no_vendor_apps(log_in, supervisor, zego_app):
    page = log_in(supervisor)
    names = sections(page)
    assert {"Bans", "Rooms", "Vendor calls", "Moderation log"} <= names
    assert "Vendor apps" not in names
    assert zego_app.secret not in page.content()


def test_a_credential_manager_sees_vendor_apps_and_no_bans(log_in, credential_manager, zego_app):
    page = log_in(credential_manager)
    names = sections(page)
    assert "Vendor apps" in names
    assert "Bans" not in names
    page.click("text=Vendor apps")
    page.click(f"text={zego_app.name}")
    assert page.locator("#id_secret").input_value() == ""
    assert zego_app.secret not in page.content()

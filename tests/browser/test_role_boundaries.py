"""No role gets further by typing URLs: no credentials for moderators, no acts for supervisors."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from moderation.models import Ban, ModerationLog, Room

from .conftest import BROWSER_TEST, LANGUAGES, csrf_token, html_lang

pytestmark = BROWSER_TEST

CALLBACK_SECRET = "zego-callback-secret-for-tests"


def refused(response, page):
    """403, or the login page: never the page itself."""
    return response.status == 403 or "/admin/login/" in page.url


def forbidden(response):
    """403 for want of permission: the CSRF token was good, so that is not the reason."""
    return response.status == 403 and "CSRF" not in response.text()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_moderator_reaches_no_vendor_app_or_credential_by_url(
    language, log_in, live_server, moderator, emulated_app, emulator
):
    app = emulated_app("zego")
    app.callback_secret = CALLBACK_SECRET
    app.save()
    secrets = [app.secret, CALLBACK_SECRET]
    base = f"{live_server.url}/admin/moderation/vendorapp"
    page = log_in(moderator)
    expect(page.locator("html")).to_have_attribute("lang", html_lang(language))
    token = csrf_token(page)

    for url in [
        f"{base}/",
        f"{base}/add/",
        f"{base}/{app.pk}/change/",
        f"{base}/{app.pk}/history/",
        f"{base}/{app.pk}/delete/",
        f"{base}/{app.pk}/test/",
    ]:
        response = page.goto(url)
        assert refused(response, page), url
        assert not [secret for secret in secrets if secret in page.content()], url

    for url, form in [
        (f"{base}/{app.pk}/test/", {}),
        (f"{base}/{app.pk}/change/", {"name": "Stolen", "secret": "0" * 32}),
        (f"{base}/{app.pk}/delete/", {"post": "yes"}),
    ]:
        response = page.request.post(url, form={"csrfmiddlewaretoken": token, **form})
        assert forbidden(response), url
        assert not [secret for secret in secrets if secret in response.text()], url

    app.refresh_from_db()
    assert (app.name, app.secret) == ("zego app", secrets[0])
    assert emulator.calls == []


@pytest.fixture
def bans(emulated_app, moderator):
    """An active ban and a failed one, made by a moderator."""
    app = emulated_app("zego")
    room = Room.objects.create(app=app, room_id="live-1001")
    now = timezone.now()
    common = dict(app=app, room=room, kind=Ban.Kind.BAN, scope=Ban.Scope.USER_IN_ROOM)
    active = Ban.objects.create(
        **common,
        user_id="spammer1",
        status=Ban.Status.ACTIVE,
        requested_seconds=3600,
        effective_seconds=3600,
        starts_at=now,
        expires_at=now + timedelta(hours=1),
        reason="spam",
        created_by=moderator,
    )
    failed = Ban.objects.create(
        **common,
        user_id="spammer2",
        status=Ban.Status.FAILED,
        requested_seconds=3600,
        effective_seconds=3600,
        reason="spam",
        created_by=moderator,
        vendor_message="the vendor was down",
    )
    return active, failed


def database_state():
    return (
        list(Ban.objects.order_by("pk").values_list("pk", "status", "expires_at", "lifted_at")),
        ModerationLog.objects.count(),
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_supervisor_can_create_lift_change_or_retry_no_ban_by_url(
    language, log_in, live_server, supervisor, bans, emulator
):
    active, failed = bans
    before = database_state()
    base = f"{live_server.url}/admin/moderation/ban"
    page = log_in(supervisor)
    expect(page.locator("html")).to_have_attribute("lang", html_lang(language))
    expect(page.locator("a.mod-new")).to_have_count(0)
    page.goto(f"{base}/{active.pk}/change/")
    expect(page.locator("a.mod-lift")).to_have_count(0)
    expect(page.locator("a.mod-change")).to_have_count(0)
    token = csrf_token(page)

    for url in [
        f"{base}/moderate/?room={active.room_id}&action=ban",
        f"{base}/{active.pk}/lift/",
        f"{base}/{active.pk}/duration/",
        f"{base}/{failed.pk}/retry/",
    ]:
        assert refused(page.goto(url), page), url

    reason = {"reason": "by URL", "apply": "yes"}
    for url, form in [
        (
            f"{base}/moderate/",
            {
                "app": active.app_id,
                "scope": "user_in_room",
                "room": "live-1001",
                "user_ids": "victim1\nvictim2",
                "duration": "3600",
                "reason": "by URL",
                "confirm": "yes",
            },
        ),
        (f"{base}/{active.pk}/lift/", reason),
        (f"{base}/{active.pk}/duration/", {"duration": "2w", **reason}),
        (f"{base}/{failed.pk}/retry/", {}),
    ]:
        response = page.request.post(url, form={"csrfmiddlewaretoken": token, **form})
        assert forbidden(response), url

    # The bulk actions are not offered to a supervisor, so posting one does nothing.
    for action in ["lift_selected", "change_selected"]:
        page.request.post(
            f"{base}/",
            form={
                "csrfmiddlewaretoken": token,
                "action": action,
                "_selected_action": str(active.pk),
                "duration": "2w",
                **reason,
            },
        )

    assert database_state() == before
    assert emulator.calls == []

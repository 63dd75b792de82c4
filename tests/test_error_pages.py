"""Refusals and errors are pages of the console, in the viewer's language, never a bare line."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "Not for your role"), ("zh-CN", "您的角色无权访问")]
)
def test_a_page_a_role_may_not_open_explains_itself_in_its_language(
    client, moderator, language, expected
):
    client.force_login(moderator)

    page = client.get(
        reverse("admin:moderation_vendorapp_changelist"), HTTP_ACCEPT_LANGUAGE=language
    )

    assert page.status_code == 403
    assert expected in page.content.decode()
    assert "RTC" in page.content.decode()  # the console's header, not a bare "403 Forbidden"


def test_an_unknown_batch_is_a_styled_404(client, moderator):
    client.force_login(moderator)

    page = client.get(reverse("admin:moderation_ban_batch", args=["not-a-batch"]))

    assert page.status_code == 404
    assert "Not found" in page.content.decode()


def test_too_many_failed_logins_lock_out_with_the_wait_in_words(client, moderator, settings):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": moderator.username, "password": "wrong"})

    page = client.post(url, {"username": moderator.username, "password": "wrong"})

    assert page.status_code == 429
    html = page.content.decode()
    assert "Too many failed logins" in html
    assert "Try again in 15 min" in html


def test_a_server_error_is_a_page_of_the_console():
    response = server_error(RequestFactory().get("/admin/"))

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()

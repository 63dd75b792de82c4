"""A credential manager adds an app of each vendor and tests it; no page shows a secret again."""

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from moderation.models import VendorApp

from ..conftest import EMULATED_APPS
from .conftest import BROWSER_TEST, LANGUAGES, html_lang

pytestmark = BROWSER_TEST

# Tencent takes a callback key of letters and digits only (at most 32).
CALLBACK_SECRETS = {vendor: f"{vendor}CallbackSecret4Tests" for vendor in EMULATED_APPS}
NOT_HEX = "00112233445566778899aabbccddeeXX"  # 32 characters, two of them not hexadecimal


def fill_in_new_app(page, live_server, emulator, vendor, *, secret):
    app_id, region, access_key_id, _ = EMULATED_APPS[vendor]
    page.goto(f"{live_server.url}/admin/moderation/vendorapp/add/")
    page.fill("#id_name", f"Live {vendor}")
    page.select_option("#id_vendor", vendor)
    page.fill("#id_vendor_app_id", app_id)
    if vendor == "zego":
        # ZEGO signs with the app id and one secret: no region, no access key.
        expect(page.locator(".form-row.field-region")).to_be_hidden()
        expect(page.locator(".form-row.field-access_key_id")).to_be_hidden()
    else:
        page.fill("#id_region", region)
        page.fill("#id_access_key_id", access_key_id)
    page.fill("#id_secret", secret)
    page.fill("#id_callback_secret", CALLBACK_SECRETS[vendor])
    page.fill("#id_endpoint", emulator.endpoint(vendor))


def connection_accepted(app, language):
    """The test button's message, in the page's language."""
    with translation.override(html_lang(language)):
        return gettext("%(vendor)s answered: %(message)s") % {
            "vendor": app.get_vendor_display(),
            "message": "credentials accepted",
        }


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_credential_manager_adds_and_tests_an_app_of_each_vendor_and_never_sees_a_secret(
    language, log_in, live_server, screenshot, credential_manager, emulator
):
    page = log_in(credential_manager)
    expect(page.locator("html")).to_have_attribute("lang", html_lang(language))
    pages = [page.content()]

    # A ServerSecret that is not 32 hex characters is refused, and not shown back.
    fill_in_new_app(page, live_server, emulator, "zego", secret=NOT_HEX)
    page.click("input[name=_continue]")
    expect(page.locator(".field-secret .errorlist")).to_be_visible()
    expect(page.locator("#id_secret")).to_have_value("")
    pages.append(page.content())
    assert not VendorApp.objects.exists()

    for vendor, (app_id, region, _, secret) in EMULATED_APPS.items():
        fill_in_new_app(page, live_server, emulator, vendor, secret=secret)
        screenshot(f"credentials-{vendor}-form")
        page.click("input[name=_continue]")
        page.wait_for_url(re.compile(r"/admin/moderation/vendorapp/\d+/change/$"))
        pages.append(page.content())
        expect(page.locator("#id_secret")).to_have_value("")

        app = VendorApp.objects.get(name=f"Live {vendor}")
        with page.expect_navigation():
            page.click("button.test-connection")
        expect(page.locator(".messagelist .success")).to_have_text(
            connection_accepted(app, language)
        )
        expect(page.locator(".messagelist .error")).to_have_count(0)
        pages.append(page.content())
        if vendor == "zego":
            screenshot("credentials-tested")

        assert (app.vendor, app.vendor_app_id, app.region) == (vendor, app_id, region)
        assert (app.secret, app.callback_secret) == (secret, CALLBACK_SECRETS[vendor])
        assert [(call.vendor, call.ok) for call in emulator.calls][-1] == (vendor, True)

    page.goto(f"{live_server.url}/admin/moderation/vendorapp/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    pages.append(page.content())

    secrets = [secret for *_, secret in EMULATED_APPS.values()]
    secrets += [*CALLBACK_SECRETS.values(), NOT_HEX]
    assert [secret for secret in secrets if any(secret in html for html in pages)] == []

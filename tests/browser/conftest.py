"""Browser tests drive Debian's Chromium through Playwright against pytest-django's live server."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The browser's language and time zone for each language the console speaks. Django's
# LocaleMiddleware reads Accept-Language (zh-CN → zh-hans); timezone.js reports the zone.
LOCALES = {
    "en": {"locale": "en-US", "timezone_id": "UTC", "html_lang": "en"},
    "zh": {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "html_lang": "zh-hans"},
}
LANGUAGES = list(LOCALES)

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# itself are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        message = "Chromium is missing: install it with `apt-get install -y chromium` (as root)."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def language():
    """The browser's language: "en" unless a test parametrizes it (LANGUAGES)."""
    return "en"


@pytest.fixture
def page(browser, language):
    settings = LOCALES[language]
    context = browser.new_context(
        locale=settings["locale"],
        timezone_id=settings["timezone_id"],
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def log_in(page, live_server):
    def log_in_as(user):
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "correct horse battery")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    return log_in_as


@pytest.fixture
def screenshot(page, language):
    """screenshot("moderator-batch") saves docs-ready PNGs when SCREENSHOT_DIR is set."""
    directory = os.environ.get("SCREENSHOT_DIR")

    def take(name):
        if not directory:
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(directory) / f"{name}-{language}.png", full_page=True)

    return take


def html_lang(language):
    return LOCALES[language]["html_lang"]


def csrf_token(page):
    """The CSRF token of the page on screen (every admin page has the language form)."""
    return page.locator("input[name=csrfmiddlewaretoken]").first.input_value()


# Words on screen that the zh-hans translation gives exactly so. Until the translation is
# compiled, the Chinese runs fail where they compare these.
WORDS = {
    "en": {
        "Kick or ban": "Kick or ban",
        "Yes, ban": "Yes, ban",
        "Lift": "Lift",
        "Export these rows (CSV)": "Export these rows (CSV)",
        "active": "active",
    },
    "zh": {
        "Kick or ban": "踢出或封禁",
        "Yes, ban": "确认封禁",
        "Lift": "解封",
        "Export these rows (CSV)": "导出这些记录（CSV）",
        "active": "生效中",
    },
}


def words(language, *english):
    """What each of these English strings reads as in `language`."""
    return {text: WORDS[language][text] for text in english}


# Every browser test runs against the live server in another thread (and jobs in a worker
# process), so it needs a transactional database. serialized_rollback brings back what the
# migrations made (permissions, roles, canned reasons): a flush after a serialized test skips
# post_migrate, so a test without it that ran next would find no permissions at all.
BROWSER_TEST = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

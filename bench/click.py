"""Click to vendor: from the moderator's confirmed ban to the vendor receiving the call.

A moderator (a Moderators-group user with a session) fills in the kick-or-ban form on gunicorn,
sees the confirmation page, and confirms; the clock runs from just before the confirming POST
is sent until the vendor emulator (a thread of this process, stamping calls with the same clock)
has the call. One user per sample, a ZEGO app of the benchmark's own, and idle workers: each
sample starts once the previous ban is applied and the workers have had a moment of rest.
"""

from __future__ import annotations

import http.client
import re
import statistics
import time
from importlib import import_module
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.urls import reverse

from moderation.models import Ban, Room
from moderation.roles import MODERATORS

from .common import MARKER, REQUEST_TIMEOUT, Context, Result, Stack, host_header
from .throughput import wait_until_applied

SAMPLES = 50
P50_TARGET_MS = 50.0
REST_SECONDS = 0.3  # the workers are back waiting on the queue well before this
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

STACK = ("emulator", "workers", "web")  # what it uses of the run's Stack


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 50 samples is the largest)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Browser:
    """One moderator's keep-alive connection to gunicorn: a session cookie, CSRF, https headers.

    Without DEBUG the site wants HTTPS; a proxy would say so in X-Forwarded-Proto, as here.
    """

    def __init__(self, address, user):
        self.address = address
        self.host = host_header()
        self.cookies = {settings.SESSION_COOKIE_NAME: _session_for(user)}
        self.http = http.client.HTTPConnection(*address, timeout=REQUEST_TIMEOUT)

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {
            "Host": self.host,
            "X-Forwarded-Proto": "https",
            "Origin": f"https://{self.host}",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        body = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.http.request(method, path, body=body, headers=headers)
            response = self.http.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed the idle keep-alive connection (after 30 s): open another.
            self.http.close()
            self.http.request(method, path, body=body, headers=headers)
            response = self.http.getresponse()
        content = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.getheader("Location"), content

    def close(self):
        self.http.close()


def _session_for(user) -> str:
    """A logged-in session, as the login page would leave it."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return store.session_key


def run(context: Context) -> list[Result]:
    samples = measure(context.extra["stack"], SAMPLES, write=context.write)
    return [
        Result(
            "click_to_vendor_p50_ms", statistics.median(samples), "ms", f"≤ {P50_TARGET_MS:g} ms"
        ),
        Result("click_to_vendor_p99_ms", percentile(samples, 99), "ms", "none"),
    ]


def measure(stack: Stack, count: int, *, write=print) -> list[float]:
    stack.workers()
    web = stack.web()
    app = stack.vendor_app("zego")
    room = Room.objects.create(app=app, room_id=f"{MARKER}-stage")
    browser = Browser(web.address, stack.user(MODERATORS))
    path = reverse("admin:moderation_ban_moderate")
    write(f"click: {count} confirmed bans through gunicorn, one at a time …")
    samples, answered, stranded = [], [], 0
    try:
        status, _, page = browser.request("GET", path)
        if status != 200:
            raise RuntimeError(f"click: the moderate form answered {status}")
        for n in range(count):
            user_id = f"{MARKER}-click-{n:03d}"
            form = {
                "csrfmiddlewaretoken": CSRF_FIELD.search(page.decode()).group(1),
                "app": app.pk,
                "scope": Ban.Scope.USER_IN_ROOM,
                "room": room.room_id,
                "user_ids": user_id,
                "duration": "3600",
                "custom_duration": "",
                "canned_reason": "",
                "reason": "benchmark: click to vendor",
            }
            status, _, page = browser.request("POST", path, form)  # the confirmation page
            if status != 200 or b'name="confirm"' not in page:
                raise RuntimeError(f"click: no confirmation page ({status}): {page[:300]!r}")
            time.sleep(REST_SECONDS)
            expected = len(stack.calls_of(app.vendor_app_id)) + 1

            started = time.time()
            status, location, page = browser.request("POST", path, {**form, "confirm": "1"})
            answered.append((time.time() - started) * 1000)
            call = stack.wait_for_call(app.vendor_app_id, expected, timeout=30)
            if status != 302 or call is None:
                raise RuntimeError(f"click: confirmed ban not sent ({status}, {location})")
            samples.append((call.time - started) * 1000)

            bans = list(Ban.objects.filter(app=app, user_id=user_id).values_list("pk", flat=True))
            stranded += wait_until_applied(bans, timeout=30, write=write)
            status, _, page = browser.request("GET", path)  # a fresh form, as after the redirect
    finally:
        browser.close()
    write(
        f"click: min {min(samples):.1f} ms, median {statistics.median(samples):.1f} ms, "
        f"max {max(samples):.1f} ms (the web's redirect came after a median "
        f"{statistics.median(answered):.1f} ms); {stranded} bans stranded"
    )
    return samples

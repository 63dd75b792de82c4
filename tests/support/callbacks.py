"""Room callbacks as a vendor would send them, for tests that post them to our endpoint."""

import time

from rtc_emulator import core as emulator_core
from rtc_emulator.rooms import Change

from ..conftest import CALLBACK_SECRETS, EMULATED_APPS


def signed_callback(vendor, kind, room_id, user_id, *, at=None, secret=None, reason="left"):
    """(headers, body) of one signed join or leave, built by the emulator's vendor module."""
    app_id, _, key_id, api_secret = EMULATED_APPS[vendor]
    app = emulator_core.App(
        vendor=vendor,
        app_id=app_id,
        access_key_id=key_id,
        secret=api_secret,
        callback_url="",
        callback_secret=secret or CALLBACK_SECRETS[vendor],
    )
    change = Change(kind, room_id, user_id, "" if kind == "join" else reason, at or time.time())
    return emulator_core.VENDORS[vendor].callback(app, change)


def post_callback(client, app, headers, body):
    """POSTs exactly these bytes and headers, as the vendor would."""
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return client.generic(
        "POST",
        f"/callbacks/{app.callback_id}/",
        data=body,
        content_type=headers.get("Content-Type", "application/json"),
        headers=extra,
    )

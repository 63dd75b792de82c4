"""Room callbacks as a vendor would send them, for tests that post them to our endpoint."""

import time

import time_machine

from rtc_emulator import core as emulator_core
from rtc_emulator.rooms import Change

from ..conftest import CALLBACK_SECRETS, EMULATED_APPS


def signed_callback(
    vendor, kind, room_id, user_id, *, at=None, secret=None, reason="left", signed_ago=0
):
    """(headers, body) of one signed join or leave, built by the emulator's vendor module.

    `signed_ago`: seconds before now at which the vendor signed it (negative: ahead of us); the
    vendor's clock is moved, so its event time and every time it signs move with it.
    """
    if signed_ago:
        with time_machine.travel(time.time() - signed_ago, tick=False):
            return signed_callback(
                vendor, kind, room_id, user_id, at=at, secret=secret, reason=reason
            )
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

"""One pace per vendor app and action, shared by every worker through Redis.

Each caller reserves the next free slot (GCRA without burst) and sleeps until it; slots are
spaced 1/rate apart, so a bulk action runs at the vendor's rate and never bursts past it.
"""

import time

from django.conf import settings

# Slots are reserved on Redis' clock, so workers on several machines agree.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local interval = tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_free < now then next_free = now end
redis.call('SET', KEYS[1], string.format('%.6f', next_free + interval),
           'PX', math.ceil(interval * 1000) + 60000)
return string.format('%.6f', next_free - now)
"""


def wait_for_slot(connection, *, app_pk: int, action: str, rate: float) -> float:
    """Blocks until this caller may make one `action` call for the app; returns seconds waited."""
    # Headroom below the documented rate absorbs network jitter between us and the vendor.
    interval = 1.0 / (rate * settings.VENDOR_RATE_HEADROOM)
    wait = float(
        connection.eval(_RESERVE, 1, f"moderation:rate:{app_pk}:{action}", f"{interval:.6f}")
    )
    if wait > 0:
        time.sleep(wait)
    return wait

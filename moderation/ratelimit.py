"""One rate limit per vendor app and action, shared by every worker through Redis.

A sliding-window log: a call may start while fewer than `limit` calls are in the window. Each
call is logged when it starts and moved to when its answer came back once it has, so a call
that reached the vendor late (a slow first connection, a busy machine) still counts at the
vendor's time, and no vendor window ever sees more than the limit.
"""

import contextlib
import math
import time
import uuid

from django.conf import settings

# Times are Redis' clock, so workers on several machines agree.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 60000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return string.format('%.6f', tonumber(oldest[2]) + window - now)
"""
_DONE = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(t[2]) / 1000000, ARGV[1])
"""


def window_for(rate: float) -> tuple[int, float]:
    """(calls, seconds): 50/s is 50 calls a second; 0.5/s is 1 call in 2 seconds."""
    calls = max(1, math.floor(rate))
    return calls, calls / rate + settings.VENDOR_RATE_MARGIN_SECONDS


@contextlib.contextmanager
def vendor_call_slot(connection, *, app_pk: int, action: str, rate: float):
    """Waits until the app may make one more `action` call, and logs the call around the block."""
    key = f"moderation:rate:{app_pk}:{action}"
    calls, window = window_for(rate)
    member = uuid.uuid4().hex
    while True:
        wait = float(connection.eval(_ACQUIRE, 1, key, calls, f"{window:.6f}", member))
        if wait <= 0:
            break
        time.sleep(wait)
    try:
        yield
    finally:
        connection.eval(_DONE, 1, key, member)

"""One rate limit per vendor app and action, shared by every worker through Redis.

A sliding-window log: a call may start while fewer than `limit` calls are in the window. Each
call is logged when it starts and moved to when its answer came back once it has, so a call
that reached the vendor late (a slow first connection, a busy machine) still counts at the
vendor's time, and no vendor window ever sees more than the limit.

Interactive calls (a moderator's action on a few users) go first: one that finds the window
full marks itself waiting, and while a mark lives no bulk call takes a slot, so the next slot
that frees is the interactive call's. Priority only decides who takes a free slot, never
whether there is one: every call, of either kind, still needs fewer than `limit` in the window.
A mark lives a second longer than its caller's longest sleep between two tries (one window)
and goes once it has its slot or gives up, so the bulk is held back only while an interactive
call really waits: by one whose process died, for a window and a second at most. Without a
mark the bulk takes every slot, as if there were no priority.
"""

import contextlib
import math
import time
import uuid

from django.conf import settings

# A bulk call that gives way to an interactive one asks again this soon: the interactive call
# takes the slot as it frees, and the bulk takes the next one.
YIELD_SECONDS = 0.01
# A waiting mark outlives its caller's next try by this much.
WAITING_GRACE_SECONDS = 1.0

# KEYS: the log of calls, the marks of interactive calls waiting (member -> until when).
# ARGV: limit, window, member, interactive ("1" or "0"), how long a mark lives, yield seconds.
# Times are Redis' clock, so workers on several machines agree.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local interactive = ARGV[4] == '1'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local free = redis.call('ZCARD', KEYS[1]) < limit
local give_way = not interactive and redis.call('ZCARD', KEYS[2]) > 0
if free and not give_way then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 60000)
  if interactive then redis.call('ZREM', KEYS[2], ARGV[3]) end
  return '0'
end
if interactive then
  local lives = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[2], now + lives, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], math.ceil(lives * 1000))
end
if free then return ARGV[6] end
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
def vendor_call_slot(
    connection, *, app_pk: int, action: str, rate: float, interactive: bool = False
):
    """Waits until the app may make one more `action` call, and logs the call around the block.

    An `interactive` call takes the next free slot ahead of every bulk call waiting for one.
    """
    key = f"moderation:rate:{app_pk}:{action}"
    waiting = f"{key}:interactive"
    calls, window = window_for(rate)
    member = uuid.uuid4().hex
    # The longest sleep between two tries is one window.
    args = (calls, f"{window:.6f}", member, int(interactive), window + WAITING_GRACE_SECONDS)
    try:
        while True:
            wait = float(connection.eval(_ACQUIRE, 2, key, waiting, *args, YIELD_SECONDS))
            if wait <= 0:
                break
            time.sleep(wait)
    except BaseException:
        if interactive:  # the bulk need not wait for a call that is no longer coming
            with contextlib.suppress(Exception):
                connection.zrem(waiting, member)
        raise
    try:
        yield
    finally:
        connection.eval(_DONE, 1, key, member)

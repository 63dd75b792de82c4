"""The shared limiter, on a real Redis: never more than the limit in any window, from any caller;
interactive callers take the next free slot ahead of bulk ones."""

import subprocess
import sys
import threading
import time

import pytest

from moderation.ratelimit import vendor_call_slot, window_for

from .support.workers import ROOT, wait_until


def test_a_rate_below_one_per_second_becomes_one_call_per_longer_window(settings):
    settings.VENDOR_RATE_MARGIN_SECONDS = 0.02
    assert window_for(50) == (50, 1.02)
    assert window_for(0.5) == (1, 2.02)


@pytest.mark.parametrize("mixed", [False, True], ids=["bulk", "bulk-and-interactive"])
def test_callers_in_several_threads_never_exceed_the_limit_in_any_window(redis_connection, mixed):
    """Four threads of six calls each, half of them interactive when `mixed`: at most the limit
    in any window, and every call made without a slot left unused for long."""
    starts, lock = [], threading.Lock()

    def caller(interactive):
        for _ in range(6):
            with vendor_call_slot(
                redis_connection, app_pk=1, action="KickoutUser", rate=10, interactive=interactive
            ):
                with lock:
                    starts.append(time.monotonic())
                time.sleep(0.005)  # the call itself

    threads = [threading.Thread(target=caller, args=(mixed and n % 2 == 0,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    starts.sort()
    assert len(starts) == 24
    # Any 11 consecutive calls span more than a second: at most 10 in any one-second window.
    assert min(b - a for a, b in zip(starts, starts[10:], strict=False)) > 1.0
    # ...and the limiter did not hold back more than it had to.
    assert starts[-1] - starts[0] < 2 * 1.02 + 0.5


def test_apps_and_actions_have_limits_of_their_own(redis_connection):
    began = time.monotonic()
    for app_pk, action in [(1, "KickoutUser"), (2, "KickoutUser"), (1, "CloseRoom")]:
        with vendor_call_slot(redis_connection, app_pk=app_pk, action=action, rate=1):
            pass
    assert time.monotonic() - began < 0.5


# --- Interactive before bulk ------------------------------------------------------------------


def _taking(connection, order, name, *, interactive):
    def take():
        with vendor_call_slot(
            connection, app_pk=1, action="RemoveUser", rate=1, interactive=interactive
        ):
            order.append((name, time.monotonic()))

    return threading.Thread(target=take, name=name)


def test_a_bulk_caller_waiting_first_gives_the_next_slot_to_a_slower_interactive_caller(
    redis_connection, monkeypatch
):
    sleep = time.sleep
    bulk_waiting = threading.Event()

    def slow_for_the_interactive_caller(seconds):
        if threading.current_thread().name == "bulk":
            bulk_waiting.set()
        # It wakes after the bulk caller each time: only its priority gets it the slot first.
        sleep(seconds + (0.1 if threading.current_thread().name == "interactive" else 0))

    monkeypatch.setattr("moderation.ratelimit.time.sleep", slow_for_the_interactive_caller)
    began = time.monotonic()
    with vendor_call_slot(redis_connection, app_pk=1, action="RemoveUser", rate=1):
        pass  # the window's one call: both below must wait for the next slot
    order = []
    bulk = _taking(redis_connection, order, "bulk", interactive=False)
    urgent = _taking(redis_connection, order, "interactive", interactive=True)
    bulk.start()
    assert bulk_waiting.wait(timeout=5)  # the bulk caller waits when the interactive one comes
    urgent.start()
    bulk.join()
    urgent.join()

    assert [name for name, _at in order] == ["interactive", "bulk"]
    (_, interactive_at), (_, bulk_at) = order
    # The interactive call took the slot that freed first; the bulk the one after it.
    assert 1.0 < interactive_at - began < 1.02 + 0.1 + 0.3
    assert 2.0 < bulk_at - began < 2 * 1.02 + 0.1 + 0.4


def test_an_interactive_caller_that_gives_up_stops_holding_the_bulk_back_at_once(
    redis_connection, monkeypatch
):
    with vendor_call_slot(redis_connection, app_pk=1, action="RemoveUser", rate=1):
        pass

    class GaveUp(Exception):
        pass

    def stop(_seconds):
        raise GaveUp

    monkeypatch.setattr("moderation.ratelimit.time.sleep", stop)
    with (
        pytest.raises(GaveUp),
        vendor_call_slot(redis_connection, app_pk=1, action="RemoveUser", rate=1, interactive=True),
    ):
        raise AssertionError("the window was full: no slot to take")

    assert redis_connection.zcard("moderation:rate:1:RemoveUser:interactive") == 0


def test_an_interactive_caller_killed_while_waiting_holds_the_bulk_back_a_window_and_a_second_at_most(  # noqa: E501
    redis_connection,
):
    waiter = subprocess.Popen(
        [sys.executable, "-c", INTERACTIVE_CALLER],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiter.stdout.readline() == "ready\n"
        with vendor_call_slot(redis_connection, app_pk=1, action="RemoveUser", rate=1):
            pass  # the window's one call: the interactive caller must wait
        waiter.stdin.write("go\n")
        waiter.stdin.flush()
        wait_until(
            lambda: redis_connection.zcard("moderation:rate:1:RemoveUser:interactive"),
            message="the interactive caller waiting",
        )
        marked = time.monotonic()
    finally:
        waiter.kill()  # it never comes back for its slot
        waiter.wait()

    with vendor_call_slot(redis_connection, app_pk=1, action="RemoveUser", rate=1):
        taken = time.monotonic()

    # Its mark lives one window (1.02 s) and a second past its last try, then the bulk goes on.
    assert taken - marked < 1.02 + 1.0 + 0.3


INTERACTIVE_CALLER = """
import os
from django.conf import settings
settings.configure(VENDOR_RATE_MARGIN_SECONDS=0.02)
import redis
from moderation.ratelimit import vendor_call_slot
connection = redis.Redis.from_url(os.environ["REDIS_URL"])
connection.ping()
print("ready", flush=True)
input()
with vendor_call_slot(connection, app_pk=1, action="RemoveUser", rate=1, interactive=True):
    pass
"""

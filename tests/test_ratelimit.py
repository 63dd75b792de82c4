"""The shared limiter, on a real Redis: never more than the limit in any window, from any caller."""

import threading
import time

from moderation.ratelimit import vendor_call_slot, window_for


def test_a_rate_below_one_per_second_becomes_one_call_per_longer_window(settings):
    settings.VENDOR_RATE_MARGIN_SECONDS = 0.02
    assert window_for(50) == (50, 1.02)
    assert window_for(0.5) == (1, 2.02)


def test_callers_in_several_threads_never_exceed_the_limit_in_any_window(redis_connection):
    starts, lock = [], threading.Lock()

    def caller():
        for _ in range(6):
            with vendor_call_slot(redis_connection, app_pk=1, action="KickoutUser", rate=10):
                with lock:
                    starts.append(time.monotonic())
                time.sleep(0.005)  # the call itself

    threads = [threading.Thread(target=caller) for _ in range(4)]
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

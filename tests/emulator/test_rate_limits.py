"""Rate limits per app and action: at most N accepted calls in any one-second window."""

import time

from hypothesis import given
from hypothesis import strategies as st

from rtc_emulator import Emulator
from rtc_emulator.core import RateLimiter

from .conftest import register_apps
from .signed import VOLCENGINE, Vendors, tencent_error, volcengine_error, zego_code


def fire(call, count: int) -> tuple[list, float]:
    started = time.monotonic()
    responses = [call() for _ in range(count)]
    return responses, time.monotonic() - started


def test_25_ban_room_user_calls_within_a_second_get_exactly_5_throttled(emulator, vendors):
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r", "UserId": "u", "ForbiddenInterval": 60}
    responses, elapsed = fire(lambda: vendors.volcengine("BanRoomUser", body), 25)
    assert elapsed < 1.0, "the burst must fit in one window for the count to be exact"
    throttled = [r for r in responses if r.status_code == 429]
    assert len(throttled) == 5
    assert {volcengine_error(r) for r in throttled} == {"FlowLimitExceeded.QPSOverLimit"}
    assert emulator.throttled == 5
    assert sum(call.throttled for call in emulator.calls) == 5


def test_limits_are_counted_per_action(vendors):
    body = {"AppId": VOLCENGINE["app_id"], "RoomId": "r", "UserId": "u"}
    for _ in range(20):
        vendors.volcengine("BanRoomUser", body)
    assert vendors.volcengine("BanRoomUser", body).status_code == 429
    assert vendors.volcengine("KickUser", body).status_code == 200


def test_zego_close_room_is_limited_to_one_call_a_second_by_default(emulator, vendors):
    responses, _ = fire(lambda: vendors.zego("CloseRoom", [("RoomId", "r")]), 3)
    assert [zego_code(r) for r in responses] == [0, 206, 206]
    assert emulator.state()["throttled"] == 2


def test_a_registered_lower_limit_replaces_the_documented_one():
    with Emulator() as emulator:
        register_apps(emulator, tencent={"RemoveUser": 3})
        vendors = Vendors(emulator.start())
        body = {"SdkAppId": 1400000001, "RoomId": 1, "UserIds": ["a"]}
        responses, _ = fire(lambda: vendors.tencent("RemoveUser", body), 5)
        codes = [tencent_error(r) for r in responses]
        assert codes == ["", "", "", "RequestLimitExceeded", "RequestLimitExceeded"]
        # Another action of the same app keeps the documented 20/s.
        assert tencent_error(vendors.tencent("DismissRoom", {**body, "UserIds": None})) == ""


def test_the_window_slides_so_calls_pass_again_a_second_later():
    with Emulator() as emulator:
        register_apps(emulator, zego={"KickoutUser": 2})
        vendors = Vendors(emulator.start())
        kick = [("RoomId", "r"), ("UserId[]", "a")]
        assert [zego_code(vendors.zego("KickoutUser", kick)) for _ in range(3)] == [0, 0, 206]
        time.sleep(1.05)
        assert zego_code(vendors.zego("KickoutUser", kick)) == 0


@given(
    limit=st.integers(min_value=1, max_value=5),
    gaps=st.lists(st.floats(min_value=0, max_value=0.6), min_size=1, max_size=40),
)
def test_no_one_second_window_ever_holds_more_than_the_limit(limit, gaps):
    limiter = RateLimiter()
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        if limiter.admit(("app", "action"), limit, now):
            admitted.append(now)
        else:
            # A refusal means the window before it is full.
            assert sum(1 for t in admitted if now - t < 1.0) == limit
    for start in admitted:
        assert sum(1 for t in admitted if start <= t < start + 1.0) <= limit

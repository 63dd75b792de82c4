"""Injected faults: each vendor's own 5xx, timeout and throttling answers, for the next N calls."""

import threading
import time

import pytest
import requests

from .signed import VOLCENGINE, tencent_error, volcengine_error, zego_code

DISMISS = {"AppId": VOLCENGINE["app_id"], "RoomId": "r"}
ZEGO_CLOSE = [("RoomId", "r")]
TENCENT_DISMISS = {"SdkAppId": 1400000001, "RoomId": 1}


@pytest.mark.parametrize(
    ("status", "code"),
    [(None, "InternalError"), (503, "ServiceUnavailableTemp"), (504, "InternalServiceTimeout")],
)
def test_a_volcengine_5xx_fault_answers_with_the_vendors_server_error(
    emulator, vendors, status, code
):
    emulator.fail_next(vendor="volcengine", mode="5xx", status=status)
    response = vendors.volcengine("DismissRoom", DISMISS)
    assert (response.status_code, volcengine_error(response)) == (status or 500, code)
    assert vendors.volcengine("DismissRoom", DISMISS).status_code == 200


def test_a_zego_5xx_fault_answers_with_a_plain_text_502(emulator, vendors):
    emulator.fail_next(vendor="zego")
    response = vendors.zego("CloseRoom", ZEGO_CLOSE)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        response.json()


def test_a_tencent_5xx_fault_answers_internal_error_inside_http_200(emulator, vendors):
    emulator.fail_next(vendor="tencent")
    assert tencent_error(vendors.tencent("DismissRoom", TENCENT_DISMISS)) == "InternalError"


def test_a_throttle_fault_gives_each_vendors_throttling_answer_and_counts(emulator, vendors):
    emulator.fail_next(mode="throttle", count=3)
    volcengine = vendors.volcengine("DismissRoom", DISMISS)
    assert (volcengine.status_code, volcengine_error(volcengine)) == (
        429,
        "FlowLimitExceeded.QPSOverLimit",
    )
    assert zego_code(vendors.zego("CloseRoom", ZEGO_CLOSE)) == 206
    assert tencent_error(vendors.tencent("DismissRoom", TENCENT_DISMISS)) == "RequestLimitExceeded"
    assert emulator.throttled == 3
    assert [call.fault for call in emulator.calls] == ["throttle"] * 3


def test_a_fault_fails_exactly_count_calls_of_its_vendor_and_app_only(emulator, vendors):
    emulator.fail_next(vendor="zego", app_id="1234567890", count=2)
    assert tencent_error(vendors.tencent("DismissRoom", TENCENT_DISMISS)) == ""
    statuses = [vendors.zego("CloseRoom", ZEGO_CLOSE).status_code for _ in range(2)]
    assert statuses == [502, 502]
    # Failed calls never reached the rate limiter, so CloseRoom's 1/s is still unspent.
    assert zego_code(vendors.zego("CloseRoom", ZEGO_CLOSE)) == 0
    assert emulator.state()["faults"] == []


def test_a_fault_for_another_app_leaves_this_one_alone(emulator, vendors):
    emulator.fail_next(vendor="volcengine", app_id="someone-else")
    assert vendors.volcengine("DismissRoom", DISMISS).status_code == 200
    assert len(emulator.state()["faults"]) == 1


def test_a_timeout_fault_holds_the_answer_past_the_clients_read_timeout(emulator, vendors):
    emulator.join(vendor="volcengine", app_id=VOLCENGINE["app_id"], room_id="r", user_id="u")
    emulator.fail_next(vendor="volcengine", mode="timeout", delay=1.0)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        vendors.volcengine("DismissRoom", DISMISS, timeout=0.3)
    assert time.monotonic() - started < 0.9
    # The next call is not held; the held one is still acted on once its delay passes, as a
    # vendor that answers late still does the work.
    assert vendors.volcengine("KickUser", {**DISMISS, "UserId": "x"}).status_code == 200
    held = wait_for(lambda: [call for call in emulator.calls if call.fault == "timeout"])
    assert [(call.action, call.http_status) for call in held] == [("DismissRoom", 200)]
    assert emulator.members(vendor="volcengine", app_id=VOLCENGINE["app_id"], room_id="r") == set()


def test_stopping_the_emulator_releases_a_held_call(emulator, vendors):
    emulator.fail_next(mode="timeout", delay=30)
    failures = []

    def call():
        try:
            vendors.zego("CloseRoom", ZEGO_CLOSE, timeout=10)
        except requests.exceptions.RequestException as exc:
            failures.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    emulator.stop()
    caller.join(timeout=5)
    assert time.monotonic() - started < 2
    assert failures, "the held call ends without an answer"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "explode"},
        {"count": 0},
        {"delay": -1},
        {"vendor": "agora"},
        {"mode": "5xx", "status": 500},
        {"vendor": "tencent", "status": 500},
        {"vendor": "volcengine", "status": 502},
    ],
)
def test_a_malformed_fault_is_refused(emulator, kwargs):
    with pytest.raises(ValueError):
        emulator.fail_next(**kwargs)


def wait_for(probe, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (result := probe()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result

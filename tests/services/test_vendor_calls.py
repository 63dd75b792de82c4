"""How a vendor's answer is read (services.vendor_calls.outcome): the one place that decides."""

import pytest

from moderation.services.vendor_calls import Outcome, outcome, vendor_client
from moderation.vendors.base import CallResult


def answer(**fields):
    return CallResult(action="KickoutUser", params={}, **fields)


@pytest.fixture
def zego(zego_app):
    client = vendor_client(zego_app)
    yield client
    client.close()


def test_an_accepted_call_is_done(zego):
    assert outcome(zego, answer(ok=True), attempt=1) is Outcome.DONE


@pytest.mark.parametrize("code", ["104", "105", "5024", "50001"])
def test_zegos_no_such_room_or_user_means_nobody_there(zego, code):
    assert outcome(zego, answer(ok=False, vendor_code=code), attempt=1) is Outcome.NOBODY_THERE


def test_a_retryable_answer_is_tried_again_until_the_last_attempt(zego, settings):
    settings.VENDOR_MAX_ATTEMPTS = 3
    busy = answer(ok=False, vendor_code="1", http_status=503, retryable=True)

    assert outcome(zego, busy, attempt=1) is Outcome.RETRY
    assert outcome(zego, busy, attempt=2) is Outcome.RETRY
    assert outcome(zego, busy, attempt=3) is Outcome.FAILED


def test_a_refusal_that_is_not_retryable_fails_at_once(zego):
    refused = answer(ok=False, vendor_code="100000004", retryable=False)

    assert outcome(zego, refused, attempt=1) is Outcome.FAILED

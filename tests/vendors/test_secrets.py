"""The secret is in each request's signature input and nowhere else: not in a result, a log line,
an exception, or a repr. The apps' secrets are canaries (see conftest)."""

import logging

import pytest

from moderation.vendors import VENDORS, VendorInputError, client_for

from .conftest import APPS, connection

ROOM = "room-1"


def every_request(client):
    """One of each request the vendor's client builds."""
    built = [*client.kick_requests(room_id=ROOM, user_ids=["u1", "u2"], reason="spam")]
    built.append(client.close_room_request(room_id=ROOM, reason="raid"))
    if client.vendor == "volcengine":
        built += [
            client.ban_request(room_id=ROOM, user_id="u1", seconds=5),
            client.ban_request(room_id=None, user_id="u1", seconds=60),
            client.update_ban_request(room_id=ROOM, user_id="u1", seconds=120),
            client.lift_request(room_id=ROOM, user_id="u1"),
        ]
    return built


def assert_no_secret(secret, *texts):
    for text in texts:
        assert secret not in text


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_result_or_log_line_holds_the_secret(emu, client, closed_port_url, vendor, debug_logs):
    secret = APPS[vendor]["secret"]
    results = []
    good = client(vendor, timeout=(2.0, 0.3))
    for request in every_request(good):
        assert_no_secret(secret, repr(request))
        results.append(good.send(request))
    for mode in ("throttle", "5xx", "timeout"):
        emu.fail_next(vendor=vendor, count=1, mode=mode, delay=2)
        results.append(good.send(every_request(good)[0]))
    results.append(good.test_connection())

    # A wrong secret has to stay out as well: it may be a typo of the real one.
    wrong = client(vendor, secret=secret + "-typo")
    results += [wrong.send(r) for r in every_request(wrong)] + [wrong.test_connection()]

    offline = client_for(connection(vendor, closed_port_url + "/" + vendor))
    results.append(offline.send(every_request(offline)[0]))

    assert any(r.ok for r in results) and any(not r.ok for r in results)
    for result in results:
        assert_no_secret(secret, repr(result), str(result.params), str(result.details))
    assert_no_secret(secret, debug_logs.text, repr(good), repr(good.connection))
    assert debug_logs.records  # the calls were logged, just not the secret


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_vendor_echoing_the_secret_is_redacted(canned, vendor):
    secret = APPS[vendor]["secret"]
    echo = f"bad signature for key {secret}"
    canned.answer(
        400,
        {
            "ResponseMetadata": {"Error": {"Code": "InvalidParameter", "Message": echo}},
            "Code": 2,
            "Message": echo,
            "Response": {"Error": {"Code": "InvalidParameter", "Message": echo}},
        },
    )
    target = client_for(connection(vendor, canned.url("/" + vendor)))

    result = target.send(every_request(target)[0])

    assert not result.ok
    assert "[redacted]" in result.vendor_message
    assert_no_secret(secret, repr(result))


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_input_error_holds_the_secret(vendor):
    secret = APPS[vendor]["secret"]
    target = client_for(connection(vendor))
    attempts = [
        lambda: target.kick_requests(room_id=ROOM, user_ids=[]),
        lambda: target.kick_requests(room_id="", user_ids=["a"]),
        lambda: target.kick_requests(room_id=ROOM, user_ids=["x" * 300]),
        lambda: target.close_room_request(room_id=""),
        lambda: client_for(connection(vendor, app_id="", region="nowhere")),
        lambda: client_for(connection(vendor, endpoint=f"http://user:{secret}@example.com")),
    ]
    if vendor == "zego":
        attempts.append(
            lambda: target.kick_requests(room_id=ROOM, user_ids=["a"], reason=secret * 20)
        )
    if vendor == "volcengine":
        attempts.append(lambda: target.ban_request(room_id=None, user_id=None, seconds=1))

    for attempt in attempts:
        with pytest.raises(VendorInputError) as error:
            attempt()
        assert_no_secret(secret, str(error.value), repr(error.value), error.value.message)

import pytest

from moderation.vendors import (
    VENDOR_CHOICES,
    VENDORS,
    AppConnection,
    TencentClient,
    VendorInputError,
    VolcengineClient,
    ZegoClient,
    capabilities_for,
    client_for,
)
from moderation.vendors.base import DEFAULT_TIMEOUT, parse_endpoint

from .conftest import connection


def test_it_maps_each_vendor_key_to_its_client():
    assert {"volcengine": VolcengineClient, "zego": ZegoClient, "tencent": TencentClient} == VENDORS
    assert VENDOR_CHOICES == [
        ("volcengine", "Volcengine RTC"),
        ("zego", "ZEGO"),
        ("tencent", "Tencent TRTC"),
    ]


@pytest.mark.parametrize("vendor", VENDORS)
def test_client_for_picks_the_class_and_passes_the_timeout(vendor):
    client = client_for(connection(vendor), timeout=(1, 2))

    assert type(client) is VENDORS[vendor]
    assert client.timeout == (1, 2)
    assert client_for(connection(vendor)).timeout == DEFAULT_TIMEOUT


def test_an_unknown_vendor_is_an_input_error_listing_the_known_ones():
    with pytest.raises(VendorInputError) as error:
        client_for(AppConnection(vendor="agora", app_id="1", secret="s"))

    assert error.value.field == "vendor"
    assert "volcengine, zego, tencent" in error.value.message
    with pytest.raises(VendorInputError):
        capabilities_for("agora")


def test_only_volcengine_bans_natively_and_everywhere():
    volc, zego, trtc = (capabilities_for(v) for v in ("volcengine", "zego", "tencent"))

    assert (volc.native_ban, volc.max_ban_seconds, volc.lift, volc.every_room) == (
        True,
        604_800,
        True,
        True,
    )
    for kick_only in (zego, trtc):
        assert (kick_only.native_ban, kick_only.max_ban_seconds, kick_only.lift) == (
            False,
            None,
            False,
        )
        assert not kick_only.every_room
    assert all(c.kick and c.whole_room for c in (volc, zego, trtc))


def test_batch_sizes_and_rate_limits_follow_the_vendors_pages():
    assert capabilities_for("volcengine").batch_size == 1
    assert capabilities_for("zego").batch_size == 5
    assert capabilities_for("tencent").batch_size == 10
    assert capabilities_for("volcengine").rate_limits == {
        "BanRoomUser": 20,
        "UpdateBanRoomUserRule": 20,
        "KickUser": 60,
        "DismissRoom": 60,
        "BanUserStream": 60,
        "UnbanUserStream": 60,
    }
    assert capabilities_for("zego").rate_limits == {
        "KickoutUser": 50,
        "CloseRoom": 1,
        "ForbidRTCStream": 20,
        "ResumeRTCStream": 20,
    }
    assert set(capabilities_for("tencent").rate_limits.values()) == {20}


def test_each_vendor_lists_its_regions():
    assert VolcengineClient.REGIONS == ("cn-north-1", "ap-singapore-1")
    assert TencentClient.REGIONS == ("ap-beijing", "ap-guangzhou", "ap-singapore")
    assert ZegoClient.REGIONS == ()


@pytest.mark.parametrize(
    "endpoint",
    [
        "ftp://example.com",
        "example.com",
        "http://",
        "http://h/x?q=1",
        "http://h:port",
        "http://u:p@h",
        "https://h:0",
        "https://h:65536",
        "https://h:/",
        "https://h/?",
        "https://h/#",
        "https://h x/",
        "https://h/\nx",
        "https://-h-/",
        "https://[::1",
        "https://[v1.x]/",
    ],
)
def test_it_refuses_an_endpoint_that_is_not_a_plain_base_url(endpoint):
    with pytest.raises(VendorInputError) as error:
        client_for(connection("zego", endpoint))

    assert error.value.field == "endpoint"


def test_plain_http_to_a_host_other_than_this_machine_is_refused_only_when_asked():
    assert parse_endpoint("http://rtc.internal:8080/x").netloc == "rtc.internal:8080"
    for loopback in (
        "http://127.0.0.1:8090/x",
        "http://127.9.0.1/",
        "http://localhost/",
        "http://[::1]/",
    ):
        parse_endpoint(loopback, allow_plain_http=False)
    with pytest.raises(VendorInputError) as error:
        parse_endpoint("http://rtc.internal:8080/x", allow_plain_http=False)

    assert (error.value.field, error.value.code) == ("endpoint", "plain_http")
    assert parse_endpoint("https://rtc.internal/x", allow_plain_http=False).scheme == "https"


def test_a_trailing_slash_on_the_endpoint_changes_nothing():
    a = client_for(connection("tencent", "http://127.0.0.1:8090/tencent/"))
    b = client_for(connection("tencent", "http://127.0.0.1:8090/tencent"))

    assert a.endpoint == b.endpoint
    assert a.endpoint.root == "http://127.0.0.1:8090/tencent/"


@pytest.mark.parametrize("key_id", ["AKLT key", "AKLT\n", "AKLT密钥"])
def test_it_refuses_an_access_key_id_that_cannot_travel_in_a_header(key_id):
    with pytest.raises(VendorInputError) as error:
        client_for(connection("volcengine", access_key_id=key_id))

    assert error.value.field == "access_key_id"

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from moderation.models import (
    Ban,
    CannedReason,
    ModerationLog,
    Room,
    Vendor,
    VendorApp,
    VendorCall,
)

from .conftest import ZEGO_SECRET


def errors_of(app):
    with pytest.raises(ValidationError) as caught:
        app.full_clean()
    return caught.value.message_dict


def volcengine(**fields):
    app = VendorApp(
        name="Volc",
        vendor=Vendor.VOLCENGINE,
        vendor_app_id="661e543cf",
        region="cn-north-1",
        access_key_id="AKLTexample",
    )
    app.secret = fields.pop("secret", "volc-secret")
    for name, value in fields.items():
        setattr(app, name, value)
    return app


def zego(**fields):
    app = VendorApp(name="Zego", vendor=Vendor.ZEGO, vendor_app_id="1234567890")
    app.secret = fields.pop("secret", ZEGO_SECRET)
    for name, value in fields.items():
        setattr(app, name, value)
    return app


def tencent(**fields):
    app = VendorApp(
        name="TRTC",
        vendor=Vendor.TENCENT,
        vendor_app_id="1400000001",
        region="ap-guangzhou",
        access_key_id="AKIDexample",
    )
    app.secret = fields.pop("secret", "tencent-secret")
    for name, value in fields.items():
        setattr(app, name, value)
    return app


@pytest.mark.django_db
@pytest.mark.parametrize("make", [volcengine, zego, tencent])
def test_a_well_formed_app_of_each_vendor_validates(make):
    make().full_clean()


@pytest.mark.django_db
def test_it_rejects_a_zego_app_id_that_does_not_fit_32_bits():
    assert "4294967295" in errors_of(zego(vendor_app_id="4294967296"))["vendor_app_id"][0]
    assert "vendor_app_id" in errors_of(zego(vendor_app_id="12ab"))


@pytest.mark.django_db
def test_it_rejects_a_zego_server_secret_that_is_not_32_hex_characters():
    message = "A ZEGO ServerSecret is 32 hexadecimal characters."
    assert errors_of(zego(secret="too-short"))["secret"] == [message]
    assert errors_of(zego(secret="g" * 32))["secret"] == [message]


@pytest.mark.django_db
def test_it_rejects_a_tencent_sdk_app_id_that_is_not_a_number():
    assert "vendor_app_id" in errors_of(tencent(vendor_app_id="trtc-app"))


@pytest.mark.django_db
def test_it_rejects_a_region_the_vendor_api_does_not_serve():
    assert errors_of(tencent(region="eu-frankfurt"))["region"] == [
        "Tencent TRTC serves these regions: ap-beijing, ap-guangzhou, ap-singapore."
    ]
    assert "cn-north-1" in errors_of(volcengine(region="ap-beijing"))["region"][0]
    assert "ZEGO takes no region" in errors_of(zego(region="ap-beijing"))["region"][0]


@pytest.mark.django_db
def test_it_requires_the_key_id_for_volcengine_and_tencent():
    assert errors_of(volcengine(access_key_id=""))["access_key_id"] == ["Enter the AccessKeyId."]
    assert errors_of(tencent(access_key_id=""))["access_key_id"] == ["Enter the SecretId."]


@pytest.mark.django_db
def test_it_requires_a_secret():
    app = VendorApp(name="No secret", vendor=Vendor.ZEGO, vendor_app_id="42")
    assert errors_of(app)["secret"] == ["Enter the secret: ServerSecret."]


@pytest.mark.django_db
def test_it_rejects_rate_limits_that_are_not_positive_numbers():
    assert "rate_limits" in errors_of(zego(rate_limits={"KickoutUser": -1}))
    assert "rate_limits" in errors_of(zego(rate_limits={"KickoutUser": "fast"}))


@pytest.mark.django_db
def test_it_rejects_nested_rate_limits_and_names_over_64_characters():
    assert "rate_limits" in errors_of(zego(rate_limits={"KickoutUser": {"per_second": 1}}))
    assert "rate_limits" in errors_of(zego(rate_limits={"K" * 65: 1}))
    zego(rate_limits={"K" * 64: 1}).full_clean()


@pytest.mark.django_db
def test_the_model_checks_the_endpoint_with_the_vendor_layer_s_rule_not_django_s():
    # Django's URLValidator refuses a one-word host and takes ftp://; the clients do the opposite.
    volcengine(endpoint="https://rtc-gateway:8443/volcengine").full_clean()
    assert "endpoint" in errors_of(volcengine(endpoint="ftp://rtc.example.com/"))
    assert "endpoint" in errors_of(volcengine(endpoint="https://rtc.example.com/" + "x" * 200))


@pytest.mark.django_db
def test_it_rejects_app_ids_in_digits_the_vendors_do_not_read():
    assert "vendor_app_id" in errors_of(zego(vendor_app_id="１２３"))  # full-width
    assert "vendor_app_id" in errors_of(tencent(vendor_app_id="١٤٠٠"))  # Arabic-Indic


@pytest.mark.django_db
def test_a_room_or_canned_reason_with_control_characters_is_refused(zego_app):
    room = Room(app=zego_app, room_id="live\u202e1", label="ok")
    assert set(errors_of(room)) == {"room_id"}
    reason = CannedReason(text="Spam", text_zh="垃圾\x07信息")
    assert set(errors_of(reason)) == {"text_zh"}
    Room(app=zego_app, room_id="live-2", label="晚间节目").full_clean()
    CannedReason(text="Raid from another channel", text_zh="其他频道刷屏").full_clean()


@pytest.mark.django_db
def test_the_connection_carries_the_decrypted_secret_but_never_shows_it(zego_app):
    connection = zego_app.connection()
    assert connection.secret == ZEGO_SECRET
    assert ZEGO_SECRET not in repr(connection)


@pytest.mark.django_db
def test_a_ban_must_match_its_scope(room):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ban.objects.create(
            app=room.app, room=room, user_id="", kind="ban", scope="user_in_room", reason="x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Ban.objects.create(
            app=room.app, room=None, user_id="", kind="ban", scope="user_everywhere", reason="x"
        )


@pytest.mark.django_db
def test_a_kick_has_no_duration_and_no_ban_statuses(room):
    with pytest.raises(IntegrityError), transaction.atomic():
        Ban.objects.create(
            app=room.app,
            room=room,
            user_id="u1",
            kind="kick",
            scope="user_in_room",
            requested_seconds=600,
            reason="x",
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Ban.objects.create(
            app=room.app,
            room=room,
            user_id="u1",
            kind="kick",
            scope="user_in_room",
            status="active",
            reason="x",
        )


@pytest.mark.django_db
def test_calls_and_log_entries_are_append_only(room):
    ban = Ban.objects.create(
        app=room.app, room=room, user_id="u1", kind="ban", scope="user_in_room", reason="spam"
    )
    entry = ModerationLog.objects.create(ban=ban, event="created")
    call = VendorCall.objects.create(app=room.app, action="KickoutUser", ok=True, latency_ms=12.5)
    for record in (entry, call):
        with pytest.raises(ValueError, match="append-only"):
            record.save()
        with pytest.raises(ValueError, match="append-only"):
            record.delete()


@pytest.mark.django_db
def test_room_ids_are_unique_per_app(room):
    with pytest.raises(IntegrityError):
        Room.objects.create(app=room.app, room_id=room.room_id)

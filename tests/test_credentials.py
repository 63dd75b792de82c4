"""Vendor credentials: encrypted at rest, and the vendor-app form that takes them, which
refuses what the vendors or our own clients would refuse, and the app's delete page."""

import json

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from moderation import credentials, services
from moderation.credentials import CredentialError
from moderation.forms import json_nesting
from moderation.models import (
    ENDPOINT_ERRORS,
    CallbackDelivery,
    Presence,
    PublishedStream,
    VendorApp,
    VendorCall,
)
from moderation.vendors import client_for
from moderation.vendors.base import VendorInputError, parse_endpoint

from .conftest import ZEGO_SECRET


@pytest.mark.django_db
def test_the_database_column_never_holds_the_secret(zego_app):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_ciphertext FROM moderation_vendorapp WHERE id = %s", [zego_app.pk]
        )
        (stored,) = cursor.fetchone()
    assert stored
    assert ZEGO_SECRET not in stored
    assert VendorApp.objects.get(pk=zego_app.pk).secret == ZEGO_SECRET


@pytest.mark.django_db
def test_a_wrong_key_raises_instead_of_returning_ciphertext(zego_app, settings):
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    app = VendorApp.objects.get(pk=zego_app.pk)
    with pytest.raises(CredentialError, match="cannot be decrypted with any key"):
        app.secret  # noqa: B018


def test_any_listed_key_decrypts_and_the_first_encrypts(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old]
    token = credentials.encrypt("s3cret")
    settings.CREDENTIAL_KEYS = [new, old]
    assert credentials.decrypt(token) == "s3cret"
    rotated = credentials.reencrypt(token)
    settings.CREDENTIAL_KEYS = [new]
    assert credentials.decrypt(rotated) == "s3cret"
    with pytest.raises(CredentialError):
        credentials.decrypt(token)


# --- The vendor-app form refuses what the vendors or our own clients would refuse ---------------

TENCENT_APP = {
    "name": "TRTC prod",
    "vendor": "tencent",
    "vendor_app_id": "1400000001",
    "region": "ap-singapore",
    "access_key_id": "AKIDexample",
    "secret": "tencent-secret-key",
    "callback_secret": "",
    "endpoint": "",
    "enabled": "on",
    "rate_limits": "{}",
}
ZEGO_APP = {
    "name": "ZEGO prod",
    "vendor": "zego",
    "vendor_app_id": "271828",
    "secret": ZEGO_SECRET,
    "callback_secret": "",
    "endpoint": "",
    "enabled": "on",
    "rate_limits": "{}",
}


@pytest.fixture
def add_app(client, credential_manager):
    """add_app(**changes) -> the add form's answer and its errors, for a Tencent app."""
    client.force_login(credential_manager)

    def post(base=TENCENT_APP, **changes):
        response = client.post(reverse("admin:moderation_vendorapp_add"), {**base, **changes})
        errors = response.context["adminform"].form.errors if response.status_code == 200 else {}
        return response, errors

    return post


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("endpoint", "rule"),
    [
        ("ftp://rtc.example.com/", "scheme"),
        ("https://user:password@rtc.example.com/", "credentials"),
        ("https://AKIDexample@rtc.example.com/", "credentials"),
        ("https://rtc.example.com/?Action=RemoveUser", "query"),
        ("https://rtc.example.com/tencent#top", "query"),
        ("https://rtc.example.com:65536/", "port"),
        ("https://rtc.example.com:99999/", "port"),
        ("https://rtc.example.com:0/", "port"),
        ("https://rtc.example.com:/", "port"),
        ("https://rtc example.com/", "characters"),
        ("https://rtc.example.com/\ttencent", "characters"),
        ("https://例え.jp/", "ascii"),
        ("https://-rtc-.example.com/", "host"),
        ("https://[v1.future]/", "host"),
        ("http://rtc.example.com/tencent", "plain_http"),
        ("http://10.0.0.7:8090/tencent", "plain_http"),
        ("http://[::ffff:127.0.0.1]/tencent", "plain_http"),
    ],
)
def test_the_form_refuses_each_kind_of_bad_endpoint_with_the_endpoint_rule_s_message(
    add_app, endpoint, rule
):
    response, errors = add_app(endpoint=endpoint)

    assert response.status_code == 200
    assert errors["endpoint"] == [str(ENDPOINT_ERRORS[rule])]
    assert not VendorApp.objects.exists()


@pytest.mark.django_db
def test_an_endpoint_with_an_unclosed_ipv6_bracket_is_refused_as_not_a_url(add_app):
    response, errors = add_app(endpoint="https://[::1/tencent")

    assert response.status_code == 200
    assert errors["endpoint"] == [str(ENDPOINT_ERRORS["invalid"])]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8090/tencent",
        "http://127.8.9.10/tencent",
        "http://localhost:8090/tencent",
        "http://[::1]:8090/tencent",
        "https://trtc.tencentcloudapi.com",
        "https://rtc-gateway:8443/tencent",  # a one-word host of a private network
        "trtc.intl.tencentcloudapi.com",  # no scheme: https
    ],
)
def test_the_form_saves_https_endpoints_and_plain_http_to_a_loopback_host_and_the_client_takes_them(
    add_app, endpoint
):
    response, errors = add_app(endpoint=endpoint)

    assert response.status_code == 302, errors
    app = VendorApp.objects.get()
    assert app.endpoint.startswith(("http://", "https://"))
    assert client_for(app.connection()).endpoint.netloc in app.endpoint


@pytest.mark.django_db
def test_plain_http_to_another_host_is_saved_only_when_allow_http_endpoints_is_on(
    add_app, settings
):
    settings.ALLOW_HTTP_ENDPOINTS = False
    assert add_app(endpoint="http://rtc-gateway.internal:8080/tencent")[0].status_code == 200

    settings.ALLOW_HTTP_ENDPOINTS = True
    response, errors = add_app(endpoint="http://rtc-gateway.internal:8080/tencent")

    assert response.status_code == 302, errors
    assert VendorApp.objects.get().endpoint == "http://rtc-gateway.internal:8080/tencent"


def test_allow_http_endpoints_is_off_unless_set():
    from django.conf import settings

    assert settings.ALLOW_HTTP_ENDPOINTS is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    [
        "https://rtc.example.com/tencent",
        "https://rtc.example.com:8443",
        "https://[2001:db8::1]:8443/t",
        "http://127.0.0.1:8090/tencent",
        "http://rtc.example.com/tencent",
        "https://u:p@rtc.example.com/",
        "https://rtc.example.com:0/",
        "https://rtc.example.com/?a=1",
        "https://rtc_gateway/",
        "https://a..b/",
    ],
)
def test_the_form_saves_an_endpoint_exactly_when_the_vendor_layer_s_parse_endpoint_takes_it(
    add_app, endpoint
):
    try:
        parse_endpoint(endpoint, allow_plain_http=False)
    except VendorInputError:
        taken = False
    else:
        taken = True

    response, errors = add_app(endpoint=endpoint)

    assert (response.status_code == 302) == taken, errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    [
        "tencent callback key",  # spaces
        "tencentCallbackKey\n",
        "tencent-callback-key",
        "k" * 33,
        "回调密钥",
    ],
)
def test_a_tencent_callback_key_is_refused_unless_1_to_32_letters_and_digits(add_app, key):
    response, errors = add_app(callback_secret=key)

    assert response.status_code == 200
    assert errors["callback_secret"] == [
        "A Tencent callback key is 1 to 32 letters and digits (A–Z, a–z, 0–9), as Tencent's "
        "console makes it."
    ]
    assert key.encode() not in response.content  # write-only, even when refused
    assert not VendorApp.objects.exists()


@pytest.mark.django_db
def test_a_tencent_callback_key_of_32_letters_and_digits_is_saved(add_app):
    response, errors = add_app(callback_secret="Ab3" * 10 + "Z9")

    assert response.status_code == 302, errors
    assert VendorApp.objects.get().callback_secret == "Ab3" * 10 + "Z9"


@pytest.mark.django_db
@pytest.mark.parametrize("secret", ["s" * 129, "callback\u200bsecret", " callback-secret"])
def test_other_vendors_callback_secrets_are_at_most_128_printable_characters(add_app, secret):
    response, errors = add_app(ZEGO_APP, callback_secret=secret)

    assert response.status_code == 200
    assert errors["callback_secret"] == [
        "A callback secret is at most 128 printable characters, without spaces at either end."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("base", "label"),
    [(TENCENT_APP, "SecretKey"), ({**TENCENT_APP, "vendor": "volcengine", "vendor_app_id": "v1",
      "region": "cn-north-1"}, "SecretAccessKey")],
)  # fmt: skip
def test_a_100000_character_secret_is_refused_and_not_echoed(add_app, base, label):
    secret = "S3cr3t" * 16_667

    response, errors = add_app(base, secret=secret[:100_000])

    assert response.status_code == 200
    assert errors["secret"] == [
        f"A {label} is at most 256 printable characters, without spaces at either end."
    ]
    assert b"S3cr3tS3cr3t" not in response.content
    assert not VendorApp.objects.exists()


@pytest.mark.django_db
def test_a_secret_of_256_printable_characters_is_saved(add_app):
    response, errors = add_app(secret="k" * 256)

    assert response.status_code == 302, errors
    assert VendorApp.objects.get().secret == "k" * 256


@pytest.mark.django_db
def test_a_zego_server_secret_still_has_to_be_32_hexadecimal_characters(add_app):
    response, errors = add_app(ZEGO_APP, secret="0" * 100_000)

    assert errors["secret"] == ["A ZEGO ServerSecret is 32 hexadecimal characters."]


@pytest.mark.django_db
@pytest.mark.parametrize("key_id", ["AKID example", "AKID密钥", "x" * 129])
def test_an_access_key_id_is_refused_unless_at_most_128_printable_ascii_characters(add_app, key_id):
    response, errors = add_app(access_key_id=key_id)

    assert response.status_code == 200
    assert errors["access_key_id"]
    assert not VendorApp.objects.exists()


@pytest.mark.django_db
def test_an_app_id_in_digits_of_another_script_is_refused_as_the_vendor_would(add_app):
    response, errors = add_app(vendor_app_id="١٤٠٠٠٠٠٠٠١")  # 1400000001, Arabic-Indic

    assert errors["vendor_app_id"] == [
        "Tencent TRTC app IDs are whole numbers from 1 to 4294967295."
    ]


# --- Rate limits: a flat JSON object, bounded before it is parsed --------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "Rate limits: at most 8192 characters of JSON (this is 100000)."),
        ("[" * 5000, "Rate limits: give a flat JSON object, with no object or list inside it."),
        ('{"a":' * 1000 + "1" + "}" * 1000, "Rate limits: give a flat JSON object, with no "
         "object or list inside it."),
        ('{"RemoveUser": {"per": 10}}', "Rate limits: give a flat JSON object, with no object "
         "or list inside it."),
        ('{"RemoveUser": [10]}', "Rate limits: give a flat JSON object, with no object or list "
         "inside it."),
    ],
)  # fmt: skip
def test_nested_or_huge_rate_limits_are_refused_with_a_message_naming_the_field(
    add_app, text, message
):
    response, errors = add_app(rate_limits=text)

    assert response.status_code == 200
    assert errors["rate_limits"] == [message]
    assert not VendorApp.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({f"Action{n}": 1 for n in range(51)}, "Rate limits: at most 50 actions (51 given)."),
        ({"A" * 65: 1}, "Rate limits: name each action as the vendor does, in at most 64 "
         "letters, digits and underscores, e.g. KickoutUser."),
        ({"Remove User": 1}, "Rate limits: name each action as the vendor does, in at most 64 "
         "letters, digits and underscores, e.g. KickoutUser."),
        ({"RemoveUser": 10_001}, "Rate limits: give each action a number of calls per second "
         'above 0 and at most 10000, e.g. {"KickoutUser": 50}.'),
        ({"RemoveUser": True}, "Rate limits: give each action a number of calls per second "
         'above 0 and at most 10000, e.g. {"KickoutUser": 50}.'),
        ([], 'Rate limits: give a JSON object of calls per second by action, e.g. '
         '{"KickoutUser": 50}.'),
    ],
)  # fmt: skip
def test_rate_limits_are_at_most_50_named_actions_with_numbers_of_calls(add_app, limits, message):
    response, errors = add_app(rate_limits=json.dumps(limits))

    assert errors["rate_limits"] == [message]


@pytest.mark.django_db
def test_50_actions_with_64_character_names_are_saved(add_app):
    limits = {f"A{n:02d}" + "x" * 61: 20 for n in range(50)}

    response, errors = add_app(rate_limits=json.dumps(limits))

    assert response.status_code == 302, errors
    assert VendorApp.objects.get().rate_limits == limits


def test_json_nesting_counts_brackets_outside_strings_only():
    assert json_nesting('{"a": 1}') == 1
    assert json_nesting('{"[[[": "{{{", "b": "\\"[["}') == 1
    assert json_nesting('[{"a": [1]}]') == 3
    # A stray closing bracket never hides the nesting after it.
    assert json_nesting("]]]][[[[") == 4
    assert json_nesting("") == 0


# --- Deleting an app: counts, never the ids of users and rooms -----------------------------------


@pytest.fixture
def app_with_history(zego_app):
    now = timezone.now()
    Presence.objects.create(
        app=zego_app, room_id="room-SECRET-7", user_id="user-SECRET-1", entered_at=now,
        event_at=now,
    )  # fmt: skip
    Presence.objects.create(
        app=zego_app, room_id="room-SECRET-7", user_id="user-SECRET-2", entered_at=now,
        event_at=now,
    )  # fmt: skip
    CallbackDelivery.objects.create(
        app=zego_app, key="k1", event="join", vendor_event="room_login", room_id="room-SECRET-7",
        user_id="user-SECRET-3", happened_at=now,
    )  # fmt: skip
    PublishedStream.objects.create(
        app=zego_app, room_id="room-SECRET-7", user_id="user-SECRET-4", stream_id="stream-SECRET",
        started_at=now, event_at=now,
    )  # fmt: skip
    return zego_app


def _delete_page(client, user, app):
    client.force_login(user)
    return client.get(reverse("admin:moderation_vendorapp_delete", args=[app.pk]))


@pytest.mark.django_db
def test_a_credential_manager_s_delete_page_counts_related_rows_and_shows_no_user_or_room_id(
    client, credential_manager, app_with_history
):
    page = _delete_page(client, credential_manager, app_with_history)

    html = page.content.decode()
    assert page.status_code == 200
    assert "SECRET" not in html
    assert "Room presence: 2" in html
    assert "Callback deliveries: 1" in html
    assert "Published streams: 1" in html
    assert 'name="post"' in html  # nothing keeps it: it can be deleted


@pytest.mark.django_db
def test_the_delete_page_counts_exactly_what_django_would_delete(
    client, superuser, app_with_history, api_token
):
    from django.contrib.admin.utils import NestedObjects

    api_token(app_with_history)
    collector = NestedObjects(using="default")
    collector.collect([app_with_history])
    expected = {
        model._meta.verbose_name_plural: len(rows) for model, rows in collector.model_objs.items()
    }

    page = _delete_page(client, superuser, app_with_history)

    assert dict(page.context["model_count"]) == expected
    assert not collector.protected and not page.context["protected"]


@pytest.mark.django_db
def test_a_credential_manager_deletes_an_app_without_bans_with_its_presence_and_callbacks(
    client, credential_manager, app_with_history
):
    client.force_login(credential_manager)
    response = client.post(
        reverse("admin:moderation_vendorapp_delete", args=[app_with_history.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not VendorApp.objects.exists()
    assert not Presence.objects.exists() and not CallbackDelivery.objects.exists()


@pytest.mark.django_db
def test_an_app_with_bans_cannot_be_deleted_and_its_page_says_why_in_counts(
    client, credential_manager, app_with_history, moderator
):
    app = app_with_history
    room = services.room_for(app=app, room_id="room-SECRET-7")
    services.ban(
        app=app, scope="user_in_room", room=room, user_ids=["user-SECRET-1", "user-SECRET-2"],
        seconds=60, reason="spam", actor=moderator,
    )  # fmt: skip
    VendorCall.objects.create(app=app, action="KickoutUser", ok=True, latency_ms=1)

    page = _delete_page(client, credential_manager, app)
    refused = client.post(
        reverse("admin:moderation_vendorapp_delete", args=[app.pk]), {"post": "yes"}
    )

    html = page.content.decode()
    assert "SECRET" not in html
    assert "/admin/moderation/ban/" not in html and "/admin/moderation/room/" not in html
    assert "cannot be deleted: its rooms, bans and vendor calls are the record" in html
    assert "Rooms: 1" in html and "Bans: 2" in html and "Vendor calls: 1" in html
    assert "untick “enabled”" in html
    assert 'name="post"' not in html  # no button to press
    assert refused.status_code == 200
    assert VendorApp.objects.filter(pk=app.pk).exists()
    assert Presence.objects.filter(app=app).count() == 2


@pytest.mark.django_db
def test_vendor_apps_are_not_deleted_in_bulk_from_the_list(client, credential_manager, zego_app):
    client.force_login(credential_manager)

    page = client.get(reverse("admin:moderation_vendorapp_changelist"))

    assert "delete_selected" not in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("text", ['{"KickoutUser": 10', "{'KickoutUser': 10}", "KickoutUser=10"])
def test_rate_limits_that_are_not_json_are_refused_with_a_message_naming_the_field(add_app, text):
    response, errors = add_app(rate_limits=text)

    assert errors["rate_limits"] == ["Rate limits: this is not valid JSON."]
    assert escape(text) in response.content.decode()  # shown back, to be corrected


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["1", '"text"', "true", "2.5"])
def test_rate_limits_that_are_json_but_not_an_object_are_refused_on_the_field(add_app, text):
    """Valid JSON of another shape (a number, a string) is a field error, not a 500."""
    response, errors = add_app(rate_limits=text)

    assert response.status_code == 200
    assert errors["rate_limits"] == [
        'Rate limits: give a JSON object of calls per second by action, e.g. {"KickoutUser": 50}.'
    ]
    assert not VendorApp.objects.exists()

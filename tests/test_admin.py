"""Staff manage vendor apps in the admin; secrets are write-only."""

import pytest
from django.urls import reverse

from moderation.models import VendorApp

from .conftest import ZEGO_SECRET

NEW_SECRET = "fedcba9876543210fedcba9876543210"


def form_data(app, **changes):
    data = {
        "name": app.name,
        "vendor": app.vendor,
        "vendor_app_id": app.vendor_app_id,
        "region": app.region,
        "access_key_id": app.access_key_id,
        "secret": "",
        "callback_secret": "",
        "endpoint": app.endpoint,
        "enabled": "on",
        "rate_limits": "{}",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_the_change_form_never_renders_the_secret(client, credential_manager, zego_app):
    client.force_login(credential_manager)
    page = client.get(reverse("admin:moderation_vendorapp_change", args=[zego_app.pk]))
    assert page.status_code == 200
    assert ZEGO_SECRET.encode() not in page.content
    assert zego_app.secret_ciphertext.encode() not in page.content
    assert b"Currently set" in page.content


@pytest.mark.django_db
def test_an_empty_secret_field_keeps_the_stored_secret(client, credential_manager, zego_app):
    client.force_login(credential_manager)
    url = reverse("admin:moderation_vendorapp_change", args=[zego_app.pk])
    response = client.post(url, form_data(zego_app, name="Renamed"))
    assert response.status_code == 302
    app = VendorApp.objects.get(pk=zego_app.pk)
    assert (app.name, app.secret) == ("Renamed", ZEGO_SECRET)


@pytest.mark.django_db
def test_a_typed_secret_replaces_the_stored_one(client, credential_manager, zego_app):
    client.force_login(credential_manager)
    url = reverse("admin:moderation_vendorapp_change", args=[zego_app.pk])
    client.post(url, form_data(zego_app, secret=NEW_SECRET))
    assert VendorApp.objects.get(pk=zego_app.pk).secret == NEW_SECRET


@pytest.mark.django_db
def test_a_bad_secret_is_refused_with_the_field_named_and_not_echoed(
    client, credential_manager, zego_app
):
    client.force_login(credential_manager)
    url = reverse("admin:moderation_vendorapp_change", args=[zego_app.pk])
    response = client.post(url, form_data(zego_app, secret="not-hex-and-short"))
    assert response.status_code == 200
    assert b"A ZEGO ServerSecret is 32 hexadecimal characters." in response.content
    assert b"not-hex-and-short" not in response.content
    assert VendorApp.objects.get(pk=zego_app.pk).secret == ZEGO_SECRET


@pytest.mark.django_db
def test_a_credential_manager_adds_a_tencent_app(client, credential_manager):
    client.force_login(credential_manager)
    response = client.post(
        reverse("admin:moderation_vendorapp_add"),
        {
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
        },
    )
    assert response.status_code == 302, response.content
    assert VendorApp.objects.get(name="TRTC prod").secret == "tencent-secret-key"

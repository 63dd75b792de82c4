"""Key rotation: every secret moves to the first key, and the old key can then go."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from moderation.models import VendorApp

from .conftest import ZEGO_SECRET

pytestmark = pytest.mark.django_db


def stored(app, field):
    """The column as stored: ciphertext."""
    return VendorApp.objects.filter(pk=app.pk).values_list(field, flat=True).get()


def test_every_secret_is_re_encrypted_under_the_first_key(zego_app, settings):
    old, new = settings.CREDENTIAL_KEYS[0], Fernet.generate_key().decode()
    zego_app.callback_secret = "callback-secret"
    zego_app.save()
    before = stored(zego_app, "secret_ciphertext")

    settings.CREDENTIAL_KEYS = [new, old]
    call_command("rotate_credentials")
    settings.CREDENTIAL_KEYS = [new]  # the old key is gone

    app = VendorApp.objects.get(pk=zego_app.pk)
    assert (app.secret, app.callback_secret) == (ZEGO_SECRET, "callback-secret")
    assert stored(zego_app, "secret_ciphertext") != before


def test_an_unreadable_secret_stops_the_run_and_changes_nothing(zego_app, settings):
    before = stored(zego_app, "secret_ciphertext")
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted with any key"):
        call_command("rotate_credentials")
    assert stored(zego_app, "secret_ciphertext") == before


def test_an_app_saved_before_a_newer_rule_is_re_encrypted_all_the_same(zego_app, settings):
    """Rotation writes only ciphertext: it never refuses an app that the form would now refuse
    (here plain http to another host, saved before ALLOW_HTTP_ENDPOINTS existed)."""
    VendorApp.objects.filter(pk=zego_app.pk).update(endpoint="http://rtc-gateway.internal/zego")
    old, new = settings.CREDENTIAL_KEYS[0], Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [new, old]

    call_command("rotate_credentials")
    settings.CREDENTIAL_KEYS = [new]

    app = VendorApp.objects.get(pk=zego_app.pk)
    assert (app.secret, app.endpoint) == (ZEGO_SECRET, "http://rtc-gateway.internal/zego")

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from moderation import credentials
from moderation.credentials import CredentialError
from moderation.models import VendorApp

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

"""Vendor secrets at rest: MultiFernet over CREDENTIAL_KEYS (the first encrypts, all decrypt)."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from . import redaction


class CredentialError(Exception):
    """A stored secret cannot be read: it was encrypted under a key no longer in CREDENTIAL_KEYS."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.CREDENTIAL_KEYS])


def encrypt(plaintext: str) -> str:
    redaction.remember(plaintext)  # this process holds it now: never in its logs or reports
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        plaintext = _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        # Never fall back to returning the stored value: that would send ciphertext as a secret.
        raise CredentialError(
            "A stored credential cannot be decrypted with any key in CREDENTIAL_KEYS: add the key "
            "it was encrypted with, or enter the credential again."
        ) from None
    redaction.remember(plaintext)
    return plaintext


def reencrypt(token: str) -> str:
    """The same secret under the first key, for key rotation."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise CredentialError(
            "A stored credential cannot be decrypted with any key in CREDENTIAL_KEYS."
        ) from None

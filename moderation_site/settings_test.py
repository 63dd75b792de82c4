"""Test settings: production settings with test-only secrets and plain static files."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
# Two keys, so every test also exercises decryption under a key that is not the first.
os.environ.setdefault(
    "CREDENTIAL_KEYS",
    "dGVzdC1vbmx5LWNyZWRlbnRpYWwta2V5LW51bWJlcjE=,dGVzdC1vbmx5LWNyZWRlbnRpYWwta2V5LW51bWJlcjI=",
)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from .settings import *  # noqa: E402,F403
from .settings import STORAGES  # noqa: E402

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Serve static files from the app folders, as runserver does: tests do not run collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

"""Start-up refuses an unsafe production configuration and says what to set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def run_django(*args, **env):
    """Runs manage.py with production settings and only the given variables."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "DATABASE_URL") if k in os.environ}
    base.update({"DJANGO_SETTINGS_MODULE": "moderation_site.settings", "DEBUG": "false", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(**overrides):
    env = {
        "SECRET_KEY": "a-real-production-secret-key-with-enough-entropy-0123456789-abcdef",
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "moderation.example.com",
    }
    env.update(overrides)
    return env


def test_it_refuses_production_without_secret_key():
    result = run_django("check", **production_env(SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("x7#Kq9!mZ2" * 4 + "abc12345", "is 48 characters long; it needs at least 50"),
        ("abcd" * 20, "has 4 distinct characters; it needs at least 5"),
        (
            "django-insecure-" + "k3$v9!q2@z7#m4%w8^r1&t6*y5(u0)p" * 2,
            "starts with django-insecure-",
        ),
    ],
)
def test_it_refuses_a_weak_secret_key_in_production_and_says_how_to_make_one(key, reason):
    result = run_django("check", **production_env(SECRET_KEY=key))

    assert result.returncode != 0
    assert f"SECRET_KEY {reason}" in result.stderr
    assert MAKE_ONE in result.stderr
    assert key not in result.stderr  # the message never echoes the key


def test_a_secret_key_of_50_characters_with_5_distinct_passes_start_up():
    result = run_django("check", **production_env(SECRET_KEY="abcde" * 10))

    assert result.returncode == 0, result.stderr
    assert "SECRET_KEY" not in result.stderr


def test_a_weak_secret_key_is_accepted_in_debug():
    result = run_django("check", DEBUG="true", SECRET_KEY="short", CREDENTIAL_KEYS="")

    assert result.returncode == 0, result.stderr


def test_it_refuses_production_without_credential_keys():
    result = run_django("check", **production_env(CREDENTIAL_KEYS=""))
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS is not set" in result.stderr


def test_it_names_the_credential_key_that_is_not_a_fernet_key():
    keys = f"{Fernet.generate_key().decode()},not-a-key"
    result = run_django("check", **production_env(CREDENTIAL_KEYS=keys))
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS entry 2 is not a Fernet key" in result.stderr


@pytest.mark.parametrize("seconds", ["10", "86401"])
def test_it_refuses_a_callback_window_outside_a_minute_to_a_day_and_says_what_to_write(seconds):
    result = run_django("check", **production_env(CALLBACK_MAX_AGE_SECONDS=seconds))
    assert result.returncode != 0
    assert f"CALLBACK_MAX_AGE_SECONDS is {seconds}: write a number of seconds" in result.stderr


def test_it_starts_in_debug_without_secrets():
    result = run_django("check", DEBUG="true", SECRET_KEY="", CREDENTIAL_KEYS="")
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = run_django("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_migrations_are_complete():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)

"""`manage.py vendorapp`: apps with their callback paths, and ban-check tokens shown once."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moderation.models import ApiToken

from .conftest import ZEGO_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("vendorapp", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_list_shows_each_app_with_its_callback_path_and_no_secret(zego_app):
    zego_app.callback_secret = "callback-CANARY"
    zego_app.save()

    text, _ = run("list")
    (entry,) = json.loads(run("list", "--json")[0])

    assert entry == {
        "name": "Live ZEGO",
        "vendor": "zego",
        "vendor_app_id": "1234567890",
        "region": "",
        "enabled": True,
        "zego_native_ban": False,
        "callback_path": f"/callbacks/{zego_app.callback_id}/",
    }
    assert f"/callbacks/{zego_app.callback_id}/" in text
    for output in (text, json.dumps(entry)):
        assert ZEGO_SECRET not in output
        assert "callback-CANARY" not in output


def test_token_prints_a_working_token_once_and_stores_only_its_hash(
    zego_app, client, redis_connection
):
    plaintext, message = run("token", "Live ZEGO", "--name", "edge token server")
    plaintext = plaintext.strip()

    token = ApiToken.objects.get()
    assert plaintext.startswith("rtcm_") and len(plaintext) > 40
    assert token.name == "edge token server"
    assert plaintext not in (token.token_hash, token.prefix)
    assert plaintext.startswith(token.prefix)
    assert "shown only now" in message
    response = client.get(
        "/api/v1/bans/check",
        {"room": "r", "user": "u"},
        headers={"Authorization": f"Bearer {plaintext}"},
    )
    assert response.json() == {
        "banned": False,
        "until": None,
        "ban_id": None,
        "muted": False,
        "mute_until": None,
    }
    # Listed by id and prefix, never again in full.
    listing, _ = run("token", "Live ZEGO", "--list")
    assert token.prefix in listing
    assert plaintext not in listing


def test_revoke_stops_the_token(zego_app, client, redis_connection):
    plaintext = run("token", "Live ZEGO")[0].strip()
    token = ApiToken.objects.get()

    out, _ = run("token", "Live ZEGO", "--revoke", str(token.pk))

    assert "revoked" in out
    assert ApiToken.objects.get().revoked_at is not None
    response = client.get(
        "/api/v1/bans/check",
        {"room": "r", "user": "u"},
        headers={"Authorization": f"Bearer {plaintext}"},
    )
    assert response.status_code == 401
    (listed,) = json.loads(run("token", "Live ZEGO", "--list", "--json")[0])
    assert listed["revoked_at"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("token", "No Such App"), "NAME"),
        (("token", "Live ZEGO", "--revoke", "999"), "--revoke"),
        (("token", "Live ZEGO", "--name", "x" * 101), "--name"),
        (("token", "Live ZEGO", "--rate", "0"), "--rate"),
        (("token", "Live ZEGO", "--actor", "nobody"), "--actor"),
    ],
)
def test_bad_input_exits_2_and_names_the_option(zego_app, args, option):
    with pytest.raises(CommandError) as error:
        run(*args)

    assert error.value.returncode == 2
    assert option in str(error.value)
    assert not ApiToken.objects.exists()

"""`manage.py vendorapp`: apps added, changed, removed and tested from the command line, listed
with their callback paths, and ban-check tokens shown once. No secret is ever printed."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moderation.models import ApiToken, Ban, Room, VendorApp

from .conftest import ZEGO_SECRET
from .support.canary import EchoingVendor, Search, make_canaries
from .support.commands import run_command

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


# --- add, change, remove, test: as a shell runs them ---------------------------------------------

VOLC_SECRET = "volc-secret-for-the-command-line"
TENCENT_SECRET = "tencent-secret-for-the-command-line"


def shell(capsys, *argv):
    """`manage.py vendorapp ARGV` as a shell runs it, in this process."""
    return run_command(capsys, "vendorapp", *argv)


@pytest.fixture
def canaries(monkeypatch):
    """Canary secrets in the environment variables the commands are told to read."""
    made = make_canaries()
    for name, value in made.items():
        monkeypatch.setenv(f"{name.upper()}_SECRET", value)
    return made


def never_shown(canaries, *outputs):
    search = Search(canaries)
    for n, output in enumerate(outputs):
        search.add(f"output {n}", output)
    return search.hits() == []


ADD_ZEGO = ["add", "--vendor", "zego", "--name", "Evening ZEGO", "--app-id", "3141592653"]
ADD_ZEGO_WITH_SECRET = [*ADD_ZEGO, "--secret-env", "ZEGO_SECRET"]
ADD_VOLC = [
    "add",
    "--vendor",
    "volcengine",
    "--name",
    "Lobby Volcengine",
    "--app-id",
    "volc661e543cf",
    "--key-id",
    "AKLTcommandLine",
    "--region",
    "cn-north-1",
    "--secret-env",
    "VOLCENGINE_SECRET",
]


def test_add_stores_the_secret_from_the_named_variable_and_prints_the_app_without_it(
    capsys, canaries
):
    status, out, err = shell(capsys, *ADD_ZEGO_WITH_SECRET)

    app = VendorApp.objects.get()
    assert status == 0, err
    assert (app.name, app.vendor, app.vendor_app_id, app.region) == (
        "Evening ZEGO",
        "zego",
        "3141592653",
        "",
    )
    assert app.secret == canaries["zego"]
    assert app.callback_secret == ""
    assert out.strip() == (
        f"Added Evening ZEGO: zego 3141592653, enabled, callbacks to /callbacks/{app.callback_id}/"
    )
    assert "has no callback secret: its room callbacks are refused" in err
    assert never_shown(canaries, out, err)


def test_add_with_every_option_and_json_prints_the_app_and_whether_each_secret_is_set(
    capsys, canaries
):
    status, out, err = shell(
        capsys,
        *ADD_VOLC,
        "--endpoint",
        "http://127.0.0.1:8090/volcengine",
        "--callback-secret-env",
        "VOLCENGINE_CALLBACK_SECRET",
        "--rate-limit",
        "BanRoomUser=40",
        "--rate-limit",
        "KickUser=2.5",
        "--json",
    )

    app = VendorApp.objects.get()
    assert status == 0, err
    assert json.loads(out) == {
        "name": "Lobby Volcengine",
        "vendor": "volcengine",
        "vendor_app_id": "volc661e543cf",
        "region": "cn-north-1",
        "enabled": True,
        "zego_native_ban": False,
        "callback_path": f"/callbacks/{app.callback_id}/",
        "access_key_id": "AKLTcommandLine",
        "endpoint": "http://127.0.0.1:8090/volcengine",
        "rate_limits": {"BanRoomUser": 40, "KickUser": 2.5},
        "secret_set": True,
        "callback_secret_set": True,
    }
    assert (app.secret, app.callback_secret) == (
        canaries["volcengine"],
        canaries["volcengine_callback"],
    )
    assert err == ""
    assert never_shown(canaries, out, err)


class Terminal(StringIO):
    def isatty(self):
        return True


def test_add_without_secret_env_asks_for_both_secrets_on_a_terminal(capsys, monkeypatch, canaries):
    prompts = []
    typed = {"ServerSecret": canaries["zego"], "Callback secret": canaries["zego_callback"]}

    def getpass(prompt):
        prompts.append(prompt)
        return next(value for label, value in typed.items() if prompt.startswith(label))

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", getpass)

    status, out, err = shell(capsys, *ADD_ZEGO)

    assert status == 0, err
    assert prompts == ["ServerSecret for Evening ZEGO: ", "Callback secret (Enter: none yet): "]
    app = VendorApp.objects.get()
    assert (app.secret, app.callback_secret) == (canaries["zego"], canaries["zego_callback"])
    assert never_shown(canaries, out, err)


def test_add_without_secret_env_and_without_a_terminal_exits_2_saying_to_pass_secret_env(capsys):
    status, out, err = shell(capsys, *ADD_ZEGO)

    assert status == 2
    assert "--secret-env: give the environment variable that holds the secret" in err
    assert not VendorApp.objects.exists()


def replaced(args, option, value):
    """`args` with `option`'s value replaced (or the option added)."""
    if option not in args:
        return [*args, option, value]
    at = args.index(option)
    return [*args[: at + 1], value, *args[at + 2 :]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (replaced(ADD_ZEGO_WITH_SECRET, "--vendor", "agora"), "argument --vendor: invalid choice"),
        (ADD_ZEGO_WITH_SECRET[:3] + ADD_ZEGO_WITH_SECRET[5:], "required: --name"),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--app-id", "live-1"),
            "--app-id: ZEGO app IDs are whole numbers from 1 to 4294967295.",
        ),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--name", "Evening\u202eZEGO"),
            "--name: Remove the control or formatting characters.",
        ),
        (replaced(ADD_ZEGO_WITH_SECRET, "--name", "x" * 101), "--name: Ensure this value has"),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--region", "cn-north-1"),
            "--region: ZEGO takes no region: leave it empty.",
        ),
        (
            replaced(ADD_VOLC, "--region", "us-east-1"),
            "--region: Volcengine RTC serves these regions: cn-north-1, ap-singapore-1.",
        ),
        (replaced(ADD_VOLC, "--key-id", ""), "--key-id: Enter the AccessKeyId."),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--key-id", "AKLTx"),
            "--key-id: ZEGO uses no access key ID: leave it empty.",
        ),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--secret-env", "VOLCENGINE_SECRET"),
            "--secret-env: A ZEGO ServerSecret is 32 hexadecimal characters.",
        ),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--secret-env", "NO_SUCH_VARIABLE"),
            "--secret-env: no environment variable of that name is set.",
        ),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--secret-env", "EMPTY_SECRET"),
            "--secret-env: that environment variable is empty.",
        ),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--callback-secret-env", "NO_SUCH_VARIABLE"),
            "--callback-secret-env: no environment variable of that name is set.",
        ),
        (
            replaced(ADD_VOLC, "--endpoint", "127.0.0.1:8090"),
            "--endpoint: The endpoint must start with https:// (or http://) and name a host.",
        ),
        (replaced(ADD_VOLC, "--rate-limit", "BanRoomUser"), "--rate-limit: write ACTION=N"),
        (replaced(ADD_VOLC, "--rate-limit", "=40"), "--rate-limit: write ACTION=N"),
        (
            replaced(ADD_VOLC, "--rate-limit", "BanRoomUser=fast"),
            "--rate-limit: BanRoomUser=fast is not a number of calls per second",
        ),
        (
            replaced(ADD_VOLC, "--rate-limit", "BanRoomUser=0"),
            "--rate-limit: Rate limits: give each action a number of calls per second above 0",
        ),
        (
            replaced(ADD_VOLC, "--rate-limit", "BanRoomUser=-3"),
            "--rate-limit: Rate limits: give each action a number of calls per second above 0",
        ),
        (
            replaced(ADD_VOLC, "--rate-limit", "BanRoomUser=inf"),
            "--rate-limit: Rate limits: give each action a number of calls per second above 0",
        ),
        (
            [*ADD_VOLC, "--zego-native-ban"],
            "--zego-native-ban: Only ZEGO apps can use ZEGO's own ban",
        ),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--name", "Live ZEGO"),
            "--name: Vendor app with this Name already exists.",
        ),
        (
            replaced(ADD_ZEGO_WITH_SECRET, "--app-id", "1234567890"),
            "--app-id: Vendor app with this Vendor and Vendor app ID already exists.",
        ),
    ],
    ids=[
        "unknown-vendor",
        "no-name",
        "zego-app-id-not-a-number",
        "name-with-a-control-character",
        "name-too-long",
        "zego-with-a-region",
        "volcengine-region-unknown",
        "volcengine-without-key-id",
        "zego-with-key-id",
        "zego-secret-not-32-hex",
        "secret-variable-unset",
        "secret-variable-empty",
        "callback-secret-variable-unset",
        "endpoint-without-scheme",
        "rate-limit-without-equals",
        "rate-limit-without-action",
        "rate-limit-not-a-number",
        "rate-limit-zero",
        "rate-limit-negative",
        "rate-limit-infinite",
        "native-ban-not-zego",
        "name-taken",
        "app-id-taken",
    ],
)
def test_add_with_bad_input_exits_2_naming_the_option_and_saves_nothing(
    capsys, monkeypatch, canaries, zego_app, args, message
):
    monkeypatch.setenv("EMPTY_SECRET", "")

    status, out, err = shell(capsys, *args)

    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert list(VendorApp.objects.values_list("name", flat=True)) == ["Live ZEGO"]
    assert never_shown(canaries, out, err)


def test_a_secret_given_in_place_of_its_variable_is_refused_and_never_echoed(capsys, canaries):
    status, out, err = shell(
        capsys, *replaced(ADD_ZEGO_WITH_SECRET, "--secret-env", canaries["zego"])
    )

    assert status == 2
    assert "--secret-env: no environment variable of that name is set" in err
    assert never_shown(canaries, out, err)
    assert not VendorApp.objects.exists()


def test_a_rate_limit_for_a_call_the_vendor_never_makes_is_kept_with_a_warning(capsys, canaries):
    status, out, err = shell(capsys, *ADD_VOLC, "--rate-limit", "BanRoomUsr=40")

    assert status == 0, err
    assert VendorApp.objects.get().rate_limits == {"BanRoomUsr": 40}
    assert "--rate-limit: Volcengine RTC makes no call named 'BanRoomUsr'" in err
    assert "that limit is kept but unused" in err


def test_change_sets_only_the_options_given(capsys, canaries):
    shell(
        capsys,
        *ADD_VOLC,
        "--rate-limit",
        "BanRoomUser=40",
        "--callback-secret-env",
        "VOLCENGINE_CALLBACK_SECRET",
    )
    before = VendorApp.objects.get()

    status, out, err = shell(
        capsys,
        "change",
        "Lobby Volcengine",
        "--region",
        "ap-singapore-1",
        "--rate-limit",
        "KickUser=5",
        "--name",
        "Singapore Volcengine",
    )

    after = VendorApp.objects.get()
    assert status == 0, err
    assert out.strip() == (
        "Changed Singapore Volcengine: volcengine volc661e543cf ap-singapore-1, enabled, "
        f"callbacks to /callbacks/{before.callback_id}/"
    )
    assert (after.name, after.region) == ("Singapore Volcengine", "ap-singapore-1")
    assert after.rate_limits == {"BanRoomUser": 40, "KickUser": 5}
    # Untouched: the secrets (same ciphertext), the key id, the app id, the callback id.
    assert after.secret_ciphertext == before.secret_ciphertext
    assert after.callback_secret_ciphertext == before.callback_secret_ciphertext
    assert (after.access_key_id, after.vendor_app_id, after.callback_id) == (
        before.access_key_id,
        before.vendor_app_id,
        before.callback_id,
    )
    assert never_shown(canaries, out, err)


def test_change_replaces_a_secret_only_when_its_variable_option_is_given(
    capsys, monkeypatch, canaries
):
    shell(capsys, *ADD_VOLC)
    monkeypatch.setenv("NEW_SECRET", "the-new-volcengine-secret")
    monkeypatch.setenv("NEW_CALLBACK_SECRET", "the-new-callback-secret")

    shell(capsys, "change", "Lobby Volcengine", "--callback-secret-env", "NEW_CALLBACK_SECRET")
    app = VendorApp.objects.get()
    assert (app.secret, app.callback_secret) == (canaries["volcengine"], "the-new-callback-secret")

    status, out, err = shell(
        capsys, "change", "Lobby Volcengine", "--secret-env", "NEW_SECRET", "--json"
    )
    app = VendorApp.objects.get()
    assert status == 0, err
    assert (app.secret, app.callback_secret) == (
        "the-new-volcengine-secret",
        "the-new-callback-secret",
    )
    assert json.loads(out)["secret_set"] is True
    assert "the-new" not in out + err


def test_change_rate_limit_action_alone_drops_that_limit(capsys, canaries):
    shell(capsys, *ADD_VOLC, "--rate-limit", "BanRoomUser=40", "--rate-limit", "KickUser=5")

    status, _, err = shell(capsys, "change", "Lobby Volcengine", "--rate-limit", "BanRoomUser=")

    assert status == 0, err
    assert VendorApp.objects.get().rate_limits == {"KickUser": 5}


def test_change_with_an_empty_endpoint_goes_back_to_the_vendors_own(capsys, canaries):
    shell(capsys, *ADD_VOLC, "--endpoint", "http://127.0.0.1:8090/volcengine")

    status, out, err = shell(capsys, "change", "Lobby Volcengine", "--endpoint", "", "--json")

    assert status == 0, err
    assert (json.loads(out)["endpoint"], VendorApp.objects.get().endpoint) == ("", "")


def test_change_disable_and_enable_switch_the_app(capsys, zego_app):
    status, out, _ = shell(capsys, "change", "Live ZEGO", "--disable")
    assert (status, VendorApp.objects.get().enabled) == (0, False)
    assert ", disabled, " in out

    status, out, _ = shell(capsys, "change", "Live ZEGO", "--enable")
    assert (status, VendorApp.objects.get().enabled) == (0, True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["change", "No Such App", "--region", ""], "NAME: no vendor app named 'No Such App'"),
        (["change", "Live ZEGO"], "Nothing to change: give the options to change"),
        (["change", "Live ZEGO", "--enable", "--disable"], "argument --disable: not allowed"),
        (["change", "Live ZEGO", "--app-id", "x1"], "--app-id: ZEGO app IDs are whole numbers"),
        (
            ["change", "Live ZEGO", "--secret-env", "VOLCENGINE_SECRET"],
            "--secret-env: A ZEGO ServerSecret is 32 hexadecimal characters.",
        ),
        (
            ["change", "Live ZEGO", "--secret-env", "NO_SUCH_VARIABLE"],
            "--secret-env: no environment variable of that name is set.",
        ),
        (["change", "Live ZEGO", "--vendor", "tencent"], "--region: Tencent TRTC serves these"),
        (["change", "Live ZEGO", "--rate-limit", "KickoutUser=x"], "--rate-limit: KickoutUser=x"),
        (
            [
                "change",
                "Live ZEGO",
                "--zego-native-ban",
                "--vendor",
                "tencent",
                "--region",
                "ap-beijing",
                "--key-id",
                "AKIDx",
            ],
            "--zego-native-ban: Only ZEGO apps",
        ),
    ],
    ids=[
        "unknown-name",
        "nothing-given",
        "enable-and-disable",
        "bad-app-id",
        "bad-secret",
        "secret-variable-unset",
        "vendor-change-without-region",
        "rate-limit-not-a-number",
        "native-ban-not-zego",
    ],
)
def test_change_with_bad_input_exits_2_naming_the_option_and_changes_nothing(
    capsys, canaries, zego_app, args, message
):
    before = VendorApp.objects.values().get()

    status, out, err = shell(capsys, *args)

    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert VendorApp.objects.values().get() == before
    assert never_shown(canaries, out, err)


def add_ban(app, *, kind=Ban.Kind.BAN, status=Ban.Status.ACTIVE, **fields):
    room, _ = Room.objects.get_or_create(app=app, room_id="live-1001")
    return Ban.objects.create(
        app=app,
        room=room,
        user_id="troll",
        kind=kind,
        media=Ban.Media.BOTH if kind == Ban.Kind.MUTE else "",
        scope=Ban.Scope.USER_IN_ROOM,
        requested_seconds=3600,
        reason="abuse",
        status=status,
        **fields,
    )


def test_remove_deletes_an_app_without_history_and_its_tokens_stop_answering(
    capsys, zego_app, client, redis_connection
):
    plaintext = run("token", "Live ZEGO")[0].strip()

    status, out, err = shell(capsys, "remove", "Live ZEGO")

    assert status == 0, err
    assert "Deleted Live ZEGO: it had no bans, rooms or vendor calls." in out
    assert "Its ban-check tokens (1) went with it" in out
    assert not VendorApp.objects.exists()
    assert not ApiToken.objects.exists()
    response = client.get(
        "/api/v1/bans/check",
        {"room": "r", "user": "u"},
        headers={"Authorization": f"Bearer {plaintext}"},
    )
    assert response.status_code == 401


def test_remove_disables_an_app_with_ban_history_and_keeps_its_bans(capsys, zego_app):
    ban = add_ban(zego_app, status=Ban.Status.EXPIRED)

    status, out, err = shell(capsys, "remove", "Live ZEGO")

    assert status == 0, err
    assert out.startswith("Disabled Live ZEGO, not deleted: it has rooms and bans on record")
    assert "ban records are kept for good" in out
    assert 'vendorapp change "Live ZEGO" --enable turns it back on' in out
    assert VendorApp.objects.get().enabled is False
    assert Ban.objects.get() == ban
    # Removing it again says it stays disabled.
    status, out, _ = shell(capsys, "remove", "Live ZEGO")
    assert (status, out.startswith("Live ZEGO stays disabled, not deleted")) == (0, True)


@pytest.mark.parametrize(
    ("kind", "status", "held"),
    [
        (Ban.Kind.BAN, Ban.Status.ACTIVE, "1 ban and 0 mutes in force"),
        (Ban.Kind.BAN, Ban.Status.PENDING, "1 ban and 0 mutes in force"),
        (Ban.Kind.MUTE, Ban.Status.ACTIVE, "0 bans and 1 mute in force"),
        (Ban.Kind.MUTE, Ban.Status.PENDING, "0 bans and 1 mute in force"),
    ],
    ids=["active-ban", "pending-ban", "active-mute", "pending-mute"],
)
def test_remove_while_a_ban_or_mute_is_in_force_exits_2_unless_forced_then_disables(
    capsys, zego_app, kind, status, held
):
    add_ban(zego_app, kind=kind, status=status)

    refused, _, err = shell(capsys, "remove", "Live ZEGO")

    assert refused == 2
    assert f"Live ZEGO has {held} (pending or active)" in err
    assert "give --force to disable the app anyway" in err
    assert VendorApp.objects.get().enabled is True

    forced, out, err = shell(capsys, "remove", "Live ZEGO", "--force")

    assert forced == 0, err
    assert out.startswith("Disabled Live ZEGO, not deleted")
    assert VendorApp.objects.get().enabled is False
    assert Ban.objects.get().status == status


def test_remove_of_an_unknown_name_exits_2(capsys, zego_app):
    status, _, err = shell(capsys, "remove", "No Such App")

    assert status == 2
    assert "NAME: no vendor app named 'No Such App' (apps: Live ZEGO)." in err
    assert VendorApp.objects.exists()


@pytest.mark.parametrize("vendor", ["volcengine", "zego", "tencent"])
def test_test_exits_0_when_the_emulated_vendor_accepts_the_credentials(
    capsys, emulated_app, vendor
):
    app = emulated_app(vendor)

    status, out, err = shell(capsys, "test", app.name)

    assert status == 0, err
    assert out.strip() == f"{app.get_vendor_display()} answered: credentials accepted"
    assert app.secret not in out + err


def test_test_exits_1_with_the_vendors_message_when_the_secret_is_wrong(capsys, emulated_app):
    app = emulated_app("tencent")
    app.secret = "not-the-secret-tencent-knows"
    app.save()

    status, out, err = shell(capsys, "test", app.name)
    json_status, printed, _ = shell(capsys, "test", app.name, "--json")

    assert status == 1
    assert out == ""
    assert (
        "Tencent TRTC answered: Tencent Cloud rejected the credentials: check the SecretId and "
        "SecretKey." in err
    )
    answer = json.loads(printed)
    assert json_status == 1
    assert answer["ok"] is False
    assert answer["vendor_code"] == "AuthFailure.SignatureFailure"
    assert answer["message"] in err
    assert "not-the-secret" not in out + err + printed


def test_test_never_shows_a_secret_the_vendor_echoes_back(capsys, canaries):
    with EchoingVendor({"tencent": canaries["tencent"]}) as echoing:
        app = VendorApp(
            name="Echoed Tencent",
            vendor="tencent",
            vendor_app_id="1400000001",
            region="ap-guangzhou",
            access_key_id="AKIDechoed",
            endpoint=echoing.endpoint("tencent"),
        )
        app.secret = canaries["tencent"]
        app.full_clean()
        app.save()

        status, out, err = shell(capsys, "test", "Echoed Tencent")
        _, printed, _ = shell(capsys, "test", "Echoed Tencent", "--json")

    assert status == 1
    assert "Tencent TRTC answered: " in err
    assert never_shown(canaries, out, err, printed)


def test_test_of_an_unknown_name_exits_2(capsys, zego_app):
    status, _, err = shell(capsys, "test", "No Such App")

    assert status == 2
    assert "NAME: no vendor app named 'No Such App'" in err

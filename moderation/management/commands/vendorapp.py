"""`manage.py vendorapp`: add, change, remove and test vendor apps, list them (with their
callback paths), and make, list and revoke ban-check tokens.

    vendorapp add --vendor V --name NAME --app-id ID --secret-env VAR [--key-id ID]
                  [--region R] [--endpoint URL] [--callback-secret-env VAR]
                  [--rate-limit ACTION=N ...] [--zego-native-ban] [--json]
    vendorapp change NAME [any of add's options] [--enable | --disable] [--json]
    vendorapp remove NAME [--force]     deleted without history, else disabled (bans are kept)
    vendorapp test NAME [--json]        a harmless signed call: 0 accepted, 1 refused
    vendorapp list [--json]
    vendorapp token NAME [--name LABEL] [--rate N]     prints a new token, once, on stdout
    vendorapp token NAME --list [--json]
    vendorapp token NAME --revoke ID

A secret is read from the environment variable its option names (or typed at a prompt, on a
terminal), never from the command line. Apps are validated by the model (`full_clean`, as the
admin form does) and each message follows the option to fix. Never prints a vendor secret, a
callback secret or a stored token hash. Exit status 2 for bad input (the message names the
option); `test` exits 1 when the vendor did not accept the credentials.
"""

import argparse
import getpass
import json
import os
import sys

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils.text import get_text_list

from moderation import services
from moderation.credentials import CredentialError
from moderation.management.lookups import EXIT_BAD_INPUT, actor_named, vendor_app_named
from moderation.models import ApiToken, Vendor, VendorApp
from moderation.tokens import create_token, revoke_token
from moderation.vendor_apps import StillHolding, remove_vendor_app, save_vendor_app
from moderation.vendors import VendorInputError

EXIT_REFUSED = 1
# The option to fix for each field a ValidationError names, where it is not "--" + the field.
OPTIONS = {
    "vendor_app_id": "--app-id",
    "access_key_id": "--key-id",
    "secret": "--secret-env",
    "secret_ciphertext": "--secret-env",
    "callback_secret": "--callback-secret-env",
    "callback_secret_ciphertext": "--callback-secret-env",
    "rate_limits": "--rate-limit",
    "enabled": "--enable/--disable",
}
# Options that set a text field as typed (surrounding spaces dropped, as the admin form does).
TEXT_FIELDS = {
    "name": "name",
    "vendor": "vendor",
    "app_id": "vendor_app_id",
    "key_id": "access_key_id",
    "region": "region",
    "endpoint": "endpoint",
}
RATE_LIMIT_FORMAT = "write ACTION=N, N calls per second, e.g. --rate-limit KickoutUser=50"


def callback_path(app: VendorApp) -> str:
    return reverse("room_callback", args=[app.callback_id])


def app_as_dict(app: VendorApp) -> dict:
    return {
        "name": app.name,
        "vendor": app.vendor,
        "vendor_app_id": app.vendor_app_id,
        "region": app.region,
        "enabled": app.enabled,
        "zego_native_ban": app.zego_native_ban,
        "callback_path": callback_path(app),
    }


def app_details(app: VendorApp) -> dict:
    """What `add` and `change` print: the listing's fields, whether each secret is set (never
    the secret), the endpoint and the app's own rate limits."""
    return {
        **app_as_dict(app),
        "access_key_id": app.access_key_id,
        "endpoint": app.endpoint,
        "rate_limits": app.rate_limits,
        "secret_set": bool(app.secret_ciphertext),
        "callback_secret_set": bool(app.callback_secret_ciphertext),
    }


def app_line(app: dict) -> str:
    state = "enabled" if app["enabled"] else "disabled"
    region = f" {app['region']}" if app["region"] else ""
    return (
        f"{app['name']}: {app['vendor']} {app['vendor_app_id']}{region}, {state}, "
        f"callbacks to {app['callback_path']}"
    )


def token_as_dict(token: ApiToken) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "starts_with": token.prefix,
        "rate_per_second": token.rate_per_second,
        "created_at": token.created_at.isoformat(),
        "created_by": token.created_by.get_username() if token.created_by else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


class Command(BaseCommand):
    help = (
        "Add, change, remove and test vendor apps; list them with their room-callback paths; "
        "make, list and revoke ban-check tokens."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        add = sub.add_parser("add", help="A new vendor app (its secrets from the environment).")
        app_options(add, adding=True)

        change = sub.add_parser(
            "change", help="Change an app: only the options given (a secret only with its -env)."
        )
        change.add_argument("app", metavar="NAME", help="The vendor app's name.")
        app_options(change, adding=False)
        state = change.add_mutually_exclusive_group()
        state.add_argument(
            "--enable", action="store_true", default=None, dest="enabled", help="Enable it."
        )
        state.add_argument(
            "--disable",
            action="store_false",
            default=None,
            dest="enabled",
            help="Disable it: no new kicks, bans or mutes.",
        )

        remove = sub.add_parser(
            "remove",
            help="Delete an app without history; disable one with history (bans are kept).",
        )
        remove.add_argument("app", metavar="NAME", help="The vendor app's name.")
        remove.add_argument(
            "--force",
            action="store_true",
            help="Disable it even while bans or mutes of it are in force (they still end on "
            "time, and can be lifted).",
        )

        test = sub.add_parser(
            "test", help="A harmless signed call, as the admin's test connection makes."
        )
        test.add_argument("app", metavar="NAME", help="The vendor app's name.")
        test.add_argument("--json", action="store_true")

        listing = sub.add_parser("list", help="The vendor apps, without any secret.")
        listing.add_argument("--json", action="store_true")

        token = sub.add_parser(
            "token", help="Make a ban-check token for an app's token server (shown once)."
        )
        token.add_argument("app", metavar="NAME", help="The vendor app's name.")
        token.add_argument("--name", dest="label", help="Who uses the token (default: NAME).")
        token.add_argument("--rate", type=int, help="Requests per second (default: the setting).")
        token.add_argument("--revoke", type=int, metavar="ID", help="Revoke token ID instead.")
        token.add_argument("--list", action="store_true", help="List the app's tokens instead.")
        token.add_argument("--json", action="store_true")
        token.add_argument("--actor", help="Username the change is recorded under.")

    def handle(self, *args, action, **options):
        if action == "list":
            self.list_apps(options["json"])
            return
        if action == "add":
            self.add(options)
            return
        app = vendor_app_named(options["app"], argument="NAME")
        if action == "change":
            self.change(app, options)
        elif action == "remove":
            self.remove(app, options["force"])
        elif action == "test":
            self.test(app, options["json"])
        else:
            self.tokens(app, options)

    # --- add, change, remove, test ---------------------------------------------------------------

    def add(self, options):
        app = VendorApp(rate_limits={})
        set_fields(app, options)
        app.zego_native_ban = bool(options["zego_native_ban"])
        app.rate_limits = rate_limits(options["rate_limit"], {}, removable=False)
        secret = env_secret(options["secret_env"], "--secret-env")
        if secret is None:
            secret = prompted_secret(app)
        if secret:  # empty: as in the admin, none given ("Enter the secret: …")
            app.secret = secret
        callback_secret = env_secret(options["callback_secret_env"], "--callback-secret-env")
        if callback_secret is None and interactive():
            callback_secret = getpass.getpass("Callback secret (Enter: none yet): ")
        if callback_secret:
            app.callback_secret = callback_secret
        self.save(app, options, "Added")

    def change(self, app, options):
        settable = (*TEXT_FIELDS, "secret_env", "callback_secret_env", "zego_native_ban", "enabled")
        if all(options[name] is None for name in settable) and not options["rate_limit"]:
            raise CommandError(
                "Nothing to change: give the options to change (vendorapp change --help).",
                returncode=EXIT_BAD_INPUT,
            )
        set_fields(app, options)
        for name in ("zego_native_ban", "enabled"):
            if options[name] is not None:
                setattr(app, name, options[name])
        if options["rate_limit"]:
            app.rate_limits = rate_limits(options["rate_limit"], app.rate_limits, removable=True)
        # A secret changes only when its option is given (no prompt: scripts change one thing).
        secret = env_secret(options["secret_env"], "--secret-env")
        if secret is not None:
            app.secret = secret
        callback_secret = env_secret(options["callback_secret_env"], "--callback-secret-env")
        if callback_secret is not None:
            app.callback_secret = callback_secret
        self.save(app, options, "Changed")

    def save(self, app, options, done):
        try:
            save_vendor_app(app=app)
        except ValidationError as exc:
            raise CommandError(describe(exc), returncode=EXIT_BAD_INPUT) from None
        self.warn_unknown_actions(app, options["rate_limit"])
        details = app_details(app)
        if options["json"]:
            self.stdout.write(json.dumps(details, indent=2))
        else:
            self.stdout.write(f"{done} {app_line(details)}")
        if not details["callback_secret_set"]:
            self.stderr.write(
                f"{app.name} has no callback secret: its room callbacks are refused until one is "
                f'set (vendorapp change "{app.name}" --callback-secret-env VAR).'
            )

    def warn_unknown_actions(self, app, pairs):
        known = services.capabilities(app).rate_limits
        for action in sorted({pair.partition("=")[0].strip() for pair in pairs}):
            if action in app.rate_limits and action not in known:
                self.stderr.write(
                    f"--rate-limit: {app.get_vendor_display()} makes no call named {action!r} "
                    f"(its calls: {', '.join(sorted(known))}); that limit is kept but unused."
                )

    def remove(self, app, force):
        try:
            removal = remove_vendor_app(app=app, force=force)
        except StillHolding as held:
            shown = f'bans list --app "{app.name}" --status active (and --status pending)'
            raise CommandError(
                f"{app.name} has {counted(held.bans, 'ban')} and {counted(held.mutes, 'mute')} "
                f"in force (pending or active). Lift them first ({shown} shows them), or give "
                "--force to disable the app anyway: they then still end on time, or by a lift.",
                returncode=EXIT_BAD_INPUT,
            ) from None
        if removal.deleted:
            self.stdout.write(
                f"Deleted {app.name}: it had no bans, rooms or vendor calls. Its ban-check tokens "
                f"({removal.tokens}) went with it and no longer answer."
            )
            return
        done = f"Disabled {app.name}" if removal.was_enabled else f"{app.name} stays disabled"
        self.stdout.write(
            f"{done}, not deleted: it has {get_text_list(removal.kept, 'and')} on record, "
            "and ban records are kept for good (with the app they name). No new kicks, bans or "
            "mutes can be made for it; what holds still ends on time or by a lift, and its "
            f"ban-check tokens ({removal.tokens} active) keep answering. "
            f'vendorapp change "{app.name}" --enable turns it back on.'
        )

    def test(self, app, as_json):
        """The admin's "test connection": a kick of a user nobody uses from a room nobody uses."""
        vendor = app.get_vendor_display()
        try:
            result = services.test_connection(app)
        except (VendorInputError, CredentialError) as exc:
            raise CommandError(
                f"Cannot call {vendor}: {getattr(exc, 'message', str(exc))}",
                returncode=EXIT_REFUSED,
            ) from None
        said = f"{vendor} answered: {result.message}"
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "app": app.name,
                        "ok": result.ok,
                        "message": result.message,
                        "vendor_code": str(result.vendor_code),
                        "http_status": result.http_status,
                        "request_id": result.request_id,
                    },
                    indent=2,
                )
            )
            if not result.ok:
                raise SystemExit(EXIT_REFUSED)
        elif result.ok:
            self.stdout.write(said)
        else:
            raise CommandError(said, returncode=EXIT_REFUSED)

    # --- list and tokens ------------------------------------------------------------------------

    def list_apps(self, as_json):
        apps = [app_as_dict(app) for app in VendorApp.objects.order_by("name")]
        if as_json:
            self.stdout.write(json.dumps(apps, indent=2))
            return
        for app in apps:
            self.stdout.write(app_line(app))

    def tokens(self, app, options):
        if options["revoke"] is not None and options["list"]:
            raise CommandError("Give --revoke or --list, not both.", returncode=EXIT_BAD_INPUT)
        if options["list"]:
            self.list_tokens(app, options["json"])
        elif options["revoke"] is not None:
            self.revoke(app, options["revoke"], actor_named(options.get("actor")))
        else:
            self.make(app, options)

    def make(self, app, options):
        try:
            token, plaintext = create_token(
                app=app,
                name=options["label"] or f"token server of {app.name}",
                actor=actor_named(options.get("actor")),
                rate_per_second=options["rate"],
            )
        except ValidationError as exc:
            message = "; ".join(
                f"--{'name' if field == 'name' else 'rate'}: {' '.join(messages)}"
                for field, messages in exc.message_dict.items()
            )
            raise CommandError(message, returncode=EXIT_BAD_INPUT) from None
        # The token alone on stdout, for `TOKEN=$(manage.py vendorapp token NAME)`.
        self.stderr.write(
            f"Token {token.pk} ({token.prefix}…) for {app.name}. It is shown only now: keep it "
            "in the token server's secret store."
        )
        if options["json"]:
            self.stdout.write(json.dumps({**token_as_dict(token), "token": plaintext}))
        else:
            self.stdout.write(plaintext)

    def list_tokens(self, app, as_json):
        tokens = [token_as_dict(t) for t in app.api_tokens.select_related("created_by")]
        if as_json:
            self.stdout.write(json.dumps(tokens, indent=2))
            return
        for t in tokens:
            state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
            self.stdout.write(f"#{t['id']} {t['name']} ({t['starts_with']}…): {state}")

    def revoke(self, app, token_id, actor):
        token = app.api_tokens.filter(pk=token_id).first()
        if token is None:
            raise CommandError(
                f"--revoke: {app.name} has no token {token_id}.", returncode=EXIT_BAD_INPUT
            )
        token = revoke_token(token=token, actor=actor)
        self.stdout.write(f"Token {token.pk} ({token.prefix}…) of {app.name} revoked.")


# --- What add and change read ---------------------------------------------------------------------


def app_options(parser, *, adding):
    """add's options (required ones there), each optional for change."""
    need = {"required": adding}
    parser.add_argument(
        "--vendor", choices=Vendor.values, **need, help="volcengine, zego or tencent."
    )
    parser.add_argument("--name", **need, help="The app's name here (unique).")
    parser.add_argument(
        "--app-id", **need, help="Volcengine AppId, ZEGO AppId or Tencent SdkAppId."
    )
    parser.add_argument("--key-id", help="Volcengine AccessKeyId or Tencent SecretId.")
    parser.add_argument(
        "--secret-env",
        metavar="VAR",
        help="The environment variable holding the secret (Volcengine SecretAccessKey, ZEGO "
        "ServerSecret, Tencent SecretKey)"
        + (": asked for on a terminal without it." if adding else "."),
    )
    parser.add_argument(
        "--callback-secret-env",
        metavar="VAR",
        help="The environment variable holding the key the vendor signs room callbacks with"
        + (" (asked for on a terminal without it)." if adding else "."),
    )
    parser.add_argument("--region", help="Volcengine and Tencent: the vendor's region.")
    parser.add_argument(
        "--endpoint", metavar="URL", help="Instead of the vendor's own (e.g. the emulator)."
    )
    parser.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="ACTION=N",
        help="Calls per second for one vendor action, where it differs from the documented "
        "limit (repeatable)" + (". ACTION= alone drops it." if not adding else "."),
    )
    parser.add_argument(
        "--zego-native-ban",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ZEGO only, where ZEGO support enabled user ban rules: use ZEGO's own ban.",
    )
    parser.add_argument("--json", action="store_true", help="Print the app as JSON.")


def set_fields(app: VendorApp, options) -> None:
    for option, field in TEXT_FIELDS.items():
        if options[option] is not None:
            setattr(app, field, options[option].strip())


def rate_limits(pairs, current: dict, *, removable: bool) -> dict:
    """ACTION=N pairs over the app's current limits; `removable`: ACTION= drops one. Whether N
    is a usable rate is the model's to say (positive, at most MAX_RATE)."""
    limits = dict(current) if isinstance(current, dict) else {}
    for pair in pairs:
        action, equals, number = (part.strip() for part in pair.partition("="))
        if not equals or not action:
            raise CommandError(f"--rate-limit: {RATE_LIMIT_FORMAT}.", returncode=EXIT_BAD_INPUT)
        if not number and removable:
            limits.pop(action, None)
            continue
        try:
            rate = float(number)
        except ValueError:
            raise CommandError(
                f"--rate-limit: {action}={number} is not a number of calls per second: "
                f"{RATE_LIMIT_FORMAT}.",
                returncode=EXIT_BAD_INPUT,
            ) from None
        limits[action] = int(rate) if rate.is_integer() else rate
    return limits


def env_secret(variable: str | None, option: str) -> str | None:
    """The value of the environment variable the option names; None without the option.

    The variable's name is never echoed: it might be a secret typed in its place.
    """
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise CommandError(
            f"{option}: no environment variable of that name is set. Give the variable's name "
            f"(e.g. {option} APP_SECRET), never the secret itself.",
            returncode=EXIT_BAD_INPUT,
        )
    if not value:
        raise CommandError(
            f"{option}: that environment variable is empty.", returncode=EXIT_BAD_INPUT
        )
    return value


def counted(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def prompted_secret(app: VendorApp) -> str:
    if not interactive():
        raise CommandError(
            "--secret-env: give the environment variable that holds the secret (e.g. "
            "--secret-env APP_SECRET). Secrets are never read from the command line, and there "
            "is no terminal to ask on.",
            returncode=EXIT_BAD_INPUT,
        )
    return getpass.getpass(f"{app.secret_label()} for {app.name}: ")


def describe(exc: ValidationError) -> str:
    """The model's messages, each after the option to fix ("--app-id: ZEGO app IDs are …")."""
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    parts = []
    for field, errors in exc.error_dict.items():
        for error in errors:
            if field != NON_FIELD_ERRORS:
                option = OPTIONS.get(field, "--" + field.replace("_", "-"))
            else:  # the one model-wide rule: an app id once per vendor
                option = "--app-id" if error.code == "unique_together" else ""
            text = " ".join(error.messages)
            parts.append(f"{option}: {text}" if option else text)
    return "; ".join(parts)

"""`manage.py vendorapp`: list vendor apps (with their callback paths) and manage ban-check tokens.

    vendorapp list [--json]
    vendorapp token NAME [--name LABEL] [--rate N]     prints a new token, once, on stdout
    vendorapp token NAME --list [--json]
    vendorapp token NAME --revoke ID

Never prints a vendor secret, a callback secret or a stored token hash. Exit status 2 for bad
input (the message names the option).
"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from moderation.management.lookups import EXIT_BAD_INPUT, actor_named, vendor_app_named
from moderation.models import ApiToken, VendorApp
from moderation.tokens import create_token, revoke_token


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
    help = "List vendor apps and their room-callback paths; make, list and revoke ban-check tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
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
        app = vendor_app_named(options["app"], argument="NAME")
        if options["revoke"] is not None and options["list"]:
            raise CommandError("Give --revoke or --list, not both.", returncode=EXIT_BAD_INPUT)
        if options["list"]:
            self.list_tokens(app, options["json"])
        elif options["revoke"] is not None:
            self.revoke(app, options["revoke"], actor_named(options.get("actor")))
        else:
            self.make(app, options)

    def list_apps(self, as_json):
        apps = [app_as_dict(app) for app in VendorApp.objects.order_by("name")]
        if as_json:
            self.stdout.write(json.dumps(apps, indent=2))
            return
        for app in apps:
            state = "enabled" if app["enabled"] else "disabled"
            region = f" {app['region']}" if app["region"] else ""
            self.stdout.write(
                f"{app['name']}: {app['vendor']} {app['vendor_app_id']}{region}, {state}, "
                f"callbacks to {app['callback_path']}"
            )

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

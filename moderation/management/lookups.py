"""What the management commands look up by name, with errors that say what to type instead."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from moderation.models import VendorApp

EXIT_BAD_INPUT = 2


def vendor_app_named(name: str, *, argument: str) -> VendorApp:
    try:
        return VendorApp.objects.get(name=name)
    except VendorApp.DoesNotExist:
        names = ", ".join(VendorApp.objects.values_list("name", flat=True)) or "none yet"
        raise CommandError(
            f"{argument}: no vendor app named {name!r} (apps: {names}).",
            returncode=EXIT_BAD_INPUT,
        ) from None


def actor_named(username: str | None):
    """The user an action is recorded under; None (the system) when no --actor was given."""
    if not username:
        return None
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise CommandError(
            f"--actor: no user named {username!r}.", returncode=EXIT_BAD_INPUT
        ) from None

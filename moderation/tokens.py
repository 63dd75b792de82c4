"""API tokens for the ban check: made once, kept only as a hash, revocable.

`create_token` and `revoke_token` are what the admin and `manage.py vendorapp token` call.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import bancheck
from .models import ApiToken, VendorApp
from .transactions import writing

log = logging.getLogger(__name__)

# "rtcm_" tells a leaked token apart in a secret scanner; 32 random bytes after it.
TOKEN_PREFIX = "rtcm_"  # noqa: S105 - a marker, not a secret
SHOWN_PREFIX_LENGTH = 12
NAME_MAX_LENGTH = 100


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Name the token after the server that will use it.")})
    if len(name) > NAME_MAX_LENGTH or any(unicodedata.category(c)[0] == "C" for c in name):
        raise ValidationError(
            {
                "name": _("A token name is at most %(max)d characters, without control characters.")
                % {"max": NAME_MAX_LENGTH}
            }
        )
    return name


def _clean_rate(rate: int | None) -> int | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 1_000_000:
        raise ValidationError(
            {"rate_per_second": _("Give a whole number of requests per second, 1 or more.")}
        )
    return rate


def create_token(
    *, app: VendorApp, name: str, actor=None, rate_per_second: int | None = None
) -> tuple[ApiToken, str]:
    """Makes a token for `app`'s token server; returns it with the plaintext, shown only now."""
    name = _clean_name(name)
    rate_per_second = _clean_rate(rate_per_second)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    hashed = bancheck.token_hash(plaintext)
    with transaction.atomic():
        token = ApiToken.objects.create(
            app=app,
            name=name,
            prefix=plaintext[:SHOWN_PREFIX_LENGTH],
            token_hash=hashed,
            rate_per_second=rate_per_second,
            created_by=actor,
        )
        transaction.on_commit(lambda: bancheck.refresh_tokens([hashed]))
    log.info(
        "API token %s (%s…) made for app %s by %s.",
        token.pk,
        token.prefix,
        app.pk,
        actor.get_username() if actor else "the system",
    )
    return token, plaintext


def revoke_token(*, token: ApiToken, actor=None) -> ApiToken:
    """Stops a token at once, everywhere; revoking twice changes nothing."""
    with writing():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        hashed = token.token_hash
        transaction.on_commit(lambda: bancheck.refresh_tokens([hashed]))
    log.info(
        "API token %s (%s…) of app %s revoked by %s.",
        token.pk,
        token.prefix,
        token.app_id,
        actor.get_username() if actor else "the system",
    )
    return token

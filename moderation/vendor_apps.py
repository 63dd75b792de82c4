"""Vendor apps as `manage.py vendorapp` writes them: saved through the model's validation, and
removed only as far as their history allows.

The admin saves apps through its ModelForm, which runs the same `VendorApp.full_clean()`: the
command and the admin accept and refuse the same apps, with the same messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError

from . import bancheck
from .models import VendorApp
from .selectors import bans_held_by
from .transactions import writing

log = logging.getLogger(__name__)


class StillHolding(Exception):
    """The app has bans or mutes in force (pending or active)."""

    def __init__(self, bans: int, mutes: int):
        super().__init__(f"{bans} bans and {mutes} mutes in force")
        self.bans, self.mutes = bans, mutes


@dataclass(frozen=True)
class Removal:
    deleted: bool  # False: disabled instead, its history kept
    kept: list[str]  # what made it stay: "bans", "rooms", "vendor calls"
    was_enabled: bool
    tokens: int  # ban-check tokens: deleted with the app, or (disabled) still answering


def save_vendor_app(*, app: VendorApp) -> VendorApp:
    """Validates the app by the model's rules (`full_clean`, as the admin form does) and saves
    it; a ValidationError is keyed by the field to fix. Never logs a secret."""
    adding = app._state.adding
    app.full_clean()
    try:
        with transaction.atomic():
            app.save()
    except IntegrityError:
        # Another process took the name or the app id since full_clean looked: say which.
        app.full_clean()
        raise
    log.info("Vendor app %s (%s) %s.", app.pk, app.name, "added" if adding else "changed")
    return app


def kept_history(app: VendorApp) -> list[str]:
    """The kinds of record naming the app that are never deleted with it (PROTECT): bans (and
    their log), rooms, vendor calls. One EXISTS query each, whatever their number."""
    kept = []
    for relation in VendorApp._meta.related_objects:
        if relation.on_delete not in (models.PROTECT, models.RESTRICT):
            continue
        related = relation.related_model._base_manager.filter(**{relation.field.name: app})
        if related.exists():
            kept.append(str(relation.related_model._meta.verbose_name_plural))
    return kept


def remove_vendor_app(*, app: VendorApp, force: bool = False) -> Removal:
    """Deletes an app that has no history; disables one that has.

    Ban records are kept for good (their app is PROTECT), and so is the app they name: such an
    app is disabled instead (no new kicks, bans or mutes; what holds still ends on time or by a
    lift, and its ban-check tokens keep answering). Raises StillHolding while bans or mutes of
    the app are in force, unless `force`. An app without history is deleted with what cascades
    from it (tokens, presence, callback deliveries), and its tokens stop at once.
    """
    if not force:
        bans, mutes = bans_held_by(app)
        if bans or mutes:
            raise StillHolding(bans, mutes)
    pk = app.pk
    with writing():
        kept = kept_history(app)
        if not kept:
            hashes = list(app.api_tokens.values_list("token_hash", flat=True))
            try:
                with transaction.atomic():
                    app.delete()
            except (ProtectedError, RestrictedError):
                kept = kept_history(app)  # made in the meantime
            else:
                transaction.on_commit(lambda: bancheck.refresh_tokens(hashes))
                log.info("Vendor app %s (%s) deleted.", pk, app.name)
                return Removal(deleted=True, kept=[], was_enabled=app.enabled, tokens=len(hashes))
        app = VendorApp.objects.select_for_update().get(pk=pk)
        was_enabled = app.enabled
        if was_enabled:
            app.enabled = False
            app.save(update_fields=["enabled", "updated_at"])
        tokens = app.api_tokens.filter(revoked_at__isnull=True).count()
    log.info("Vendor app %s (%s) disabled, its history kept: %s.", pk, app.name, ", ".join(kept))
    return Removal(deleted=False, kept=kept, was_enabled=was_enabled, tokens=tokens)

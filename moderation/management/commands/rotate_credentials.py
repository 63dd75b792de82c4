"""Re-encrypts every stored vendor secret under the first key of CREDENTIAL_KEYS.

Key rotation: put the new key first in CREDENTIAL_KEYS (keeping the old ones after it), run
this, then remove the old keys.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from moderation.credentials import CredentialError, reencrypt
from moderation.models import VendorApp

ENCRYPTED_FIELDS = ["secret_ciphertext", "callback_secret_ciphertext"]


class Command(BaseCommand):
    help = "Re-encrypt every vendor secret under the first key of CREDENTIAL_KEYS."

    def handle(self, *args, **options):
        done = 0
        with transaction.atomic():
            for app in VendorApp.objects.select_for_update().order_by("pk"):
                changed = []
                for field in ENCRYPTED_FIELDS:
                    token = getattr(app, field)
                    if not token:
                        continue
                    try:
                        setattr(app, field, reencrypt(token))
                    except CredentialError:
                        # Nothing is written: one unreadable secret rolls back the whole run.
                        raise CommandError(
                            f"Vendor app {app.name!r}: {field.removesuffix('_ciphertext')} cannot "
                            "be decrypted with any key in CREDENTIAL_KEYS; nothing was changed. "
                            "Add the key it was encrypted with, or enter it again in the admin."
                        ) from None
                    changed.append(field)
                if changed:
                    app.save(update_fields=changed)
                    done += 1
        self.stdout.write(f"Re-encrypted the secrets of {done} vendor app(s) under the first key.")

"""Start-up checks: what would otherwise only show as a 500 in production."""

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.core import checks


@checks.register(checks.Tags.staticfiles)
def admin_media_exists(app_configs=None, **kwargs):
    """Every static file an admin's Media names exists.

    Without DEBUG, the manifest storage fails every page of that admin on a file nobody wrote
    (ValueError: Missing staticfiles manifest entry).
    """
    errors = []
    for model_admin in admin.site._registry.values():
        media = getattr(type(model_admin), "Media", None)
        paths = list(getattr(media, "js", ())) + [
            path for group in getattr(media, "css", {}).values() for path in group
        ]
        for path in paths:
            if not path.startswith(("http://", "https://", "/")) and not finders.find(path):
                errors.append(
                    checks.Error(
                        f"{type(model_admin).__name__}.Media names {path}, which no static "
                        "directory holds: without DEBUG every page of that admin answers 500.",
                        hint=f"Add {path} under static/ or take it out of the Media.",
                        obj=type(model_admin),
                        id="moderation.E001",
                    )
                )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def bench_noop_off(app_configs=None, **kwargs):
    """BENCH_NOOP is `manage.py bench`'s alone: it sets it for the server it starts."""
    if not settings.BENCH_NOOP:
        return []
    return [
        checks.Warning(
            "BENCH_NOOP is on: /bench/noop answers every request without Django, as only the "
            "benchmark's own server should.",
            hint="Unset BENCH_NOOP (or set it to false) in production.",
            id="moderation.W001",
        )
    ]

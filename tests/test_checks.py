"""Start-up checks (moderation/checks.py) name what would otherwise be a 500 without DEBUG."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from moderation.checks import admin_media_exists
from moderation.models import Presence


def test_the_products_admins_name_only_static_files_that_exist():
    assert admin_media_exists() == []


@pytest.fixture
def admin_with_missing_media():
    class PresenceAdmin(admin.ModelAdmin):
        class Media:
            js = ["moderation/no-such-file.js"]
            css = {"all": ["moderation/moderation.css"]}

    admin.site.register(Presence, PresenceAdmin)
    yield PresenceAdmin
    admin.site.unregister(Presence)


def test_an_admin_naming_a_missing_static_file_fails_the_check(admin_with_missing_media):
    (error,) = admin_media_exists()

    assert error.id == "moderation.E001"
    assert "PresenceAdmin.Media names moderation/no-such-file.js" in error.msg
    with pytest.raises(SystemCheckError, match="no-such-file.js"):
        call_command("check")

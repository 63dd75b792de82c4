from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Ban, CannedReason, ModerationLog, Room, VendorApp, VendorCall

admin.site.site_header = _("RTC moderation console")
admin.site.site_title = _("RTC moderation")
admin.site.index_title = _("Moderation")


class VendorAppForm(forms.ModelForm):
    # Write-only: a stored secret is never rendered back; an empty field keeps it.
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    # A URL typed without a scheme means https (Django 6's default, chosen now).
    endpoint = VendorApp._meta.get_field("endpoint").formfield(assume_scheme="https")
    callback_secret = forms.CharField(
        label=_("Callback secret"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = VendorApp
        fields = [
            "name",
            "vendor",
            "vendor_app_id",
            "region",
            "access_key_id",
            "secret",
            "callback_secret",
            "endpoint",
            "enabled",
            "rate_limits",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        app = self.instance
        self.fields["secret"].help_text = _(
            "Volcengine SecretAccessKey, ZEGO ServerSecret or Tencent SecretKey. %(state)s"
        ) % {"state": _secret_state(app.secret_ciphertext)}
        self.fields["callback_secret"].help_text = _(
            "The key the vendor signs room-event callbacks with. %(state)s"
        ) % {"state": _secret_state(app.callback_secret_ciphertext)}

    def clean(self):
        cleaned = super().clean()
        for name in ("secret", "callback_secret"):
            if cleaned.get(name):
                setattr(self.instance, name, cleaned[name])
        return cleaned


def _secret_state(ciphertext):
    if ciphertext:
        return _("Currently set: leave empty to keep it, or type a new value to replace it.")
    return _("Currently not set.")


@admin.register(VendorApp)
class VendorAppAdmin(admin.ModelAdmin):
    form = VendorAppForm
    list_display = ["name", "vendor", "vendor_app_id", "region", "enabled", "secret_is_set"]
    list_filter = ["vendor", "enabled", "region"]
    search_fields = ["name", "vendor_app_id"]

    @admin.display(boolean=True, description=_("secret set"))
    def secret_is_set(self, app):
        return bool(app.secret_ciphertext)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["room_id", "label", "app", "last_seen_at"]
    list_filter = ["app__vendor", "app"]
    search_fields = ["room_id", "label"]
    list_select_related = ["app"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the services: viewable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Ban)
class BanAdmin(ReadOnlyAdmin):
    list_display = [
        "user_id",
        "room",
        "app",
        "kind",
        "scope",
        "status",
        "requested_seconds",
        "created_by",
        "created_at",
        "expires_at",
    ]
    list_filter = ["status", "kind", "scope", "app__vendor", "app"]
    search_fields = ["user_id", "room__room_id", "reason"]
    list_select_related = ["app", "room", "created_by"]
    show_full_result_count = False


@admin.register(VendorCall)
class VendorCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "app", "action", "ok", "http_status", "vendor_code", "latency_ms"]
    list_filter = ["ok", "retryable", "action", "app"]
    search_fields = ["vendor_request_id", "vendor_code"]
    list_select_related = ["app"]
    show_full_result_count = False


@admin.register(ModerationLog)
class ModerationLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event", "ban", "actor", "message"]
    list_filter = ["event"]
    search_fields = ["ban__user_id", "message"]
    list_select_related = ["ban", "ban__room", "actor"]
    show_full_result_count = False


@admin.register(CannedReason)
class CannedReasonAdmin(admin.ModelAdmin):
    list_display = ["text", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["active"]
    search_fields = ["text"]

    def has_delete_permission(self, request, obj=None):
        return False  # retire instead: past bans keep their reason text either way

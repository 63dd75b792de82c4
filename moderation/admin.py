from datetime import date, datetime, time, timedelta
from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, Q
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import admin_views, room_views, selectors
from .forms import BoundedJSONField
from .models import Ban, CannedReason, ModerationLog, Room, VendorApp, VendorCall
from .templatetags.moderation import duration, remaining, said, vendor_said

admin.site.site_header = _("RTC moderation console")
admin.site.site_title = _("RTC moderation")
admin.site.index_title = _("Moderation")
# Wide tables (ban history) need the room more than a second list of models does.
admin.site.enable_nav_sidebar = False


def _admin_view(model_admin, function):
    """A view of admin_views (or room_views), called with its admin, behind the admin's login."""

    def wrapped(request, *args, **kwargs):
        return function(model_admin, request, *args, **kwargs)

    return model_admin.admin_site.admin_view(wrapped)


# Primary keys are 64-bit: a longer number is no row, and the database driver refuses it.
MAX_ROW_ID = 2**63 - 1


def _is_row_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and int(value) <= MAX_ROW_ID


class ConsoleAdmin(admin.ModelAdmin):
    """Django's ModelAdmin, without the 500 a crafted POST to a list's actions reaches."""

    def response_action(self, request, queryset):
        # Django filters by the selected ids as sent: one that is not a number (or too big for
        # the column) raises instead of selecting nothing.
        if not all(map(_is_row_id, request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))):
            self.message_user(
                request,
                gettext(
                    "Items must be selected in order to perform actions on them. No items have "
                    "been changed."
                ),
                messages.WARNING,
            )
            return None
        return super().response_action(request, queryset)


# --- Vendor apps (staff) ------------------------------------------------------------------------


class EndpointField(forms.URLField):
    """A URL typed without a scheme means https (Django 6's default, chosen now). Whether the
    URL will do is decided by VendorApp.clean with the vendor layer's parse_endpoint, the rule
    the clients follow, and not by Django's URLValidator."""

    default_validators = []


# Rate limits: a flat object of up to 50 actions fits in well under this.
RATE_LIMITS_MAX_CHARACTERS = 8192


class VendorAppForm(forms.ModelForm):
    # Write-only: a stored secret is never rendered back; an empty field keeps it.
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    endpoint = VendorApp._meta.get_field("endpoint").formfield(
        form_class=EndpointField,
        assume_scheme="https",
        help_text=_(
            "Leave empty for the vendor's own endpoint. For a private deployment, its https:// "
            "URL; plain http:// only to this machine, e.g. the vendor emulator at "
            "http://127.0.0.1:8090/zego"
        ),
    )
    # Refused by length and nesting before it is parsed (VendorApp.clean checks what is in it).
    rate_limits = VendorApp._meta.get_field("rate_limits").formfield(
        form_class=BoundedJSONField,
        max_length=RATE_LIMITS_MAX_CHARACTERS,
        max_depth=1,
        error_messages={
            "too_deep": _("%(field)s: give a flat JSON object, with no object or list inside it.")
        },
    )
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
            "zego_native_ban",
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
class VendorAppAdmin(ConsoleAdmin):
    form = VendorAppForm
    list_display = ["name", "vendor", "vendor_app_id", "region", "enabled", "secret_is_set"]
    list_filter = ["vendor", "enabled", "region"]
    search_fields = ["name", "vendor_app_id"]
    change_form_template = "admin/moderation/vendorapp/change_form.html"
    delete_confirmation_template = "admin/moderation/vendorapp/delete_confirmation.html"

    class Media:
        js = ["moderation/vendorapp.js"]

    @admin.display(boolean=True, description=_("secret set"))
    def secret_is_set(self, app):
        return bool(app.secret_ciphertext)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # One app at a time, on its own delete page, which says what goes and what stays.
        actions.pop("delete_selected", None)
        return actions

    def get_deleted_objects(self, objs, request):
        """What deleting these apps takes with it, in counts by kind, never row by row.

        Django's list names each row, and these rows (room presence, callback deliveries,
        published streams) carry user and room ids that credential managers may not read; it
        also loads every row, and an app's history runs to millions. Rows that keep the app
        (PROTECT: rooms, bans, vendor calls) are counted as protected: nobody may delete those.
        """
        apps = list(objs)
        opts = VendorApp._meta
        per_app = {app.pk: [] for app in apps}
        model_count = {opts.verbose_name_plural: len(apps)}
        perms_needed, protected = set(), []
        for relation in opts.related_objects:
            on_delete = getattr(relation, "on_delete", None)
            if on_delete not in (models.CASCADE, models.PROTECT, models.RESTRICT):
                continue  # SET_NULL and the like: those rows stay, without the app
            model, name = relation.related_model, relation.field.name
            counts = dict(
                model._base_manager.filter(**{f"{name}__in": apps})
                .order_by()
                .values_list(name)
                .annotate(rows=Count("pk"))
                .values_list(name, "rows")
            )
            total = sum(counts.values())
            if not total:
                continue
            plural = model._meta.verbose_name_plural
            if on_delete is not models.CASCADE:
                protected.append(f"{capfirst(plural)}: {total}")
                continue
            model_count[plural] = total
            for pk, rows in counts.items():
                per_app[pk].append(f"{capfirst(plural)}: {rows}")
            if self.admin_site.is_registered(model) and not self.admin_site.get_model_admin(
                model
            ).has_delete_permission(request):
                perms_needed.add(model._meta.verbose_name)
        deleted = []  # as Django's unordered_list takes it: an item, then a list of its own
        for app in apps:
            deleted.append(f"{capfirst(opts.verbose_name)}: {app}")
            if per_app[app.pk]:
                deleted.append(per_app[app.pk])
        return deleted, model_count, perms_needed, protected

    def change_view(self, request, object_id, form_url="", extra_context=None):
        app = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if app is not None:
            extra["callback_url"] = request.build_absolute_uri(
                reverse("room_callback", args=[app.callback_id])
            )
            extra["ban_check_url"] = request.build_absolute_uri(reverse("ban_check"))
            extra["tokens"] = app.api_tokens.select_related("created_by").order_by("-created_at")
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        bind = partial(_admin_view, self)
        return [
            path(
                "<int:app_id>/test/",
                bind(admin_views.test_connection),
                name="moderation_vendorapp_test",
            ),
            path(
                "<int:app_id>/tokens/new/",
                bind(admin_views.token_create),
                name="moderation_vendorapp_token_create",
            ),
            path(
                "<int:app_id>/tokens/<int:token_id>/revoke/",
                bind(admin_views.token_revoke),
                name="moderation_vendorapp_token_revoke",
            ),
        ] + super().get_urls()


# --- Rooms ----------------------------------------------------------------------------------------


@admin.register(Room)
class RoomAdmin(ConsoleAdmin):
    list_display = [
        "room_id",
        "label",
        "app",
        "members_now",
        "bans_in_force",
        "last_seen_at",
        "moderate_buttons",
    ]
    list_filter = ["app__vendor", "app"]
    search_fields = ["room_id", "label"]
    list_select_related = ["app"]
    fields = ["app_label", "room_id", "label", "last_seen_at"]
    change_form_template = "admin/moderation/room/change_form.html"

    class Media:
        css = {"all": ["moderation/moderation.css"]}
        js = ["moderation/room.js"]

    def get_queryset(self, request):
        return selectors.with_room_counts(super().get_queryset(request))

    def get_fields(self, request, obj=None):
        # The app is chosen when a room is added, and shown (not linked) afterwards.
        return ["app" if obj is None else "app_label", "room_id", "label", "last_seen_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["app_label", "room_id", "last_seen_at"] if obj else ["last_seen_at"]

    @admin.display(description=_("app"))
    def app_label(self, room):
        # Not a link: the vendor app's page is for staff who manage credentials, not for the
        # moderators and supervisors who read rooms.
        return str(room.app)

    def get_urls(self):
        bind = partial(_admin_view, self)
        return [
            path(
                "<int:room_id>/members/", bind(room_views.members), name="moderation_room_members"
            ),
            path("search/", bind(room_views.search), name="moderation_room_search"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        room = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if room is not None:
            extra.update(room_views.members_context(request, room))
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description=_("in the room now"), ordering="member_count")
    def members_now(self, room):
        return room.member_count

    @admin.display(description=_("bans in force"), ordering="ban_count")
    def bans_in_force(self, room):
        return room.ban_count

    @admin.display(description=_("act"))
    def moderate_buttons(self, room):
        if not self._can_moderate:
            return ""
        url = reverse("admin:moderation_ban_moderate")
        return format_html(
            '<a class="button mod-kick" href="{}?room={}&action=kick">{}</a> '
            '<a class="button mod-ban" href="{}?room={}&action=ban">{}</a>',
            url,
            room.pk,
            _("Kick"),
            url,
            room.pk,
            _("Ban"),
        )

    def changelist_view(self, request, extra_context=None):
        self._can_moderate = request.user.has_perm("moderation.add_ban")
        return super().changelist_view(request, extra_context)

    def get_list_display(self, request):
        fields = super().get_list_display(request)
        if not request.user.has_perm("moderation.add_ban"):
            return [f for f in fields if f != "moderate_buttons"]
        return fields


# --- Bans: the history, and the moderators' actions ---------------------------------------------


class ActiveNowFilter(admin.SimpleListFilter):
    title = _("in force")
    parameter_name = "active_now"

    def lookups(self, request, model_admin):
        return [("yes", _("In force now"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=Ban.Status.ACTIVE).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
            )
        return queryset


class DateRangeFilter(admin.FieldListFilter):
    """From / to dates (inclusive) typed in, in the viewer's time zone."""

    template = "admin/moderation/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.since_key = f"{field_path}__since"
        self.until_key = f"{field_path}__until"
        # FieldListFilter takes our expected parameters out of `params` into used_parameters.
        super().__init__(field, request, params, model, model_admin, field_path)
        self.since = self._date(self.used_parameters.get(self.since_key))
        self.until = self._date(self.used_parameters.get(self.until_key))

    @staticmethod
    def _date(value):
        if isinstance(value, list):
            value = value[-1] if value else None
        try:
            return parse_date(value) if value else None
        except ValueError:
            return None

    def expected_parameters(self):
        return [self.since_key, self.until_key]

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        zone = timezone.get_current_timezone()
        if self.since:
            queryset = queryset.filter(
                **{f"{self.field_path}__gte": datetime.combine(self.since, time.min, zone)}
            )
        if self.until and self.until < date.max:  # the last day there is has no end to add
            queryset = queryset.filter(
                **{
                    f"{self.field_path}__lt": datetime.combine(
                        self.until + timedelta(days=1), time.min, zone
                    )
                }
            )
        return queryset

    def choices(self, changelist):
        return [
            {
                "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else "",
                "since_key": self.since_key,
                "until_key": self.until_key,
                "other": [
                    (key, value)
                    for key, values in changelist.params.items()
                    if key not in (self.since_key, self.until_key)
                    for value in (values if isinstance(values, list) else [values])
                ],
            }
        ]


class RoomIdFilter(admin.SimpleListFilter):
    """A typed room ID: an app may have more rooms than a list of links can show."""

    title = _("room")
    parameter_name = "room_id"
    template = "admin/moderation/text_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # has_output() needs one; the template shows a text box instead

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(room__room_id=value) if value else queryset

    def choices(self, changelist):
        yield {
            "value": self.value() or "",
            "parameter": self.parameter_name,
            "other": [
                (key, value)
                for key, values in changelist.params.items()
                if key != self.parameter_name
                for value in (values if isinstance(values, list) else [values])
            ],
        }


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows, so a page costs the same at ten thousand or ten million.

    Past the cap the history shows "10000+"; filters narrow it down from there.
    """

    COUNT_CAP = 10_000

    @cached_property
    def count(self):
        capped = self.object_list.order_by()[: self.COUNT_CAP + 1]
        return capped.count()

    @property
    def is_capped(self):
        return self.count > self.COUNT_CAP


class ReadOnlyAdmin(ConsoleAdmin):
    """Records written only by the services: viewable, never edited by hand."""

    paginator = CappedCountPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Ban)
class BanAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "target",
        "room_link",
        "app",
        "status_badge",
        "duration_label",
        "remaining_label",
        "created_by",
        "created_at",
    ]
    list_display_links = ["id"]  # the user column links to the user's timeline
    list_filter = [
        "status",
        ActiveNowFilter,
        "kind",
        "scope",
        "app__vendor",
        "app",
        RoomIdFilter,
        "created_by",
        ("created_at", DateRangeFilter),
    ]
    search_fields = ["=user_id", "reason"]
    search_help_text = _("A user ID or room ID (exact), or words of the reason.")
    list_select_related = ["app", "room", "created_by"]
    show_full_result_count = False
    list_per_page = 50
    actions = ["lift_selected", "change_selected"]
    change_list_template = "admin/moderation/ban/change_list.html"
    change_form_template = "admin/moderation/ban/change_form.html"
    fields = [
        "kind",
        "media",
        "scope",
        "app_label",
        "room",
        "user_id",
        "status",
        "requested_duration",
        "effective_duration",
        "reason",
        "created_by_name",
        "created_at",
        "starts_at",
        "expires_at",
        "lifted_by_name",
        "lifted_at",
        "lift_reason",
        "vendor_answer",
        "vendor_request_ids",
        "batch_link",
    ]
    readonly_fields = [
        "app_label",
        "created_by_name",
        "lifted_by_name",
        "requested_duration",
        "effective_duration",
        "vendor_answer",
        "batch_link",
    ]

    class Media:
        css = {"all": ["moderation/moderation.css"]}
        js = []

    def get_urls(self):
        bind = partial(_admin_view, self)
        return [
            path("moderate/", bind(admin_views.moderate), name="moderation_ban_moderate"),
            path("batch/<str:batch_id>/", bind(admin_views.batch), name="moderation_ban_batch"),
            path(
                "batch/<str:batch_id>/status/",
                bind(admin_views.batch_status),
                name="moderation_ban_batch_status",
            ),
            path(
                "batch/<str:batch_id>/lift/",
                bind(admin_views.lift_batch),
                name="moderation_ban_batch_lift",
            ),
            path("timeline/", bind(admin_views.timeline), name="moderation_ban_timeline"),
            path("export.csv", bind(admin_views.export_csv), name="moderation_ban_export"),
            path("<int:ban_id>/lift/", bind(admin_views.lift), name="moderation_ban_lift"),
            path(
                "<int:ban_id>/duration/",
                bind(admin_views.change_duration),
                name="moderation_ban_duration",
            ),
            path("<int:ban_id>/retry/", bind(admin_views.retry), name="moderation_ban_retry"),
        ] + super().get_urls()

    def get_search_results(self, request, queryset, search_term):
        # The room is looked up first and its ids passed as values: with a join, or even a
        # subquery, PostgreSQL reads every ban instead of OR-ing three indexes (user_id, room,
        # and the reason's trigram index, migration 0005).
        term = search_term.strip()
        if not term:
            return queryset, False
        rooms = list(Room.objects.filter(room_id=term).values_list("pk", flat=True)[:100])
        matches = Q(user_id=term) | Q(room_id__in=rooms) | Q(reason__icontains=term)
        return queryset.filter(matches), False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("moderation.lift_ban"):
            actions.pop("lift_selected", None)
            actions.pop("change_selected", None)
        return actions

    @admin.action(description=_("Lift selected bans"))
    def lift_selected(self, request, queryset):
        return admin_views.lift_or_change(self, request, list(queryset[:1000]), "lift", bulk=True)

    @admin.action(description=_("Extend or shorten selected bans"))
    def change_selected(self, request, queryset):
        return admin_views.lift_or_change(self, request, list(queryset[:1000]), "change", bulk=True)

    @admin.display(description=_("user"), ordering="user_id")
    def target(self, ban):
        if not ban.user_id:
            return _("(whole room)")
        url = reverse("admin:moderation_ban_timeline")
        # The whole id in the title: a long one is cut short on screen, never broken.
        return format_html(
            '<a class="id-cell" href="{}?{}" title="{}">{}</a>',
            url,
            urlencode({"user": ban.user_id}),
            ban.user_id,
            ban.user_id,
        )

    @admin.display(description=_("room"))
    def room_link(self, ban):
        if not ban.room_id:
            return _("(every room)")
        return format_html('<span class="id-cell" title="{0}">{0}</span>', ban.room.room_id)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, ban):
        return format_html(
            '<span class="ban-status ban-status-{}" title="{}">{}</span>',
            ban.status,
            vendor_said(ban),
            ban.get_status_display(),
        )

    @admin.display(description=_("duration"))
    def duration_label(self, ban):
        # A kick says so here: one column fewer keeps the list readable at 1024 px.
        if ban.kind == Ban.Kind.KICK:
            return Ban.Kind.KICK.label
        if ban.kind == Ban.Kind.MUTE:
            return _("mute %(media)s · %(duration)s") % {
                "media": ban.get_media_display(),
                "duration": duration(ban.effective_seconds),
            }
        return duration(ban.effective_seconds)

    @admin.display(description=_("time left"))
    def remaining_label(self, ban):
        return remaining(ban)

    # Names, not links: the app's page is staff's, the users' pages are superusers'.
    @admin.display(description=_("app"))
    def app_label(self, ban):
        return str(ban.app)

    @admin.display(description=_("created by"))
    def created_by_name(self, ban):
        return ban.created_by.get_username() if ban.created_by_id else _("system")

    @admin.display(description=_("lifted by"))
    def lifted_by_name(self, ban):
        return ban.lifted_by.get_username() if ban.lifted_by_id else "—"

    @admin.display(description=_("vendor's answer"))
    def vendor_answer(self, ban):
        return vendor_said(ban)

    @admin.display(description=_("requested duration"))
    def requested_duration(self, ban):
        return "—" if ban.kind == Ban.Kind.KICK else duration(ban.requested_seconds)

    @admin.display(description=_("duration at the vendor"))
    def effective_duration(self, ban):
        return "—" if ban.kind == Ban.Kind.KICK else duration(ban.effective_seconds)

    @admin.display(description=_("batch"))
    def batch_link(self, ban):
        url = reverse("admin:moderation_ban_batch", args=[ban.batch])
        return format_html('<a href="{}">{}</a>', url, ban.batch)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None and obj.is_mute else [f for f in fields if f != "media"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ban = self.get_object(request, object_id)
        extra = extra_context or {}
        if ban is not None:
            extra.update(
                log=ban.log.select_related("actor").order_by("created_at", "id"),
                calls=ban.calls.order_by("created_at", "id"),
                remaining=remaining(ban),
                can_lift=request.user.has_perm("moderation.lift_ban")
                and ban.kind != Ban.Kind.KICK
                and ban.status in (Ban.Status.PENDING, Ban.Status.ACTIVE),
                can_retry=request.user.has_perm("moderation.add_ban")
                and ban.status == Ban.Status.FAILED,
            )
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(self, request, extra_context=None):
        extra = {
            "can_moderate": request.user.has_perm("moderation.add_ban"),
            "export_query": request.GET.urlencode(),
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})


@admin.register(VendorCall)
class VendorCallAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "app",
        "action",
        "ok",
        "http_status",
        "vendor_code",
        "vendor_request_id",
        "attempt",
        "latency_ms",
    ]
    list_filter = ["ok", "retryable", "action", "app"]
    search_fields = ["=vendor_request_id", "vendor_code"]
    list_select_related = ["app"]
    show_full_result_count = False
    fields = [
        "created_at",
        "app_label",
        "bans",
        "action",
        "request_params",
        "ok",
        "retryable",
        "http_status",
        "vendor_code",
        "vendor_message",
        "vendor_request_id",
        "latency_ms",
        "attempt",
    ]
    readonly_fields = ["app_label"]

    @admin.display(description=_("app"))
    def app_label(self, call):
        return str(call.app)  # not a link: the app's page is for credential managers


@admin.register(ModerationLog)
class ModerationLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event", "ban", "actor", "said_message"]
    list_filter = ["event"]
    search_fields = ["=ban__user_id", "message"]
    list_select_related = ["ban", "ban__room", "ban__app", "actor"]
    show_full_result_count = False
    fields = ["created_at", "event", "ban", "actor_name", "said_message", "details"]
    readonly_fields = ["actor_name", "said_message"]

    @admin.display(description=_("message"))
    def said_message(self, entry):
        return said(entry)

    @admin.display(description=_("by"))
    def actor_name(self, entry):
        # Not a link: users' pages are for superusers.
        return entry.actor.get_username() if entry.actor_id else _("system")


@admin.register(CannedReason)
class CannedReasonAdmin(ConsoleAdmin):
    list_display = ["text", "text_zh", "active", "position"]
    list_editable = ["text_zh", "active", "position"]
    list_filter = ["active"]
    search_fields = ["text", "text_zh"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "position":
            # The column's own limit: SQLite would store more, PostgreSQL refuse it with a 500.
            kwargs["max_value"] = 32767
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # retire instead: past bans keep their reason text either way

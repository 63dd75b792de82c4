import re
import secrets
import unicodedata
import uuid

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from . import credentials
from .vendors import client_for
from .vendors.base import AppConnection, VendorInputError, check_access_key_id, parse_endpoint

UINT32_MAX = 2**32 - 1
# Calls per second no vendor serves beyond; it also keeps out infinity (not valid JSON).
MAX_RATE = 10_000
ID_MAX_LENGTH = 128
# Rate limits: one entry per vendor action, named as the vendor names it (e.g. KickoutUser).
MAX_RATE_LIMITS = 50
ACTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
ACTION_NAME_MAX_LENGTH = 64
# No vendor issues a secret near these lengths (ZEGO's ServerSecret is exactly 32).
SECRET_MAX_LENGTH = 256
CALLBACK_SECRET_MAX_LENGTH = 128
# Tencent's console takes a callback key of letters and digits, at most 32.
TENCENT_CALLBACK_KEY = re.compile(r"[A-Za-z0-9]{1,32}")

# What parse_endpoint refuses (its error codes), in words a credential manager can act on.
ENDPOINT_ERRORS = {
    "characters": _("Remove the spaces and control characters from the endpoint."),
    "invalid": _("The endpoint is not a URL: check its brackets and colons."),
    "scheme": _("The endpoint must start with https:// (or http://) and name a host."),
    "ascii": _("Write the endpoint's host in ASCII: the xn-- form for internationalized names."),
    "credentials": _(
        "Remove the user name and password from the endpoint: they would be written to logs."
    ),
    "query": _("Remove the query (?…) and fragment (#…) from the endpoint."),
    "host": _("The endpoint's host is not a valid host name or IP address."),
    "port": _("The endpoint's port must be a number from 1 to 65535."),
    "plain_http": _(
        "Plain http:// is only allowed to this machine (127.0.0.1, ::1 or localhost): use "
        "https://, or ask for ALLOW_HTTP_ENDPOINTS to be set for a private network."
    ),
}


class Vendor(models.TextChoices):
    VOLCENGINE = "volcengine", _("Volcengine RTC")
    ZEGO = "zego", _("ZEGO")
    TENCENT = "tencent", _("Tencent TRTC")


# Regions each vendor's moderation API serves; ZEGO routes by AppId and takes no region.
VENDOR_REGIONS = {
    Vendor.VOLCENGINE: ("cn-north-1", "ap-singapore-1"),
    Vendor.ZEGO: (),
    Vendor.TENCENT: ("ap-beijing", "ap-guangzhou", "ap-singapore"),
}


def new_callback_id():
    return secrets.token_urlsafe(24)


class VendorApp(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    vendor = models.CharField(_("vendor"), max_length=16, choices=Vendor.choices)
    vendor_app_id = models.CharField(
        _("vendor app ID"),
        max_length=64,
        help_text=_("Volcengine AppId, ZEGO AppId (a number) or Tencent SdkAppId (a number)."),
    )
    region = models.CharField(
        _("region"),
        max_length=32,
        blank=True,
        help_text=_(
            "Volcengine: cn-north-1 or ap-singapore-1. Tencent: ap-beijing, ap-guangzhou or "
            "ap-singapore. ZEGO: leave empty."
        ),
    )
    access_key_id = models.CharField(
        _("access key ID"),
        max_length=128,
        blank=True,
        help_text=_("Volcengine AccessKeyId or Tencent SecretId. ZEGO: leave empty."),
    )
    secret_ciphertext = models.TextField(blank=True, editable=False)
    callback_secret_ciphertext = models.TextField(blank=True, editable=False)
    endpoint = models.URLField(
        _("endpoint override"),
        blank=True,
        help_text=_(
            "Leave empty for the vendor's own endpoint. For private deployments or the "
            "vendor emulator, e.g. http://127.0.0.1:8090/zego"
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    rate_limits = models.JSONField(
        _("rate limits"),
        default=dict,
        blank=True,
        help_text=_(
            "Calls per second by vendor action, where they differ from the documented "
            'limits, e.g. {"BanRoomUser": 40}.'
        ),
    )
    callback_id = models.CharField(
        max_length=64, unique=True, default=new_callback_id, editable=False
    )
    zego_native_ban = models.BooleanField(
        _("use ZEGO's own ban (SetForbidUserRule)"),
        default=False,
        help_text=_(
            "ZEGO only, and only where ZEGO support enabled user ban rules for the account: "
            "ZEGO then refuses a banned user's login itself, for up to a day at a time "
            "(renewed by us for longer bans)."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("vendor app")
        verbose_name_plural = _("vendor apps")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "vendor_app_id"], name="vendor_app_id_unique_per_vendor"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_vendor_display()})"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Plaintext typed in this request, kept only long enough for clean() to validate it.
        self._new_secrets = {}

    def clean_fields(self, exclude=None):
        # The endpoint is judged in clean() by the vendor layer's own rule (parse_endpoint), not
        # by Django's URLValidator: what is saved is exactly what the clients will call.
        super().clean_fields(exclude={*(exclude or ()), "endpoint"})

    def clean(self):
        # Control and formatting characters (e.g. right-to-left overrides) disguise names.
        errors = _control_character_errors(
            self, ("name", "vendor_app_id", "region", "access_key_id")
        )
        app_id = self.vendor_app_id.strip()
        if self.vendor in (Vendor.ZEGO, Vendor.TENCENT):
            # ASCII digits only: int() also reads other scripts' digits, the vendors do not.
            if not (app_id.isascii() and app_id.isdigit()) or not 0 < int(app_id) <= UINT32_MAX:
                errors["vendor_app_id"] = _(
                    "%(vendor)s app IDs are whole numbers from 1 to 4294967295."
                ) % {"vendor": self.get_vendor_display()}
        elif not app_id:
            errors["vendor_app_id"] = _("Enter the Volcengine AppId.")
        regions = VENDOR_REGIONS.get(self.vendor, ())
        if regions and self.region not in regions:
            errors["region"] = _("%(vendor)s serves these regions: %(regions)s.") % {
                "vendor": self.get_vendor_display(),
                "regions": ", ".join(regions),
            }
        if not regions and self.region:
            errors["region"] = _("ZEGO takes no region: leave it empty.")
        if self.vendor in (Vendor.VOLCENGINE, Vendor.TENCENT) and not self.access_key_id.strip():
            errors["access_key_id"] = (
                _("Enter the AccessKeyId.")
                if self.vendor == Vendor.VOLCENGINE
                else _("Enter the SecretId.")
            )
        if self.vendor == Vendor.ZEGO and self.access_key_id:
            errors["access_key_id"] = _("ZEGO uses no access key ID: leave it empty.")
        elif self.access_key_id.strip() and "access_key_id" not in errors:
            try:
                check_access_key_id(self.access_key_id)
            except VendorInputError:
                errors["access_key_id"] = _(
                    "An access key ID is printable ASCII (letters, digits and punctuation), "
                    "without spaces."
                )
        endpoint_error = self._endpoint_error()
        if endpoint_error:
            errors["endpoint"] = endpoint_error
        if self.zego_native_ban and self.vendor != Vendor.ZEGO:
            errors["zego_native_ban"] = _(
                "Only ZEGO apps can use ZEGO's own ban: leave it off for %(vendor)s."
            ) % {"vendor": self.get_vendor_display()}
        secret_error = self._secret_error()
        if secret_error:
            errors["secret"] = secret_error
        callback_secret_error = self._callback_secret_error()
        if callback_secret_error:
            errors["callback_secret"] = callback_secret_error
        rate_limits_error = self._rate_limits_error()
        if rate_limits_error:
            errors["rate_limits"] = rate_limits_error
        if not errors:
            # The net under the checks above: what the vendor's client itself refuses.
            errors = self._client_errors()
        if errors:
            raise ValidationError(errors)

    def _endpoint_error(self):
        if not self.endpoint:
            return None
        limit = self._meta.get_field("endpoint").max_length
        if len(self.endpoint) > limit:
            return _("An endpoint is at most %(max)d characters.") % {"max": limit}
        try:
            parse_endpoint(self.endpoint, allow_plain_http=settings.ALLOW_HTTP_ENDPOINTS)
        except VendorInputError as exc:
            return ENDPOINT_ERRORS.get(exc.code, ENDPOINT_ERRORS["scheme"])
        return None

    def _secret_error(self):
        new = self._new_secrets.get("secret")
        if new is None:
            if not self.secret_ciphertext:
                return _("Enter the secret: %(name)s.") % {"name": self.secret_label()}
            return None
        if self.vendor == Vendor.ZEGO and not (
            len(new) == 32 and all(c in "0123456789abcdefABCDEF" for c in new)
        ):
            return _("A ZEGO ServerSecret is 32 hexadecimal characters.")
        if not new.strip():
            return _("Enter the secret: %(name)s.") % {"name": self.secret_label()}
        if len(new) > SECRET_MAX_LENGTH or not _is_pasted_text(new):
            return _(
                "A %(name)s is at most %(max)d printable characters, without spaces at either end."
            ) % {"name": self.secret_label(), "max": SECRET_MAX_LENGTH}
        return None

    def _callback_secret_error(self):
        new = self._new_secrets.get("callback_secret")
        if not new:  # not typed in now, or cleared
            return None
        if self.vendor == Vendor.TENCENT:
            if not TENCENT_CALLBACK_KEY.fullmatch(new):
                return _(
                    "A Tencent callback key is 1 to 32 letters and digits (A–Z, a–z, 0–9), as "
                    "Tencent's console makes it."
                )
        elif len(new) > CALLBACK_SECRET_MAX_LENGTH or not _is_pasted_text(new):
            return _(
                "A callback secret is at most %(max)d printable characters, without spaces at "
                "either end."
            ) % {"max": CALLBACK_SECRET_MAX_LENGTH}
        return None

    def _rate_limits_error(self):
        limits = self.rate_limits
        if not isinstance(limits, dict):
            return _(
                "Rate limits: give a JSON object of calls per second by action, e.g. "
                '{"KickoutUser": 50}.'
            )
        if len(limits) > MAX_RATE_LIMITS:
            return _("Rate limits: at most %(max)d actions (%(count)d given).") % {
                "max": MAX_RATE_LIMITS,
                "count": len(limits),
            }
        if not all(isinstance(k, str) and ACTION_NAME.fullmatch(k) for k in limits):
            return _(
                "Rate limits: name each action as the vendor does, in at most %(max)d letters, "
                "digits and underscores, e.g. KickoutUser."
            ) % {"max": ACTION_NAME_MAX_LENGTH}
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= MAX_RATE
            for v in limits.values()
        ):
            return _(
                "Rate limits: give each action a number of calls per second above 0 and at most "
                '%(max)d, e.g. {"KickoutUser": 50}.'
            ) % {"max": MAX_RATE}
        return None

    def _client_errors(self):
        """What the vendor's client would refuse when made for this app, by form field."""
        connection = AppConnection(
            vendor=self.vendor,
            app_id=self.vendor_app_id,
            region=self.region,
            access_key_id=self.access_key_id,
            # The secret's own rules are checked above; a stored one is not decrypted here.
            secret="checked-above",  # noqa: S106 - a placeholder, never sent
            endpoint=self.endpoint,
        )
        try:
            client_for(connection).close()
        except VendorInputError as exc:
            message = _("Cannot call %(vendor)s: %(error)s") % {
                "vendor": self.get_vendor_display(),
                "error": exc.message,
            }
            return {CLIENT_FIELDS.get(exc.field, NON_FIELD_ERRORS): message}
        return {}

    def secret_label(self):
        return {
            Vendor.VOLCENGINE: "SecretAccessKey",
            Vendor.ZEGO: "ServerSecret",
            Vendor.TENCENT: "SecretKey",
        }.get(self.vendor, "secret")

    @property
    def secret(self) -> str:
        return credentials.decrypt(self.secret_ciphertext) if self.secret_ciphertext else ""

    @secret.setter
    def secret(self, value: str):
        self._new_secrets["secret"] = value
        self.secret_ciphertext = credentials.encrypt(value)

    @property
    def callback_secret(self) -> str:
        token = self.callback_secret_ciphertext
        return credentials.decrypt(token) if token else ""

    @callback_secret.setter
    def callback_secret(self, value: str):
        self._new_secrets["callback_secret"] = value
        self.callback_secret_ciphertext = credentials.encrypt(value) if value else ""

    def connection(self) -> AppConnection:
        return AppConnection(
            vendor=self.vendor,
            app_id=self.vendor_app_id,
            region=self.region,
            access_key_id=self.access_key_id,
            secret=self.secret,
            endpoint=self.endpoint,
            native_ban=self.vendor == Vendor.ZEGO and self.zego_native_ban,
        )


def has_control_characters(text: str, allowed: str = "") -> bool:
    """Control, formatting (e.g. right-to-left overrides), private-use or unassigned characters,
    but for those in `allowed`."""
    return any(unicodedata.category(c)[0] == "C" and c not in allowed for c in text)


def _control_character_errors(record, fields) -> dict:
    return {
        field: _("Remove the control or formatting characters.")
        for field in fields
        if has_control_characters(getattr(record, field) or "")
    }


def _is_pasted_text(value: str) -> bool:
    """Printable (no control or formatting characters) and without spaces at either end: what
    a secret copied from a vendor's console looks like, and not what a stray paste adds."""
    return value.isprintable() and value == value.strip()


# The vendor layer's names for what a client checks when it is made, as VendorApp's fields.
CLIENT_FIELDS = {
    "vendor": "vendor",
    "app_id": "vendor_app_id",
    "region": "region",
    "access_key_id": "access_key_id",
    "secret": "secret",
    "endpoint": "endpoint",
}


class Room(models.Model):
    app = models.ForeignKey(
        VendorApp, on_delete=models.PROTECT, related_name="rooms", verbose_name=_("app")
    )
    room_id = models.CharField(_("room ID"), max_length=ID_MAX_LENGTH)
    label = models.CharField(_("label"), max_length=200, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["app", "room_id"]
        constraints = [
            models.UniqueConstraint(fields=["app", "room_id"], name="room_id_unique_per_app"),
        ]
        indexes = [models.Index(fields=["room_id"], name="room_room_id_idx")]

    def __str__(self):
        return f"{self.room_id} — {self.label}" if self.label else self.room_id

    def clean(self):
        # As a kick or ban checks a room id (services.clean_room_id): no room is recorded by
        # hand that no moderator could then act in.
        if errors := _control_character_errors(self, ("room_id", "label")):
            raise ValidationError(errors)


class BanQuerySet(models.QuerySet):
    def covering(self, room_id, user_id):
        """The bans that keep `user_id` out of `room_id` (values, or OuterRef in a subquery).

        The one rule, with its twins: `Ban.covers` in Python, and in Redis the ban check's
        three fields per app (`bancheck.ban_field`: user in room `ru:`, whole room `r:`, user
        everywhere `u:`), which its Lua script `_CHECK` reads in one HMGET.
        """
        # A list of user ids: the bans that cover any of them (a page of a room's members).
        user = {"user_id__in": user_id} if isinstance(user_id, list) else {"user_id": user_id}
        return self.filter(
            Q(scope=Ban.Scope.USER_IN_ROOM, room__room_id=room_id, **user)
            | Q(scope=Ban.Scope.WHOLE_ROOM, room__room_id=room_id)
            | Q(scope=Ban.Scope.USER_EVERYWHERE, **user)
        )


class Ban(models.Model):
    class Kind(models.TextChoices):
        KICK = "kick", _("kick")
        BAN = "ban", _("ban")
        MUTE = "mute", _("mute")

    class Media(models.TextChoices):
        """What a mute stops; the user stays in the room and hears the others."""

        AUDIO = "audio", _("audio")
        VIDEO = "video", _("video")
        BOTH = "both", _("audio and video")

    class Scope(models.TextChoices):
        USER_IN_ROOM = "user_in_room", _("one user in one room")
        WHOLE_ROOM = "whole_room", _("whole room")
        USER_EVERYWHERE = "user_everywhere", _("one user in every room")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACTIVE = "active", _("active")
        DONE = "done", _("done")
        EXPIRED = "expired", _("expired")
        LIFTED = "lifted", _("lifted")
        FAILED = "failed", _("failed")

    app = models.ForeignKey(
        VendorApp, on_delete=models.PROTECT, related_name="bans", verbose_name=_("app")
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bans",
        verbose_name=_("room"),
        help_text=_("Empty for a ban in every room of the app."),
    )
    user_id = models.CharField(
        _("user ID"),
        max_length=ID_MAX_LENGTH,
        blank=True,
        help_text=_("Empty for a whole-room ban."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    # A mute's what; empty for kicks and bans. The database default keeps a rolling deploy's
    # older code inserting kicks and bans.
    media = models.CharField(
        _("muted"), max_length=8, choices=Media.choices, blank=True, default="", db_default=""
    )
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    requested_seconds = models.PositiveIntegerField(
        _("requested duration (s)"), null=True, blank=True, help_text=_("Empty: permanent.")
    )
    effective_seconds = models.PositiveIntegerField(
        _("effective duration (s)"),
        null=True,
        blank=True,
        help_text=_("What the vendor enforces after its own limits."),
    )
    reason = models.TextField(_("reason"), max_length=1000)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    batch = models.UUIDField(_("batch"), default=uuid.uuid4, db_index=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bans_created",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bans_lifted",
        verbose_name=_("lifted by"),
    )
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lift_reason = models.TextField(_("lift reason"), blank=True)
    vendor_request_ids = models.JSONField(_("vendor request IDs"), default=list, blank=True)
    vendor_message = models.TextField(_("vendor's answer"), blank=True)
    # The same answer as a template and its values (moderation.messages), for each viewer's
    # language; empty for answers stored before it and for our own input errors.
    vendor_text = models.JSONField(default=dict, blank=True, editable=False)
    # When the vendor's own window ends (Volcengine); re-applied before then for longer bans.
    vendor_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, editable=False)
    # Set once a job for this ban reached the queue; reconcile dispatches those never sent.
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A worker's claim on this ban while it calls the vendor: the claimant's lease name
    # (moderation/liveness.py); freed once that lease has lapsed.
    claimed_by = models.CharField(max_length=200, blank=True, default="", editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A lift or change that the vendor has not yet confirmed.
    vendor_sync_due = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = BanQuerySet.as_manager()

    class Meta:
        verbose_name = _("ban")
        verbose_name_plural = _("bans")
        ordering = ["-created_at", "-id"]
        permissions = [("lift_ban", _("Can lift, extend and shorten bans"))]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="ban_newest_idx"),
            models.Index(fields=["status", "-created_at"], name="ban_status_idx"),
            models.Index(fields=["status", "expires_at"], name="ban_status_expires_idx"),
            models.Index(fields=["user_id", "-created_at"], name="ban_user_idx"),
            models.Index(fields=["app", "-created_at"], name="ban_app_idx"),
            models.Index(fields=["created_by", "-created_at"], name="ban_moderator_idx"),
            models.Index(fields=["expires_at"], name="ban_expires_idx"),
            models.Index(
                fields=["created_at"],
                name="ban_pending_idx",
                condition=Q(status="pending") | Q(vendor_sync_due=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="ban_scope_matches_target",
                condition=(
                    Q(scope="user_in_room", room__isnull=False) & ~Q(user_id="")
                    | Q(scope="whole_room", room__isnull=False, user_id="")
                    | Q(scope="user_everywhere", room__isnull=True) & ~Q(user_id="")
                ),
            ),
            models.CheckConstraint(
                name="ban_status_matches_kind",
                condition=(
                    Q(kind="kick", status__in=["pending", "done", "failed"])
                    | Q(
                        kind__in=["ban", "mute"],
                        status__in=["pending", "active", "expired", "lifted", "failed"],
                    )
                ),
            ),
            # The vendors mute one user in one room; no call mutes a room or every room.
            models.CheckConstraint(
                name="mute_is_one_user_in_one_room",
                condition=Q(kind="mute", scope="user_in_room", media__in=["audio", "video", "both"])
                | ~Q(kind="mute") & Q(media=""),
            ),
            # One mute in force per user and room: ending one never unmutes what another holds.
            models.UniqueConstraint(
                fields=["room", "user_id"],
                condition=Q(kind="mute", status__in=["pending", "active"]),
                name="one_open_mute_per_user_in_room",
            ),
            models.CheckConstraint(
                name="kick_has_no_duration",
                condition=~Q(kind="kick") | Q(requested_seconds__isnull=True),
            ),
        ]

    def __str__(self):
        target = self.user_id or _("whole room")
        where = self.room.room_id if self.room_id else _("every room")
        return f"{self.get_kind_display()} {target} @ {where}"

    @property
    def is_permanent(self):
        return self.kind != self.Kind.KICK and self.requested_seconds is None

    @property
    def is_mute(self):
        return self.kind == self.Kind.MUTE

    def covers(self, room_id: str, user_id: str) -> bool:
        """Whether this ban keeps `user_id` out of `room_id`: BanQuerySet.covering's twin."""
        if self.scope == self.Scope.USER_EVERYWHERE:
            return self.user_id == user_id
        if self.room.room_id != room_id:
            return False
        return self.scope == self.Scope.WHOLE_ROOM or self.user_id == user_id


class AppendOnlyModel(models.Model):
    """Records of what happened: written once, never changed or deleted."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError(f"{type(self).__name__} records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__} records are append-only.")


class VendorCall(AppendOnlyModel):
    app = models.ForeignKey(
        VendorApp, on_delete=models.PROTECT, related_name="calls", verbose_name=_("app")
    )
    # One call may carry several bans: the vendors take up to 5 or 10 users per kick.
    bans = models.ManyToManyField(Ban, related_name="calls", blank=True, verbose_name=_("bans"))
    action = models.CharField(_("action"), max_length=64)
    request_params = models.JSONField(_("request parameters"), default=dict)
    ok = models.BooleanField(_("succeeded"))
    retryable = models.BooleanField(_("retryable"), default=False)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    vendor_code = models.CharField(_("vendor code"), max_length=128, blank=True)
    vendor_message = models.TextField(_("vendor message"), blank=True)
    vendor_request_id = models.CharField(_("vendor request ID"), max_length=128, blank=True)
    latency_ms = models.FloatField(_("latency (ms)"))
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("vendor call")
        verbose_name_plural = _("vendor calls")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.action} {'ok' if self.ok else self.vendor_code or 'failed'}"


class ModerationLog(AppendOnlyModel):
    class Event(models.TextChoices):
        CREATED = "created", _("created")
        APPLIED = "applied", _("applied")
        FAILED = "failed", _("failed")
        RETRIED = "retried", _("retried")
        LIFTED = "lifted", _("lifted")
        CHANGED = "changed", _("changed")
        EXPIRED = "expired", _("expired")
        REKICKED = "rekicked", _("re-kicked")

    ban = models.ForeignKey(
        Ban, on_delete=models.PROTECT, related_name="log", verbose_name=_("ban")
    )
    event = models.CharField(_("event"), max_length=16, choices=Event.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
        help_text=_("Empty when the system acted."),
    )
    message = models.TextField(_("message"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("moderation log entry")
        verbose_name_plural = _("moderation log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["ban", "created_at"], name="log_ban_idx")]

    def __str__(self):
        return f"{self.get_event_display()}: {self.ban}"


class CannedReason(models.Model):
    """A reason moderators pick instead of typing; supervisors keep the list."""

    text = models.CharField(_("reason"), max_length=200, unique=True)
    text_zh = models.CharField(
        _("reason in Chinese"),
        max_length=200,
        blank=True,
        help_text=_("What Chinese-speaking moderators see in the list; the English is recorded."),
    )
    active = models.BooleanField(
        _("in use"), default=True, help_text=_("Retired reasons are kept for history.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("canned reason")
        verbose_name_plural = _("canned reasons")
        ordering = ["position", "text"]

    def __str__(self):
        return self.text

    def clean(self):
        # A canned reason becomes part of a ban's reason, which refuses control characters.
        if errors := _control_character_errors(self, ("text", "text_zh")):
            raise ValidationError(errors)

    def label(self) -> str:
        """The reason in the viewer's language, where it has a Chinese name."""
        if self.text_zh and (get_language() or "").startswith("zh"):
            return self.text_zh
        return self.text


# --- Room presence, callback deliveries and the ban check's tokens -----------------------------


class Presence(models.Model):
    """Who is in which room since when, as the vendor's room callbacks report it.

    One row per user and room; `event_at` is the vendor's time of the newest event applied, so
    a delivery that arrives late (vendors retry) never undoes a newer one.
    """

    app = models.ForeignKey(
        VendorApp, on_delete=models.CASCADE, related_name="presence", verbose_name=_("app")
    )
    room_id = models.CharField(_("room ID"), max_length=ID_MAX_LENGTH)
    user_id = models.CharField(_("user ID"), max_length=ID_MAX_LENGTH)
    in_room = models.BooleanField(_("in the room"), default=True)
    entered_at = models.DateTimeField(_("entered"))
    left_at = models.DateTimeField(_("left"), null=True, blank=True)
    left_reason = models.CharField(_("why they left"), max_length=64, blank=True)
    event_at = models.DateTimeField(_("last event"))
    updated_at = models.DateTimeField(_("recorded"), auto_now=True)

    class Meta:
        verbose_name = _("room presence")
        verbose_name_plural = _("room presence")
        ordering = ["app", "room_id", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "room_id", "user_id"], name="presence_unique_per_room_user"
            ),
        ]
        indexes = [
            # "Every room" bans: the rooms a user is in now.
            models.Index(
                fields=["app", "user_id"], name="presence_user_in_idx", condition=Q(in_room=True)
            ),
            # The enforcement sweep walks only who is in a room now.
            models.Index(
                fields=["app", "room_id"], name="presence_room_in_idx", condition=Q(in_room=True)
            ),
        ]

    def __str__(self):
        where = _("in") if self.in_room else _("left")
        return f"{self.user_id} {where} {self.room_id}"


class PublishedStream(models.Model):
    """A stream a user publishes in a room, as ZEGO's stream callbacks report it.

    ZEGO mutes streams, not users: a mute stops each stream its user publishes in the room,
    and ZEGO keeps a stream id stopped even after the stream closes, until it is resumed.
    """

    app = models.ForeignKey(
        VendorApp, on_delete=models.CASCADE, related_name="streams", verbose_name=_("app")
    )
    room_id = models.CharField(_("room ID"), max_length=ID_MAX_LENGTH)
    user_id = models.CharField(_("user ID"), max_length=ID_MAX_LENGTH)
    stream_id = models.CharField(_("stream ID"), max_length=256)
    publishing = models.BooleanField(_("publishing"), default=True)
    started_at = models.DateTimeField(_("started"))
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    event_at = models.DateTimeField(_("last event"))
    # The mute that stopped this stream at the vendor, until it is resumed.
    forbidden_by = models.ForeignKey(
        Ban,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="forbidden_streams",
        verbose_name=_("stopped by"),
    )
    updated_at = models.DateTimeField(_("recorded"), auto_now=True)

    class Meta:
        verbose_name = _("published stream")
        verbose_name_plural = _("published streams")
        ordering = ["app", "room_id", "user_id", "stream_id"]
        constraints = [
            models.UniqueConstraint(fields=["app", "stream_id"], name="stream_id_unique_per_app"),
        ]
        indexes = [models.Index(fields=["app", "room_id", "user_id"], name="stream_user_idx")]

    def __str__(self):
        return f"{self.stream_id} ({self.user_id} @ {self.room_id})"


class CallbackDelivery(AppendOnlyModel):
    """One room callback as it was accepted; the key makes a retried delivery act once."""

    app = models.ForeignKey(
        VendorApp, on_delete=models.CASCADE, related_name="callbacks", verbose_name=_("app")
    )
    key = models.CharField(_("delivery key"), max_length=64)
    event = models.CharField(_("event"), max_length=16)
    vendor_event = models.CharField(_("vendor event"), max_length=64)
    room_id = models.CharField(_("room ID"), max_length=ID_MAX_LENGTH)
    user_id = models.CharField(_("user ID"), max_length=ID_MAX_LENGTH, blank=True)
    happened_at = models.DateTimeField(_("happened"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("callback delivery")
        verbose_name_plural = _("callback deliveries")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["app", "key"], name="callback_delivery_once"),
        ]

    def __str__(self):
        return f"{self.vendor_event} {self.user_id or '-'} @ {self.room_id}"


class CallbackNonce(AppendOnlyModel):
    """A signed (timestamp, nonce) pair of a vendor whose signature leaves the body out (ZEGO),
    and the body it first came with: the pair is accepted again with that body only. Kept until
    its timestamp is past the acceptance window, after which the pair is refused by age."""

    app = models.ForeignKey(
        VendorApp, on_delete=models.CASCADE, related_name="callback_nonces", verbose_name=_("app")
    )
    pair = models.CharField(_("signed pair"), max_length=64)  # SHA-256 of timestamp and nonce
    body_sha256 = models.CharField(_("body SHA-256"), max_length=64)
    signed_at = models.DateTimeField(_("signed"), db_index=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("callback nonce")
        verbose_name_plural = _("callback nonces")
        ordering = ["-signed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["app", "pair"], name="callback_nonce_once"),
        ]

    def __str__(self):
        return f"{self.pair[:12]} @ {self.signed_at:%Y-%m-%d %H:%M:%S}"


class ApiToken(models.Model):
    """A customer token server's key to the ban check. Only a hash is kept; the token itself is
    shown once, when it is made."""

    app = models.ForeignKey(
        VendorApp, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("app")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("starts with"), max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    rate_per_second = models.PositiveIntegerField(
        _("requests per second"),
        null=True,
        blank=True,
        help_text=_("Empty: the default limit."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
        editable=False,
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None


class CacheRepair(models.Model):
    """A ban-check cache write that Redis did not take; `reconcile` rebuilds from the database.

    `app` empty: the token cache.
    """

    app = models.ForeignKey(
        VendorApp, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cache repair")
        verbose_name_plural = _("cache repairs")

    def __str__(self):
        return f"repair {self.app_id or 'tokens'}"

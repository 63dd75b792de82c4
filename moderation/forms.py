"""Forms moderators fill in. They collect input; the services decide what is valid."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .durations import parse_duration
from .models import Ban, CannedReason, VendorApp

KICK_ONLY = "kick"
CUSTOM = "custom"
DURATION_PRESETS = [
    (KICK_ONLY, _("Kick only")),
    ("600", _("10 minutes")),
    ("3600", _("1 hour")),
    ("86400", _("1 day")),
    ("604800", _("7 days")),
    ("permanent", _("Permanent")),
    (CUSTOM, _("Custom")),
]
# A mute is never "kick only"; short mutes are the common ones.
MUTE_DURATIONS = [
    ("300", _("5 minutes")),
    *[preset for preset in DURATION_PRESETS if preset[0] != KICK_ONLY],
]
MUTE = "mute"


class ReasonMixin:
    """A canned reason, free text, or both ("Spam — links in chat")."""

    def clean_reason_fields(self, cleaned):
        canned, text = cleaned.get("canned_reason"), (cleaned.get("reason") or "").strip()
        parts = [p for p in (canned.text if canned else "", text) if p]
        if not parts:
            self.add_error("reason", _("Pick a reason or type one: it is kept in the history."))
        cleaned["full_reason"] = " — ".join(parts)


class CannedReasonField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.label()  # in the viewer's language; the English text is what is recorded


def reason_fields():
    canned = CannedReasonField(
        label=_("Reason"),
        queryset=CannedReason.objects.filter(active=True),
        required=False,
        empty_label=_("(type a reason below)"),
    )
    text = forms.CharField(
        label=_("More detail"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Free text, added to the reason picked above."),
    )
    return canned, text


class DurationMixin:
    """A preset, permanent, or a custom duration typed as 90m, 12h, 3d."""

    def clean_duration_fields(self, cleaned):
        choice = cleaned.get("duration")
        cleaned["seconds"] = None
        if choice == CUSTOM:
            try:
                cleaned["seconds"] = parse_duration(cleaned.get("custom_duration", ""))
            except ValidationError as exc:
                self.add_error("custom_duration", exc.message_dict["duration"])
        elif choice and choice not in (KICK_ONLY, "permanent"):
            cleaned["seconds"] = int(choice)


def custom_duration_field():
    return forms.CharField(
        label=_("Custom duration"),
        required=False,
        max_length=20,
        help_text=_("e.g. 90m, 12h, 3d, 2w"),
    )


class ModerateForm(DurationMixin, ReasonMixin, forms.Form):
    """Kick or ban: who, where, for how long, and why."""

    app = forms.ModelChoiceField(
        label=_("App"), queryset=VendorApp.objects.filter(enabled=True), empty_label=None
    )
    scope = forms.ChoiceField(
        label=_("Whom"),
        choices=[
            (Ban.Scope.USER_IN_ROOM, _("These users, in this room")),
            (Ban.Scope.WHOLE_ROOM, _("Everyone in this room (whole room)")),
            (Ban.Scope.USER_EVERYWHERE, _("These users, in every room of the app")),
        ],
        initial=Ban.Scope.USER_IN_ROOM,
        widget=forms.RadioSelect,
    )
    room = forms.CharField(
        label=_("Room ID"),
        required=False,
        max_length=200,
        # Suggestions from the app's rooms as the moderator types (moderate.js).
        widget=forms.TextInput(attrs={"list": "room-suggestions", "autocomplete": "off"}),
        help_text=_(
            "Type to pick one of the app's rooms (busiest first), or a new room ID. Not needed "
            "for a ban in every room."
        ),
    )
    user_ids = forms.CharField(
        label=_("User IDs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "user001\nuser002, user003"}),
        help_text=_("One per line or comma-separated; duplicates are dropped. Any number."),
    )
    duration = forms.ChoiceField(
        label=_("Duration"),
        choices=DURATION_PRESETS,
        initial="3600",
        widget=forms.RadioSelect,
    )
    custom_duration = custom_duration_field()
    canned_reason, reason = reason_fields()

    def clean(self):
        cleaned = super().clean()
        self.clean_reason_fields(cleaned)
        cleaned["kick"] = cleaned.get("duration") == KICK_ONLY
        self.clean_duration_fields(cleaned)
        if cleaned["kick"] and cleaned.get("scope") != Ban.Scope.USER_IN_ROOM:
            self.add_error(
                "duration",
                _(
                    "Kick only works on users in one room: choose a duration to ban a whole room "
                    "or users in every room."
                ),
            )
        return cleaned


class MuteForm(DurationMixin, ReasonMixin, forms.Form):
    """Mute: what of which users' publishing stops, in which room, for how long, and why.

    The users stay in the room and hear the others; the vendors mute one user in one room.
    """

    action = forms.CharField(initial=MUTE, widget=forms.HiddenInput)
    app = ModerateForm.base_fields["app"]
    room = forms.CharField(
        label=_("Room ID"),
        max_length=200,
        widget=forms.TextInput(attrs={"list": "room-suggestions", "autocomplete": "off"}),
        help_text=_("Type to pick one of the app's rooms (busiest first), or a new room ID."),
    )
    user_ids = forms.CharField(
        label=_("User IDs"),
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "user001\nuser002, user003"}),
        help_text=_("One per line or comma-separated; duplicates are dropped."),
    )
    media = forms.ChoiceField(
        label=_("Mute"),
        choices=Ban.Media.choices,
        initial=Ban.Media.BOTH,
        widget=forms.RadioSelect,
    )
    duration = forms.ChoiceField(
        label=_("Duration"), choices=MUTE_DURATIONS, initial="600", widget=forms.RadioSelect
    )
    custom_duration = custom_duration_field()
    canned_reason, reason = reason_fields()

    def clean(self):
        cleaned = super().clean()
        self.clean_reason_fields(cleaned)
        self.clean_duration_fields(cleaned)
        return cleaned


class LiftForm(ReasonMixin, forms.Form):
    canned_reason, reason = reason_fields()

    def clean(self):
        cleaned = super().clean()
        self.clean_reason_fields(cleaned)
        return cleaned


class ChangeForm(ReasonMixin, forms.Form):
    duration = forms.CharField(
        label=_("New total duration"),
        max_length=20,
        help_text=_(
            "Counted from the ban's start: 2h, 3d, 2w or permanent. Longer extends, "
            "shorter shortens."
        ),
    )
    canned_reason, reason = reason_fields()

    def clean(self):
        cleaned = super().clean()
        self.clean_reason_fields(cleaned)
        try:
            cleaned["seconds"] = parse_duration(cleaned.get("duration", ""))
        except ValidationError as exc:
            self.add_error("duration", exc.message_dict["duration"])
        return cleaned


def add_service_errors(form, error: ValidationError):
    """Puts a service's ValidationError on the form field it names (or on the whole form)."""
    fields = {
        "user_ids": "user_ids",
        "reason": "reason",
        "room": "room",
        "app": "app",
        "scope": "scope",
        "duration": "duration",
        "media": "media",
    }
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            target = fields.get(field)
            form.add_error(target if target in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


# --- JSON typed into a form ---------------------------------------------------------------------


def json_nesting(text: str) -> int:
    """How deeply the arrays and objects of JSON text nest, read without parsing it.

    Brackets inside strings do not count; a stray closing bracket never lowers the count below
    zero, so the answer is never less than what json.loads would recurse into.
    """
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
    return deepest


class BoundedJSONField(forms.JSONField):
    """Django's JSONField, refusing text longer than `max_length` or nested deeper than
    `max_depth` before json.loads sees it: deeply nested JSON makes json.loads raise
    RecursionError (a 500) instead of an error the form can show."""

    default_error_messages = {
        "not_json": _("%(field)s: this is not valid JSON."),
        "too_long": _("%(field)s: at most %(max)d characters of JSON (this is %(length)d)."),
        "too_deep": _("%(field)s: JSON nested at most %(max)d levels deep."),
    }

    def __init__(self, *, max_length, max_depth, **kwargs):
        # Not CharField's max_length: its validator would measure the parsed value (len(1)).
        self.max_text_length = max_length
        self.max_depth = max_depth
        super().__init__(**kwargs)

    def _field_name(self):
        return capfirst(self.label) if self.label else "JSON"

    def _refusal(self, value):
        """The ValidationError for text too long or too deep to parse, or None."""
        if not isinstance(value, str):
            return None
        if len(value) > self.max_text_length:
            return ValidationError(
                self.error_messages["too_long"],
                code="too_long",
                params={
                    "field": self._field_name(),
                    "max": self.max_text_length,
                    "length": len(value),
                },
            )
        if json_nesting(value) > self.max_depth:
            return ValidationError(
                self.error_messages["too_deep"],
                code="too_deep",
                params={"field": self._field_name(), "max": self.max_depth},
            )
        return None

    def to_python(self, value):
        if self.disabled:
            return value
        refusal = self._refusal(value)
        if refusal is not None:
            raise refusal
        try:
            return super().to_python(value)
        except ValidationError as error:
            if error.code != "invalid":
                raise
        except RecursionError:  # the count above is the guard; this is the net under it
            pass
        except ValueError:  # an integer past Python's 4,300 digits, which json.loads refuses
            pass
        raise ValidationError(
            self.error_messages["not_json"], code="invalid", params={"field": self._field_name()}
        )

    def bound_data(self, data, initial):
        # Re-showing a refused form parses the text again: not when it was too long or deep.
        if not self.disabled and self._refusal(data) is not None:
            return InvalidJSONInput(data)
        try:
            return super().bound_data(data, initial)
        except (RecursionError, ValueError):
            return InvalidJSONInput(data)

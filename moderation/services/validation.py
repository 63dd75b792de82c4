"""Every check a kick or ban passes before anything is saved: ours, then the vendor's.

Each failure is a ValidationError keyed by the form field to fix, in words a moderator can act on.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..credentials import CredentialError
from ..models import ID_MAX_LENGTH, Ban, Room, Vendor, VendorApp, has_control_characters
from ..vendors.base import VendorInputError
from .vendor_calls import requests_for, vendor_client

PERMANENT = None
MAX_BAN_SECONDS = 10 * 365 * 24 * 3600
REASON_MAX_LENGTH = 1000


def clean_user_ids(user_ids: Iterable[str] | str) -> list[str]:
    """Strips, drops empties and duplicates (first order kept); accepts a list or one string."""
    if isinstance(user_ids, str):
        # Chinese keyboards type the full-width comma and the enumeration comma.
        for separator in (",", "，", "、"):
            user_ids = user_ids.replace(separator, "\n")
        user_ids = user_ids.splitlines()
    cleaned = list(dict.fromkeys(str(u).strip() for u in user_ids if str(u).strip()))
    if not cleaned:
        raise ValidationError({"user_ids": _("Enter at least one user ID.")})
    for user_id in cleaned:
        if len(user_id) > ID_MAX_LENGTH:
            raise ValidationError(
                {
                    "user_ids": _(
                        "User IDs are at most %(max)d characters; this one is longer: %(id)s"
                    )
                    % {"max": ID_MAX_LENGTH, "id": user_id[:40] + "…"}
                }
            )
        if has_control_characters(user_id) or any(c.isspace() for c in user_id):
            raise ValidationError(
                {
                    "user_ids": _("User IDs cannot contain spaces or control characters: %(id)r")
                    % {"id": user_id[:40]}
                }
            )
    return cleaned


def clean_user_ids_or_empty(user_ids) -> list[str]:
    try:
        return clean_user_ids(user_ids)
    except ValidationError:
        return []


def clean_room_id(room_id: str) -> str:
    room_id = (room_id or "").strip()
    if not room_id:
        raise ValidationError({"room": _("Enter a room ID.")})
    if len(room_id) > ID_MAX_LENGTH or has_control_characters(room_id):
        raise ValidationError(
            {
                "room": _("A room ID is at most %(max)d characters, without control characters.")
                % {"max": ID_MAX_LENGTH}
            }
        )
    return room_id


def clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason: it is kept in the ban history.")})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("A reason is at most %(max)d characters.") % {"max": REASON_MAX_LENGTH}}
        )
    if has_control_characters(reason, allowed="\n\t"):
        raise ValidationError({"reason": _("The reason contains control characters.")})
    return reason


def clean_seconds(seconds: int | None) -> int | None:
    """A duration in whole seconds, or None for permanent."""
    if seconds is PERMANENT:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValidationError(
            {"duration": _("Give the duration as a whole number of seconds, or permanent.")}
        )
    if seconds <= 0:
        raise ValidationError(
            {"duration": _("A duration must be at least 1 second (or permanent).")}
        )
    if seconds > MAX_BAN_SECONDS:
        raise ValidationError(
            {"duration": _("A duration is at most 10 years; choose permanent for longer.")}
        )
    return seconds


def effective_seconds(app: VendorApp, seconds: int | None) -> int | None:
    """What the moderator gets once the vendor's own limits apply (Volcengine: at least 10 s)."""
    if seconds is None or app.vendor != Vendor.VOLCENGINE:
        return seconds
    return max(seconds, 10)


def clean_media(media: str | None) -> str:
    """What a mute stops: audio, video or both (the default)."""
    media = (media or Ban.Media.BOTH).strip().lower()
    if media not in Ban.Media.values:
        raise ValidationError({"media": _("Choose what to mute: audio, video, or both.")})
    return media


def check_mute_scope(scope: str) -> None:
    """The vendors mute one user in one room: no call mutes a whole room or every room."""
    if scope != Ban.Scope.USER_IN_ROOM:
        raise ValidationError(
            {
                "scope": _(
                    "A mute is for named users in one room: no vendor mutes a whole room or a "
                    "user in every room. Name the users and the room."
                )
            }
        )


def check_app(app: VendorApp) -> None:
    if not app.enabled:
        raise ValidationError({"app": _("This app is disabled: a staff member can enable it.")})


def check_room(app: VendorApp, room: Room | None, *, required: bool) -> None:
    if room is None:
        if required:
            raise ValidationError({"room": _("Choose a room.")})
        return
    if room.app_id != app.pk:
        raise ValidationError({"room": _("This room belongs to another app.")})


def check_for_vendor(
    app: VendorApp, *, kind, scope, room, user_ids, reason, seconds, media=""
) -> None:
    """Every limit the vendor puts on these parameters, checked before anything is saved."""
    try:
        client = vendor_client(app)
    except CredentialError:
        raise ValidationError(
            {
                "app": _(
                    "This app's stored secret cannot be read with the current keys: a staff "
                    "member must enter it again."
                )
            }
        ) from None
    except VendorInputError as exc:
        raise ValidationError({"app": f"{exc.field}: {exc.message}"}) from None
    try:
        requests_for(
            client,
            kind=kind,
            scope=scope,
            room_id=room.room_id if room else None,
            user_ids=user_ids,
            reason=reason,
            seconds=seconds,
            media=media,
        )
    except VendorInputError as exc:
        raise ValidationError({_form_field(exc.field): exc.message}) from None
    finally:
        client.close()


def _form_field(vendor_parameter: str) -> str:
    """The form field a vendor's parameter comes from."""
    lowered = vendor_parameter.lower()
    for key, field in (
        ("reason", "reason"),
        ("user", "user_ids"),
        ("room", "room"),
        ("media", "media"),
    ):
        if key in lowered:
            return field
    if "interval" in lowered or "second" in lowered:
        return "duration"
    return "app"

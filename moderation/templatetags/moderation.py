from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from moderation.durations import describe
from moderation.messages import shown
from moderation.models import Ban, ModerationLog

register = template.Library()


def _span(seconds: int) -> str:
    """2 h 5 min, 3 d 4 h, 45 s: the two largest units a moderator needs."""
    units = [(86400, _("d")), (3600, _("h")), (60, _("min")), (1, _("s"))]
    parts = []
    for size, label in units:
        if seconds >= size or (not parts and size == 1):
            parts.append(f"{seconds // size} {label}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


@register.filter
def remaining(ban: Ban) -> str:
    """'expires in 2 h 5 min', 'permanent' or '' for bans and mutes that are not in force."""
    if ban.kind == Ban.Kind.KICK or ban.status not in (Ban.Status.ACTIVE, Ban.Status.PENDING):
        return ""
    if ban.status == Ban.Status.PENDING:
        return _("starts when the vendor confirms")
    if ban.expires_at is None:
        return _("permanent")
    left = int((ban.expires_at - timezone.now()).total_seconds())
    if left <= 0:
        return _("ending now")
    return _("expires in %(time)s") % {"time": _span(left)}


@register.filter
def duration(seconds) -> str:
    return describe(seconds)


@register.simple_tag
def recent_moderation(count: int):
    """The newest moderation log entries, for the admin home."""
    return list(
        ModerationLog.objects.select_related("ban", "ban__room", "actor").order_by(
            "-created_at", "-id"
        )[:count]
    )


@register.filter
def change_details(entry) -> str:
    """A changed ban's old and new duration and end: "1 h → 1 d; ends … → …"."""
    if entry.event != ModerationLog.Event.CHANGED:
        return ""
    details = entry.details or {}
    before, after = details.get("from") or {}, details.get("to") or {}
    return _("%(old)s → %(new)s; ends %(old_end)s → %(new_end)s") % {
        "old": describe(before.get("requested_seconds")),
        "new": describe(after.get("requested_seconds")),
        "old_end": _end(before.get("expires_at")),
        "new_end": _end(after.get("expires_at")),
    }


def _end(value) -> str:
    """An ISO end time as the viewer reads times; "never" for a permanent ban, "—" if unknown."""
    if not value:
        return _("never")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return "—"
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


@register.filter
def timedelta_text(value) -> str:
    """A timedelta in words: "15 min"."""
    return describe(int(value.total_seconds())) if value else ""


@register.filter
def said(entry) -> str:
    """A log entry's message in the viewer's language (older entries: as stored)."""
    return shown((entry.details or {}).get("text"), entry.message)


@register.filter
def vendor_said(ban: Ban) -> str:
    """The vendor's answer on a ban in the viewer's language (older bans: as stored)."""
    return shown(ban.vendor_text, ban.vendor_message)

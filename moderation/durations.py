"""Durations as moderators type them: 90, 90s, 10m, 1h, 1d, 7d, 1w, permanent."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PERMANENT_WORDS = {"permanent", "forever", "perm", "永久"}
_PATTERN = re.compile(r"^(\d{1,10})\s*([smhdw]?)$")


def parse_duration(text: str) -> int | None:
    """Seconds, or None for permanent; a ValidationError names what to type instead."""
    value = (text or "").strip().lower()
    if value in PERMANENT_WORDS:
        return None
    match = _PATTERN.match(value)
    if not match:
        raise ValidationError(
            {
                "duration": _(
                    "Type a duration such as 600, 10m, 1h, 7d or permanent (whole numbers only)."
                )
            }
        )
    number, unit = match.groups()
    return int(number) * UNITS[unit or "s"]


def describe(seconds: int | None) -> str:
    if seconds is None:
        return _("permanent")
    parts = []
    for unit, size in ((_("d"), 86400), (_("h"), 3600), (_("min"), 60), (_("s"), 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts) or f"0 {_('s')}"

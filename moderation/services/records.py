"""What every state change writes beside it: log entries, the vendor's answer, the cache refresh.

Callers hold the transaction; these only add to it.
"""

from __future__ import annotations

from django.db import transaction

from .. import bancheck
from ..messages import Text
from ..models import Ban, ModerationLog
from ..vendors.base import CallResult


def log_many(bans: list[Ban], event: str, *, message: str | Text = "", details=None, actor=None):
    """One log entry per ban; a Text message is kept as English and as its template too."""
    details = dict(details or {})
    if isinstance(message, Text):
        details["text"] = message.as_json()
        message = str(message)
    ModerationLog.objects.bulk_create(
        [
            ModerationLog(ban=b, event=event, actor=actor, message=message, details=details)
            for b in bans
        ]
    )


def said(result: CallResult) -> Text | str:
    """What the vendor's answer says, as a Text where there is one."""
    return result.text or result.message


def vendor_answer(message: str | Text) -> dict:
    """The Ban fields that keep a vendor's answer (or our own sentence)."""
    if isinstance(message, Text):
        return {"vendor_message": str(message), "vendor_text": message.as_json()}
    return {"vendor_message": message, "vendor_text": {}}


def result_details(result: CallResult | None, attempt: int | None = None) -> dict:
    """The vendor's answer as a log entry keeps it."""
    if result is None:
        return {}
    details = {
        "action": result.action,
        "request_id": result.request_id,
        "vendor_code": str(result.vendor_code),
        "vendor_message": result.vendor_message,
        "http_status": result.http_status,
    }
    if attempt is not None:
        details["attempt"] = attempt
    return details


def refresh_cache_on_commit(ban_ids) -> None:
    """The ban check's cache follows each state change, once the change is committed."""
    ids = list(ban_ids)
    if ids:
        transaction.on_commit(lambda: bancheck.refresh_ban_ids(ids))

"""What every state change writes beside it: log entries, the vendor's answer, the cache refresh.

Callers hold the transaction; these only add to it.
"""

from __future__ import annotations

from django.db import transaction

from .. import bancheck
from ..models import Ban, ModerationLog
from ..vendors.base import CallResult


def log_many(bans: list[Ban], event: str, *, message: str = "", details=None, actor=None):
    ModerationLog.objects.bulk_create(
        [
            ModerationLog(ban=b, event=event, actor=actor, message=message, details=details or {})
            for b in bans
        ]
    )


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

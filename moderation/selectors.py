"""Reads: how bans are looked up and shown outside the admin (command line, API)."""

from .models import Ban


def ban_as_dict(ban: Ban) -> dict:
    return {
        "id": ban.pk,
        "batch": str(ban.batch),
        "kind": ban.kind,
        "scope": ban.scope,
        "app": ban.app.name,
        "vendor": ban.app.vendor,
        "room": ban.room.room_id if ban.room else None,
        "user_id": ban.user_id or None,
        "status": ban.status,
        "requested_seconds": ban.requested_seconds,
        "effective_seconds": ban.effective_seconds,
        "reason": ban.reason,
        "created_by": ban.created_by.get_username() if ban.created_by else None,
        "created_at": ban.created_at.isoformat(),
        "starts_at": ban.starts_at.isoformat() if ban.starts_at else None,
        "expires_at": ban.expires_at.isoformat() if ban.expires_at else None,
        "vendor_message": ban.vendor_message,
        "vendor_request_ids": ban.vendor_request_ids,
    }


def bans_by_id(ids) -> list[Ban]:
    return list(
        Ban.objects.filter(pk__in=ids).select_related("app", "room", "created_by").order_by("pk")
    )

"""Reads: how bans, rooms and the people in them are looked up and shown."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Ban, Presence, Room


def ban_as_dict(ban: Ban) -> dict:
    return {
        "id": ban.pk,
        "batch": str(ban.batch),
        "kind": ban.kind,
        "media": ban.media or None,
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


def bans_held_by(app) -> tuple[int, int]:
    """How many of the app's bans, and how many of its mutes, hold now (pending or active)."""
    now = timezone.now()
    held = Ban.objects.filter(app=app).aggregate(
        bans=Count("pk", filter=in_force(now)), mutes=Count("pk", filter=muting(now))
    )
    return held["bans"], held["mutes"]


def oldest_overdue_seconds() -> float:
    """How far past its end the oldest still active ban or mute is (0.0: none): how late the
    clock is in ending them."""
    now = timezone.now()
    oldest = (
        Ban.objects.filter(status=Ban.Status.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    return 0.0 if oldest is None else (now - oldest).total_seconds()


def bans_by_id(ids) -> list[Ban]:
    return list(
        Ban.objects.filter(pk__in=ids).select_related("app", "room", "created_by").order_by("pk")
    )


# --- The ban history, row by row: the admin's CSV export and `manage.py bans list` -----------

EXPORT_COLUMNS = [
    "id",
    "created_at",
    "kind",
    "scope",
    "status",
    "vendor",
    "app",
    "room",
    "user_id",
    "requested_seconds",
    "effective_seconds",
    "starts_at",
    "expires_at",
    "reason",
    "created_by",
    "lifted_by",
    "lifted_at",
    "lift_reason",
    "vendor_message",
    "vendor_request_ids",
    "media",  # last: scripts that read columns by position keep working
]


def ban_as_row(ban: Ban) -> list:
    """The ban as a row of EXPORT_COLUMNS (`select_related` app, room, created_by, lifted_by)."""

    def when(value):
        return value.isoformat() if value else ""

    row = [
        ban.pk,
        when(ban.created_at),
        ban.kind,
        ban.scope,
        ban.status,
        ban.app.vendor,
        ban.app.name,
        ban.room.room_id if ban.room_id else "",
        ban.user_id,
        "" if ban.requested_seconds is None else ban.requested_seconds,
        "" if ban.effective_seconds is None else ban.effective_seconds,
        when(ban.starts_at),
        when(ban.expires_at),
        ban.reason,
        ban.created_by.get_username() if ban.created_by_id else "",
        ban.lifted_by.get_username() if ban.lifted_by_id else "",
        when(ban.lifted_at),
        ban.lift_reason,
        ban.vendor_message,
        " ".join(ban.vendor_request_ids or []),
        ban.media,
    ]
    return [_safe_cell(cell) if isinstance(cell, str) else cell for cell in row]


def _safe_cell(text):
    # A reason typed by anyone must not run as a formula in a spreadsheet.
    return "'" + text if text and text[0] in "=+-@\t\r" else text


# The first page small, so that the first rows leave at once; then larger pages.
HISTORY_FIRST_PAGE = 100
HISTORY_PAGE = 2000


def newest_first_in_pages(queryset, *, first_page: int | None = None, page: int | None = None):
    """The bans newest first, a page per query, each page starting where the last one ended.

    `queryset` is ordered ("-created_at", "-id"). Memory holds one page, however many bans
    there are. Not a server-side cursor: outside a transaction PostgreSQL holds one by
    computing every row before the first (seconds at a million bans).
    """
    first_page, page = first_page or HISTORY_FIRST_PAGE, page or HISTORY_PAGE
    rows = list(queryset[:first_page])
    size = first_page
    while rows:
        yield from rows
        if len(rows) < size:
            return
        last, size = rows[-1], page
        del rows  # one page in memory at a time, not the last one beside the next
        older = Q(created_at__lt=last.created_at) | Q(created_at=last.created_at, id__lt=last.id)
        # The plain `<=` lets the newest-first index start at the last row instead of the top.
        rows = list(queryset.filter(older, created_at__lte=last.created_at)[:size])


# --- Rooms and the people in them ---------------------------------------------------------------

MEMBERS_PAGE = 100


def _holding(kind: str, now=None) -> Q:
    """Records of `kind` that hold now: active and not yet ended, or pending (held while the
    vendor is asked)."""
    now = now or timezone.now()
    active = Q(status=Ban.Status.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return Q(kind=kind) & (active | Q(status=Ban.Status.PENDING))


def in_force(now=None) -> Q:
    """Bans that hold now."""
    return _holding(Ban.Kind.BAN, now)


def muting(now=None) -> Q:
    """Mutes that hold now, by the same rule as `in_force`."""
    return _holding(Ban.Kind.MUTE, now)


@dataclass(frozen=True)
class Member:
    user_id: str
    entered_at: datetime
    ban: Ban | None  # the newest ban in force that covers them here
    mute: Ban | None = None  # the mute in force on them here


@dataclass(frozen=True)
class RoomMembers:
    total: int
    page: int
    pages: int
    members: list[Member]


def room_members(room: Room, *, search: str = "", page: int = 1) -> RoomMembers:
    """Who is in the room now, newest first, a page at a time; four queries at any size."""
    present = Presence.objects.filter(app_id=room.app_id, room_id=room.room_id, in_room=True)
    if search:
        present = present.filter(user_id__icontains=search)
    total = present.count()
    pages = max(1, -(-total // MEMBERS_PAGE))
    page = min(max(1, page), pages)
    start = (page - 1) * MEMBERS_PAGE
    rows = list(
        present.order_by("-entered_at", "user_id").values_list("user_id", "entered_at")[
            start : start + MEMBERS_PAGE
        ]
    )
    # The page's bans in one query, matched in Python by the same rule (Ban.covers).
    users = [user for user, _entered in rows]
    holding = (
        Ban.objects.filter(app_id=room.app_id)
        .filter(in_force())
        .covering(room.room_id, users)
        .select_related("room")
        .order_by("-created_at", "-pk")
    )
    bans = list(holding) if users else []
    mutes = (
        {m.user_id: m for m in Ban.objects.filter(room=room, user_id__in=users).filter(muting())}
        if users and room.pk
        else {}
    )
    members = [
        Member(
            user,
            entered,
            next((b for b in bans if b.covers(room.room_id, user)), None),
            mutes.get(user),
        )
        for user, entered in rows
    ]
    return RoomMembers(total, page, pages, members)


def with_room_counts(rooms):
    """Rooms annotated with `member_count` (in the room now) and `ban_count` (bans in force)."""
    members = (
        Presence.objects.filter(app=OuterRef("app"), room_id=OuterRef("room_id"), in_room=True)
        .order_by()
        .values("app")
        .annotate(n=Count("pk"))
        .values("n")
    )
    bans = (
        Ban.objects.filter(room=OuterRef("pk"))
        .filter(in_force())
        .order_by()
        .values("room")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return rooms.annotate(
        member_count=Coalesce(Subquery(members), 0), ban_count=Coalesce(Subquery(bans), 0)
    )


def rooms_matching(app_id: int, search: str, limit: int = 20) -> list[Room]:
    """The room picker: the app's rooms whose id or label contains `search`, busiest first."""
    rooms = Room.objects.filter(app_id=app_id)
    if search:
        rooms = rooms.filter(Q(room_id__icontains=search) | Q(label__icontains=search))
    return list(with_room_counts(rooms).order_by("-member_count", "room_id")[:limit])


def whereabouts(user_id: str) -> list[Presence]:
    """The rooms this user id is in now, in every app."""
    return list(
        Presence.objects.filter(user_id=user_id, in_room=True)
        .select_related("app")
        .order_by("app__name", "room_id")[:500]
    )


def bans_in_force_on(user_id: str) -> list[Ban]:
    """The bans and mutes in force that name this user id, in any app and room."""
    return list(
        Ban.objects.filter(user_id=user_id)
        .filter(in_force() | muting())
        .select_related("app", "room", "created_by")
        .order_by("-created_at")[:200]
    )


# --- What a moderator should know before sending ------------------------------------------------


def already_banned(app, *, scope: str, room_id: str | None, user_ids: list[str]) -> dict:
    """Per user id: a ban in force that already keeps them out where a new ban would."""
    users = [u for u in user_ids if u]
    if not users:
        return {}
    bans = Ban.objects.filter(app=app).filter(in_force())
    if scope == Ban.Scope.USER_IN_ROOM:
        bans = bans.covering(room_id, users)
    elif scope == Ban.Scope.USER_EVERYWHERE:
        bans = bans.filter(scope=Ban.Scope.USER_EVERYWHERE, user_id__in=users)  # covers them all
    else:
        return {}
    bans = list(bans.select_related("room").order_by("-created_at", "-pk")[:1000])
    found = {u: next((b for b in bans if b.covers(room_id, u)), None) for u in users}
    return {u: ban for u, ban in found.items() if ban is not None}


def never_seen_in(app, room_id: str, user_ids: list[str]) -> list[str]:
    """The user ids the room callbacks have never reported in this room."""
    seen = set(
        Presence.objects.filter(app=app, room_id=room_id, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    return [u for u in user_ids if u and u not in seen]


def rooms_now(app, user_ids: list[str]) -> dict[str, list[str]]:
    """Per user id, the app's rooms they are in now."""
    rooms = {}
    present = Presence.objects.filter(app=app, user_id__in=user_ids, in_room=True)
    for user, room_id in present.order_by("user_id", "room_id").values_list("user_id", "room_id"):
        rooms.setdefault(user, []).append(room_id)
    return rooms

"""The room as a moderator sees it: who is in it now, live, with the actions on each of them."""

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from . import selectors
from .admin_views import require
from .models import Room
from .templatetags.moderation import remaining

SEARCH_MAX = 200


def _search(request) -> str:
    return (request.GET.get("q") or "").replace("\x00", "").strip()[:SEARCH_MAX]


def _page(request) -> int:
    value = request.GET.get("page") or ""
    return int(value) if value.isdigit() and len(value) < 7 else 1


def members_context(request, room: Room) -> dict:
    """What the room page shows under the room: the first render, before room.js takes over."""
    search = _search(request)
    found = selectors.room_members(room, search=search, page=_page(request))
    return {
        "members": found,
        "member_search": search,
        "members_url": reverse("admin:moderation_room_members", args=[room.pk]),
        "can_moderate": request.user.has_perm("moderation.add_ban"),
    }


def members(model_admin, request, room_id):
    """The room's members as JSON, for room.js to refresh the page without a reload."""
    require(request, "view_room")
    room = get_object_or_404(Room, pk=room_id)
    found = selectors.room_members(room, search=_search(request), page=_page(request))
    return JsonResponse(
        {
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
            "updated": _when(timezone.now()),
            "members": [_member(m) for m in found.members],
        }
    )


def _member(member) -> dict:
    ban, mute = member.ban, member.mute
    return {
        "user_id": member.user_id,
        "since": _when(member.entered_at),
        "mute": None
        if mute is None
        else {
            "id": mute.pk,
            "status": mute.status,
            "label": _("muted: %(media)s") % {"media": mute.get_media_display()},
            "media": mute.media,
            "remaining": remaining(mute),
            "url": reverse("admin:moderation_ban_change", args=[mute.pk]),
        },
        "ban": None
        if ban is None
        else {
            "id": ban.pk,
            "status": ban.status,
            "status_label": ban.get_status_display(),
            "scope": ban.get_scope_display(),
            "remaining": remaining(ban),
            "url": reverse("admin:moderation_ban_change", args=[ban.pk]),
        },
    }


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i:s T")


def search(model_admin, request):
    """The room picker's suggestions: an app's rooms by id or label."""
    require(request, "view_room")
    app = request.GET.get("app") or ""
    if not app.isdigit():
        return JsonResponse({"rooms": []})
    rooms = selectors.rooms_matching(int(app), _search(request))
    return JsonResponse(
        {
            "rooms": [
                {
                    "room_id": r.room_id,
                    "label": r.label,
                    "members": r.member_count,
                    "bans": r.ban_count,
                }
                for r in rooms
            ]
        }
    )

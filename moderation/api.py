"""The ban check for customers' token servers: GET /api/v1/bans/check?room=R&user=U.

A token server asks before it hands out join credentials (ZEGO Token04, Tencent UserSig), on
every join, so the answer comes from Redis in one round trip (`bancheck.check`).

`reply` makes the answer from what the request says; the view below turns it into Django's
response, and the site's WSGI handler (moderation_site/handler.py) into a WSGI answer without
building a request or response object on the common path.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field

from django.db import DatabaseError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import bancheck, metrics
from .models import ID_MAX_LENGTH, has_control_characters

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
CACHE_CONTROL = "no-store"


@dataclass(frozen=True)
class Reply:
    status: int
    payload: dict
    headers: dict[str, str] = field(default_factory=dict)  # beyond Content-Type, Cache-Control

    def body(self) -> bytes:
        return json.dumps(self.payload).encode()

    def header_items(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", CONTENT_TYPE),
            ("Cache-Control", CACHE_CONTROL),
            *self.headers.items(),
        ]


def _unauthorized(message: str) -> Reply:
    return Reply(401, {"error": message}, {"WWW-Authenticate": 'Bearer realm="ban-check"'})


def _bad_id(value: str) -> bool:
    if len(value) > ID_MAX_LENGTH:
        return True
    # isprintable() is False for every control, format, private-use or unassigned character
    # (and for spaces other than " "), so the common id skips the check of each character.
    return not value.isprintable() and has_control_characters(value)


@metrics.timed_ban_check
def reply(method: str, authorization: str, query) -> Reply:
    """The answer to a ban check: `query` is the request's GET (a QueryDict)."""
    if method not in ("GET", "HEAD"):
        return Reply(
            405,
            {"error": f"{method} is not allowed: use GET (or HEAD)"},
            {"Allow": "GET, HEAD"},
        )
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized("send Authorization: Bearer <token>")
    params = {}
    for name in ("room", "user"):
        value = query.get(name, "")
        if not value:
            return Reply(400, {"error": f"{name} is required", "field": name})
        if _bad_id(value):
            return Reply(
                400,
                {
                    "error": f"{name} is at most {ID_MAX_LENGTH} characters, without control "
                    "characters",
                    "field": name,
                },
            )
        params[name] = value
    try:
        answer = bancheck.check(token, params["room"], params["user"])
    except bancheck.Unauthorized:
        return _unauthorized("unknown or revoked token")
    except bancheck.RateLimited as exc:
        return Reply(
            429,
            {"error": "too many requests for this token"},
            {"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
        )
    except DatabaseError:
        log.exception("Ban check: neither the cache nor the database could answer.")
        return Reply(503, {"error": "unavailable, try again"})
    return Reply(200, answer.as_dict())


def response(answer: Reply) -> HttpResponse:
    made = HttpResponse(answer.body(), status=answer.status)
    for name, value in answer.header_items():
        made[name] = value
    return made


# No cookie is read here, only the bearer token: CSRF cannot apply, and a POST must get this
# view's JSON 405, not the CSRF middleware's HTML 403.
@csrf_exempt
def ban_check(request):
    return response(reply(request.method, request.META.get("HTTP_AUTHORIZATION", ""), request.GET))

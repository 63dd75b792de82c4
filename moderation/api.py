"""The ban check for customers' token servers: GET /api/v1/bans/check?room=R&user=U.

A token server asks before it hands out join credentials (ZEGO Token04, Tencent UserSig), on
every join, so the answer comes from Redis in one round trip (`bancheck.check`).
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata

from django.db import DatabaseError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import bancheck
from .models import ID_MAX_LENGTH

log = logging.getLogger(__name__)


def _json(status: int, payload: dict, **headers) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response.answer = payload  # what was said, for the metrics: no need to parse it back
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unauthorized(message: str) -> HttpResponse:
    return _json(401, {"error": message}, WWW_Authenticate='Bearer realm="ban-check"')


def _bad_id(value: str) -> bool:
    return len(value) > ID_MAX_LENGTH or any(unicodedata.category(c)[0] == "C" for c in value)


# No cookie is read here, only the bearer token: CSRF cannot apply, and a POST must get this
# view's JSON 405, not the CSRF middleware's HTML 403.
@csrf_exempt
def ban_check(request):
    if request.method not in ("GET", "HEAD"):
        return _json(
            405,
            {"error": f"{request.method} is not allowed: use GET (or HEAD)"},
            Allow="GET, HEAD",
        )
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized("send Authorization: Bearer <token>")
    params = {}
    for field in ("room", "user"):
        value = request.GET.get(field, "")
        if not value:
            return _json(400, {"error": f"{field} is required", "field": field})
        if _bad_id(value):
            return _json(
                400,
                {
                    "error": f"{field} is at most {ID_MAX_LENGTH} characters, without control "
                    "characters",
                    "field": field,
                },
            )
        params[field] = value
    try:
        answer = bancheck.check(token, params["room"], params["user"])
    except bancheck.Unauthorized:
        return _unauthorized("unknown or revoked token")
    except bancheck.RateLimited as exc:
        return _json(
            429,
            {"error": "too many requests for this token"},
            Retry_After=str(max(1, math.ceil(exc.retry_after))),
        )
    except DatabaseError:
        log.exception("Ban check: neither the cache nor the database could answer.")
        return _json(503, {"error": "unavailable, try again"})
    return _json(200, answer.as_dict())

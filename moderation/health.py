"""GET /healthz: whether this deployment can take bans and end them on time.

200 when every check passes, 503 naming the failing ones otherwise. No login; the body holds
counts and ages only, never an id, a name, an address or a secret (errors are reported by
their type alone: a driver's message may name the host and user).
"""

from __future__ import annotations

import json
import time

import redis as redis_client
from django.db import DatabaseError, connection
from django.http import HttpResponse
from redis.exceptions import RedisError

from . import clock, liveness, redis, selectors

PATH = "/healthz"
EXPIRY_LAG_LIMIT_SECONDS = 10
RECONCILE_STALE_SECONDS = 60  # four missed turns at the default 15 s
REDIS_TIMEOUT_SECONDS = 2

_client = None


def _redis():
    """The process's Redis, with short timeouts: a check must answer, not hang."""
    global _client
    base = redis.connection()
    if _client is None or _client[0] is not base:
        pool = base.connection_pool
        kwargs = {
            **pool.connection_kwargs,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        }
        pool = redis_client.ConnectionPool(connection_class=pool.connection_class, **kwargs)
        _client = (base, redis_client.Redis(connection_pool=pool))
    return _client[1]


def _failed(exc: Exception) -> dict:
    return {"ok": False, "error": f"unreachable ({type(exc).__name__})"}


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return _failed(exc)
    return {"ok": True}


def check_expiry() -> dict:
    """The oldest ban past its end that is still active: the clock is late by that much."""
    lag = selectors.oldest_overdue_seconds()
    result = {"ok": lag <= EXPIRY_LAG_LIMIT_SECONDS, "oldest_overdue_seconds": round(lag, 1)}
    if not result["ok"]:
        result["error"] = f"bans are ending more than {EXPIRY_LAG_LIMIT_SECONDS} s late"
    return result


def check_workers(client) -> dict:
    alive = liveness.alive("worker", client)
    result = {"ok": alive > 0, "alive": alive}
    if not alive:
        result["error"] = "no worker is alive"
    return result


def check_reconcile(client) -> dict:
    last = clock.last_reconcile(client)
    ago = None if last is None else round(max(0.0, time.time() - last), 1)
    result = {
        "ok": ago is None or ago <= RECONCILE_STALE_SECONDS,
        "last_run_seconds_ago": ago,
        "clocks_alive": liveness.alive("clock", client),
    }
    if not result["ok"]:
        result["error"] = f"no reconcile for more than {RECONCILE_STALE_SECONDS} s"
    return result


def checks() -> dict:
    found = {"database": check_database()}
    if found["database"]["ok"]:
        try:
            found["expiry"] = check_expiry()
        except DatabaseError as exc:
            found["expiry"] = _failed(exc)
    try:
        client = _redis()
        client.ping()
    except RedisError as exc:
        found["redis"] = _failed(exc)
    else:
        found["redis"] = {"ok": True}
        try:
            found["workers"] = check_workers(client)
            found["reconcile"] = check_reconcile(client)
        except RedisError as exc:
            found["redis"] = _failed(exc)
    return found


def response() -> HttpResponse:
    found = checks()
    failing = sorted(name for name, result in found.items() if not result["ok"])
    body = {"status": "failing" if failing else "ok", "failing": failing, "checks": found}
    answer = HttpResponse(
        json.dumps(body), status=503 if failing else 200, content_type="application/json"
    )
    answer["Cache-Control"] = "no-store"
    return answer


class HealthCheckMiddleware:
    """Answers /healthz before anything else: a load balancer asks by IP address and plain
    HTTP, which ALLOWED_HOSTS and the HTTPS redirect would refuse."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.rstrip("/") == PATH and request.method in ("GET", "HEAD"):
            return response()
        return self.get_response(request)

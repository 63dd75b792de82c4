"""The ban check: the most requests per second it sustains, and its latency at 500 requests/s.

Against gunicorn on this machine, with its own vendor app, bans and token in the configured
database (removed afterwards): 32 concurrent clients for the maximum, then an open-loop 500
requests per second for p50/p99. Half the questions are about banned users.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from moderation import bancheck
from moderation import redis as moderation_redis
from moderation.models import Ban, Room, Vendor, VendorApp
from moderation.tokens import create_token

from .common import Context, Gunicorn, Result, closed_loop, fetch, get_request, open_loop

CONCURRENCY = 32
OFFERED_RATE = 500
P99_TARGET_MS = 5.0
ROOMS, USERS_PER_ROOM = 20, 50  # 1000 active bans
DISTINCT_QUESTIONS = 400
STARTUP_SECONDS = 60


@contextlib.contextmanager
def bench_data():
    """A vendor app of its own with 1000 active bans and a token; all gone afterwards."""
    name = f"bench-{secrets.token_hex(4)}"
    app = VendorApp(
        name=name,
        vendor=Vendor.ZEGO,
        vendor_app_id=str(secrets.randbelow(2**31) + 2**31),
        enabled=False,  # nothing may act on it but the ban check
    )
    app.secret = secrets.token_hex(16)
    app.save()
    token = None
    try:
        now = timezone.now()
        rooms = Room.objects.bulk_create([Room(app=app, room_id=f"room-{n}") for n in range(ROOMS)])
        Ban.objects.bulk_create(
            [
                Ban(
                    app=app,
                    room=room,
                    user_id=f"banned-{n}",
                    kind=Ban.Kind.BAN,
                    scope=Ban.Scope.USER_IN_ROOM,
                    requested_seconds=86_400,
                    effective_seconds=86_400,
                    reason="benchmark",
                    status=Ban.Status.ACTIVE,
                    starts_at=now,
                    expires_at=now + timedelta(days=1),
                )
                for room in rooms
                for n in range(USERS_PER_ROOM)
            ]
        )
        # The limiter still runs on every request; its limit is not what is measured.
        token, plaintext = create_token(app=app, name="benchmark", rate_per_second=1_000_000)
        bancheck.rebuild_app(app)
        yield app, plaintext
    finally:
        connection = moderation_redis.connection()
        key = bancheck.PREFIX + bancheck.app_key(app)
        with contextlib.suppress(Exception):
            connection.delete(key, key + ":seq", key + ":building")
            if token is not None:
                connection.hdel(bancheck.TOKENS, token.token_hash)
                connection.delete(bancheck.RATE_PREFIX + token.token_hash)
        Ban.objects.filter(app=app).delete()
        Room.objects.filter(app=app).delete()
        app.delete()  # tokens, presence and deliveries go with it


def _questions(token: str, host: str) -> tuple[list[bytes], bytes, bytes]:
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
    requests, banned, free = [], None, None
    for n in range(DISTINCT_QUESTIONS):
        room = f"room-{n % ROOMS}"
        user = f"banned-{n % USERS_PER_ROOM}" if n % 2 == 0 else f"free-{n}"
        request = get_request(
            "/api/v1/bans/check?" + urlencode({"room": room, "user": user}),
            host=host,
            headers=headers,
        )
        requests.append(request)
        banned = banned or (request if n % 2 == 0 else None)
        free = free or (request if n % 2 else None)
    return requests, banned, free


def _host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host not in ("*", "") and not host.startswith("."):
            return host
    return "127.0.0.1"


def _expect(server, request: bytes, banned: bool) -> None:
    # A worker's first request loads the URLs and opens the connections: allow it time.
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            status, body = fetch(server.address, request)
            break
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise CommandError("The ban check did not answer.") from None
    if status != 200 or json.loads(body).get("banned") is not banned:
        raise CommandError(f"The ban check answers wrongly ({status}): {body[:200]!r}")


def run(context: Context) -> list[Result]:
    cpus = os.cpu_count() or 1
    with bench_data() as (_app, token):
        requests, banned, free = _questions(token, _host())
        # One worker per core with two threads, keep-alive: a check waits on Redis for a
        # fraction of a millisecond, and a new TCP connection per request (sync workers) or more
        # processes cost more than they give on a small machine (measured on 2 cores).
        with Gunicorn(workers=max(2, cpus), threads=2) as server:
            _expect(server, banned, True)
            _expect(server, free, False)
            warm_up = min(2.0, context.duration / 4)
            closed_loop(server.address, requests, concurrency=CONCURRENCY, duration=warm_up)

            context.write(f"bancheck: {CONCURRENCY} clients for {context.duration:g} s …")
            peak = closed_loop(
                server.address, requests, concurrency=CONCURRENCY, duration=context.duration
            )
            context.write(f"bancheck: open loop at {OFFERED_RATE}/s for {context.duration:g} s …")
            steady = open_loop(
                server.address, requests, rate=OFFERED_RATE, duration=context.duration
            )
    for label, load in (("closed loop", peak), ("open loop", steady)):
        if load.errors:
            context.write(f"bancheck: {load.errors} failed requests in the {label}")
    return [
        Result("bancheck_max_rps", peak.rate, "req/s", f"≥ {OFFERED_RATE} req/s"),
        Result("bancheck_p50_ms_at_500rps", steady.median, "ms", "none"),
        Result("bancheck_p99_ms_at_500rps", steady.percentile(99), "ms", f"≤ {P99_TARGET_MS:g} ms"),
    ]

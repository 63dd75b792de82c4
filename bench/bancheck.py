"""The ban check: the most requests per second it sustains, against the web server's own floor,
and its latency at 500 and at 1,000 requests/s.

Against gunicorn on this machine, set up as the Procfile's web process, with its own vendor
app, bans and token in the configured database (removed afterwards): 32 concurrent clients for
the maximum, then an open loop at 500 and at 1,000 requests per second for p50/p99. Half the
questions are about banned users. The floor is the same server, workers and clients on a no-op
path that its WSGI handler answers without Django (BENCH_NOOP, set for this server only);
efficiency is the ban check's maximum over the floor's.
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
from moderation_site.handler import NOOP_BODY, NOOP_PATH

from .common import (
    Context,
    Gunicorn,
    Load,
    Result,
    closed_loop,
    fetch,
    get_request,
    open_loop,
)

CONCURRENCY = 32
OFFERED_RATES = (500, 1000)
P99_TARGET_MS = 5.0
EFFICIENCY_TARGET = 0.5
TURNS = 4  # the closed loops alternate: ban check, no-op, ban check, ...
# The Procfile's web process: gthread, one worker per core, two threads each, keep-alive.
# Measured on 2 cores against 2 workers of 1 thread, 3 and 4 of 1, and sync: as many requests
# per second as 2 of 1, with the lower tail at 1,000/s, and a thread left while the other waits
# (a cache miss waits on the database). Sync workers close each connection after its answer.
THREADS = 2  # gthread (bench.common.Gunicorn), as in the Procfile
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


def _alternating(server, loads: list[list[bytes]], duration: float) -> list[Load]:
    """Each set of requests as fast as 32 clients go, in turns of a quarter of `duration`, so
    that other work on the machine falls on every set alike; one Load per set."""
    totals = [Load() for _ in loads]
    for _turn in range(TURNS):
        for total, requests in zip(totals, loads, strict=True):
            load = closed_loop(
                server.address, requests, concurrency=CONCURRENCY, duration=duration / TURNS
            )
            total.latencies_ms += load.latencies_ms
            total.ok += load.ok
            total.errors += load.errors
            total.seconds += load.seconds
    return totals


def _to_noop(request: bytes) -> bytes:
    line, _, rest = request.partition(b"\r\n")
    method, target, version = line.split(b" ")
    _path, _, query = target.partition(b"?")
    return b" ".join([method, NOOP_PATH.encode() + b"?" + query, version]) + b"\r\n" + rest


def _expect_noop(server, request: bytes) -> None:
    status, body = fetch(server.address, request)
    if status != 200 or body != NOOP_BODY:
        raise CommandError(f"The no-op path answers wrongly ({status}): {body[:200]!r}")


def run(context: Context) -> list[Result]:
    with bench_data() as (_app, token):
        host = _host()
        requests, banned, free = _questions(token, host)
        # The same requests (headers, token, query) to the no-op path: the same work for the
        # server and for the clients, but for the answer.
        noop = [_to_noop(request) for request in requests]
        # BENCH_NOOP: this server answers NOOP_PATH in its WSGI handler, before Django.
        with Gunicorn(
            workers=max(2, os.cpu_count() or 1),
            threads=THREADS,
            env={"BENCH_NOOP": "true"},
        ) as server:
            _expect(server, banned, True)
            _expect(server, free, False)
            _expect_noop(server, noop[0])
            warm_up = min(2.0, context.duration / 4)
            closed_loop(server.address, requests, concurrency=CONCURRENCY, duration=warm_up)

            context.write(
                f"bancheck: {CONCURRENCY} clients for {context.duration:g} s on the ban check and "
                f"{context.duration:g} s on the no-op path, in turns …"
            )
            peak, floor = _alternating(server, [requests, noop], context.duration)
            steady = {}
            for rate in OFFERED_RATES:
                context.write(f"bancheck: open loop at {rate}/s for {context.duration:g} s …")
                steady[rate] = open_loop(
                    server.address, requests, rate=rate, duration=context.duration
                )
    for label, load in (
        ("closed loop", peak),
        ("no-op closed loop", floor),
        *((f"open loop at {rate}/s", load) for rate, load in steady.items()),
    ):
        if load.errors:
            context.write(f"bancheck: {load.errors} failed requests in the {label}")
    results = [
        Result("bancheck_max_rps", peak.rate, "req/s", f"≥ {OFFERED_RATES[-1]} req/s"),
        Result("bancheck_noop_max_rps", floor.rate, "req/s", "none"),
        Result(
            "bancheck_efficiency",
            peak.rate / floor.rate if floor.rate else 0.0,
            "× (ban check over no-op, req/s)",
            f"≥ {EFFICIENCY_TARGET:g}",
        ),
    ]
    for rate, load in steady.items():
        results += [
            Result(f"bancheck_p50_ms_at_{rate}rps", load.median, "ms", "none"),
            Result(
                f"bancheck_p99_ms_at_{rate}rps",
                load.percentile(99),
                "ms",
                f"≤ {P99_TARGET_MS:g} ms",
            ),
        ]
    return results

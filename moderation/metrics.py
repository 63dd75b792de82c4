"""/metrics for Prometheus: what the console did (counters, histograms) and what holds now.

Counters and histograms are written where things happen (web, workers, clock) into
prometheus-client's multiprocess files under PROMETHEUS_MULTIPROC_DIR, which every process of
one host shares; the settings point it at VAR_DIR/prometheus when METRICS_TOKEN is set. What
holds now (bans and mutes in force, the oldest overdue ban, queued jobs, live workers) is read
from the database and Redis at each scrape, so it is the whole deployment's, not one host's.

Served only with `Authorization: Bearer $METRICS_TOKEN`; 404 while METRICS_TOKEN is unset.
Labels never carry an id, a name or a secret: vendors, actions, outcomes and verdicts only.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from functools import wraps

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError

from . import liveness, redis, selectors
from .models import Ban

log = logging.getLogger(__name__)

PREFIX = "rtc_moderation_"

VENDOR_CALLS = Counter(
    PREFIX + "vendor_calls_total",
    "Vendor API calls, by vendor, action and outcome (ok, throttled, retryable, failed).",
    ["vendor", "action", "outcome"],
)
VENDOR_CALL_SECONDS = Histogram(
    PREFIX + "vendor_call_duration_seconds",
    "Time from sending a vendor call to its answer (or its failure).",
    ["vendor", "action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EXPIRY_LAG_SECONDS = Histogram(
    PREFIX + "expiry_lag_seconds",
    "How late each ban or mute was ended after its end time.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
CALLBACKS = Counter(
    PREFIX + "callback_deliveries_total",
    "Room and stream callback deliveries, by vendor and verdict.",
    ["vendor", "verdict"],
)
BAN_CHECKS = Counter(
    PREFIX + "ban_checks_total",
    "Ban-check answers, by outcome (banned, muted, clear, unauthorized, limited, bad_request, "
    "unavailable, method).",
    ["outcome"],
)
BAN_CHECK_SECONDS = Histogram(
    PREFIX + "ban_check_duration_seconds",
    "Time to answer a ban check, in the web process.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)


# --- Where things happen ----------------------------------------------------------------------


def vendor_call(client, result) -> None:
    """Counts one vendor call and its latency; never fails the call it describes."""
    try:
        vendor = client.vendor
        if result.ok:
            outcome = "ok"
        elif client.throttled(result):
            outcome = "throttled"
        elif result.retryable:
            outcome = "retryable"
        else:
            outcome = "failed"
        VENDOR_CALLS.labels(vendor, result.action, outcome).inc()
        VENDOR_CALL_SECONDS.labels(vendor, result.action).observe(result.latency_ms / 1000)
    except Exception:  # noqa: BLE001 - a metric must never stop a ban
        log.exception("Vendor call not counted.")


def expired(lags_seconds) -> None:
    for lag in lags_seconds:
        EXPIRY_LAG_SECONDS.observe(max(0.0, lag))


def callback(vendor: str, verdict: str) -> None:
    CALLBACKS.labels(vendor or "unknown", verdict).inc()


CHECK_OUTCOMES = {401: "unauthorized", 429: "limited", 400: "bad_request", 503: "unavailable"}
# Bound once: labels() takes a lock on every call, and this is on every ban check.
_CHECK_COUNTERS = {
    outcome: BAN_CHECKS.labels(outcome)
    for outcome in ("banned", "muted", "clear", "method", *CHECK_OUTCOMES.values())
}


def timed_ban_check(reply):
    """Counts each ban-check answer (an api.Reply) by outcome and times it."""

    @wraps(reply)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        answer = reply(*args, **kwargs)
        BAN_CHECK_SECONDS.observe(time.perf_counter() - started)
        _CHECK_COUNTERS[_check_outcome(answer)].inc()
        return answer

    return timed


def _check_outcome(answer) -> str:
    if answer.status != 200:
        return CHECK_OUTCOMES.get(answer.status, "method")
    if answer.payload["banned"]:
        return "banned"
    return "muted" if answer.payload["muted"] else "clear"


# --- What holds now, read at each scrape ------------------------------------------------------


class StateCollector:
    """Bans and mutes in force, the oldest overdue one, queued jobs and live workers."""

    def collect(self):
        yield from _ban_families()
        yield from _queue_families()

    def describe(self):
        return []


# Ended bans (expired, lifted, done) are the history's, not a gauge's: the indexed statuses
# only, so a scrape stays cheap at a million bans.
GAUGED_STATUSES = (Ban.Status.PENDING, Ban.Status.ACTIVE, Ban.Status.FAILED)


def _ban_families():
    in_force = GaugeMetricFamily(
        PREFIX + "bans",
        "Bans and mutes pending, active or failed now, by kind and status.",
        labels=["kind", "status"],
    )
    overdue = GaugeMetricFamily(
        PREFIX + "expiry_overdue_seconds",
        "How far past its end the oldest still active ban or mute is (0: none).",
    )
    try:
        rows = (
            Ban.objects.filter(status__in=GAUGED_STATUSES)
            .values("kind", "status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        counts = {(row["kind"], row["status"]): row["n"] for row in rows}
        overdue_seconds = selectors.oldest_overdue_seconds()
    except DatabaseError as exc:
        log.warning("Metrics: the database cannot be read (%s).", type(exc).__name__)
        return
    for kind in Ban.Kind.values:
        for status in GAUGED_STATUSES:
            if kind == Ban.Kind.KICK and status == Ban.Status.ACTIVE:
                continue  # a kick is never active
            in_force.add_metric([kind, status], counts.get((kind, status), 0))
    overdue.add_metric([], overdue_seconds)
    yield in_force
    yield overdue


def _queue_families():
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    jobs = GaugeMetricFamily(
        PREFIX + "queue_jobs",
        "Jobs of the moderation queues (interactive and bulk together), by state.",
        labels=["state"],
    )
    workers = GaugeMetricFamily(PREFIX + "workers_alive", "Workers whose lease holds now.")
    clocks = GaugeMetricFamily(PREFIX + "clocks_alive", "Clocks whose lease holds now.")
    try:
        connection = redis.connection()
        queues = [redis.queue(interactive=interactive) for interactive in (True, False)]
        jobs.add_metric(["queued"], sum(queue.count for queue in queues))
        for state, registry in [
            ("scheduled", ScheduledJobRegistry),
            ("started", StartedJobRegistry),
            ("failed", FailedJobRegistry),
        ]:
            count = sum(registry(q.name, connection=connection).count for q in queues)
            jobs.add_metric([state], count)
        workers.add_metric([], liveness.alive("worker", connection))
        clocks.add_metric([], liveness.alive("clock", connection))
    except RedisError as exc:
        log.warning("Metrics: Redis cannot be read (%s).", type(exc).__name__)
        return
    yield jobs
    yield workers
    yield clocks


# --- The endpoint -----------------------------------------------------------------------------


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        # One process only (runserver, a shell): its own counters.
        for collector in (
            VENDOR_CALLS,
            VENDOR_CALL_SECONDS,
            EXPIRY_LAG_SECONDS,
            CALLBACKS,
            BAN_CHECKS,
            BAN_CHECK_SECONDS,
        ):
            registry.register(collector)
    registry.register(StateCollector())
    return registry


PATH = "/metrics"


class MetricsMiddleware:
    """Answers /metrics before the host check and the HTTPS redirect, like /healthz: a scraper
    asks by address and plain HTTP inside the network. The token is what protects it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Without METRICS_TOKEN /metrics is off: the site's own 404 page.
        if (
            request.path_info == PATH
            and request.method in ("GET", "HEAD")
            and settings.METRICS_TOKEN
        ):
            return view(request)
        return self.get_response(request)


def view(request):
    token = settings.METRICS_TOKEN
    scheme, _, offered = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        offered.strip().encode(), token.encode()
    ):
        response = HttpResponse(
            "send Authorization: Bearer <METRICS_TOKEN>\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response

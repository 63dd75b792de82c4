"""The ban history at scale: the list, a filtered page, a search and the CSV export, with
10,000 bans and with a million (`--bans`).

The bans are bulk-loaded for three apps of the benchmark's own, 300 rooms each, five moderators,
over about a year: kicks and bans of each scope and status. PostgreSQL makes them itself (INSERT
… SELECT over generate_series, foreign-key checks off; in the run's own database the secondary
indexes are dropped for a large load and built again after), other databases take batched
INSERTs; then VACUUM ANALYZE, as autovacuum would. The pages: the list, a filter (status and
app), a search (a user id) and the CSV export. Times are server times measured at the client, a
supervisor's keep-alive connection to gunicorn on loopback (the whole answer read); the export's
is the time until its first data row arrives (its first bytes, a BOM and the header row, leave
before the query runs). Query counts come from the same pages rendered in this process by
Django's test client. The loaded bans are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import statistics
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from moderation.models import Ban, Room
from moderation.roles import MODERATORS, SUPERVISORS

from .click import Browser, percentile
from .common import MARKER, REQUEST_TIMEOUT, Context, Result, Stack, host_header, remove_apps

SMALL = 10_000
SAMPLES = 20
MIN_SAMPLES = 5
PAGE_BUDGET_SECONDS = 30.0  # per page and size: fewer samples for a page slower than that
LIST_TARGET_MS = 150.0
RATIO_TARGET = 1.5
ROOMS_PER_APP = 300
MODERATORS_COUNT = 5
USERS = 100_000
STEP = timedelta(seconds=30)  # between two bans: a million span about a year
REASONS = [
    "spam — links in chat",
    "harassment of the host",
    "raid",
    "ban evasion",
    "hate speech",
    "nudity on camera",
    "impersonation",
    "advertising",
]
COLUMNS = [
    "app_id",
    "room_id",
    "user_id",
    "kind",
    "scope",
    "requested_seconds",
    "effective_seconds",
    "reason",
    "status",
    "batch",
    "created_by_id",
    "created_at",
    "starts_at",
    "expires_at",
    "lifted_by_id",
    "lifted_at",
    "lift_reason",
    "vendor_request_ids",
    "vendor_message",
    "vendor_until",
    "attempts",
    "dispatched_at",
    "claimed_at",
    "claimed_by",
    "vendor_sync_due",
    "updated_at",
    "vendor_text",
]
DURATIONS = [600, 3600, 86_400, 604_800, None]
BAN_STATUSES = ["expired"] * 14 + ["lifted"] * 2 + ["failed"] + ["active"] * 3

STACK = ("web",)  # what it uses of the run's Stack


def user_of(n: int) -> str:
    return f"{MARKER}-user-{n * 7919 % USERS:06d}"


class HistoryData:
    """Three apps with their rooms and moderators, and as many bans as asked for."""

    def __init__(self, stack: Stack):
        # Its own database may lose its indexes during a large load (rebuilt after: faster).
        self.may_drop_indexes = stack.own_database
        self.apps = [stack.vendor_app(vendor) for vendor in ("volcengine", "zego", "tencent")]
        self.rooms = []
        for app in self.apps:
            self.rooms += Room.objects.bulk_create(
                [Room(app=app, room_id=f"{MARKER}-room-{n:03d}") for n in range(ROOMS_PER_APP)]
            )
        self.moderators = [stack.user(MODERATORS).pk for _ in range(MODERATORS_COUNT)]
        self.count = 0
        self.newest = timezone.now()

    def rows(self, start: int, stop: int, total: int):
        """Bans start … stop-1 of `total`: ban n was made (total - n) steps before now."""
        for n in range(start, stop):
            room = self.rooms[n % len(self.rooms)]
            created = self.newest - (total - n) * STEP
            pick = n % 100
            moderator = self.moderators[n % len(self.moderators)]
            if pick < 10:
                kind, scope, status, seconds = "kick", "user_in_room", "done", None
            else:
                kind, scope = "ban", "user_in_room"
                if pick < 13:
                    scope = "user_everywhere"
                elif pick == 13:
                    scope = "whole_room"
                status = BAN_STATUSES[n // 100 % len(BAN_STATUSES)]
                seconds = DURATIONS[n % len(DURATIONS)]
            applied = status != "failed"
            starts = created + timedelta(seconds=1) if applied and kind == "ban" else None
            expires = starts + timedelta(seconds=seconds) if starts and seconds else None
            if status == "active" and expires is not None and expires < self.newest:
                expires = self.newest + timedelta(days=1)
            lifted = starts + timedelta(minutes=5) if status == "lifted" else None
            yield (
                room.app_id,
                None if scope == "user_everywhere" else room.pk,
                "" if scope == "whole_room" else user_of(n),
                kind,
                scope,
                seconds,
                seconds,
                f"{REASONS[n % len(REASONS)]} (#{n % 997})",
                status,
                uuid.UUID(int=n + 1),
                moderator,
                created,
                starts,
                expires,
                moderator if lifted else None,
                lifted,
                "appeal accepted" if lifted else "",
                f'["{MARKER}-req-{n}"]' if applied else "[]",
                "success" if applied else "vendor refused: bad parameter",
                None,
                1,
                created,
                None,
                "",
                False,
                lifted or created,
                "{}",
            )

    def grow_to(self, total: int, write=print) -> None:
        """Adds bans until there are `total`; then vacuums and analyzes, as autovacuum would."""
        started = time.monotonic()
        if connection.vendor == "postgresql":
            rebuild = self.may_drop_indexes and total - self.count >= 100_000
            with connection.cursor() as cursor, _indexes_dropped(cursor, rebuild):
                self._insert_select(self.count, total, total)
        else:
            self._insert_rows(self.count, total, total)
        loaded = time.monotonic() - started
        with connection.cursor() as cursor:
            vacuum = "VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE"
            cursor.execute(f"{vacuum} {Ban._meta.db_table}")
        write(
            f"history: {total - self.count} bans loaded in {loaded:.1f} s, vacuumed and analyzed "
            f"in {time.monotonic() - started - loaded:.1f} s"
        )
        self.count = total

    def _insert_rows(self, start: int, stop: int, total: int) -> None:
        table, placeholders = Ban._meta.db_table, ", ".join(["%s"] * len(COLUMNS))
        insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
        batch = []
        with connection.cursor() as cursor:
            for row in self.rows(start, stop, total):
                batch.append(_portable(row))
                if len(batch) == 5000:
                    cursor.executemany(insert, batch)
                    batch = []
            if batch:
                cursor.executemany(insert, batch)

    def _insert_select(self, start: int, stop: int, total: int) -> None:
        """The same bans as rows() makes, made by PostgreSQL itself (generate_series)."""
        with connection.cursor() as cursor, _foreign_keys_unchecked(cursor):
            cursor.execute(
                INSERT_SELECT.format(table=Ban._meta.db_table, columns=", ".join(COLUMNS)),
                {
                    "start": start,
                    "stop": stop,
                    "total": total,
                    "newest": self.newest,
                    "step": STEP.total_seconds(),
                    "rooms": [room.pk for room in self.rooms],
                    "room_apps": [room.app_id for room in self.rooms],
                    "moderators": self.moderators,
                    "statuses": BAN_STATUSES,
                    "durations": DURATIONS,
                    "reasons": REASONS,
                    "marker": MARKER,
                    "users": USERS,
                },
            )

    def remove(self) -> None:
        """Deletes the loaded bans (nothing refers to them), then the apps and rooms."""
        if self.apps and connection.vendor == "postgresql":
            with connection.cursor() as cursor, _foreign_keys_unchecked(cursor):
                cursor.execute(
                    f"DELETE FROM {Ban._meta.db_table} WHERE app_id = ANY(%s)",  # noqa: S608
                    [[app.pk for app in self.apps]],
                )
        remove_apps(self.apps)


@contextlib.contextmanager
def _indexes_dropped(cursor, drop: bool):
    """Without its secondary indexes during the load, each built once afterwards."""
    if not drop:
        yield
        return
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        [Ban._meta.db_table],
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    try:
        yield
    finally:
        for _, definition in indexes:
            cursor.execute(definition)


@contextlib.contextmanager
def _foreign_keys_unchecked(cursor):
    """Bulk loads skip the foreign-key checks where the database role may (a superuser): the
    rows are made consistent, and the checks would cost more than the rows themselves."""
    try:
        cursor.execute("SET session_replication_role = replica")
    except DatabaseError:
        yield
        return
    try:
        yield
    finally:
        cursor.execute("SET session_replication_role = DEFAULT")


# rows() in SQL; each LATERAL step names what the next one needs.
INSERT_SELECT = """
INSERT INTO {table} ({columns})
SELECT a.app_id, CASE WHEN b.scope = 'user_everywhere' THEN NULL ELSE a.room END,
    CASE WHEN b.scope = 'whole_room' THEN ''
        ELSE %(marker)s || '-user-' || lpad((n * 7919 %% %(users)s)::text, 6, '0') END,
    b.kind, b.scope, b.seconds, b.seconds,
    (%(reasons)s::text[])[1 + n %% cardinality(%(reasons)s::text[])] || ' (#' || n %% 997 || ')',
    b.status, lpad(to_hex(n + 1), 32, '0')::uuid, a.moderator, a.created, c.starts,
    CASE WHEN b.status = 'active' AND d.expires < %(newest)s THEN %(newest)s + interval '1 day'
        ELSE d.expires END,
    CASE WHEN d.lifted IS NOT NULL THEN a.moderator END, d.lifted,
    CASE WHEN d.lifted IS NOT NULL THEN 'appeal accepted' ELSE '' END,
    CASE WHEN c.applied THEN jsonb_build_array(%(marker)s || '-req-' || n) ELSE '[]' END,
    CASE WHEN c.applied THEN 'success' ELSE 'vendor refused: bad parameter' END,
    NULL, 1, a.created, NULL, '', false, coalesce(d.lifted, a.created), '{{}}'::jsonb
FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS n
CROSS JOIN LATERAL (SELECT
    n %% 100 AS pick,
    (%(rooms)s::bigint[])[1 + n %% cardinality(%(rooms)s::bigint[])] AS room,
    (%(room_apps)s::bigint[])[1 + n %% cardinality(%(rooms)s::bigint[])] AS app_id,
    (%(moderators)s::bigint[])[1 + n %% cardinality(%(moderators)s::bigint[])] AS moderator,
    %(newest)s::timestamptz - (%(total)s - n) * %(step)s * interval '1 second' AS created) a
CROSS JOIN LATERAL (SELECT
    CASE WHEN a.pick < 10 THEN 'kick' ELSE 'ban' END AS kind,
    CASE WHEN a.pick >= 10 AND a.pick < 13 THEN 'user_everywhere'
        WHEN a.pick = 13 THEN 'whole_room' ELSE 'user_in_room' END AS scope,
    CASE WHEN a.pick < 10 THEN 'done' ELSE (%(statuses)s::text[])[
        1 + n / 100 %% cardinality(%(statuses)s::text[])] END AS status,
    CASE WHEN a.pick >= 10 THEN (%(durations)s::int[])[
        1 + n %% cardinality(%(durations)s::int[])] END AS seconds) b
CROSS JOIN LATERAL (SELECT
    b.status <> 'failed' AS applied,
    CASE WHEN b.status <> 'failed' AND b.kind = 'ban'
        THEN a.created + interval '1 second' END AS starts) c
CROSS JOIN LATERAL (SELECT
    c.starts + b.seconds * interval '1 second' AS expires,
    CASE WHEN b.status = 'lifted' THEN c.starts + interval '5 minutes' END AS lifted) d
"""


def _portable(row: tuple) -> tuple:
    """Values as the ORM would store them, for databases without COPY (SQLite: text)."""
    adapt = connection.ops.adapt_datetimefield_value
    return tuple(
        str(value)
        if isinstance(value, uuid.UUID)
        else adapt(value)
        if isinstance(value, datetime)
        else value
        for value in row
    )


def _pages(data: HistoryData) -> dict[str, str]:
    changelist = reverse("admin:moderation_ban_changelist")
    filtered = urlencode({"status__exact": "active", "app__id__exact": data.apps[1].pk})
    return {
        "list": changelist,
        "filter": f"{changelist}?{filtered}",
        "search": f"{changelist}?{urlencode({'q': user_of(12_345)})}",
        "csv": reverse("admin:moderation_ban_export"),
    }


def timed_page(browser: Browser, path: str) -> float:
    started = time.perf_counter()
    status, _, _ = browser.request("GET", path)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")
    return elapsed


def _timed_csv_first_row(browser: Browser, path: str) -> float:
    """Milliseconds until the first data row arrives; then the export is abandoned."""
    conn = http.client.HTTPConnection(*browser.address, timeout=max(REQUEST_TIMEOUT, 120))
    try:
        started = time.perf_counter()
        conn.request(
            "GET",
            path,
            headers={
                "Host": browser.host,
                "X-Forwarded-Proto": "https",
                "Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
            },
        )
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"history: the export answered {response.status}")
        received = b""
        while not 0 <= received.find(b"\n") < len(received) - 1:  # the header row, and more
            chunk = response.read1(65536)
            if not chunk:
                raise RuntimeError("history: the export ended before its first row")
            received += chunk
        return (time.perf_counter() - started) * 1000
    finally:
        conn.close()


def sample(measure, path: str) -> list[float]:
    measure(path)  # warm: connections, caches, the plan
    samples, budget_ends = [], time.monotonic() + PAGE_BUDGET_SECONDS
    while len(samples) < SAMPLES and (len(samples) < MIN_SAMPLES or time.monotonic() < budget_ends):
        samples.append(measure(path))
    return samples


def logged_in_client(user) -> Client:
    """An in-process client for counting a page's queries, as the user, over "https"."""
    client = Client(HTTP_HOST=host_header(), HTTP_X_FORWARDED_PROTO="https")
    axes = logging.getLogger("axes")
    level, axes.level = axes.level, logging.WARNING  # its login lines are not figures
    try:
        client.force_login(user)
    finally:
        axes.setLevel(level)
    return client


def count_queries(client: Client, path: str, write) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
        if response.streaming:
            next(iter(response.streaming_content))  # the BOM
            next(iter(response.streaming_content))  # the header row
            next(iter(response.streaming_content))  # the first row: the query has run
        response.close()
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default=None)
    if slowest is not None:
        write(
            f"    slowest of {len(captured)} queries: {float(slowest['time']) * 1000:.1f} ms "
            f"{slowest['sql'][:160]}"
        )
    return len(captured)


def measure_size(data: HistoryData, browser: Browser, client: Client, write) -> dict:
    figures = {}
    for name, path in _pages(data).items():
        timer = _timed_csv_first_row if name == "csv" else timed_page
        samples = sample(lambda p, timer=timer: timer(browser, p), path)
        figures[name] = (
            statistics.median(samples),
            percentile(samples, 95),
            count_queries(client, path, write),
        )
        p50, p95, queries = figures[name]
        write(
            f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(samples)} requests, "
            f"{queries} queries"
        )
    return figures


def run(context: Context) -> list[Result]:
    stack: Stack = context.extra["stack"]
    large = context.extra["bans"]
    small = min(SMALL, max(1, large // 100))
    web = stack.web()
    data = HistoryData(stack)
    supervisor = stack.user(SUPERVISORS)
    browser = Browser(web.address, supervisor)
    client = logged_in_client(supervisor)
    try:
        data.grow_to(small, write=context.write)
        context.write(f"history: {small} bans …")
        at_small = measure_size(data, browser, client, context.write)
        data.grow_to(large, write=context.write)
        context.write(f"history: {large} bans …")
        at_large = measure_size(data, browser, client, context.write)
    finally:
        browser.close()
        started = time.monotonic()
        data.remove()
        context.write(f"history: bans deleted in {time.monotonic() - started:.1f} s")
    same = all(at_small[page][2] == at_large[page][2] for page in at_small)
    if not same:
        context.write(
            "history: query counts differ with size: "
            + ", ".join(f"{p} {at_small[p][2]} → {at_large[p][2]}" for p in at_small)
        )
    list_target = f"≤ {LIST_TARGET_MS:g} ms on PostgreSQL"
    return [
        Result("history_list_p50_ms_1m", at_large["list"][0], "ms", list_target),
        Result("history_list_p95_ms_1m", at_large["list"][1], "ms", "none"),
        Result("history_filter_p50_ms_1m", at_large["filter"][0], "ms", "none"),
        Result("history_filter_p95_ms_1m", at_large["filter"][1], "ms", "none"),
        Result("history_search_p50_ms_1m", at_large["search"][0], "ms", "none"),
        Result("history_search_p95_ms_1m", at_large["search"][1], "ms", "none"),
        Result("csv_first_byte_ms_1m", at_large["csv"][0], "ms", "none"),
        Result("csv_first_byte_p95_ms_1m", at_large["csv"][1], "ms", "none"),
        Result("history_list_p50_ms_10k", at_small["list"][0], "ms", "none"),
        Result("history_filter_p50_ms_10k", at_small["filter"][0], "ms", "none"),
        Result("history_search_p50_ms_10k", at_small["search"][0], "ms", "none"),
        Result("csv_first_byte_ms_10k", at_small["csv"][0], "ms", "none"),
        Result(
            "history_scale_ratio",
            at_large["list"][0] / at_small["list"][0],
            "× (list p50, 1M over 10k)",
            f"≤ {RATIO_TARGET:g}",
        ),
        Result(
            "history_queries",
            at_large["list"][2],
            "queries (list)",
            f"same as at 10k: {at_small['list'][2]}",
        ),
        Result(
            "history_filter_queries", at_large["filter"][2], "queries", str(at_small["filter"][2])
        ),
        Result(
            "history_search_queries", at_large["search"][2], "queries", str(at_small["search"][2])
        ),
        Result(
            "csv_queries", at_large["csv"][2], "queries (to the first row)", str(at_small["csv"][2])
        ),
    ]

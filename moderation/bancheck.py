"""The ban check's cache: which bans hold now and which tokens may ask, in Redis.

Token servers ask on every join, so an answer costs one Redis round trip and no query. The
database stays the truth; the services refresh this cache wherever a ban's state changes.

Layout. One hash per app, so that an eviction or a flush loses all of an app's entries or none:

    moderation:bancheck:<app key>        _ready              there only once built in full
                                         ru:<room>␟<user>    a ban of one user in one room
                                         r:<room>            a whole-room ban
                                         u:<user>            a ban in every room
                                         m:<room>␟<user>     a mute of one user in one room
    moderation:bancheck:<app key>:seq    a counter

and one hash of tokens, `moderation:tokens` (field: the token's SHA-256) with its own counter.
Values are "seq|payload"; a ban's (or mute's) payload is "ban id|end" (Unix seconds, empty when
permanent), a target without one keeps "seq||" (a tombstone).

Why it cannot answer "not banned" wrongly:
- A hash without `_ready` is a miss: the answer comes from the database and the hash is built
  again. A flushed, evicted or never-built cache is always a miss, never an empty answer.
- Each state change, once committed, refreshes the fields it touches: it takes the next number
  from the counter, reads the database, and writes a field only if no higher number wrote it.
  The refresh with the highest number read the database after every commit that came before
  it, so the last value written is the newest state. Tombstones keep an older refresh from
  bringing a lifted ban back.
- A build takes a number, reads every active ban and swaps the new hash in only if nobody took a
  number meanwhile; otherwise the next check builds again.
- A refresh that Redis did not take leaves a CacheRepair row; `reconcile` rebuilds that app, and
  also compares every app's hash with the database. A refresh that could not read the database
  drops `_ready`, so checks fall back to the database until the hash is built again.
- Expiry needs no timer here: each entry carries its ban's end, compared with the clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError

from . import redis
from .models import ApiToken, Ban, CacheRepair, VendorApp

log = logging.getLogger(__name__)

PREFIX = "moderation:bancheck:"
TOKENS = "moderation:tokens"
RATE_PREFIX = "moderation:rate:token:"
SEPARATOR = "\x1f"  # a control character: never part of a room or user id
BUILD_LOCK_MS = 10_000
VERIFIED_RECENTLY = "moderation:bancheck-verified"
VERIFY_EVERY_SECONDS = 60

Status = Ban.Status
Scope = Ban.Scope
# A mute's field stands beside the three ban scopes: muted users may join, but not publish.
MUTE = "mute"


def _redis():
    return redis.connection()


def app_key(app: VendorApp) -> str:
    """Names an app's hash: the creation time tells apart two databases that reuse an id."""
    return f"{app.pk}.{int(app.created_at.timestamp() * 1_000_000)}"


def ban_field(scope: str, room_id: str, user_id: str) -> str:
    """The hash field of a ban's scope and target, or of a mute (scope MUTE)."""
    if scope == MUTE:
        return f"m:{room_id}{SEPARATOR}{user_id}"
    if scope == Scope.USER_IN_ROOM:
        return f"ru:{room_id}{SEPARATOR}{user_id}"
    if scope == Scope.WHOLE_ROOM:
        return f"r:{room_id}"
    return f"u:{user_id}"


# --- Lua: each script runs atomically in Redis ------------------------------------------------

_REFRESH = """
if redis.call('HEXISTS', KEYS[1], '_ready') == 0 then return 0 end
local seq = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  local old_seq = -1
  if old then old_seq = tonumber(string.match(old, '^(%d+)|')) or -1 end
  if old_seq < seq then redis.call('HSET', KEYS[1], ARGV[i], ARGV[1] .. '|' .. ARGV[i + 1]) end
end
return 1
"""

_SWAP = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  redis.call('DEL', KEYS[3])
  return 0
end
redis.call('RENAME', KEYS[3], KEYS[1])
redis.call('PERSIST', KEYS[1])
return 1
"""

# KEYS: tokens hash, the token's rate key. ARGV: token hash, room, user, default rate.
# Returns {status, ...}: 'tokens-miss' | 'unknown' | 'limited', retry | 'ok', app pk, token pk,
# the app's _ready, the three ban fields and the mute field (nil where absent).
_CHECK = """
local t = redis.call('HMGET', KEYS[1], '_ready', ARGV[1])
if not t[1] then return {'tokens-miss'} end
if not t[2] then return {'unknown'} end
local app_pk, key, token_pk, rate = string.match(t[2], '^%d+|(%d*)|([^|]*)|(%d*)|(%d*)$')
if not app_pk or app_pk == '' then return {'unknown'} end
rate = tonumber(rate) or tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local period = 1 / rate
local tat = tonumber(redis.call('GET', KEYS[2])) or now
if tat < now then tat = now end
local new_tat = tat + period
-- A burst of one second's worth of requests is allowed (GCRA).
if new_tat - now > 1 then
  return {'limited', string.format('%.3f', new_tat - now - 1)}
end
local ttl = math.ceil((new_tat - now) * 1000) + 1000
redis.call('SET', KEYS[2], string.format('%.6f', new_tat), 'PX', ttl)
local sep = string.char(31)
local b = redis.call('HMGET', 'moderation:bancheck:' .. key, '_ready',
  'ru:' .. ARGV[2] .. sep .. ARGV[3], 'r:' .. ARGV[2], 'u:' .. ARGV[3],
  'm:' .. ARGV[2] .. sep .. ARGV[3])
return {'ok', app_pk, token_pk, b[1] or false, b[2] or false, b[3] or false, b[4] or false,
  b[5] or false}
"""

_LOOKUP = """
local b = redis.call('HMGET', KEYS[1], '_ready', ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return {b[1] or false, b[2] or false, b[3] or false, b[4] or false, b[5] or false}
"""

_scripts = {}


def _script(source: str):
    connection = _redis()
    script = _scripts.get((id(connection), source))
    if script is None:
        script = _scripts[(id(connection), source)] = connection.register_script(source)
    return script


# The check's own client of the process's Redis: it keeps one connection, where each command of
# the shared client takes one from the pool and gives it back, which cost as much CPU as the
# check's own round trip. redis-py locks it around each command, so threads may share it. Made
# anew in a forked child (its parent's socket is not its own) and when the process's client is
# replaced (tests, the benchmarks).
_check_client = None
_check_client_lock = threading.Lock()


def _check_script():
    global _check_client
    connection, pid = _redis(), os.getpid()
    held = _check_client
    if held is None or held[0] is not connection or held[1] != pid:
        with _check_client_lock:
            held = _check_client
            if held is None or held[0] is not connection or held[1] != pid:
                client = Redis(
                    connection_pool=connection.connection_pool, single_connection_client=True
                )
                held = _check_client = (connection, pid, client.register_script(_CHECK))
    return held[2]


# --- What a ban entry says --------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass(frozen=True)
class Answer:
    banned: bool
    until: datetime | None = None
    ban_id: int | None = None
    # Muted: may join, but a token server hands out a subscribe-only token.
    muted: bool = False
    mute_until: datetime | None = None

    def as_dict(self) -> dict:
        return {
            "banned": self.banned,
            "until": _iso(self.until),
            "ban_id": self.ban_id,
            "muted": self.muted,
            "mute_until": _iso(self.mute_until),
        }


NOT_BANNED = Answer(False)


def _ban_payload(ban_id: int, expires_at: datetime | None) -> str:
    return f"{ban_id}|{expires_at.timestamp():.6f}" if expires_at else f"{ban_id}|"


def _answer_from(values, now: float) -> Answer:
    """The three ban entries' strongest ban, and the mute entry (the last of `values`)."""
    *ban_values, mute_value = values
    ban = _strongest(ban_values, now)
    mute = _strongest([mute_value], now)
    answer = NOT_BANNED if ban is None else Answer(True, ban[1], ban[0])
    if mute is not None:
        answer = replace(answer, muted=True, mute_until=mute[1])
    return answer


def _strongest(values, now: float) -> tuple[int, datetime | None] | None:
    """(id, end) of the strongest cached entry: permanent first, then the latest end."""
    best = None
    for value in values:
        if not value:
            continue
        value = value.decode() if isinstance(value, bytes) else value
        _seq, ban_id, end = value.split("|")
        if not ban_id:
            continue  # tombstone
        end = float(end) if end else None
        if end is not None and end <= now:
            continue  # ended; the expiry job may not have run yet
        rank = float("inf") if end is None else end
        if best is None or rank > best[0]:
            best = (rank, int(ban_id), end)
    if best is None:
        return None
    return best[1], None if best[2] is None else datetime.fromtimestamp(best[2], UTC)


def _best(bans) -> tuple[int, datetime | None] | None:
    """(ban id, end) of the strongest ban: a permanent one, else the one that ends last."""
    best = None
    for pk, expires_at in bans:
        rank = float("inf") if expires_at is None else expires_at.timestamp()
        if best is None or rank > best[0] or (rank == best[0] and pk < best[1]):
            best = (rank, pk, expires_at)
    return None if best is None else (best[1], best[2])


def _holding(app_pk: int):
    """Active bans and mutes that have not ended, and those still waiting for the vendor.

    A pending ban keeps its user out already: the moderator's decision is made, and on the
    kick-only vendors this check is what enforces it while the vendor is slow or down. Its
    end is not known until the vendor confirms, so its entry has none.
    """
    now = timezone.now()
    return Ban.objects.filter(app_id=app_pk).filter(
        Q(status=Status.ACTIVE, expires_at__isnull=True)
        | Q(status=Status.ACTIVE, expires_at__gt=now)
        | Q(status=Status.PENDING, kind__in=[Ban.Kind.BAN, Ban.Kind.MUTE])
    )


def answer_from_db(app_pk: int, room_id: str, user_id: str) -> Answer:
    holding = _holding(app_pk)
    bans = holding.filter(kind=Ban.Kind.BAN).covering(room_id, user_id)
    best = _best(bans.values_list("pk", "expires_at"))
    answer = NOT_BANNED if best is None else Answer(True, best[1], best[0])
    mutes = holding.filter(kind=Ban.Kind.MUTE, room__room_id=room_id, user_id=user_id)
    mute = _best(mutes.values_list("pk", "expires_at"))
    if mute is not None:
        answer = replace(answer, muted=True, mute_until=mute[1])
    return answer


# --- Refresh, build, verify: the ban entries of one app --------------------------------------


def _ban_fields(app_pk: int, targets=None) -> dict[str, str]:
    """field -> payload from the database, for `targets` (scope, room, user) or for every ban."""
    bans = _holding(app_pk)
    if targets is not None:
        bans = bans.filter(_covering_targets(targets))
    found: dict[str, list] = {}
    for pk, kind, scope, room_id, user_id, expires_at in bans.values_list(
        "pk", "kind", "scope", "room__room_id", "user_id", "expires_at"
    ):
        target = MUTE if kind == Ban.Kind.MUTE else scope
        found.setdefault(ban_field(target, room_id or "", user_id), []).append((pk, expires_at))
    fields = {field: _ban_payload(*_best(bans)) for field, bans in found.items()}
    for scope, room_id, user_id in targets or ():
        fields.setdefault(ban_field(scope, room_id, user_id), "|")  # tombstone
    return fields


def _covering_targets(targets) -> Q:
    """One condition per scope and room, users as a list: a raid's thousand bans in one room
    are one `user_id IN (...)`, not a thousand ORs for PostgreSQL to plan."""
    users_by_place: dict[tuple[str, str], list[str]] = {}
    for scope, room_id, user_id in targets:
        users_by_place.setdefault((scope, room_id), []).append(user_id)
    condition = Q(pk__in=[])
    ban = Q(kind=Ban.Kind.BAN)
    for (scope, room_id), user_ids in users_by_place.items():
        if scope == MUTE:
            condition |= Q(kind=Ban.Kind.MUTE, room__room_id=room_id, user_id__in=user_ids)
        elif scope == Scope.USER_IN_ROOM:
            condition |= ban & Q(scope=scope, room__room_id=room_id, user_id__in=user_ids)
        elif scope == Scope.WHOLE_ROOM:
            condition |= ban & Q(scope=scope, room__room_id=room_id)
        else:
            condition |= ban & Q(scope=scope, user_id__in=user_ids)
    return condition


def refresh_ban_ids(ban_ids) -> None:
    """Brings the cache in line with these bans' state; call once their change has committed.

    Never raises: whatever it cannot do is left to the fallback and to `reconcile`.
    """
    try:
        rows = list(
            Ban.objects.filter(
                pk__in=list(ban_ids), kind__in=[Ban.Kind.BAN, Ban.Kind.MUTE]
            ).values_list("app_id", "kind", "scope", "room__room_id", "user_id")
        )
        apps = VendorApp.objects.in_bulk({app_pk for app_pk, *_ in rows})
    except DatabaseError:
        log.exception("Ban-check cache: cannot read the changed bans; reconcile compares it.")
        return
    targets_by_app: dict[int, set] = {}
    for app_pk, kind, scope, room_id, user_id in rows:
        target = MUTE if kind == Ban.Kind.MUTE else scope
        targets_by_app.setdefault(app_pk, set()).add((target, room_id or "", user_id))
    for app_pk, targets in targets_by_app.items():
        app = apps[app_pk]
        _refresh(PREFIX + app_key(app), partial(_ban_fields, app_pk, sorted(targets)), app)


def _refresh(key: str, read, app: VendorApp | None) -> None:
    """Writes what `read()` finds in the database into hash `key`, numbered (see the top)."""
    try:
        seq = _redis().incr(key + ":seq")
    except RedisError as exc:
        _needs_repair(app, exc)
        return
    try:
        fields = read()
    except DatabaseError:
        log.exception("%s: cannot read the database; checks fall back to it.", key)
        _forget(key)
        return
    args = [seq]
    for field, payload in fields.items():
        args += [field, payload]
    try:
        _script(_REFRESH)(keys=[key], args=args)
    except RedisError as exc:
        _needs_repair(app, exc)


def _forget(key: str) -> None:
    # Without _ready every check answers from the database until the hash is built again.
    with contextlib.suppress(RedisError):
        _redis().hdel(key, "_ready")


def _needs_repair(app: VendorApp | None, exc: Exception) -> None:
    log.warning(
        "Ban-check cache %s not updated (%s): reconcile rebuilds it from the database.",
        app.pk if app else "tokens",
        type(exc).__name__,
    )
    try:
        CacheRepair.objects.create(app=app)
    except DatabaseError:
        log.exception("Cannot record the cache repair either.")


def _swap_in(key: str, fields: dict[str, str], *, seq: int, build: str) -> bool:
    connection = _redis()
    pipe = connection.pipeline(transaction=False)
    pipe.hset(build, "_ready", seq)
    items = list(fields.items())
    for start in range(0, len(items), 1000):
        pipe.hset(build, mapping={f: f"{seq}|{p}" for f, p in items[start : start + 1000]})
    pipe.pexpire(build, BUILD_LOCK_MS * 3)
    pipe.execute()
    return bool(_script(_SWAP)(keys=[key, key + ":seq", build], args=[seq]))


def _build(key: str, read) -> bool:
    """Rebuilds one hash from `read()`, unless a refresh or another build runs meanwhile."""
    connection = _redis()
    token = uuid.uuid4().hex
    if not connection.set(key + ":building", token, nx=True, px=BUILD_LOCK_MS):
        return False
    try:
        seq = connection.incr(key + ":seq")
        fields = read()
        return _swap_in(key, fields, seq=seq, build=f"{key}:build:{token}")
    finally:
        if connection.get(key + ":building") == token.encode():
            connection.delete(key + ":building")


def rebuild_app(app: VendorApp) -> bool:
    return _build(PREFIX + app_key(app), lambda: _ban_fields(app.pk))


def _live_entries(raw: dict, now: float, *, skip_near_end: float = 2.0) -> dict[str, str]:
    entries = {}
    for field, value in raw.items():
        field = field.decode() if isinstance(field, bytes) else field
        value = value.decode() if isinstance(value, bytes) else value
        if field == "_ready":
            continue
        payload = value.split("|", 1)[1]
        ban_id, _, end = payload.partition("|")
        if not ban_id or (end and float(end) <= now + skip_near_end):
            continue
        entries[field] = payload
    return entries


def verify_app(app: VendorApp) -> bool:
    """True when the app's hash says what the database says (or is absent: a miss is safe)."""
    key = PREFIX + app_key(app)
    raw = _redis().hgetall(key)
    if b"_ready" not in raw and "_ready" not in raw:
        return True
    now = time.time()
    expected = {
        field: payload
        for field, payload in _ban_fields(app.pk).items()
        if not payload.split("|")[1] or float(payload.split("|")[1]) > now + 2.0
    }
    if _live_entries(raw, now) == expected:
        return True
    log.warning("Ban-check cache of app %s differs from the database: rebuilding it.", app.pk)
    if not rebuild_app(app):
        _forget(key)
    return False


# --- Tokens -----------------------------------------------------------------------------------


def _token_fields(token_hashes=None) -> dict[str, str]:
    tokens = ApiToken.objects.filter(revoked_at__isnull=True).select_related("app")
    if token_hashes is not None:
        tokens = tokens.filter(token_hash__in=list(token_hashes))
    fields = {
        t.token_hash: f"{t.app_id}|{app_key(t.app)}|{t.pk}|{t.rate_per_second or ''}"
        for t in tokens
    }
    for token_hash in token_hashes or ():
        fields.setdefault(token_hash, "|||")  # tombstone
    return fields


def refresh_tokens(token_hashes) -> None:
    """After a token was made or revoked (committed). Never raises."""
    _refresh(TOKENS, partial(_token_fields, token_hashes), None)


def rebuild_tokens() -> bool:
    return _build(TOKENS, _token_fields)


def verify_tokens() -> bool:
    raw = _redis().hgetall(TOKENS)
    if b"_ready" not in raw:
        return True
    actual = {}
    for field, value in raw.items():
        if field == b"_ready":
            continue
        payload = value.decode().split("|", 1)[1]
        if not payload.startswith("|"):
            actual[field.decode()] = payload
    if actual == _token_fields():
        return True
    log.warning("Token cache differs from the database: rebuilding it.")
    if not rebuild_tokens():
        _forget(TOKENS)
    return False


def repair() -> int:
    """Rebuilds what refreshes could not write (CacheRepair rows) and checks every hash."""
    repaired = 0
    rows = list(CacheRepair.objects.select_related("app")[:1000])
    for app in {row.app_id: row.app for row in rows}.values():
        key = TOKENS if app is None else PREFIX + app_key(app)
        _redis().delete(key)  # a miss is always right; the build below makes it fast again
        if app is None:
            rebuild_tokens()
        else:
            rebuild_app(app)
        repaired += 1
    CacheRepair.objects.filter(pk__in=[row.pk for row in rows]).delete()
    # The full comparison reads every active ban: once a minute is enough for a safety net.
    if _redis().set(VERIFIED_RECENTLY, 1, nx=True, ex=VERIFY_EVERY_SECONDS):
        for app in VendorApp.objects.all():
            repaired += not verify_app(app)
        repaired += not verify_tokens()
    return repaired


# --- The check --------------------------------------------------------------------------------


class Unauthorized(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"retry after {retry_after:.3f} s")
        self.retry_after = retry_after


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check(token: str, room_id: str, user_id: str) -> Answer:
    """Answers for a token server: is `user_id` kept out of `room_id` now?

    Raises Unauthorized for an unknown or revoked token, RateLimited past the token's rate.
    With Redis down it answers from the database, without a rate limit.
    """
    hashed = token_hash(token)
    try:
        reply = _check_script()(
            keys=[TOKENS, RATE_PREFIX + hashed],
            args=[hashed, room_id, user_id, _default_rate()],
        )
    except RedisError as exc:
        log.warning(
            "Ban check without Redis (%s): answering from the database.", type(exc).__name__
        )
        app = _app_of_token(hashed)
        return answer_from_db(app.pk, room_id, user_id)
    status = reply[0]
    if status == b"ok":
        _status, app_pk, _token_pk, ready, *values = reply
        if ready is None:
            return _answer_on_miss(int(app_pk), room_id, user_id)
        return _answer_from(values, time.time())
    if status == b"limited":
        raise RateLimited(float(reply[1]))
    if status == b"tokens-miss":
        app = _app_of_token(hashed)
        _build_quietly(TOKENS, rebuild_tokens)
        # The rate limit is skipped for this one answer; the next goes through the cache.
        # A missing token hash most often means a flushed Redis: the app's hash is built too.
        return _answer_on_miss(app.pk, room_id, user_id)
    raise Unauthorized()


def _default_rate() -> int:
    # Per second, when the token sets no limit of its own; a burst of a second's worth is allowed.
    return settings.BAN_CHECK_RATE_PER_SECOND


def _app_of_token(hashed: str) -> VendorApp:
    token = (
        ApiToken.objects.filter(token_hash=hashed, revoked_at__isnull=True)
        .select_related("app")
        .first()
    )
    if token is None:
        raise Unauthorized()
    return token.app


def _answer_on_miss(app_pk: int, room_id: str, user_id: str) -> Answer:
    app = VendorApp.objects.filter(pk=app_pk).first()
    if app is None:
        # The app was deleted with its tokens; the token cache will learn it at the next sweep.
        raise Unauthorized()
    answer = answer_from_db(app.pk, room_id, user_id)
    _build_quietly(PREFIX + app_key(app), lambda: rebuild_app(app))
    return answer


def _build_quietly(key: str, build) -> None:
    try:
        build()
    except (RedisError, DatabaseError) as exc:
        log.warning("Cannot rebuild %s now (%s); the next check tries again.", key, exc)


def covering_ban(app: VendorApp, room_id: str, user_id: str) -> Answer:
    """The same answer for our own use (room and stream callbacks), without a token or a rate
    limit."""
    field_args = [
        ban_field(Scope.USER_IN_ROOM, room_id, user_id),
        ban_field(Scope.WHOLE_ROOM, room_id, ""),
        ban_field(Scope.USER_EVERYWHERE, "", user_id),
        ban_field(MUTE, room_id, user_id),
    ]
    key = PREFIX + app_key(app)
    try:
        ready, *values = _script(_LOOKUP)(keys=[key], args=field_args)
    except RedisError:
        return answer_from_db(app.pk, room_id, user_id)
    if ready is None:
        return _answer_on_miss(app.pk, room_id, user_id)
    return _answer_from(values, time.time())

"""ZEGO's mutes, stream by stream: which streams a mute stops, and the streams started during one.

ZEGO mutes streams, not users (ForbidRTCStream / ResumeRTCStream, the whole stream: audio and
video together). A mute stops every stream id its user is known to publish in the room; a stream
the stream callbacks report later is stopped at once, as a banned user's entry is kicked at once.
ZEGO keeps a stream id stopped after the stream closes, so the mute's end resumes every id it
stopped, open or closed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from redis.exceptions import RedisError

from .. import redis
from ..messages import N_, Text
from ..models import Ban, ModerationLog, PublishedStream, VendorApp
from ..selectors import muting
from ..transactions import writing
from ..vendors.base import CallResult
from .queue import enqueue_stop_stream, retry_delay
from .records import log_many, result_details, said
from .vendor_calls import Outcome, outcome, send, vendor_client

log = logging.getLogger(__name__)

Event = ModerationLog.Event

STREAM_STOPPED = N_("Stopped stream {stream} of {user} in room {room}: this mute holds.")

# ZEGO wants a Sequence that grows strictly per stream (a millisecond clock is its advice). Two
# workers may call for one stream in the same millisecond: Redis hands out the next number.
_NEXT_SEQUENCE = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local sequence = math.max(last + 1, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], sequence, 'EX', 3600)
return sequence
"""
_scripts = {}


def next_sequence(app: VendorApp, stream_id: str) -> int:
    """The Sequence for the next ForbidRTCStream / ResumeRTCStream of this stream."""
    connection = redis.connection()
    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts[id(connection)] = connection.register_script(_NEXT_SEQUENCE)
    key = f"moderation:zego-sequence:{app.pk}:{_digest(stream_id)}"
    return int(script(keys=[key], args=[time.time_ns() // 1_000_000]))


def _digest(stream_id: str) -> str:
    """A stream id as a fixed-length piece of a Redis key (ids may be long or odd)."""
    return hashlib.sha256(stream_id.encode("utf-8")).hexdigest()[:32]


def streams_of(mute: Ban):
    """Every stream id the mute's user is known to publish (or to have published) in its room."""
    return PublishedStream.objects.filter(
        app_id=mute.app_id, room_id=mute.room.room_id, user_id=mute.user_id
    ).order_by("stream_id")


def forbid(client, app, mute: Ban, streams, attempt: int) -> list[tuple[CallResult, Outcome]]:
    """Stops each stream at ZEGO; a stopped stream remembers the mute that stopped it."""
    answers = []
    for stream in streams:
        request = client.forbid_stream_request(
            stream_id=stream.stream_id, sequence=next_sequence(app, stream.stream_id)
        )
        result = send(client, app, request, [mute], attempt)
        answer = outcome(client, result, attempt)
        if answer is Outcome.DONE:
            PublishedStream.objects.filter(pk=stream.pk).update(forbidden_by=mute)
        answers.append((result, answer))
    return answers


def resume(client, app, mute: Ban, attempt: int) -> list[tuple[CallResult, Outcome]]:
    """Lets every stream this mute stopped publish again."""
    answers = []
    for stream in PublishedStream.objects.filter(forbidden_by=mute).order_by("stream_id"):
        request = client.resume_stream_request(
            stream_id=stream.stream_id, sequence=next_sequence(app, stream.stream_id)
        )
        result = send(client, app, request, [mute], attempt)
        answer = outcome(client, result, attempt)
        if answer in (Outcome.DONE, Outcome.NOBODY_THERE):
            PublishedStream.objects.filter(pk=stream.pk, forbidden_by=mute).update(
                forbidden_by=None
            )
        answers.append((result, answer))
    return answers


def _open_mute(app: VendorApp, room_id: str, user_id: str) -> Ban | None:
    """The mute that holds this user in this room now (pending, or active and not ended)."""
    return (
        Ban.objects.filter(app=app, room__room_id=room_id, user_id=user_id)
        .filter(muting())
        .select_related("app", "room")
        .first()
    )


def stop_new_stream(*, app_id: int, stream_id: str, attempt: int = 1) -> bool:
    """Stops a stream that a muted user started; nothing if no mute holds them any more.

    True if ZEGO stopped it.
    """
    stream = PublishedStream.objects.filter(app_id=app_id, stream_id=stream_id).first()
    if stream is None or not stream.publishing:
        return False
    app = VendorApp.objects.get(pk=app_id)
    mute = _open_mute(app, stream.room_id, stream.user_id)
    if mute is None or stream.forbidden_by_id == mute.pk:
        return False
    client = vendor_client(app)
    try:
        [(result, answer)] = forbid(client, app, mute, [stream], attempt)
        if answer is Outcome.RETRY:
            enqueue_stop_stream(app_id, stream_id, attempt + 1, delay=retry_delay(attempt + 1))
            return False
        details = {"stream_id": stream_id, "room": stream.room_id, **result_details(result)}
        if answer is not Outcome.DONE:
            log_many([mute], Event.FAILED, message=said(result), details=details)
            return False
        text = Text(
            STREAM_STOPPED, {"stream": stream_id, "user": stream.user_id, "room": stream.room_id}
        )
        with writing():
            log_many([mute], Event.APPLIED, message=text, details=details)
        log.info("Stopped stream %s of %s, enforcing mute %s.", stream_id, stream.user_id, mute.pk)
        # The mute may have ended while the call was in flight: its end found nothing to resume.
        mute.refresh_from_db(fields=["status"])
        if mute.status not in (Ban.Status.PENDING, Ban.Status.ACTIVE):
            resume(client, app, mute, attempt)
        return True
    finally:
        client.close()


SWEEP_RETRY_SECONDS = 600


def sweep_streams() -> int:
    """Queues a stop for each stream a muted user publishes that no mute stopped (a lost job)."""
    now = timezone.now()
    muting = Ban.objects.filter(
        app=OuterRef("app"),
        kind=Ban.Kind.MUTE,
        status=Ban.Status.ACTIVE,
        room__room_id=OuterRef("room_id"),
        user_id=OuterRef("user_id"),
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    rows = (
        PublishedStream.objects.filter(publishing=True, updated_at__lt=now - timedelta(seconds=5))
        .filter(Exists(muting))
        # One open mute per user and room: stopped by it means stopped by an active mute.
        .filter(Q(forbidden_by__isnull=True) | ~Q(forbidden_by__status=Ban.Status.ACTIVE))
        .values_list("app_id", "stream_id")[:1000]
    )
    queued = 0
    for app_pk, stream_id in rows:
        # One try per stream every ten minutes: a stop ZEGO refuses is not repeated each sweep.
        marker = f"moderation:sweep-stream:{app_pk}:{_digest(stream_id)}"
        try:
            if not redis.connection().set(marker, 1, nx=True, ex=SWEEP_RETRY_SECONDS):
                continue
        except RedisError:
            return queued
        enqueue_stop_stream(app_pk, stream_id)
        queued += 1
    return queued

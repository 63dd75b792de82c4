"""Room membership, Volcengine bans, ZEGO user ban rules, mutes and ZEGO streams of one app.
The Emulator's lock guards it. Every change of membership or of a published stream is noted in
`changes`, for the room callbacks."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Ban:
    room_id: str | None  # None: the user in every room
    user_id: str | None  # None: the whole room
    ends_at: float  # epoch seconds

    @property
    def scope(self) -> str:
        if self.user_id is None:
            return "room"
        return "user_everywhere" if self.room_id is None else "user_in_room"

    def covers(self, room_id: str, user_id: str) -> bool:
        return self.room_id in (None, room_id) and self.user_id in (None, user_id)

    def as_dict(self) -> dict:
        return {
            "room_id": self.room_id,
            "user_id": self.user_id,
            "ends_at": self.ends_at,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class Change:
    kind: str  # "join" or "leave"; "stream_create" or "stream_close" (ZEGO)
    room_id: str
    user_id: str
    reason: str  # "" for a join; "left", "kicked" or "room closed" for a leave
    at: float  # epoch seconds
    stream_id: str = ""


@dataclass(frozen=True)
class Mute:
    """A user's audio and/or video stopped (Volcengine BanUserStream, Tencent SetUserBlocked)."""

    audio: bool
    video: bool
    ends_at: float | None  # None: until unmuted


class SequenceError(ValueError):
    """A ZEGO stream call whose Sequence is not above the stream's last one."""


class AppRooms:
    def __init__(self, clock=time.time):
        self.rooms: dict[str, set[str]] = defaultdict(set)
        # A room stays "seen" after it empties: only never-seen rooms count as nonexistent.
        self.seen: set[str] = set()
        self.bans: dict[tuple[str | None, str | None], Ban] = {}
        # ZEGO SetForbidUserRule: (room or None, user or None) -> the rule's end (epoch).
        self.forbid_rules: dict[tuple[str | None, str | None], float] = {}
        self.changes: list[Change] = []
        self.clock = clock
        self.mutes: dict[tuple[str, str], Mute] = {}
        # ZEGO: stream id -> (room, user) publishing it; forbidden ids (even before the stream
        # exists); the last Sequence each stream was called with.
        self.streams: dict[str, tuple[str, str]] = {}
        self.forbidden_streams: set[str] = set()
        self.sequences: dict[str, int] = {}

    def take_changes(self) -> list[Change]:
        changes, self.changes = self.changes, []
        return changes

    def has_seen(self, room_id: str) -> bool:
        return room_id in self.seen

    def members(self, room_id: str) -> set[str]:
        return set(self.rooms.get(room_id, ()))

    def join(self, room_id: str, user_id: str, now: float) -> bool:
        if self.ban_covering(room_id, user_id, now) is not None:
            return False
        if self.forbidden(room_id, user_id, now):
            return False
        self.seen.add(room_id)
        if user_id not in self.rooms[room_id]:
            self.rooms[room_id].add(user_id)
            self.changes.append(Change("join", room_id, user_id, "", now))
        return True

    def leave(self, room_id: str, user_id: str, reason: str = "left") -> None:
        members = self.rooms.get(room_id, set())
        if user_id in members:
            # What they published stops with them (ZEGO reports each stream closed).
            for stream_id, where in list(self.streams.items()):
                if where == (room_id, user_id):
                    self.unpublish(stream_id, reason)
            members.discard(user_id)
            self.changes.append(Change("leave", room_id, user_id, reason, self.clock()))

    def kick(self, room_id: str, user_ids) -> None:
        for user_id in user_ids:
            self.leave(room_id, user_id, "kicked")

    def kick_everywhere(self, user_id: str) -> None:
        for room_id in list(self.rooms):
            self.leave(room_id, user_id, "kicked")

    def close(self, room_id: str) -> None:
        for user_id in sorted(self.rooms.get(room_id, set())):
            self.leave(room_id, user_id, "room closed")

    def remove_targets(self, room_id: str | None, user_id: str | None) -> None:
        """Kick whoever a ban on (room_id, user_id) covers; the three BanRoomUser shapes."""
        if user_id is None:
            self.close(room_id)
        elif room_id is None:
            self.kick_everywhere(user_id)
        else:
            self.leave(room_id, user_id, "kicked")

    def set_ban(self, room_id: str | None, user_id: str | None, ends_at: float) -> Ban:
        ban = Ban(room_id=room_id, user_id=user_id, ends_at=ends_at)
        self.bans[(room_id, user_id)] = ban
        return ban

    def lift_ban(self, room_id: str | None, user_id: str | None) -> None:
        self.bans.pop((room_id, user_id), None)

    def ban_covering(self, room_id: str, user_id: str, now: float) -> Ban | None:
        for ban in self.bans.values():
            if ban.ends_at > now and ban.covers(room_id, user_id):
                return ban
        return None

    def active_bans(self, now: float) -> list[Ban]:
        return [ban for ban in self.bans.values() if ban.ends_at > now]

    def forbidden(self, room_id: str, user_id: str, now: float) -> bool:
        """A ZEGO user ban rule refuses this login (room, room+user or user rules)."""
        return any(
            ends_at > now and rule_room in (None, room_id) and rule_user in (None, user_id)
            for (rule_room, rule_user), ends_at in self.forbid_rules.items()
        )

    def active_forbid_rules(self, now: float) -> list[dict]:
        return [
            {"room_id": room_id, "user_id": user_id, "ends_at": ends_at}
            for (room_id, user_id), ends_at in sorted(
                self.forbid_rules.items(), key=lambda item: (str(item[0][0]), str(item[0][1]))
            )
            if ends_at > now
        ]

    # ---- mutes -----------------------------------------------------------------------------

    def mute(self, room_id, user_id, *, audio: bool, video: bool, ends_at: float | None):
        old = self.mutes.get((room_id, user_id))
        if old is not None and not self._ended(old, self.clock()):
            audio, video = audio or old.audio, video or old.video
        self.mutes[(room_id, user_id)] = Mute(audio, video, ends_at)

    def unmute(self, room_id, user_id, *, audio: bool, video: bool) -> None:
        old = self.mutes.pop((room_id, user_id), None)
        if old is not None and not self._ended(old, self.clock()):
            left = Mute(old.audio and not audio, old.video and not video, old.ends_at)
            if left.audio or left.video:
                self.mutes[(room_id, user_id)] = left

    def muted(self, room_id: str, user_id: str) -> dict[str, bool]:
        """What of this user's publishing is stopped now: {"audio": …, "video": …}."""
        mute = self.mutes.get((room_id, user_id))
        if mute is not None and not self._ended(mute, self.clock()):
            return {"audio": mute.audio, "video": mute.video}
        stopped = any(self.streams.get(s) == (room_id, user_id) for s in self.forbidden_streams)
        return {"audio": stopped, "video": stopped}

    def active_mutes(self, now: float) -> list[dict]:
        """Mutes in force (Volcengine, Tencent), sorted by room and user."""
        return [
            {"room_id": room_id, "user_id": user_id, **asdict(mute)}
            for (room_id, user_id), mute in sorted(self.mutes.items())
            if not self._ended(mute, now)
        ]

    @staticmethod
    def _ended(mute: Mute, now: float) -> bool:
        return mute.ends_at is not None and mute.ends_at <= now

    # ---- ZEGO streams ------------------------------------------------------------------------

    def publish(self, room_id: str, user_id: str, stream_id: str) -> None:
        if stream_id not in self.streams:
            self.streams[stream_id] = (room_id, user_id)
            self.changes.append(
                Change("stream_create", room_id, user_id, "", self.clock(), stream_id)
            )

    def unpublish(self, stream_id: str, reason: str = "stopped") -> None:
        where = self.streams.pop(stream_id, None)
        if where is not None:
            self.changes.append(Change("stream_close", *where, reason, self.clock(), stream_id))

    def call_stream(self, stream_id: str, sequence: int, *, forbid: bool) -> None:
        """ForbidRTCStream / ResumeRTCStream: Sequence must grow strictly per stream."""
        last = self.sequences.get(stream_id)
        if last is not None and sequence <= last:
            raise SequenceError(f"Sequence {sequence} is not above {last} for stream {stream_id}")
        self.sequences[stream_id] = sequence
        if forbid:
            self.forbidden_streams.add(stream_id)
        else:
            self.forbidden_streams.discard(stream_id)

    def published_streams(self) -> list[dict]:
        """ZEGO streams being published, sorted by stream id, each with its forbidden flag."""
        return [
            {
                "stream_id": stream_id,
                "room_id": room_id,
                "user_id": user_id,
                "forbidden": stream_id in self.forbidden_streams,
            }
            for stream_id, (room_id, user_id) in sorted(self.streams.items())
        ]

    def snapshot(self) -> dict[str, list[str]]:
        return {room_id: sorted(users) for room_id, users in sorted(self.rooms.items())}

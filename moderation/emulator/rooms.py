"""Room membership and Volcengine bans of one app. The Emulator's lock guards it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


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


class AppRooms:
    def __init__(self):
        self.rooms: dict[str, set[str]] = defaultdict(set)
        # A room stays "seen" after it empties: only never-seen rooms count as nonexistent.
        self.seen: set[str] = set()
        self.bans: dict[tuple[str | None, str | None], Ban] = {}

    def has_seen(self, room_id: str) -> bool:
        return room_id in self.seen

    def members(self, room_id: str) -> set[str]:
        return set(self.rooms.get(room_id, ()))

    def join(self, room_id: str, user_id: str, now: float) -> bool:
        if self.ban_covering(room_id, user_id, now) is not None:
            return False
        self.seen.add(room_id)
        self.rooms[room_id].add(user_id)
        return True

    def leave(self, room_id: str, user_id: str) -> None:
        self.rooms.get(room_id, set()).discard(user_id)

    def kick(self, room_id: str, user_ids) -> None:
        for user_id in user_ids:
            self.leave(room_id, user_id)

    def kick_everywhere(self, user_id: str) -> None:
        for members in self.rooms.values():
            members.discard(user_id)

    def close(self, room_id: str) -> None:
        self.rooms.get(room_id, set()).clear()

    def remove_targets(self, room_id: str | None, user_id: str | None) -> None:
        """Kick whoever a ban on (room_id, user_id) covers; the three BanRoomUser shapes."""
        if user_id is None:
            self.close(room_id)
        elif room_id is None:
            self.kick_everywhere(user_id)
        else:
            self.leave(room_id, user_id)

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

    def snapshot(self) -> dict[str, list[str]]:
        return {room_id: sorted(users) for room_id, users in sorted(self.rooms.items())}

"""`manage.py bans`: kick, ban, mute, lift and change from the command line, with JSON output;
list the history.

A mute (`bans mute`, audio, video or both) is a ban record of kind "mute": `lift`, `change` and
`show` take its id as they take a ban's.

`bans list` pages through the history newest first, a page per query (keyset, as the admin's
CSV export does), writing each page before it reads the next: memory stays the same at any
number of bans. Default: a line per ban; `--json`: JSON Lines, one ban per line as `show --json`
prints each; `--csv`: the admin export's columns and cells (no byte-order mark).

Exit status: 0 when every ban or mute reached (or, without --wait, was accepted toward) a good
state, 1 when any failed, 2 for bad input, 3 when --wait ran out with some still pending.
"""

import argparse
import csv
import json
import math
import os
import re
import sys
import time
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from moderation import services
from moderation.durations import parse_duration
from moderation.management.lookups import EXIT_BAD_INPUT, actor_named, vendor_app_named
from moderation.models import Ban, Room
from moderation.selectors import (
    EXPORT_COLUMNS,
    ban_as_dict,
    ban_as_row,
    bans_by_id,
    newest_first_in_pages,
)

EXIT_FAILED, EXIT_PENDING = 1, 3
LARGEST_ID = 2**63 - 1  # the database's bigint
# The option to fix for each field a ValidationError names, where it is not "--" + the field.
OPTIONS = {
    "user_ids": "--user",
    "media": "--audio/--video",
    "scope": "--whole-room/--every-room",
}
MEDIA_WORDS = {
    Ban.Media.AUDIO: "audio",
    Ban.Media.VIDEO: "video",
    Ban.Media.BOTH: "audio and video",
}


def ban_id(text: str) -> int:
    """A ban id as argparse reads it; anything else is bad input (exit 2), never a crash."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= LARGEST_ID:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a ban id: use a whole number from 1 to {LARGEST_ID}."
        )
    return value


class Command(BaseCommand):
    help = "Kick, ban and mute; lift and change bans and mutes; show them as JSON."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p, with_wait=True):
            p.add_argument("--actor", help="Username the action is recorded under.")
            p.add_argument("--json", action="store_true", help="Print the bans (or mutes) as JSON.")
            if with_wait:
                p.add_argument(
                    "--wait",
                    type=wait_seconds,
                    default=0,
                    metavar="SECONDS",
                    help="Wait up to this long for them to be active (or done, or failed).",
                )

        kick = sub.add_parser("kick", help="Remove users from a room now.")
        kick.add_argument("--app", required=True, help="Vendor app name.")
        kick.add_argument("--room", required=True, help="The vendor's room ID.")
        kick.add_argument(
            "--user",
            action="append",
            default=[],
            dest="users",
            help="User ID (repeat, or comma-separated).",
        )
        kick.add_argument("--reason", required=True)
        common(kick)

        ban = sub.add_parser("ban", help="Keep users (or everyone) out for a time.")
        ban.add_argument("--app", required=True, help="Vendor app name.")
        where = ban.add_mutually_exclusive_group(required=True)
        where.add_argument("--room", help="The vendor's room ID.")
        where.add_argument(
            "--every-room", action="store_true", help="Ban the users in every room of the app."
        )
        ban.add_argument("--whole-room", action="store_true", help="Ban everyone from --room.")
        ban.add_argument("--user", action="append", default=[], dest="users")
        ban.add_argument("--duration", required=True, help="600, 10m, 1h, 7d … or permanent.")
        ban.add_argument("--reason", required=True)
        common(ban)

        mute = sub.add_parser(
            "mute", help="Stop what users publish in a room (audio, video or both) for a time."
        )
        mute.add_argument("--app", required=True, help="Vendor app name.")
        # Required, but by the product, which says "--room: Choose a room." without it.
        mute.add_argument("--room", help="The vendor's room ID (required: one room).")
        mute.add_argument(
            "--user",
            action="append",
            default=[],
            dest="users",
            help="User ID (repeat, or comma-separated).",
        )
        media = mute.add_mutually_exclusive_group()
        media.add_argument(
            "--audio",
            action="store_const",
            const=Ban.Media.AUDIO,
            dest="media",
            help="Mute their audio only (neither flag: audio and video).",
        )
        media.add_argument(
            "--video",
            action="store_const",
            const=Ban.Media.VIDEO,
            dest="media",
            help="Mute their video only (neither flag: audio and video).",
        )
        # Not options of a mute: taken only so that typing them gets the product's refusal
        # ("A mute is for named users in one room: ...") rather than argparse's.
        mute.add_argument("--whole-room", action="store_true", help=argparse.SUPPRESS)
        mute.add_argument("--every-room", action="store_true", help=argparse.SUPPRESS)
        mute.add_argument("--duration", required=True, help="600, 10m, 1h, 7d … or permanent.")
        mute.add_argument("--reason", required=True)
        common(mute)

        lift = sub.add_parser("lift", help="End bans or mutes early.")
        lift.add_argument("ids", nargs="+", type=ban_id, metavar="BAN_ID")
        lift.add_argument("--reason", required=True)
        common(lift)

        change = sub.add_parser(
            "change", help="Set a new total duration, from the ban's (or mute's) start."
        )
        change.add_argument("ids", nargs="+", type=ban_id, metavar="BAN_ID")
        change.add_argument("--duration", required=True)
        change.add_argument("--reason", required=True)
        common(change)

        show = sub.add_parser("show", help="Show bans and mutes.")
        show.add_argument("ids", nargs="+", type=ban_id, metavar="BAN_ID")
        common(show)

        reconcile = sub.add_parser("reconcile", help="Dispatch what Redis lost or never got.")
        common(reconcile, with_wait=False)

        listing = sub.add_parser(
            "list", help="The history, newest first: kicks, bans and mutes (filters combine)."
        )
        listing.add_argument("--app", help="Vendor app name.")
        listing.add_argument("--room", help="The vendor's room ID (bans made in that room).")
        listing.add_argument("--user", help="User ID.")
        listing.add_argument("--status", choices=Ban.Status.values)
        listing.add_argument("--kind", choices=Ban.Kind.values)
        listing.add_argument(
            "--since",
            metavar="TIME",
            help="Made at or after: 2026-05-01, 2026-05-01T12:00, 2026-05-01T12:00+08:00 (no "
            "offset: the TIME_ZONE setting), or that long ago: 90m, 12h, 7d.",
        )
        listing.add_argument("--until", metavar="TIME", help="Made before; as --since.")
        output = listing.add_mutually_exclusive_group()
        output.add_argument(
            "--json", action="store_true", help="JSON Lines: one ban per line, as show --json."
        )
        output.add_argument(
            "--csv", action="store_true", help="CSV with the admin export's columns."
        )

    def handle(self, *args, action, **options):
        if action == "list":
            self.list_bans(options)
            return
        try:
            if action == "reconcile":
                self.stdout.write(json.dumps(services.reconcile()))
                return
            bans = getattr(self, f"do_{action}")(options)
        except ValidationError as exc:
            raise CommandError(_describe(exc), returncode=EXIT_BAD_INPUT) from None
        bans = self.wait(bans, options.get("wait") or 0)
        self.report(bans, options["json"])
        statuses = {b.status for b in bans}
        if Ban.Status.FAILED in statuses:
            raise SystemExit(EXIT_FAILED)
        if options.get("wait") and Ban.Status.PENDING in statuses:
            raise SystemExit(EXIT_PENDING)

    def existing(self, ids):
        bans = bans_by_id(ids)
        missing = sorted(set(ids) - {b.pk for b in bans})
        if missing:
            raise CommandError(
                f"No ban with id {', '.join(map(str, missing))}.", returncode=EXIT_BAD_INPUT
            )
        return bans

    def do_kick(self, options):
        app = vendor_app_named(options["app"], argument="--app")
        return services.kick(
            app=app,
            room=_room(app, options["room"]),
            user_ids=",".join(options["users"]),
            reason=options["reason"],
            actor=actor_named(options.get("actor")),
        )

    def do_ban(self, options):
        app = vendor_app_named(options["app"], argument="--app")
        if options["every_room"]:
            scope, room = Ban.Scope.USER_EVERYWHERE, None
        else:
            room = _room(app, options["room"])
            scope = Ban.Scope.WHOLE_ROOM if options["whole_room"] else Ban.Scope.USER_IN_ROOM
        return services.ban(
            app=app,
            scope=scope,
            room=room,
            user_ids=",".join(options["users"]),
            seconds=parse_duration(options["duration"]),
            reason=options["reason"],
            actor=actor_named(options.get("actor")),
        )

    def do_mute(self, options):
        app = vendor_app_named(options["app"], argument="--app")
        if options["every_room"]:
            scope = Ban.Scope.USER_EVERYWHERE
        elif options["whole_room"]:
            scope = Ban.Scope.WHOLE_ROOM
        else:
            scope = Ban.Scope.USER_IN_ROOM
        return services.mute(
            app=app,
            scope=scope,
            room=None if options["room"] is None else _room(app, options["room"]),
            user_ids=",".join(options["users"]),
            media=options["media"],  # None: both
            seconds=parse_duration(options["duration"]),
            reason=options["reason"],
            actor=actor_named(options.get("actor")),
        )

    def do_lift(self, options):
        actor = actor_named(options.get("actor"))
        return [
            services.lift(ban=b, reason=options["reason"], actor=actor)
            for b in self.existing(options["ids"])
        ]

    def do_change(self, options):
        actor, seconds = actor_named(options.get("actor")), parse_duration(options["duration"])
        return [
            services.change(ban=b, seconds=seconds, reason=options["reason"], actor=actor)
            for b in self.existing(options["ids"])
        ]

    def do_show(self, options):
        return self.existing(options["ids"])

    def wait(self, bans, seconds):
        ids = [b.pk for b in bans]
        deadline = time.monotonic() + seconds
        while True:
            bans = bans_by_id(ids)
            if time.monotonic() >= deadline or all(b.status != Ban.Status.PENDING for b in bans):
                return bans
            time.sleep(0.1)

    def report(self, bans, as_json):
        if as_json:
            self.stdout.write(json.dumps([ban_as_dict(b) for b in bans], indent=2))
            return
        for b in bans:
            self.stdout.write(ban_line(b))

    def list_bans(self, options):
        bans = history(options)
        if options["csv"]:
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(EXPORT_COLUMNS)

            def write(ban):
                writer.writerow(ban_as_row(ban))

        elif options["json"]:

            def write(ban):
                self.stdout.write(json.dumps(ban_as_dict(ban)))

        else:

            def write(ban):
                made = timezone.localtime(ban.created_at).isoformat(" ", "seconds")
                self.stdout.write(f"{made} {ban_line(ban)}")

        try:
            for ban in newest_first_in_pages(bans):
                write(ban)
            self.stdout.flush()
        except BrokenPipeError:
            # The reader stopped early (`| head`): stop quietly, and let nothing else write.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def ban_line(b: Ban) -> str:
    target = b.user_id or "(whole room)"
    where = b.room.room_id if b.room else "(every room)"
    kind = f"mute ({MEDIA_WORDS[b.media]})" if b.is_mute else b.kind
    line = f"#{b.pk} {kind} {target} @ {where} [{b.app.name}]: {b.status}"
    if b.vendor_message:
        line += f" — {b.vendor_message}"
    return line


def history(options):
    """The bans `bans list` shows, ordered newest first, for `newest_first_in_pages`."""
    since, until = moment(options["since"], "--since"), moment(options["until"], "--until")
    if since and until and since >= until:
        raise CommandError("--since: give a time before --until.", returncode=EXIT_BAD_INPUT)
    bans = Ban.objects.select_related("app", "room", "created_by", "lifted_by")
    if options["app"] is not None:
        bans = bans.filter(app=vendor_app_named(options["app"], argument="--app"))
    if options["room"] is not None:
        bans = bans.filter(room__room_id=options["room"])
    if options["user"] is not None:
        bans = bans.filter(user_id=options["user"])
    if options["status"]:
        bans = bans.filter(status=options["status"])
    if options["kind"]:
        bans = bans.filter(kind=options["kind"])
    if since:
        bans = bans.filter(created_at__gte=since)
    if until:
        bans = bans.filter(created_at__lt=until)
    return bans.order_by("-created_at", "-id")


AGO = re.compile(r"\d{1,10}\s*[smhdw]")  # a duration with its unit: a bare number is no time


def moment(text: str | None, option: str) -> datetime | None:
    """--since/--until: an ISO date or time (in TIME_ZONE without an offset), or how long ago."""
    if text is None:
        return None
    value = text.strip()
    try:
        if AGO.fullmatch(value.lower()):
            return timezone.now() - timedelta(seconds=parse_duration(value))
        when = parse_datetime(value)
        if when is None and (day := parse_date(value)) is not None:
            when = datetime.combine(day, datetime.min.time())
    except (ValueError, OverflowError):
        when = None
    if when is None:
        raise CommandError(
            f"{option}: {text!r} is not a time: give a date or time such as 2026-05-01, "
            "2026-05-01T12:00 or 2026-05-01T12:00+08:00, or how long ago: 90m, 12h, 7d.",
            returncode=EXIT_BAD_INPUT,
        )
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def _room(app, room_id):
    """The app's room, or a new one that is saved only if the ban is accepted."""
    room_id = services.clean_room_id(room_id)
    return Room.objects.filter(app=app, room_id=room_id).first() or Room(app=app, room_id=room_id)


def wait_seconds(text: str) -> float:
    """--wait: a finite number of seconds, 0 to an hour (argparse reports a bad one)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("give a number of seconds from 0 to 3600")
    return seconds


def _describe(exc: ValidationError) -> str:
    """The messages, each after the option to fix ("--user: Enter at least one user ID.")."""
    if hasattr(exc, "message_dict"):
        return "; ".join(
            " ".join(messages)
            if field == "__all__"
            else f"{OPTIONS.get(field, '--' + field.replace('_', '-'))}: {' '.join(messages)}"
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)

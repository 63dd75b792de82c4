"""`manage.py bans`: its JSON and its exit status follow the bans' states; `bans list` shows the
history, filtered, as lines, JSON Lines or the admin's CSV."""

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from moderation import selectors
from moderation.models import Ban, Room
from moderation.selectors import EXPORT_COLUMNS, ban_as_dict

from .support.commands import run_command
from .support.workers import ROOT, child_database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def bans_command(*args):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "moderation_site.settings_test",
        "DATABASE_URL": child_database_url(),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "bans", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_ban_that_becomes_active_prints_its_json_and_exits_0(emulated_app, worker, moderator):
    app = emulated_app("zego")
    result = bans_command(
        "ban",
        "--app",
        app.name,
        "--room",
        "live-1",
        "--user",
        "u1,u2",
        "--duration",
        "1h",
        "--reason",
        "raid",
        "--actor",
        moderator.username,
        "--json",
        "--wait",
        "15",
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert [(b["user_id"], b["status"], b["effective_seconds"]) for b in printed] == [
        ("u1", "active", 3600),
        ("u2", "active", 3600),
    ]
    assert printed[0]["created_by"] == moderator.username


def test_a_ban_the_vendor_refuses_exits_1_with_the_vendors_message(emulated_app, worker):
    app = emulated_app("tencent")
    app.secret = "a-secret-tencent-does-not-know"
    app.save()
    result = bans_command(
        "kick",
        "--app",
        app.name,
        "--room",
        "1234",
        "--user",
        "u1",
        "--reason",
        "spam",
        "--json",
        "--wait",
        "15",
    )
    assert result.returncode == 1
    (printed,) = json.loads(result.stdout)
    assert printed["status"] == "failed"
    assert "Tencent" in printed["vendor_message"]


def test_bad_input_exits_2_and_names_the_option(emulated_app):
    app = emulated_app("zego")
    result = bans_command(
        "ban",
        "--app",
        app.name,
        "--room",
        "live-1",
        "--user",
        "u1",
        "--duration",
        "-5",
        "--reason",
        "raid",
    )
    assert result.returncode == 2
    assert "--duration" in result.stderr
    assert "Traceback" not in result.stderr
    assert not Ban.objects.exists()

    unknown = bans_command("lift", "999", "--reason", "x")
    assert (unknown.returncode, "No ban with id 999" in unknown.stderr) == (2, True)


def test_a_lift_from_the_command_line_is_recorded(emulated_app, worker, moderator):
    app = emulated_app("volcengine")
    banned = bans_command(
        "ban",
        "--app",
        app.name,
        "--room",
        "lobby",
        "--user",
        "u1",
        "--duration",
        "permanent",
        "--reason",
        "abuse",
        "--json",
        "--wait",
        "15",
    )
    (ban,) = json.loads(banned.stdout)
    result = bans_command(
        "lift", str(ban["id"]), "--reason", "appeal", "--actor", moderator.username, "--json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["status"] == "lifted"
    assert Ban.objects.get(pk=ban["id"]).lifted_by == moderator


# --- bans mute --------------------------------------------------------------------------------

MUTE_ROOM = {"volcengine": "lobby", "tencent": "1234"}


def seated(emulator, app, user="u1"):
    """The user in the app's test room at the vendor (Tencent mutes only in a room it knows)."""
    where = {"vendor": app.vendor, "app_id": app.vendor_app_id, "room_id": MUTE_ROOM[app.vendor]}
    assert emulator.join(**where, user_id=user)
    return lambda: emulator.muted(**where, user_id=user)


def mute_command(app, *args, user="u1"):
    return bans_command(
        "mute", "--app", app.name, "--room", MUTE_ROOM[app.vendor], "--user", user, *args
    )


def test_an_audio_mute_that_becomes_active_prints_its_json_and_the_vendor_stops_the_audio(
    emulated_app, emulator, worker
):
    app = emulated_app("tencent")
    muted = seated(emulator, app)
    result = mute_command(
        app, "--audio", "--duration", "5s", "--reason", "shouting", "--wait", "10", "--json"
    )
    assert result.returncode == 0, result.stderr
    (printed,) = json.loads(result.stdout)
    assert (printed["kind"], printed["media"], printed["status"]) == ("mute", "audio", "active")
    assert (printed["scope"], printed["room"], printed["user_id"]) == ("user_in_room", "1234", "u1")
    assert muted() == {"audio": True, "video": False}


def test_a_mute_without_audio_or_video_mutes_both_and_its_line_says_so(
    emulated_app, emulator, worker
):
    app = emulated_app("volcengine")
    muted = seated(emulator, app)
    result = mute_command(app, "--duration", "permanent", "--reason", "noise", "--wait", "10")
    assert result.returncode == 0, result.stderr
    the_mute = Ban.objects.get()
    assert (the_mute.kind, the_mute.media) == ("mute", "both")
    # After the state, the vendor's answer ("— Volcengine RTC accepted: mute the audio ...").
    assert result.stdout.startswith(
        f"#{the_mute.pk} mute (audio and video) u1 @ lobby [{app.name}]: active — "
    )
    assert muted() == {"audio": True, "video": True}


def test_audio_and_video_together_exit_2_and_say_they_exclude_each_other(emulated_app):
    app = emulated_app("tencent")
    result = mute_command(app, "--audio", "--video", "--duration", "1h", "--reason", "noise")
    assert result.returncode == 2
    assert "argument --video: not allowed with argument --audio" in result.stderr
    assert "Traceback" not in result.stderr
    assert not Ban.objects.exists()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            ["--room", "1234", "--user", "u1", "--whole-room"],
            "--whole-room/--every-room: A mute is for named users in one room",
        ),
        (
            ["--user", "u1", "--every-room"],
            "--whole-room/--every-room: A mute is for named users in one room",
        ),
        (["--room", "1234"], "--user: Enter at least one user ID."),
        (["--user", "u1"], "--room: Choose a room."),
    ],
    ids=["whole-room", "every-room", "no-user", "no-room"],
)
def test_a_mute_of_a_whole_room_every_room_no_user_or_no_room_exits_2_saying_what_to_fix(
    emulated_app, where, message
):
    app = emulated_app("tencent")
    result = bans_command(
        "mute", "--app", app.name, *where, "--duration", "1h", "--reason", "noise"
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not Ban.objects.exists()


def test_a_lift_of_an_active_mute_ends_it_and_the_vendor_unmutes(
    emulated_app, emulator, worker, moderator
):
    app = emulated_app("tencent")
    muted = seated(emulator, app)
    started = mute_command(app, "--duration", "1h", "--reason", "noise", "--wait", "10", "--json")
    (the_mute,) = json.loads(started.stdout)
    assert the_mute["status"] == "active"
    assert muted() == {"audio": True, "video": True}

    result = bans_command(
        "lift", str(the_mute["id"]), "--reason", "calm", "--actor", moderator.username, "--json"
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["status"] == "lifted"
    assert Ban.objects.get(pk=the_mute["id"]).lifted_by == moderator
    wait_until(lambda: muted() == {"audio": False, "video": False}, message="the vendor's unmute")


def test_a_change_of_an_active_mute_to_1h_moves_its_end_to_an_hour_after_its_start(
    emulated_app, emulator, worker
):
    app = emulated_app("tencent")
    seated(emulator, app)
    started = mute_command(
        app, "--video", "--duration", "10m", "--reason", "noise", "--wait", "10", "--json"
    )
    (the_mute,) = json.loads(started.stdout)
    assert the_mute["status"] == "active"
    ten_minutes_in = Ban.objects.get(pk=the_mute["id"]).starts_at + timedelta(minutes=10)
    assert the_mute["expires_at"] == ten_minutes_in.isoformat()

    result = bans_command(
        "change", str(the_mute["id"]), "--duration", "1h", "--reason", "again", "--json"
    )

    assert result.returncode == 0, result.stderr
    (printed,) = json.loads(result.stdout)
    changed = Ban.objects.get(pk=the_mute["id"])
    assert changed.expires_at == changed.starts_at + timedelta(hours=1)
    assert printed["expires_at"] == changed.expires_at.isoformat()
    assert (printed["kind"], printed["media"], printed["requested_seconds"]) == (
        "mute",
        "video",
        3600,
    )


def test_a_second_mute_of_the_same_user_in_the_room_exits_2_already_muted(
    emulated_app, redis_connection
):
    """No worker runs: the first mute stays pending, and holds the user as an active one would."""
    app = emulated_app("tencent")
    first = mute_command(app, "--duration", "1h", "--reason", "noise")
    assert first.returncode == 0, first.stderr

    second = mute_command(app, "--audio", "--duration", "2h", "--reason", "again")

    assert second.returncode == 2
    assert "--user: Already muted in this room: u1." in second.stderr
    assert Ban.objects.count() == 1


# --- bans list ----------------------------------------------------------------------------------

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def shell(capsys, *argv):
    """`manage.py bans ARGV` as a shell runs it, in this process."""
    return run_command(capsys, "bans", *argv)


def made(app, room_id, user_id, *, at, kind="ban", status="active", **fields):
    """A ban record as the history holds it, made `at` (created_at is set after the insert)."""
    scope = "user_everywhere" if room_id is None else "user_in_room" if user_id else "whole_room"
    ban = Ban.objects.create(
        app=app,
        room=None if room_id is None else Room.objects.get_or_create(app=app, room_id=room_id)[0],
        user_id=user_id,
        kind=kind,
        scope=scope,
        media="both" if kind == "mute" else "",
        requested_seconds=None if kind == "kick" else 3600,
        reason=fields.pop("reason", "abuse"),
        status=status,
        **fields,
    )
    Ban.objects.filter(pk=ban.pk).update(created_at=at)
    return Ban.objects.get(pk=ban.pk)


@pytest.fixture
def history(emulated_app, moderator):
    """Five records over two apps, a day apart, the newest first in the list."""
    zego, tencent = emulated_app("zego"), emulated_app("tencent")
    day = timedelta(days=1)
    return [
        made(zego, "live-1", "u1", at=NOW, kind="mute", created_by=moderator),
        made(tencent, "1234", "u2", at=NOW - day, status="lifted", lift_reason="appeal"),
        made(zego, None, "u1", at=NOW - 2 * day, status="expired", vendor_message="accepted"),
        made(tencent, "1234", "", at=NOW - 3 * day, status="pending"),
        made(zego, "live-2", "u3", at=NOW - 4 * day, kind="kick", status="done", reason="=SUM(1)"),
    ]


def test_list_prints_a_line_per_ban_newest_first_with_when_it_was_made(capsys, history):
    status, out, err = shell(capsys, "list")

    assert status == 0, err
    ids = [b.pk for b in history]
    assert out.splitlines() == [
        f"2026-05-01 12:00:00+00:00 #{ids[0]} mute (audio and video) u1 @ live-1 [zego app]: "
        "active",
        f"2026-04-30 12:00:00+00:00 #{ids[1]} ban u2 @ 1234 [tencent app]: lifted",
        f"2026-04-29 12:00:00+00:00 #{ids[2]} ban u1 @ (every room) [zego app]: expired — accepted",
        f"2026-04-28 12:00:00+00:00 #{ids[3]} ban (whole room) @ 1234 [tencent app]: pending",
        f"2026-04-27 12:00:00+00:00 #{ids[4]} kick u3 @ live-2 [zego app]: done",
    ]


def test_list_json_prints_one_ban_per_line_as_show_json_prints_it(capsys, history):
    status, out, err = shell(capsys, "list", "--json")

    assert status == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [ban_as_dict(b) for b in history]


def test_list_csv_is_the_admins_export_without_its_byte_order_mark(
    capsys, history, client, supervisor
):
    client.force_login(supervisor)
    exported = b"".join(client.get(reverse("admin:moderation_ban_export")).streaming_content)

    status, out, err = shell(capsys, "list", "--csv")

    assert status == 0, err
    assert out.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert list(csv.reader(io.StringIO(out))) == list(
        csv.reader(io.StringIO(exported.decode("utf-8-sig")))
    )
    assert out.splitlines()[-1].split(",")[13] == "'=SUM(1)"  # never a live formula


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--app", "tencent app"], [1, 3]),
        (["--room", "1234"], [1, 3]),
        (["--user", "u1"], [0, 2]),
        (["--status", "active"], [0]),
        (["--kind", "kick"], [4]),
        (["--kind", "mute"], [0]),
        (["--since", "2026-04-29"], [0, 1, 2]),
        (["--until", "2026-04-29"], [3, 4]),
        (["--since", "2026-04-29T12:00:00Z", "--until", "2026-05-01T12:00"], [1, 2]),
        (["--since", "2026-04-29T20:00+08:00"], [0, 1, 2]),
        (["--app", "zego app", "--user", "u1", "--kind", "ban"], [2]),
        (["--app", "zego app", "--status", "pending"], []),
    ],
    ids=[
        "app",
        "room",
        "user",
        "status",
        "kind-kick",
        "kind-mute",
        "since-a-date",
        "until-a-date",
        "since-and-until-times",
        "since-with-an-offset",
        "app-user-kind",
        "nothing-matches",
    ],
)
def test_list_filters_combine_and_keep_the_newest_first_order(capsys, history, args, expected):
    status, out, err = shell(capsys, "list", "--json", *args)

    assert status == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [
        history[n].pk for n in expected
    ]


def test_list_since_a_relative_time_counts_back_from_now(capsys, emulated_app):
    app = emulated_app("zego")
    now = timezone.now()
    recent = made(app, "live-1", "u1", at=now - timedelta(hours=2))
    made(app, "live-1", "u2", at=now - timedelta(days=8))

    status, out, err = shell(capsys, "list", "--json", "--since", "7d")

    assert status == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [recent.pk]
    status, out, _ = shell(capsys, "list", "--json", "--since", "90m")
    assert (status, out) == (0, "")


def test_list_pages_through_ties_on_created_at_listing_each_ban_once(
    capsys, emulated_app, monkeypatch
):
    app = emulated_app("zego")
    for n in range(11):  # four bans made in each second: ties at the pages' ends
        made(app, "live-1", f"u{n:02d}", at=NOW - timedelta(seconds=n // 4))
    monkeypatch.setattr(selectors, "HISTORY_FIRST_PAGE", 3)
    monkeypatch.setattr(selectors, "HISTORY_PAGE", 2)

    status, out, err = shell(capsys, "list", "--json")

    assert status == 0, err
    listed = [json.loads(line)["id"] for line in out.splitlines()]
    assert listed == list(Ban.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert len(set(listed)) == 11


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not a time"),
        (["--since", "2026"], "--since: '2026' is not a time"),
        (["--until", "2026-13-01"], "--until: '2026-13-01' is not a time"),
        (["--until", "9999999999w"], "--until: '9999999999w' is not a time"),
        (["--since", "2026-05-01", "--until", "2026-04-01"], "--since: give a time before --until"),
        (["--app", "No Such App"], "--app: no vendor app named 'No Such App'"),
        (["--status", "gone"], "argument --status: invalid choice: 'gone'"),
        (["--kind", "warn"], "argument --kind: invalid choice: 'warn'"),
        (["--json", "--csv"], "argument --csv: not allowed with argument --json"),
    ],
    ids=[
        "since-a-word",
        "since-a-bare-number",
        "until-no-such-month",
        "until-too-long-ago",
        "since-after-until",
        "unknown-app",
        "unknown-status",
        "unknown-kind",
        "json-and-csv",
    ],
)
def test_list_with_bad_input_exits_2_naming_the_option(capsys, history, args, message):
    status, out, err = shell(capsys, "list", *args)

    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_list_into_a_reader_that_stops_early_ends_quietly(emulated_app):
    app = emulated_app("zego")
    room = Room.objects.create(app=app, room_id="live-1")
    Ban.objects.bulk_create(
        Ban(app=app, room=room, user_id=f"u{n}", kind="kick", scope="user_in_room", reason="spam")
        for n in range(2000)
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "moderation_site.settings_test",
        "DATABASE_URL": child_database_url(),
    }
    listing = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "manage.py", "bans", "list", "--csv"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = listing.stdout.readline()
    listing.stdout.close()  # as `| head -1` does
    _, err = listing.communicate(timeout=60)

    assert first.decode().startswith("id,created_at,kind,")
    assert listing.returncode == 0, err.decode()
    assert b"Traceback" not in err

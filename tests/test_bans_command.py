"""`manage.py bans`: its JSON and its exit status follow the bans' states."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from moderation.models import Ban

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

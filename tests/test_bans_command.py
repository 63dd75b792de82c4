"""`manage.py bans`: its JSON and its exit status follow the bans' states."""

import json
import os
import subprocess
import sys

import pytest

from moderation.models import Ban

from .support.workers import ROOT, child_database_url

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

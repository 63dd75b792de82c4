"""The embedded SQLite database under concurrent writers: gunicorn answering admin saves while
an RQ worker applies a 3,000-user bulk kick, every process on one SQLite file of the test's own.

Runs on SQLite even when the rest of the suite runs on PostgreSQL (DATABASE_URL).
"""

import contextlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from moderation_site.settings_test import TEST_REDIS_DB

from .conftest import EMULATED_APPS
from .support.processes import PrivateRedis, free_port, stop_gracefully
from .support.workers import ROOT, wait_until

APP_NAME = "ZEGO on SQLite"
ROOM = "raid"
USERS = [f"u{n:04d}" for n in range(1, 3001)]
ADMIN, PASSWORD = "root", "correct horse battery"
ROUNDS, SAVES_PER_ROUND = 5, 6
LOCKED = "database is locked"


def test_admin_saves_during_a_3000_user_bulk_kick_on_sqlite_never_answer_500(tmp_path, emulator):
    """Rounds of 6 concurrent admin saves of a new canned reason, over HTTP to gunicorn, while
    the RQ worker kicks 3,000 users, both on one SQLite file: every save answers 302 and its
    reason is in the database, neither log says "database is locked", and every kick is done
    (in the database and at the vendor)."""
    with contextlib.ExitStack() as cleanup:
        redis_server = PrivateRedis().start()
        cleanup.callback(redis_server.shutdown)
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CREDENTIAL_KEYS")},
            "DJANGO_SETTINGS_MODULE": "moderation_site.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",  # absolute: 4 slashes
            "REDIS_URL": redis_server.url(TEST_REDIS_DB),
            "DEBUG": "true",  # no secrets needed
            "SECURE_SSL_REDIRECT": "false",
            "READ_RUN_ENV": "false",  # not the run.env of a `make run` beside the tests
            "VENDOR_RETRY_BASE_SECONDS": "0.2",
            "VENDOR_RETRY_CAP_SECONDS": "1",
        }
        manage(env, "migrate", "--no-input")
        app_id, _, _, secret = EMULATED_APPS["zego"]
        setup = SETUP.format(
            name=APP_NAME,
            app_id=app_id,
            secret=secret,
            endpoint=emulator.endpoint("zego"),
            room=ROOM,
            username=ADMIN,
            password=PASSWORD,
        )
        manage(env, "shell", "--no-imports", "-c", setup)
        for user in USERS:
            emulator.join(vendor="zego", app_id=app_id, room_id=ROOM, user_id=user)

        port = free_port()
        web = start(env, tmp_path / "web.log", *GUNICORN, "--bind", f"127.0.0.1:{port}")
        cleanup.callback(stop_gracefully, web)
        worker = start(env, tmp_path / "worker.log", *RQWORKER)
        cleanup.callback(stop_gracefully, worker)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(web, f"{base}/admin/login/"), timeout=30, message="gunicorn")
        cookies = log_in(base)

        kick = ["bans", "kick", "--app", APP_NAME, "--room", ROOM, "--reason", "spam", "--json"]
        ids = [str(ban["id"]) for ban in json.loads(manage(env, *kick, "--user", ",".join(USERS)))]
        wait_until(lambda: kick_calls(emulator, app_id), timeout=60, message="the first kicks")

        answered = []
        for round_ in range(ROUNDS):
            texts = [f"Spam, round {round_} save {n}" for n in range(SAVES_PER_ROUND)]
            with ThreadPoolExecutor(SAVES_PER_ROUND) as pool:
                answered += pool.map(lambda text: add_reason(base, cookies, text), texts)
        kicked_when_saved = len(kicked_users(emulator, app_id))

        wait_until(
            lambda: kicked_users(emulator, app_id) >= set(USERS),
            timeout=90,
            interval=0.2,
            message="every user kicked at the vendor",
        )
        statuses = wait_until(
            lambda: done(manage(env, "bans", "show", *ids, "--json")),
            timeout=30,
            interval=1,
            message="every kick recorded as done",
        )
        saved = json.loads(manage(env, "shell", "--no-imports", "-c", SAVED_REASONS))
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("web", "worker")}

    # The saves overlapped the kick: it had not reached every user when they were answered.
    assert len(ids) == len(USERS) and kicked_when_saved < len(USERS), kicked_when_saved
    codes = [code for code, _ in answered]
    assert codes == [302] * ROUNDS * SAVES_PER_ROUND, (Counter(codes), first(LOCKED, logs["web"]))
    assert {text for _, text in answered} <= set(saved)
    for name, log in logs.items():
        assert LOCKED not in log, f"{name} log: {first(LOCKED, log)}"
    assert statuses == {"done": len(USERS)}
    assert emulator.members(vendor="zego", app_id=app_id, room_id=ROOM) == set()
    print(
        f"SQLITE: {len(answered)} admin saves answered {dict(Counter(codes))} while the worker "
        f"kicked ({kicked_when_saved} of {len(USERS)} users kicked by then); all kicks done"
    )


SETUP = """
from django.contrib.auth import get_user_model
from moderation.models import Room, VendorApp
app = VendorApp(name={name!r}, vendor="zego", vendor_app_id={app_id!r}, endpoint={endpoint!r})
app.secret = {secret!r}
app.full_clean()
app.save()
Room.objects.create(app=app, room_id={room!r})
get_user_model().objects.create_superuser({username!r}, "", {password!r})
"""

SAVED_REASONS = """
import json
from moderation.models import CannedReason
print(json.dumps(list(CannedReason.objects.values_list("text", flat=True))))
"""

# As the Procfile's web process, with threads: several requests at once in each of 2 workers.
GUNICORN = [
    *("-m", "gunicorn", "moderation_site.wsgi", "--workers", "2", "--threads", "4"),
    # No control socket: its default path is one per user, shared with any other gunicorn.
    *("--timeout", "30", "--access-logfile", "-", "--no-control-socket"),
]
RQWORKER = ["manage.py", "rqworker", "moderation-interactive", "moderation", "--with-scheduler"]


def manage(env: dict, *args: str) -> str:
    finished = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, (args[:2], finished.stdout[-3000:], finished.stderr[-3000:])
    return finished.stdout


def start(env: dict, log_path, *args: str) -> subprocess.Popen:
    """A process whose output goes to a file: a pipe nobody reads would fill and stall it."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def answers(process: subprocess.Popen, url: str) -> bool:
    assert process.poll() is None, f"gunicorn exited with {process.returncode}"
    with contextlib.suppress(requests.ConnectionError):
        return requests.get(url, timeout=5).status_code == 200
    return False


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def log_in(base: str) -> dict:
    """The admin's login form over HTTP; returns the session's cookies."""
    session = requests.Session()
    login = session.get(f"{base}/admin/login/", timeout=10)
    answer = session.post(
        f"{base}/admin/login/",
        data={
            "username": ADMIN,
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_token(login.text),
            "next": "/admin/",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, (answer.status_code, answer.text[:2000])
    return session.cookies.get_dict()


def add_reason(base: str, cookies: dict, text: str) -> tuple[int, str]:
    """One moderator's save of a new canned reason in the admin: the add form, then its POST."""
    url = f"{base}/admin/moderation/cannedreason/add/"
    with requests.Session() as session:
        session.cookies.update(cookies)
        form = session.get(url, timeout=60)
        if form.status_code != 200:
            return form.status_code, text
        answer = session.post(
            url,
            data={
                "csrfmiddlewaretoken": csrf_token(form.text),
                "text": text,
                "active": "on",
                "position": "0",
                "_save": "Save",
            },
            allow_redirects=False,
            timeout=60,
        )
    return answer.status_code, text


def kick_calls(emulator, app_id: str) -> list:
    return [c for c in emulator.calls if c.app_id == app_id and c.action == "KickoutUser"]


def kicked_users(emulator, app_id: str) -> set[str]:
    return {u for c in kick_calls(emulator, app_id) if c.ok for u in c.params["UserId[]"]}


def first(text: str, log: str) -> str:
    """The log around the first occurrence of `text`, for a failure's message."""
    at = log.find(text)
    return "(not in the log)" if at < 0 else log[max(0, at - 3000) : at + 500]


def done(shown: str) -> dict | None:
    statuses = {}
    for ban in json.loads(shown):
        statuses[ban["status"]] = statuses.get(ban["status"], 0) + 1
    return statuses if set(statuses) == {"done"} else None

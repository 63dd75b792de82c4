"""Canary secrets: vendor secrets and callback secrets made up for this run, used by flows that
succeed and flows that fail, then searched for everywhere the system writes: every page
rendered, every log line (ours at DEBUG, and the worker's), every exception, every vendor call
record, moderation log entry and ban, every other table, and every value in Redis (RQ job
payloads included, decompressed). Never found.
"""

import json
import logging
import random
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rq.job import Job
from rq.registry import FailedJobRegistry

from moderation import services
from moderation.credentials import CredentialError
from moderation.models import Ban, ModerationLog, Room, VendorApp, VendorCall
from moderation.vendors import AppConnection, VendorInputError, client_for

from .support.callbacks import post_callback, signed_callback
from .support.canary import EchoingVendor, Search, make_canaries
from .support.processes import start_worker_to, stop_gracefully
from .support.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

REGION = {"volcengine": "cn-north-1", "zego": "", "tencent": "ap-guangzhou"}
ROOM = {"volcengine": "lobby", "zego": "live-1", "tencent": "1234"}
VENDORS = ["volcengine", "zego", "tencent"]


@pytest.fixture
def canaries():
    return make_canaries()


@pytest.fixture
def search(canaries, caplog):
    caplog.set_level(logging.DEBUG)
    return Search(canaries)


@pytest.fixture
def echoing_vendor(canaries):
    with EchoingVendor({vendor: canaries[vendor] for vendor in VENDORS}) as server:
        yield server


@pytest.fixture
def canary_apps(db, emulator, echoing_vendor, canaries):
    """Per vendor: an app the vendor accepts, one whose secret the vendor does not know, one
    behind a vendor that echoes the secret back, and one whose endpoint does not answer. Each
    holds the canary as its secret and its callback secret."""
    made = {}
    for vendor in VENDORS:
        for kind in ("good", "refused", "echoed", "unreachable"):
            number = random.randrange(10**8, 10**9)
            app_id = str(number) if vendor != "volcengine" else f"volcCanary{number}"
            key_id = {"volcengine": f"AKLTcanary{number}", "tencent": f"AKIDcanary{number}"}.get(
                vendor, ""
            )
            if kind in ("good", "refused"):
                known = canaries[vendor] if kind == "good" else _other_secret(vendor)
                emulator.add_app(vendor=vendor, app_id=app_id, access_key_id=key_id, secret=known)
            endpoint = {
                "echoed": echoing_vendor.endpoint(vendor),
                "unreachable": f"http://127.0.0.1:1/{vendor}",
            }.get(kind, emulator.endpoint(vendor))
            app = VendorApp(
                name=f"{vendor} {kind}",
                vendor=vendor,
                vendor_app_id=app_id,
                region=REGION[vendor],
                access_key_id=key_id,
                endpoint=endpoint,
            )
            app.secret = canaries[vendor]
            app.callback_secret = canaries[f"{vendor}_callback"]
            app.full_clean()
            app.save()
            made[(vendor, kind)] = app
    return made


def _other_secret(vendor):
    return "0f" * 16 if vendor == "zego" else "not-the-secret-we-hold"


def assert_never_found(search, caplog, redis_connection=None):
    search.log_records(caplog.records)
    rows = search.database()
    keys = search.redis(redis_connection) if redis_connection is not None else 0
    hits = search.hits()
    assert hits == [], "\n".join(hits[:20])
    print(f"canaries searched for in {len(search.places)} places ({rows} rows, {keys} Redis keys)")


# --- A worker applying bans: accepted, refused, echoed, unreachable, lifted ---------------------


def test_a_worker_applying_bans_never_writes_a_secret_anywhere(
    canary_apps, canaries, emulator, redis_connection, moderator, search, caplog, tmp_path
):
    log_file = tmp_path / "worker.log"
    worker = start_worker_to(log_file, LOG_LEVEL="DEBUG", VENDOR_MAX_ATTEMPTS="2")
    try:
        made = []
        for (vendor, _kind), app in canary_apps.items():
            room = services.room_for(app=app, room_id=ROOM[vendor])
            made += services.ban(
                app=app,
                scope=Ban.Scope.USER_IN_ROOM,
                room=room,
                user_ids=["troll1", "troll2"],
                seconds=3600,
                reason="raid",
                actor=moderator,
            )
            made += services.kick(
                app=app, room=room, user_ids=["troll3"], reason="spam", actor=None
            )
        ids = [b.pk for b in made]
        wait_until(
            lambda: not Ban.objects.filter(pk__in=ids, status=Ban.Status.PENDING).exists(),
            timeout=60,
            message="every ban's final state",
        )
        lifted = Ban.objects.get(app=canary_apps[("volcengine", "good")], user_id="troll1")
        services.lift(ban=lifted, reason="appeal accepted", actor=moderator)
        wait_until(
            lambda: not Ban.objects.filter(vendor_sync_due=True).exists(), message="the lift"
        )
        # A job that raises: the secret became unreadable between the kick and its job
        # (CREDENTIAL_KEYS lost its key). RQ keeps the traceback in Redis.
        unreadable = canary_apps[("tencent", "good")]
        with transaction.atomic():
            (stuck,) = services.kick(
                app=unreadable,
                room=services.room_for(app=unreadable, room_id="4321"),
                user_ids=["troll4"],
                reason="spam",
                actor=None,
            )
            VendorApp.objects.filter(pk=unreadable.pk).update(
                secret_ciphertext=_under_a_lost_key(canaries["tencent"])
            )
        # A kick of one user: an interactive job.
        failed_jobs = FailedJobRegistry("moderation-interactive", connection=redis_connection)
        wait_until(lambda: failed_jobs.count, message="the job that raised")
    finally:
        stop_gracefully(worker)
    search.add("worker output", log_file.read_bytes())

    outcome = {
        (b.app.vendor, b.app.name.split()[1], b.user_id): b.status
        for b in Ban.objects.select_related("app")
    }
    for vendor in VENDORS:
        assert outcome[(vendor, "good", "troll2")] == Ban.Status.ACTIVE, vendor
        for kind in ("refused", "echoed", "unreachable"):
            assert outcome[(vendor, kind, "troll3")] == Ban.Status.FAILED, (vendor, kind)
    # The echoing vendor's answers were read, and the secret in them replaced.
    echoed = VendorCall.objects.filter(app__name__endswith="echoed")
    assert echoed.count() >= 6
    assert all("[redacted]" in call.vendor_message for call in echoed)
    assert ModerationLog.objects.filter(event="failed").exists()
    assert Ban.objects.get(pk=stuck.pk).status == Ban.Status.PENDING  # kept, for when it reads
    (job_id,) = failed_jobs.get_job_ids()
    result = Job.fetch(job_id, connection=redis_connection).latest_result()
    assert "CredentialError" in result.exc_string
    assert_never_found(search, caplog, redis_connection)


def _under_a_lost_key(secret: str) -> str:
    return Fernet(Fernet.generate_key()).encrypt(secret.encode()).decode()


# --- The admin: vendor app pages, forms, test connection, supervisors' pages --------------------


def test_the_admin_never_shows_a_secret_it_was_given(
    canary_apps, canaries, credential_manager, supervisor, superuser, redis_connection, search,
    caplog,
):  # fmt: skip
    # Vendor calls to show on the supervisors' pages: made as a worker makes them.
    for kind in ("good", "echoed"):
        for vendor in VENDORS:
            app = canary_apps[(vendor, kind)]
            bans = services.kick(
                app=app,
                room=services.room_for(app=app, room_id=ROOM[vendor]),
                user_ids=["troll1"],
                reason="spam",
                actor=None,
            )
            services.apply(ban_ids=[b.pk for b in bans])
    staff = Client()
    staff.force_login(credential_manager)
    root = Client()
    root.force_login(superuser)
    for (vendor, kind), app in canary_apps.items():
        change = reverse("admin:moderation_vendorapp_change", args=[app.pk])
        search.page(f"{vendor} {kind} app", staff.get(change))
        tested = staff.post(reverse("admin:moderation_vendorapp_test", args=[app.pk]))
        assert tested.status_code == 302
        search.page(f"{vendor} {kind} test connection", tested)
        shown = staff.get(tested.url)
        messages = [str(m) for m in shown.context["messages"]]
        assert messages, "test connection said nothing"
        search.page(f"{vendor} {kind} app after test connection", shown)
        search.page(f"{vendor} {kind} app history", staff.get(change.replace("change", "history")))
        search.page(f"{vendor} {kind} app, as superuser", root.get(change))
    search.page("vendor apps", staff.get(reverse("admin:moderation_vendorapp_changelist")))

    # A new secret typed into a form that is refused for another field is not sent back.
    good = canary_apps[("volcengine", "good")]
    change = reverse("admin:moderation_vendorapp_change", args=[good.pk])
    refused = staff.post(
        change,
        {
            "name": good.name,
            "vendor": "volcengine",
            "vendor_app_id": good.vendor_app_id,
            "region": "mars-north-1",
            "access_key_id": good.access_key_id,
            "secret": canaries["volcengine"],
            "callback_secret": canaries["volcengine_callback"],
            "endpoint": good.endpoint,
            "enabled": "on",
            "rate_limits": "{}",
        },
    )
    assert refused.status_code == 200 and refused.context["adminform"].form.errors
    search.page("vendor app form refused", refused)
    added = staff.post(
        reverse("admin:moderation_vendorapp_add"),
        {
            "name": "zego added",
            "vendor": "zego",
            "vendor_app_id": "86420",
            "secret": canaries["zego"],
            "callback_secret": canaries["zego_callback"],
            "enabled": "on",
            "rate_limits": "{}",
        },
    )
    assert added.status_code == 302, added.context["adminform"].form.errors
    search.page("vendor app added", staff.get(added.url))
    wrong_form = staff.post(
        reverse("admin:moderation_vendorapp_add"),
        {
            "name": "zego bad",
            "vendor": "zego",
            "vendor_app_id": "1",
            "secret": canaries["zego"][1:],
        },
    )
    search.page("ZEGO secret of the wrong form", wrong_form)

    viewer = Client()
    viewer.force_login(supervisor)
    for name in ("vendorcall", "moderationlog", "ban", "room"):
        search.page(f"{name} list", viewer.get(reverse(f"admin:moderation_{name}_changelist")))
    for call in VendorCall.objects.all():
        search.page(
            f"vendor call {call.pk}",
            viewer.get(reverse("admin:moderation_vendorcall_change", args=[call.pk])),
        )
    assert VendorCall.objects.filter(ok=True).exists()
    assert VendorCall.objects.filter(vendor_message__contains="[redacted]").exists()
    assert_never_found(search, caplog, redis_connection)


# --- Room callbacks signed with the canary callback secret ---------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_room_callbacks_never_reveal_the_callback_secret(
    vendor, emulated_app, canaries, redis_connection, search, caplog
):
    app = emulated_app(vendor)
    secret = canaries[f"{vendor}_callback"]
    app.callback_secret = secret
    app.save()
    browser = Client()

    for n, (kind, signed_with) in enumerate(
        [("join", secret), ("leave", secret), ("join", secret[:-1]), ("join", secret + "x")]
    ):
        headers, body = signed_callback(vendor, kind, ROOM[vendor], f"u{n}", secret=signed_with)
        response = post_callback(browser, app, headers, body)
        assert response.status_code == (200 if signed_with == secret else 403)
        search.page(f"{vendor} callback {n}", response)
    tencent_sign = {"Sign": "AAAA"} if vendor == "tencent" else {}
    search.page("unsigned", post_callback(browser, app, tencent_sign, b'{"a": 1}'))
    assert_never_found(search, caplog, redis_connection)


# --- The command line -----------------------------------------------------------------------------


def test_the_command_line_never_prints_a_secret(canary_apps, canaries, search, caplog):
    for args in (["vendorapp", "list"], ["vendorapp", "list", "--json"], ["rotate_credentials"]):
        out, err = StringIO(), StringIO()
        call_command(*args, stdout=out, stderr=err)
        search.add(" ".join(args), out.getvalue() + err.getvalue())
    listed = json.loads(_run("vendorapp", "list", "--json"))
    assert {a["name"] for a in listed} >= {app.name for app in canary_apps.values()}
    for app in canary_apps.values():  # rotation re-encrypted them all, and they still read
        app.refresh_from_db()
        assert app.secret == canaries[app.vendor]
    assert_never_found(search, caplog)


def _run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- Exceptions ---------------------------------------------------------------------------------


def test_exceptions_about_credentials_never_carry_the_secret(canaries, canary_apps, search, caplog):
    secret = canaries["volcengine"]
    bad_key = AppConnection(
        vendor="volcengine", app_id="a", region="cn-north-1", access_key_id="key id", secret=secret
    )
    search.add("AppConnection repr", repr(bad_key))
    with pytest.raises(VendorInputError) as caught:
        client_for(bad_key)
    search.exception("a key id with a space", caught.value)
    good = canary_apps[("tencent", "good")]
    client = client_for(good.connection())
    search.add("client repr", repr(client) + repr(vars(client)))
    unreachable = canary_apps[("tencent", "unreachable")]
    failing = client_for(unreachable.connection())
    (request,) = failing.kick_requests(room_id="1234", user_ids=["u1"])
    search.add("a failed call's result", repr(failing.send(request)))

    zego = VendorApp(name="z", vendor="zego", vendor_app_id="1")
    zego.secret = canaries["zego"] + "0"  # one character too many
    with pytest.raises(ValidationError) as caught:
        zego.full_clean()
    search.exception("a ZEGO secret of the wrong length", caught.value)

    lost_key = canary_apps[("zego", "good")]
    VendorApp.objects.filter(pk=lost_key.pk).update(
        secret_ciphertext=_under_a_lost_key(canaries["zego"])
    )
    with pytest.raises(CredentialError) as caught:
        VendorApp.objects.get(pk=lost_key.pk).connection()
    search.exception("a secret under a key no longer configured", caught.value)
    assert_never_found(search, caplog)


def test_a_secret_that_cannot_be_decrypted_is_a_message_on_the_ban_form_not_a_500(
    canary_apps, canaries, moderator, search, caplog
):
    app = canary_apps[("zego", "good")]
    VendorApp.objects.filter(pk=app.pk).update(
        secret_ciphertext=_under_a_lost_key(canaries["zego"])
    )
    browser = Client(raise_request_exception=False)
    browser.force_login(moderator)
    form = {"app": app.pk, "scope": "user_in_room", "room": "live-1", "user_ids": "u1"}
    form |= {"duration": "600", "reason": "spam", "preview": "1"}

    response = browser.post(reverse("admin:moderation_ban_moderate"), form)

    search.page("ban form with an unreadable secret", response)
    assert_never_found(search, caplog)
    assert response.status_code == 200, response.status_code
    assert response.context["form"].errors
    assert not Room.objects.filter(room_id="live-1", app=app).exists()


# --- The search itself --------------------------------------------------------------------------


def test_the_search_finds_a_canary_in_a_page_a_log_line_a_row_and_a_queued_job(
    canaries, emulated_app, redis_connection, search, caplog
):
    import django_rq

    secret = canaries["zego"]
    app = emulated_app("zego")
    Room.objects.create(app=app, room_id="r", label=f"label {secret}")
    logging.getLogger("moderation").debug("a careless line: %s", secret)
    queue = django_rq.get_queue("moderation", connection=redis_connection)
    queue.enqueue("moderation.jobs.apply_bans", [1], secret)  # stored pickled and compressed
    page = Client().get("/admin/login/", {"next": f"/{secret}/"})
    search.page("login", page)
    search.log_records(caplog.records)
    search.database()
    search.redis(redis_connection)

    found = "\n".join(search.hits())

    for place in ("page login", "log moderation", "database moderation.Room", "redis rq:job:"):
        assert place in found, f"the search missed the canary in a {place}"

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import translation

from moderation.models import Room, Vendor, VendorApp
from moderation.roles import CREDENTIAL_MANAGERS, MODERATORS, SUPERVISORS, sync_roles

ZEGO_SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def migrated_rows_after_each_flush():
    """A transactional test's flush empties every table, the rows the data migrations made
    (roles, canned reasons) included; they are put back as the migrations left them, so a test
    finds them whichever tests ran before it in its process."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    reasons = importlib.import_module("moderation.migrations.0003_canned_reasons")
    chinese = importlib.import_module("moderation.migrations.0007_canned_reason_text_zh")

    def restore(sender, using, **kwargs):
        if sender.label == "moderation":
            sync_roles(Group, Permission)
            reasons.add_default_reasons(apps, None)
            chinese.name_in_chinese(apps, None)

    post_migrate.connect(restore, dispatch_uid="tests.migrated_rows_after_each_flush")
    yield
    post_migrate.disconnect(dispatch_uid="tests.migrated_rows_after_each_flush")


@pytest.fixture(autouse=True)
def english_after_each_test():
    """A request in Chinese leaves Chinese active in the thread; the next test starts in English."""
    yield
    translation.activate("en")


@pytest.fixture
def make_user(django_user_model):
    # Transactional tests (browser, workers) flush the tables the data migration filled.
    sync_roles(Group, Permission)

    def make(username, role=None, **extra):
        user = django_user_model.objects.create_user(
            username=username, password="correct horse battery", is_staff=True, **extra
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def moderator(make_user):
    return make_user("mia", MODERATORS)


@pytest.fixture
def supervisor(make_user):
    return make_user("sam", SUPERVISORS)


@pytest.fixture
def credential_manager(make_user):
    return make_user("cora", CREDENTIAL_MANAGERS)


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_superuser=True)


@pytest.fixture
def zego_app(db):
    app = VendorApp(name="Live ZEGO", vendor=Vendor.ZEGO, vendor_app_id="1234567890")
    app.secret = ZEGO_SECRET
    app.full_clean()
    app.save()
    return app


@pytest.fixture
def room(zego_app):
    return Room.objects.create(app=zego_app, room_id="live-1001", label="Evening show")


# --- Vendor emulator, Redis and RQ workers: the real pieces the services run on -------------

EMULATED_APPS = {
    # vendor: (vendor app id, region, access key id, secret)
    "volcengine": ("volc661e543cf", "cn-north-1", "AKLTconsoleTests", "volc-secret-for-tests"),
    "zego": ("3141592653", "", "", "00112233445566778899aabbccddeeff"),
    "tencent": ("1400123456", "ap-guangzhou", "AKIDconsoleTests", "tencent-secret-for-tests"),
}


@pytest.fixture(scope="session")
def vendor_emulator():
    from rtc_emulator import Emulator

    emulator = Emulator()
    for vendor, (app_id, _, key_id, secret) in EMULATED_APPS.items():
        emulator.add_app(vendor=vendor, app_id=app_id, access_key_id=key_id, secret=secret)
    emulator.start(host="127.0.0.1", port=0)
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(vendor_emulator):
    vendor_emulator.reset()
    yield vendor_emulator
    vendor_emulator.reset()


@pytest.fixture
def emulated_app(db, emulator):
    """emulated_app("zego"): a vendor app in the database that calls the emulator."""

    def make(vendor, **fields):
        app_id, region, key_id, secret = EMULATED_APPS[vendor]
        app = VendorApp(
            name=f"{vendor} app",
            vendor=vendor,
            vendor_app_id=app_id,
            region=region,
            access_key_id=key_id,
            endpoint=emulator.endpoint(vendor),
            **fields,
        )
        app.secret = secret
        app.full_clean()
        app.save()
        return app

    return make


@pytest.fixture
def redis_connection():
    import django_rq

    from moderation import liveness

    connection = django_rq.get_connection("moderation")
    connection.flushdb()
    # The flush took this process's lease with it, as a Redis restart would: start afresh.
    liveness.stop()
    yield connection
    connection.flushdb()
    liveness.stop()


@pytest.fixture
def worker(redis_connection, transactional_db):
    """One real RQ worker with its scheduler, running the jobs against the test database."""
    from .support.workers import kill_worker, start_worker

    process = start_worker()
    yield process
    print(kill_worker(process))  # pytest shows it with a failing test's output


@pytest.fixture
def clock(worker):
    """The real `manage.py clock` beside the worker: expiry each second, reconcile every 15 s."""
    from .support.workers import kill_worker, start_clock

    process = start_clock()
    yield process
    print(kill_worker(process))


# --- Room callbacks and the ban check (appended) --------------------------------------------

CALLBACK_SECRETS = {
    "volcengine": "volc-callback-secret-for-tests",
    "zego": "zego-callback-secret-for-tests",
    # Tencent's callback key: letters and digits, at most 32.
    "tencent": "tencentCallbackKey4Tests",
}


@pytest.fixture
def callback_app(emulated_app, emulator):
    """callback_app("zego", base_url=live_server.url): a vendor app whose emulated vendor sends
    its signed room callbacks to our /callbacks/<id>/ (base_url=None: registered, not sent)."""
    registered = []

    def make(vendor, *, base_url=None, forbid_rules=False, **fields):
        app = emulated_app(vendor, **fields)
        app.callback_secret = CALLBACK_SECRETS[vendor]
        app.save()
        app_id, _, key_id, secret = EMULATED_APPS[vendor]
        emulator.add_app(
            vendor=vendor,
            app_id=app_id,
            access_key_id=key_id,
            secret=secret,
            callback_url=f"{base_url}/callbacks/{app.callback_id}/" if base_url else "",
            callback_secret=CALLBACK_SECRETS[vendor] if base_url else "",
            forbid_rules=forbid_rules,
        )
        registered.append(vendor)
        return app

    yield make
    # The emulator lives for the whole session: put its apps back as the other tests expect.
    for vendor in registered:
        app_id, _, key_id, secret = EMULATED_APPS[vendor]
        emulator.add_app(vendor=vendor, app_id=app_id, access_key_id=key_id, secret=secret)


@pytest.fixture
def api_token(db):
    """api_token(app) -> the plaintext of a new ban-check token for `app`."""
    from moderation.tokens import create_token

    def make(app, **fields):
        _token, plaintext = create_token(app=app, name=f"token server of {app.name}", **fields)
        return plaintext

    return make

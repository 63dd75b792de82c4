"""Every URL the site serves, for every role: generated from the URL configuration.

A page added without an entry in EXPECTED fails `test_every_url_has_an_expectation`, so no page
can be forgotten. For each page and role the GET answer must be the expected one, and a POST
without a CSRF token must be refused wherever the role could otherwise change something.
"""

import re
import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from moderation import services, tokens
from moderation.models import Ban, CannedReason, ModerationLog, VendorCall

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "moderator", "supervisor", "credential_manager"]
OK, DENIED, LOGIN, NOT_ALLOWED, UNAUTHORIZED, SIGNATURE = 200, 403, 302, 405, 401, "signature"
STAFF = {"moderator", "supervisor", "credential_manager"}


def only(*roles):
    """OK for these roles, 403 for the other staff roles, the login page for anonymous."""
    return {role: OK if role in roles else DENIED for role in STAFF} | {"anonymous": LOGIN}


MODEL_VIEWS = {
    # model: {view: roles that get the page}
    "vendorapp": {
        v: ["credential_manager"] for v in ("changelist", "add", "change", "history", "delete")
    },
    "room": {
        "changelist": ["moderator", "supervisor"],
        "add": ["moderator"],
        "change": ["moderator", "supervisor"],
        "history": ["moderator", "supervisor"],
        "delete": [],
    },
    "ban": {
        "changelist": ["moderator", "supervisor"],
        "add": [],
        "change": ["moderator", "supervisor"],
        "history": ["moderator", "supervisor"],
        "delete": [],
    },
    "vendorcall": {
        "changelist": ["supervisor"],
        "add": [],
        "change": ["supervisor"],
        "history": ["supervisor"],
        "delete": [],
    },
    "moderationlog": {
        "changelist": ["supervisor"],
        "add": [],
        "change": ["supervisor"],
        "history": ["supervisor"],
        "delete": [],
    },
    "cannedreason": {
        "changelist": ["moderator", "supervisor"],
        "add": ["supervisor"],
        "change": ["moderator", "supervisor"],
        "history": ["moderator", "supervisor"],
        "delete": [],
    },
}

EXPECTED = {
    "admin:index": only(*STAFF),
    "admin:login": {role: LOGIN for role in STAFF} | {"anonymous": OK},  # logged in: index
    "admin:logout": {role: NOT_ALLOWED for role in STAFF} | {"anonymous": LOGIN},  # POST only
    "admin:password_change": only(*STAFF),
    "admin:password_change_done": only(*STAFF),
    "admin:autocomplete": only(),  # no autocomplete field is offered to these roles
    "admin:jsi18n": only(*STAFF),
    "admin:view_on_site": only(*STAFF)
    | {"moderator": 404, "supervisor": 404, "credential_manager": 404},
    "admin:app_list": only(*STAFF),
    "set_language": {role: 302 for role in ROLES},  # GET goes back where it came from
    "room_callback": {role: NOT_ALLOWED for role in ROLES},
    "ban_check": {role: UNAUTHORIZED for role in ROLES},
    # Custom pages of the ban admin.
    "admin:moderation_ban_moderate": only("moderator"),
    "admin:moderation_ban_batch": only("moderator", "supervisor"),
    "admin:moderation_ban_batch_status": only("moderator", "supervisor"),
    "admin:moderation_ban_batch_lift": only("moderator"),
    "admin:moderation_ban_timeline": only("moderator", "supervisor"),
    "admin:moderation_ban_export": only("moderator", "supervisor"),
    "admin:moderation_ban_lift": only("moderator"),
    "admin:moderation_ban_duration": only("moderator"),
    "admin:moderation_ban_retry": only() | {"moderator": DENIED},  # POST only, see below
    # Custom pages of the room admin: the live member list and the room picker.
    "admin:moderation_room_members": only("moderator", "supervisor"),
    "admin:moderation_room_search": only("moderator", "supervisor"),
    "admin:moderation_vendorapp_test": only() | {"credential_manager": DENIED},  # POST only
    "admin:moderation_vendorapp_token_create": only(),  # POST only
    "admin:moderation_vendorapp_token_revoke": only(),  # POST only
}
for model, views in MODEL_VIEWS.items():
    for view, roles in views.items():
        EXPECTED[f"admin:moderation_{model}_{view}"] = only(*roles)
# Django's own user and group pages, django-axes' records and the queue dashboard: none of
# these roles (superusers only).
SUPERUSER_ONLY = re.compile(r"^(admin:(auth|axes)_|django_rq:)")


def url_names():
    """(name, pattern) for every named URL the site serves."""
    found = []

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(filter(None, [namespace, pattern.namespace]))
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                found.append((":".join(filter(None, [namespace, pattern.name])), pattern))

    walk(get_resolver().url_patterns, "")
    return sorted(set(found), key=lambda item: item[0])


@pytest.fixture
def world(emulated_app, moderator):
    """One of everything, so every URL has an object to point at."""
    app = emulated_app("zego")
    room = services.room_for(app=app, room_id="live-1")
    (ban,) = services.ban(
        app=app,
        scope="user_in_room",
        room=room,
        user_ids=["u1"],
        seconds=60,
        reason="spam",
        actor=moderator,
    )
    call = VendorCall.objects.create(app=app, action="KickoutUser", ok=True, latency_ms=1)
    return {
        "vendorapp": app.pk,
        "room": room.pk,
        "ban": ban.pk,
        "vendorcall": call.pk,
        "moderationlog": ModerationLog.objects.filter(ban=ban).first().pk,
        "cannedreason": CannedReason.objects.first().pk,
        "batch": str(ban.batch),
        "callback_id": app.callback_id,
        "moderator": moderator,
        "token": tokens.create_token(app=app, name="token server")[0].pk,
    }


def concrete_url(name, world):
    if name.startswith("admin:moderation_"):
        model = name.removeprefix("admin:moderation_").split("_")[0]
        for kwargs in (
            {},
            {"object_id": world.get(model)},
            {"ban_id": world["ban"]},
            {"room_id": world["room"]},
            {"app_id": world["vendorapp"]},
            {"batch_id": world["batch"]},
        ):
            if name.endswith("_token_revoke"):
                kwargs = {"app_id": world["vendorapp"], "token_id": world["token"]}
            try:
                return reverse(name, kwargs=kwargs)
            except Exception:  # noqa: BLE001, S112 - try the next shape of arguments
                continue
    special = {
        "admin:view_on_site": {
            "content_type_id": ContentType.objects.get_for_model(Ban).pk,
            "object_id": world["ban"],
        },
        "admin:app_list": {"app_label": "moderation"},
        "room_callback": {"callback_id": world["callback_id"]},
    }
    if name in special:
        return reverse(name, kwargs=special[name])
    try:
        return reverse(name)
    except Exception:  # noqa: BLE001 - URLs with arguments we do not build (superuser pages)
        return None


def client_for(role, request):
    client = Client()
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    return client


def test_every_url_has_an_expectation():
    missing = [
        name for name, _ in url_names() if name not in EXPECTED and not SUPERUSER_ONLY.match(name)
    ]
    assert missing == [], f"add these pages to EXPECTED: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_pages_it_may_use(role, world, request):
    client = client_for(role, request)
    wrong, checked = [], set()
    for name, _ in url_names():
        url = concrete_url(name, world)
        if url is None:
            continue
        checked.add(name)
        if SUPERUSER_ONLY.match(name):
            expected = LOGIN if name.startswith("django_rq:") or role == "anonymous" else DENIED
        else:
            expected = EXPECTED[name][role]
        status = client.get(url).status_code
        if status != expected:
            wrong.append((name, url, status, expected))
    assert wrong == []
    # Every page of ours was requested (only superuser pages with odd arguments are skipped).
    assert set(EXPECTED) <= checked


STATE_CHANGING = [
    ("admin:moderation_ban_moderate", "moderator"),
    ("admin:moderation_ban_lift", "moderator"),
    ("admin:moderation_ban_duration", "moderator"),
    ("admin:moderation_ban_retry", "moderator"),
    ("admin:moderation_ban_changelist", "moderator"),  # bulk lift / change actions
    ("admin:moderation_room_add", "moderator"),
    ("admin:moderation_cannedreason_add", "supervisor"),
    ("admin:moderation_cannedreason_change", "supervisor"),
    ("admin:moderation_vendorapp_add", "credential_manager"),
    ("admin:moderation_vendorapp_change", "credential_manager"),
    ("admin:moderation_vendorapp_delete", "credential_manager"),
    ("admin:moderation_vendorapp_test", "credential_manager"),
    ("admin:moderation_vendorapp_token_create", "credential_manager"),
    ("admin:moderation_vendorapp_token_revoke", "credential_manager"),
    ("admin:password_change", "moderator"),
    ("admin:logout", "moderator"),
]


@pytest.mark.parametrize(("name", "role"), STATE_CHANGING)
def test_a_post_without_a_csrf_token_is_refused(name, role, world, request):
    client = Client(enforce_csrf_checks=True)
    client.force_login(request.getfixturevalue(role))
    response = client.post(concrete_url(name, world), {"reason": "x", "apply": "1"})
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_every_state_changing_page_is_covered_by_the_csrf_test():
    posting = {name for name, _ in STATE_CHANGING}
    editable = {
        f"admin:moderation_{model}_{view}"
        for model, views in MODEL_VIEWS.items()
        for view, roles in views.items()
        if roles and view in ("add", "delete")
    }
    assert editable <= posting | {"admin:moderation_room_add"}


def test_a_superuser_reaches_the_queue_dashboard_and_staff_do_not(client, superuser, moderator):
    client.force_login(superuser)
    assert client.get(reverse("django_rq:home")).status_code == 200
    client.force_login(moderator)
    assert client.get(reverse("django_rq:home")).status_code == 302


def test_unknown_batches_and_bans_are_404_not_500(client, moderator, world):
    client.force_login(moderator)
    assert client.get(reverse("admin:moderation_ban_batch", args=[uuid.uuid4()])).status_code == 404
    assert client.get(reverse("admin:moderation_ban_batch", args=["not-a-uuid"])).status_code == 404
    assert client.get(reverse("admin:moderation_ban_lift", args=[999999])).status_code == 404


LINK = re.compile(r'<a [^>]*href="(/[^"#]*)"')


@pytest.mark.parametrize("role", ["moderator", "supervisor", "credential_manager"])
def test_no_page_shows_a_role_a_link_it_cannot_follow(role, world, request):
    """Every link on every page a role may open leads somewhere that role may go."""
    client = client_for(role, request)
    pages = [
        concrete_url(name, world)
        for name, _ in url_names()
        if name in EXPECTED and EXPECTED[name][role] == OK and concrete_url(name, world)
    ]
    followed, forbidden = set(), []
    for page in pages:
        response = client.get(page)
        if response.streaming or "html" not in response.get("Content-Type", ""):
            continue  # the CSV export, JSON
        html = response.content.decode()
        for link in set(LINK.findall(html)) - followed:
            followed.add(link)
            if "/logout/" in link:
                continue
            if client.get(link.replace("&amp;", "&")).status_code == DENIED:
                forbidden.append((page, link))
    assert followed, "no page was read"
    assert forbidden == []

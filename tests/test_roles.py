"""What each role can and cannot do, per model, checked through the admin's own URLs."""

import pytest
from django.urls import reverse

# model -> role -> the admin pages that role may open (changelist "list", "add" form).
EXPECTED = {
    "vendorapp": {"moderator": set(), "supervisor": set(), "credential_manager": {"list", "add"}},
    "room": {"moderator": {"list", "add"}, "supervisor": {"list"}, "credential_manager": set()},
    "ban": {"moderator": {"list"}, "supervisor": {"list"}, "credential_manager": set()},
    "vendorcall": {"moderator": set(), "supervisor": {"list"}, "credential_manager": set()},
    "moderationlog": {"moderator": set(), "supervisor": {"list"}, "credential_manager": set()},
    "cannedreason": {
        "moderator": {"list"},
        "supervisor": {"list", "add"},
        "credential_manager": set(),
    },
}


def status(client, model, page):
    return client.get(
        reverse(f"admin:moderation_{model}_{'changelist' if page == 'list' else page}")
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["moderator", "supervisor", "credential_manager"])
@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_each_role_opens_exactly_the_admin_pages_it_needs(client, request, role, model):
    client.force_login(request.getfixturevalue(role))
    for page in ("list", "add"):
        expected = 200 if page in EXPECTED[model][role] else 403
        assert status(client, model, page).status_code == expected, (role, model, page)


@pytest.mark.django_db
def test_a_moderator_may_create_and_lift_bans_but_never_touch_vendor_apps(moderator):
    assert moderator.has_perms(["moderation.add_ban", "moderation.lift_ban", "moderation.view_ban"])
    for codename in ("view_vendorapp", "change_vendorapp", "add_vendorapp", "delete_vendorapp"):
        assert not moderator.has_perm(f"moderation.{codename}")
    assert not moderator.has_perm("moderation.delete_ban")


@pytest.mark.django_db
def test_a_supervisor_reads_everything_about_bans_and_changes_nothing_but_canned_reasons(
    supervisor,
):
    for model in ("ban", "room", "vendorcall", "moderationlog"):
        assert supervisor.has_perm(f"moderation.view_{model}")
        for action in ("add", "change", "delete"):
            assert not supervisor.has_perm(f"moderation.{action}_{model}")
    assert not supervisor.has_perm("moderation.lift_ban")
    assert supervisor.has_perms(["moderation.add_cannedreason", "moderation.change_cannedreason"])
    assert not supervisor.has_perm("moderation.delete_cannedreason")
    assert not supervisor.has_perm("moderation.view_vendorapp")


@pytest.mark.django_db
def test_a_credential_manager_manages_vendor_apps_and_no_bans(credential_manager):
    for action in ("add", "change", "delete", "view"):
        assert credential_manager.has_perm(f"moderation.{action}_vendorapp")
    assert not credential_manager.has_perm("moderation.view_ban")
    assert not credential_manager.has_perm("moderation.add_ban")


@pytest.mark.django_db
def test_bans_and_records_are_changed_by_nobody_through_the_admin(client, superuser, room):
    from moderation.models import Ban

    ban = Ban.objects.create(
        app=room.app, room=room, user_id="u1", kind="ban", scope="user_in_room", reason="spam"
    )
    client.force_login(superuser)
    page = client.get(reverse("admin:moderation_ban_change", args=[ban.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(reverse("admin:moderation_ban_delete", args=[ban.pk])).status_code == 403

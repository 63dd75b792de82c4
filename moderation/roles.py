"""The three roles and exactly what each may do; the data migration and the tests read this."""

MODERATORS = "Moderators"
SUPERVISORS = "Supervisors"
CREDENTIAL_MANAGERS = "Credential managers"

ROLE_PERMISSIONS = {
    # Act on bans; see rooms to act in. Vendor apps (and so credentials) stay out of reach.
    MODERATORS: ["add_ban", "view_ban", "lift_ban", "add_room", "view_room", "view_cannedreason"],
    # Read everything about bans and change none of it; keep the list of canned reasons.
    SUPERVISORS: [
        "view_ban",
        "view_room",
        "view_vendorcall",
        "view_moderationlog",
        "view_cannedreason",
        "add_cannedreason",
        "change_cannedreason",
    ],
    CREDENTIAL_MANAGERS: [
        "add_vendorapp",
        "change_vendorapp",
        "delete_vendorapp",
        "view_vendorapp",
    ],
}


def sync_roles(group_model, permission_model):
    """Gives each role's group exactly its permissions.

    The models are passed in because the data migration uses its historical ones.
    """
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set(
            permission_model.objects.filter(
                content_type__app_label="moderation", codename__in=codenames
            )
        )

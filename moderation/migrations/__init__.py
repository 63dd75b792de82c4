from django.contrib.auth.management import create_permissions


def sync_role_permissions(apps, schema_editor):
    """Gives the role groups exactly the permissions in moderation.roles, as they are now."""
    from moderation.roles import sync_roles

    # Permissions are normally made after all migrations; the groups need them now.
    app_config = apps.get_app_config("moderation")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))

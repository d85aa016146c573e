"""The "Enrollment reviewers" group: program staff in it work the enrollment queue on the review site
(see the queue, read every application with its checks, documents and history, decide, and keep the
screening list) without being superusers. Staff sign in with two-factor authentication
(accounts/middleware.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Enrollment reviewers"

#: (model, actions) in the enrollment app; ``review`` of the application is the custom permission of
#: ``EnrollmentApplication.Meta.permissions`` (deciding).
GROUP_PERMISSIONS = {
    "enrollmentapplication": ("view", "review"),
    "enrollmentcheck": ("view",),
    "applicationdocument": ("view",),
    "contactconfirmation": ("view",),
    "membershipaccount": ("view",),
    "partnerprofile": ("view",),
    "blockedemaildomain": ("view",),
    "screeningentry": ("view", "add", "delete"),
}


def codenames() -> list[str]:
    return [f"{action}_{model}" for model, actions in GROUP_PERMISSIONS.items() for action in actions]


def reviewer_group_create(apps, schema_editor):
    # Permissions are created after migrate (post_migrate): on a fresh database they do not exist yet.
    app_config = apps.get_app_config("enrollment")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = codenames()
    permissions = list(Permission.objects.filter(content_type__app_label="enrollment", codename__in=wanted))
    missing = set(wanted) - {permission.codename for permission in permissions}
    if missing:
        raise RuntimeError(f"Enrollment permissions missing: {sorted(missing)}")
    group, _created = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.add(*permissions)


def reviewer_group_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0003_applications"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(reviewer_group_create, reviewer_group_delete)]

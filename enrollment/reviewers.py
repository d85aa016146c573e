"""The enrollment reviewers' group: program staff in it work the enrollment queue on the review site (see
the queue, read every application with its checks, documents and history, decide, and keep the screening
list) without being superusers. Superusers put people in it and take them out
(``accounts.services.review.user_reviewer_grant`` / ``user_reviewer_revoke``).

Migration 0004 first made the group (from a frozen copy of this list). From then on this module is the
source of truth: after every ``migrate`` and ``flush`` (which empties the table a data migration filled,
and never runs that migration again), ``reviewer_group_ensure`` makes the group exist with exactly these
permissions.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder

from accounts.services.review import ENROLLMENT_REVIEWERS_GROUP

#: (model, actions) in the enrollment app; ``review`` of the application is the custom permission of
#: ``EnrollmentApplication.Meta.permissions`` (deciding).
REVIEWER_PERMISSIONS = {
    "enrollmentapplication": ("view", "review"),
    "enrollmentcheck": ("view",),
    "applicationdocument": ("view",),
    "contactconfirmation": ("view",),
    "membershipaccount": ("view",),
    "partnerprofile": ("view",),
    "blockedemaildomain": ("view",),
    "screeningentry": ("view", "add", "delete"),
}

#: the migration that made the group: before it (a database migrated back), there is no group to keep
GROUP_MIGRATION = ("enrollment", "0004_reviewer_group")


def reviewer_permission_codenames() -> list[str]:
    return [f"{action}_{model}" for model, actions in REVIEWER_PERMISSIONS.items() for action in actions]


def reviewer_group_ensure(*, apps=global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make the reviewers' group exist with exactly its permissions; write nothing when it already does."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = reviewer_permission_codenames()

    def permissions() -> list:
        return list(
            Permission.objects.using(using).filter(content_type__app_label="enrollment", codename__in=wanted)
        )

    found = permissions()
    if len(found) < len(wanted):  # auth's own post_migrate handler had not run yet for this app
        create_permissions(global_apps.get_app_config("enrollment"), verbosity=0, using=using, apps=apps)
        found = permissions()
    missing = set(wanted) - {permission.codename for permission in found}
    if missing:
        raise RuntimeError(f"Enrollment permissions missing: {sorted(missing)}")
    group, _created = Group.objects.using(using).get_or_create(name=ENROLLMENT_REVIEWERS_GROUP)
    if set(group.permissions.values_list("pk", flat=True)) != {permission.pk for permission in found}:
        group.permissions.set(found)


def reviewer_group_after_migrate(
    sender, *, using: str = DEFAULT_DB_ALIAS, apps=global_apps, **kwargs
) -> None:
    """post_migrate of the enrollment app (connected in ``EnrollmentConfig.ready``)."""
    try:
        apps.get_app_config("enrollment")
    except LookupError:  # the enrollment app is not in this migration state
        return
    if GROUP_MIGRATION not in MigrationRecorder(connections[using]).applied_migrations():
        return
    reviewer_group_ensure(apps=apps, using=using)

"""Putting program staff in the enrollment reviewers' group from the review site, and taking them out:
only a superuser may, each change has its audit row, and a reviewer works the enrollment queue without
being a superuser. The group and its permissions come back after every migrate and flush."""

import importlib

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from accounts.services.review import ENROLLMENT_REVIEWERS_GROUP, user_reviewer_grant, user_reviewer_revoke
from enrollment.models import ApplicationStatus
from enrollment.reviewers import reviewer_group_after_migrate, reviewer_permission_codenames
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from tests.enrollment.builders import application_in_review
from tests.factories.accounts import TOTP_SECRET, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

USERS_URL = reverse("admin:accounts_user_changelist")
QUEUE_URL = reverse("admin:enrollment_enrollmentapplication_changelist")
REVIEWER_PERMISSIONS = sorted(
    [
        "enrollment.view_enrollmentapplication",
        "enrollment.review_enrollmentapplication",
        "enrollment.view_enrollmentcheck",
        "enrollment.view_applicationdocument",
        "enrollment.view_contactconfirmation",
        "enrollment.view_membershipaccount",
        "enrollment.view_partnerprofile",
        "enrollment.view_blockedemaildomain",
        "enrollment.view_screeningentry",
        "enrollment.add_screeningentry",
        "enrollment.delete_screeningentry",
    ]
)


@pytest.fixture
def superuser():
    return StaffFactory(is_superuser=True, email="boss@program.example")


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


def group() -> Group:
    return Group.objects.get(name=ENROLLMENT_REVIEWERS_GROUP)


def group_permissions() -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in group().permissions.all())


def run_action(client, action: str, *people):
    return client.post(
        USERS_URL, {"action": action, "_selected_action": [str(person.pk) for person in people]}, follow=True
    )


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def access(person) -> tuple:
    """What decides a person's access to the review site."""
    person = User.objects.get(pk=person.pk)
    return (person.is_active, person.is_staff, person.is_superuser, list(person.groups.values_list("name")))


def reviewer_events():
    return AuditEvent.objects.filter(action__in=["user.reviewer_granted", "user.reviewer_revoked"])


# --- Granting -------------------------------------------------------------------------------------------


def test_a_person_added_to_the_reviewers_works_the_queue_but_not_the_rest_of_the_site(
    superuser_client, superuser
):
    person = UserFactory(email="rei@program.example")
    application = application_in_review(details={"legal_name": "Tailspin KK"})

    response = run_action(superuser_client, "add_to_enrollment_reviewers", person)

    assert page_messages(response) == ["1 person is now an enrollment reviewer."]
    assert access(person) == (True, True, False, [(ENROLLMENT_REVIEWERS_GROUP,)])
    event = reviewer_events().get()
    assert (event.action, event.actor_id, event.target_id, event.organization_id) == (
        "user.reviewer_granted",
        superuser.pk,
        str(person.pk),
        None,
    )
    assert (event.before, event.after) == (
        {"is_staff": False, "enrollment_reviewer": False},
        {"is_staff": True, "enrollment_reviewer": True},
    )

    browser = Client()
    browser.force_login(person)
    # Staff first set up two-factor authentication.
    first = browser.get(QUEUE_URL)
    assert first.status_code == 302
    assert first["Location"].startswith(reverse("mfa_activate_totp"))
    TOTP.activate(person, TOTP_SECRET)

    queue = browser.get(QUEUE_URL)
    assert queue.status_code == 200
    assert [str(row) for row in queue.context["cl"].result_list] == ["Tailspin KK"]
    approve_url = reverse("admin:enrollment_enrollmentapplication_approve", args=[application.pk])
    assert browser.post(approve_url).status_code == 302
    application.refresh_from_db()
    assert (application.status, application.decided_by) == (ApplicationStatus.APPROVED, person)
    # Not a superuser: people (and their access) are not theirs to see.
    assert browser.get(USERS_URL).status_code == 403
    assert browser.get(reverse("admin:accounts_user_change", args=[superuser.pk])).status_code == 403


def test_a_superuser_becomes_a_reviewer_too_and_stays_a_superuser(superuser):
    other = StaffFactory(is_superuser=True)

    user_reviewer_grant(user=other, by=superuser)

    assert access(other) == (True, True, True, [(ENROLLMENT_REVIEWERS_GROUP,)])
    assert reviewer_events().get().before == {"is_staff": True, "enrollment_reviewer": False}


def test_staff_who_are_not_superusers_cannot_add_or_remove_reviewers(client):
    # Staff with the permission to see people (which nobody is given today) get only the account actions.
    staff = StaffFactory(email="staff@program.example")
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))
    reviewer = StaffFactory(email="rei@program.example")
    reviewer.groups.add(group())
    person = UserFactory(email="ann@example.com")
    client.force_login(staff)
    before = (access(person), access(reviewer), access(staff), AuditEvent.objects.count())

    page = client.get(USERS_URL)
    offered = [choice[0] for choice in page.context["action_form"].fields["action"].choices]
    assert offered == ["", "deactivate_account", "reactivate_account"]
    assert page_messages(run_action(client, "add_to_enrollment_reviewers", person)) == ["No action selected."]
    assert page_messages(run_action(client, "remove_from_enrollment_reviewers", reviewer)) == [
        "No action selected."
    ]
    for service, target, by in (
        (user_reviewer_grant, person, staff),
        (user_reviewer_revoke, reviewer, staff),
        (user_reviewer_grant, person, reviewer),  # a reviewer may not add others
        (user_reviewer_grant, staff, staff),
    ):
        with pytest.raises(DomainError) as refused:
            service(user=target, by=by)
        assert refused.value.code == "actor_not_permitted"
        assert refused.value.message == "Only a superuser of the review site may do this."

    assert (access(person), access(reviewer), access(staff), AuditEvent.objects.count()) == before


def test_a_deactivated_account_is_refused_and_nothing_changes(superuser_client):
    person = UserFactory(email="off@example.com", is_active=False)

    response = run_action(superuser_client, "add_to_enrollment_reviewers", person)

    assert page_messages(response) == ["off@example.com is deactivated: reactivate the account first."]
    assert access(person) == (False, False, False, [])
    assert AuditEvent.objects.count() == 0


def test_adding_a_reviewer_again_is_refused_and_says_so(superuser_client, superuser):
    person = UserFactory(email="rei@example.com")
    user_reviewer_grant(user=person, by=superuser)
    before = (access(person), AuditEvent.objects.count())

    response = run_action(superuser_client, "add_to_enrollment_reviewers", person)

    assert page_messages(response) == [
        "rei@example.com is already an enrollment reviewer: nothing was changed."
    ]
    assert (access(person), AuditEvent.objects.count()) == before


# --- Revoking -------------------------------------------------------------------------------------------


def test_removing_a_reviewer_takes_the_group_and_staff_access_away(superuser_client, superuser):
    person = UserFactory(email="rei@example.com")
    user_reviewer_grant(user=person, by=superuser)
    TOTP.activate(person, TOTP_SECRET)
    browser = Client()
    browser.force_login(person)
    assert browser.get(QUEUE_URL).status_code == 200

    response = run_action(superuser_client, "remove_from_enrollment_reviewers", person)

    assert page_messages(response) == ["1 person is no longer an enrollment reviewer."]
    assert access(person) == (True, False, False, [])
    event = reviewer_events().get(action="user.reviewer_revoked")
    assert (event.actor_id, event.target_id) == (superuser.pk, str(person.pk))
    assert (event.before, event.after) == (
        {"is_staff": True, "enrollment_reviewer": True},
        {"is_staff": False, "enrollment_reviewer": False},
    )
    assert reviewer_events().count() == 2
    queue = browser.get(QUEUE_URL)  # no longer staff: the review site sends them to sign in
    assert queue.status_code == 302
    assert reverse("admin:login") in queue["Location"]


def test_a_superuser_removed_from_the_reviewers_stays_program_staff(superuser):
    other = StaffFactory(is_superuser=True)
    other.groups.add(group())

    user_reviewer_revoke(user=other, by=superuser)

    assert access(other) == (True, True, True, [])
    assert reviewer_events().get().after == {"is_staff": True, "enrollment_reviewer": False}


def test_removing_refuses_oneself_and_people_who_are_not_reviewers(superuser_client, superuser):
    superuser.groups.add(group())
    person = UserFactory(email="ann@example.com")
    staff = StaffFactory(email="staff@program.example")  # staff, outside the group
    before = (access(superuser), access(person), access(staff), AuditEvent.objects.count())

    response = run_action(superuser_client, "remove_from_enrollment_reviewers", person, superuser, staff)

    assert page_messages(response) == [  # in the list's order, by email address
        "ann@example.com is not an enrollment reviewer: nothing was changed.",
        "You cannot remove yourself from the enrollment reviewers. Ask another superuser.",
        "staff@program.example is not an enrollment reviewer: nothing was changed.",
    ]
    assert (access(superuser), access(person), access(staff), AuditEvent.objects.count()) == before


def test_both_actions_have_their_labels_in_the_activity_log():
    from portal.audit.catalogue import action_label

    assert action_label("user.reviewer_granted") == "Added to enrollment reviewers"
    assert action_label("user.reviewer_revoked") == "Removed from enrollment reviewers"


# --- The group itself -----------------------------------------------------------------------------------


def test_the_group_holds_exactly_the_reviewers_permissions_under_the_migrations_name():
    assert group_permissions() == REVIEWER_PERMISSIONS
    assert sorted(f"enrollment.{codename}" for codename in reviewer_permission_codenames()) == (
        REVIEWER_PERMISSIONS
    )
    migration = importlib.import_module("enrollment.migrations.0004_reviewer_group")
    assert migration.GROUP_NAME == ENROLLMENT_REVIEWERS_GROUP


def test_the_group_comes_back_after_a_flush_with_its_permissions():
    Group.objects.filter(name=ENROLLMENT_REVIEWERS_GROUP).delete()  # what flush does to it

    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)  # what flush does next

    assert group_permissions() == REVIEWER_PERMISSIONS


def test_the_handler_restores_the_permissions_and_otherwise_writes_nothing():
    group().permissions.remove(Permission.objects.get(codename="review_enrollmentapplication"))
    group().permissions.add(Permission.objects.get(codename="change_enrollmentapplication"))

    reviewer_group_after_migrate(sender=None, using=connection.alias)

    assert group_permissions() == REVIEWER_PERMISSIONS
    with CaptureQueriesContext(connection) as queries:
        reviewer_group_after_migrate(sender=None, using=connection.alias)
    assert {query["sql"].split()[0] for query in queries.captured_queries} == {"SELECT"}


def test_a_database_migrated_back_before_the_group_gets_no_group():
    Group.objects.filter(name=ENROLLMENT_REVIEWERS_GROUP).delete()
    MigrationRecorder(connection).migration_qs.filter(app="enrollment", name="0004_reviewer_group").delete()

    reviewer_group_after_migrate(sender=None, using=connection.alias)

    assert not Group.objects.filter(name=ENROLLMENT_REVIEWERS_GROUP).exists()

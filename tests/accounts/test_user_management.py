"""Account settings > User management: roles, deactivation, removal, and the last Global admin."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services
from accounts.models import Membership, MembershipRole
from accounts.roles import Permission, Role
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from tests.factories.accounts import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def organization():
    return OrganizationFactory()


@pytest.fixture
def admin(organization):
    return MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])


def roles_of(membership) -> list[str]:
    return list(
        MembershipRole.objects.filter(membership=membership).order_by("role").values_list("role", flat=True)
    )


def test_roles_map_to_permissions_in_one_table(organization):
    helpdesk = MembershipFactory(organization=organization, roles=[Role.HELPDESK_AGENT])
    assert helpdesk.can(Permission.CUSTOMERS_VIEW)
    assert not helpdesk.can(Permission.USERS_VIEW)
    user_admin = MembershipFactory(organization=organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    assert user_admin.can(Permission.USERS_MANAGE)
    assert not user_admin.can(Permission.GLOBAL_ADMIN_ASSIGN)
    deactivated = MembershipFactory(
        organization=organization, roles=[Role.GLOBAL_ADMIN], status=Membership.Status.DEACTIVATED
    )
    assert deactivated.permissions == frozenset()


def test_change_roles_writes_an_audit_event(organization, admin):
    member = MembershipFactory(organization=organization, roles=[Role.SALES_AGENT])
    services.membership_roles_change(
        membership=member, roles=[Role.HELPDESK_AGENT, Role.BILLING_ADMIN], by=admin
    )
    assert roles_of(member) == [Role.BILLING_ADMIN, Role.HELPDESK_AGENT]
    event = AuditEvent.objects.get(action="membership.roles_changed")
    assert event.organization_id == organization.pk
    assert event.actor == admin.user
    assert event.before == {"roles": [Role.SALES_AGENT]}
    assert event.after == {"roles": [Role.BILLING_ADMIN, Role.HELPDESK_AGENT]}


def test_only_a_global_admin_grants_global_admin(organization, admin):
    user_admin = MembershipFactory(organization=organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    member = MembershipFactory(organization=organization, roles=[Role.SALES_AGENT])
    with pytest.raises(DomainError) as error:
        services.membership_roles_change(membership=member, roles=[Role.GLOBAL_ADMIN], by=user_admin)
    assert error.value.code == "global_admin_required"
    assert roles_of(member) == [Role.SALES_AGENT]
    services.membership_roles_change(membership=member, roles=[Role.GLOBAL_ADMIN], by=admin)
    assert roles_of(member) == [Role.GLOBAL_ADMIN]


@pytest.mark.parametrize("action", ["demote", "deactivate", "remove"])
def test_nobody_changes_their_own_membership(organization, admin, action):
    """Not even a Global admin with another Global admin beside them: a colleague does it."""
    MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    audit_before = AuditEvent.objects.count()
    with pytest.raises(DomainError) as error:
        if action == "demote":
            services.membership_roles_change(membership=admin, roles=[Role.SALES_AGENT], by=admin)
        elif action == "deactivate":
            services.membership_deactivate(membership=admin, by=admin)
        else:
            services.membership_remove(membership=admin, by=admin)
    assert error.value.code == "own_membership"
    admin.refresh_from_db()
    assert admin.status == Membership.Status.ACTIVE
    assert roles_of(admin) == [Role.GLOBAL_ADMIN]
    assert AuditEvent.objects.count() == audit_before


def test_the_last_global_admin_cannot_leave(organization, admin):
    audit_before = AuditEvent.objects.count()
    with pytest.raises(DomainError) as error:
        services.membership_leave(membership=admin)
    assert error.value.code == "last_global_admin"
    admin.refresh_from_db()
    assert admin.status == Membership.Status.ACTIVE
    assert roles_of(admin) == [Role.GLOBAL_ADMIN]
    assert AuditEvent.objects.count() == audit_before


def test_a_member_leaves_and_the_log_says_so(organization, admin):
    member = MembershipFactory(organization=organization, roles=[Role.SALES_AGENT])
    services.membership_leave(membership=member)
    assert not Membership.objects.filter(pk=member.pk).exists()
    event = AuditEvent.objects.get(action="membership.left")
    assert (event.actor, event.organization_id) == (member.user, organization.pk)
    assert event.before == {"user": member.user.email, "status": "active", "roles": [Role.SALES_AGENT]}


def test_the_guard_still_holds_when_the_other_global_admin_is_deactivated(organization, admin):
    """Defence in depth below the self rule: a deactivated Global admin does not count."""
    other = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    Membership.objects.filter(pk=admin.pk).update(status=Membership.Status.DEACTIVATED)
    with pytest.raises(DomainError) as error:
        services.membership_leave(membership=other)
    assert error.value.code == "last_global_admin"
    assert Membership.objects.filter(pk=other.pk).exists()


def test_a_deactivated_global_admin_does_not_count(organization, admin):
    MembershipFactory(
        organization=organization, roles=[Role.GLOBAL_ADMIN], status=Membership.Status.DEACTIVATED
    )
    with pytest.raises(DomainError):
        services.membership_remove(membership=admin, by=admin)


def test_with_two_global_admins_one_may_go(organization, admin):
    other = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    services.membership_remove(membership=other, by=admin)
    assert not Membership.objects.filter(pk=other.pk).exists()
    event = AuditEvent.objects.get(action="membership.removed")
    assert event.before["roles"] == [Role.GLOBAL_ADMIN]
    assert event.before["user"] == other.user.email


def test_deactivate_then_reactivate(organization, admin):
    member = MembershipFactory(organization=organization, roles=[Role.SALES_AGENT])
    services.membership_deactivate(membership=member, by=admin)
    member.refresh_from_db()
    assert member.status == Membership.Status.DEACTIVATED
    with pytest.raises(DomainError):
        services.membership_deactivate(membership=member, by=admin)
    services.membership_reactivate(membership=member, by=admin)
    member.refresh_from_db()
    assert member.status == Membership.Status.ACTIVE
    assert list(
        AuditEvent.objects.filter(target_id=str(member.public_id))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["membership.deactivated", "membership.reactivated"]


def test_own_roles_error_is_shown_at_the_field(client, organization, admin):
    MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    client.force_login(admin.user)
    url = reverse(
        "accounts:member_roles",
        kwargs={"organization_public_id": organization.public_id, "membership_id": admin.public_id},
    )
    response = client.post(url, {"roles": [Role.SALES_AGENT]})
    assert response.status_code == 400
    assert response.context["form"].errors["roles"] == [
        "You cannot change your own roles. Ask another admin of the organization."
    ]
    assert roles_of(admin) == [Role.GLOBAL_ADMIN]


def test_empty_role_choice_is_refused_in_japanese(client, organization, admin):
    member = MembershipFactory(organization=organization, roles=[Role.SALES_AGENT])
    admin.user.preferred_language = "ja"
    admin.user.save()
    client.force_login(admin.user)
    url = reverse(
        "accounts:member_roles",
        kwargs={"organization_public_id": organization.public_id, "membership_id": member.public_id},
    )
    response = client.post(url, {"roles": []})
    assert response.status_code == 400
    assert response.context["form"].errors["roles"] == ["ロールを 1 つ以上選択してください。"]
    assert roles_of(member) == [Role.SALES_AGENT]


def test_users_page_query_count_does_not_grow(client, organization, admin):
    client.force_login(admin.user)
    url = reverse("accounts:users", kwargs={"organization_public_id": organization.public_id})
    MembershipFactory.create_batch(3, organization=organization, roles=[Role.SALES_AGENT])
    client.get(url)  # the first visit creates the session rows
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    MembershipFactory.create_batch(
        20, organization=organization, roles=[Role.SALES_AGENT, Role.BILLING_ADMIN]
    )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert len(many) == len(few)
    assert response.content.decode().count("Billing admin") >= 20


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "Global admin, Admin agent"), ("ja", "全体管理者, 管理エージェント")]
)
def test_a_members_roles_read_in_the_catalogues_order_on_the_page(
    client, organization, admin, language, expected
):
    # Created in the other order, and "admin_agent" sorts before "global_admin" by code.
    both = MembershipFactory(organization=organization, roles=[Role.ADMIN_AGENT, Role.GLOBAL_ADMIN])
    admin.user.preferred_language = language
    admin.user.save(update_fields=["preferred_language"])
    client.force_login(admin.user)

    response = client.get(
        reverse("accounts:users", kwargs={"organization_public_id": organization.public_id}),
        HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 200
    row = next(row for row in response.context["rows"] if row.email == both.user.email)
    assert row.roles_text == expected
    assert expected in response.content.decode()

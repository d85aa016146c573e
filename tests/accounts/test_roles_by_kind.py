"""Roles are offered by kind of organization: a customer organization has no agents and no Account
admin, in the forms and in the services behind them."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Membership, MembershipInvitation, Organization
from accounts.roles import Role
from portal.errors import DomainError
from tests.factories.accounts import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

# Written out here, independently of accounts.roles.ROLES_BY_KIND.
CUSTOMER_ROLES = {"global_admin", "user_management_admin", "billing_admin"}
AGENT_ROLES = {"admin_agent", "sales_agent", "helpdesk_agent", "account_admin"}


def admin_of(kind: str) -> Membership:
    return MembershipFactory(organization=OrganizationFactory(kind=kind), roles=[Role.GLOBAL_ADMIN])


def offered_roles(body: str) -> set[str]:
    return {role for role in Role.values if f'value="{role}"' in body}


@pytest.mark.parametrize("kind", ["provider", "reseller"])
def test_partners_are_offered_every_role(client, kind):
    admin = admin_of(kind)
    client.force_login(admin.user)
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    assert offered_roles(client.get(url).content.decode()) == CUSTOMER_ROLES | AGENT_ROLES


def test_a_customer_is_offered_no_agent_roles(client):
    admin = admin_of(Organization.Kind.CUSTOMER)
    client.force_login(admin.user)
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    assert offered_roles(client.get(url).content.decode()) == CUSTOMER_ROLES


def test_an_agent_role_posted_to_a_customer_is_refused_at_the_field_and_nothing_is_sent(client):
    admin = admin_of(Organization.Kind.CUSTOMER)
    client.force_login(admin.user)
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    response = client.post(url, {"email": "ann@example.com", "roles": [Role.SALES_AGENT]})
    assert response.status_code == 400
    assert not MembershipInvitation.objects.exists()


@pytest.mark.parametrize("role", sorted(AGENT_ROLES))
def test_the_services_refuse_agent_roles_in_a_customer(role):
    admin = admin_of(Organization.Kind.CUSTOMER)
    member = MembershipFactory(organization=admin.organization, roles=[Role.BILLING_ADMIN])
    with pytest.raises(DomainError) as refused:
        services.membership_invitation_create(
            organization=admin.organization, email="ann@example.com", roles=[role], by=admin
        )
    assert (refused.value.code, refused.value.field) == ("role_not_offered", "roles")
    with pytest.raises(DomainError) as refused:
        services.membership_roles_change(membership=member, roles=[Role.BILLING_ADMIN, role], by=admin)
    assert refused.value.code == "role_not_offered"
    assert Membership.objects.get(pk=member.pk).role_names == [Role.BILLING_ADMIN]
    assert not MembershipInvitation.objects.exists()

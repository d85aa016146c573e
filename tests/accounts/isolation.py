"""What the isolation matrix needs to know about accounts (see tests/isolation.py)."""

from accounts.models import Membership, MembershipInvitation, MembershipRole, Organization
from accounts.roles import Role, roles_for_kind
from tests.factories.accounts import (
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.isolation import partner_builder, snapshot_table, tenant_object, url_parameter


def _member_roles(kind: str) -> list[str]:
    """A member who is not an administrator: a Sales agent where the kind has agents."""
    offered = roles_for_kind(kind)
    return [Role.SALES_AGENT if Role.SALES_AGENT in offered else Role.USER_MANAGEMENT_ADMIN]


@tenant_object("member")
def _member(tenant) -> Membership:
    return MembershipFactory(
        organization=tenant.organization,
        user=UserFactory(email=f"{tenant.canary.lower()}-member@example.com", full_name=tenant.canary),
        roles=_member_roles(tenant.kind),
    )


@tenant_object("invitation")
def _invitation(tenant) -> MembershipInvitation:
    return MembershipInvitationFactory(
        organization=tenant.organization,
        email=f"{tenant.canary.lower()}-invitee@example.com",
        roles=_member_roles(tenant.kind),
        invited_by=tenant.admin.user,
    )


url_parameter("membership_id")(lambda tenant: tenant.object("member").public_id)
url_parameter("invitation_id")(lambda tenant: tenant.object("invitation").public_id)

snapshot_table(Organization, "status", "legal_name")
snapshot_table(Membership, "status")
snapshot_table(MembershipRole, "membership_id", "role")
snapshot_table(MembershipInvitation, "status", "email")

#: The kind of organization a partner of each kind of tenant would be.
PARTNER_KIND = {
    Organization.Kind.RESELLER: Organization.Kind.PROVIDER,
    Organization.Kind.PROVIDER: Organization.Kind.RESELLER,
    Organization.Kind.CUSTOMER: Organization.Kind.RESELLER,
}


@partner_builder("organization of a partner kind with no relationship", tenant_kinds=PARTNER_KIND)
def _unrelated_partner(tenant) -> Organization:
    """The kind of organization a partnership or a relationship would link the tenant to, without the
    link: until those apps exist, what every partner persona must see of the tenant (nothing), and
    afterwards the baseline that each real relationship is compared with."""
    return OrganizationFactory(kind=PARTNER_KIND[tenant.kind])

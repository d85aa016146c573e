"""What the isolation matrix needs to know about customers (see tests/isolation.py).

Each tenant gets, where its kind has one:

- a reseller: a customer (named with the tenant's canary) whose reseller of record it is, shared with the
  provider of its partnership, with an active delegated admin relationship; and a pending with-provider
  invitation to a customer (address and customer name carry the canary);
- a provider: a customer shared with it by the reseller of its partnership (both named with the canary);
- a customer: its reseller of record (named with the canary), that reseller's active delegated admin
  relationship and a pending request for changed roles (the one the approval page answers), and a
  second reseller of record (the relationship its end page names).

Partner personas: the reseller and the provider of a customer, and the customer of a reseller and of a
provider, each linked by active customer relationships; no page of either side's organization is shared
with the other, so every one of them gets 404 everywhere.
"""

import uuid

from django.db.models import Q

from accounts.models import Organization
from customers.models import (
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
)
from tests.factories.customers import CustomerFactory, CustomerInvitationFactory, customer_linked
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.isolation import (
    organization_link,
    partner_builder,
    snapshot_table,
    tenant_object,
    url_parameter,
)

PROVIDER, RESELLER, CUSTOMER = (
    Organization.Kind.PROVIDER,
    Organization.Kind.RESELLER,
    Organization.Kind.CUSTOMER,
)


@tenant_object("customer_relationship")
def _customer_relationship(tenant) -> CustomerRelationship | None:
    """The relationship the tenant's customer pages name: a partner's customer, a customer's reseller."""
    if tenant.kind == RESELLER:
        provider = tenant.object("partnership").provider
        customer = CustomerFactory(legal_name=f"{tenant.canary} Customer Ltd")
        return customer_linked(tenant.organization, customer, provider=provider)[1]
    if tenant.kind == PROVIDER:
        reseller = tenant.object("partnership").reseller
        customer = CustomerFactory(legal_name=f"{tenant.canary} Shared Customer Ltd")
        customer_linked(reseller, customer, provider=tenant.organization)
        return CustomerRelationship.objects.get(customer=customer, partner=tenant.organization)
    reseller = ResellerFactory(legal_name=f"{tenant.canary} Reseller KK")
    return customer_linked(reseller, tenant.organization)[1]


@tenant_object("delegated_admin")
def _delegated_admin(tenant) -> DelegatedAdminRelationship | None:
    """A customer's pending request for changed roles, replacing the reseller's live relationship."""
    if tenant.kind != CUSTOMER:
        return None
    relationship = tenant.object("customer_relationship")
    live = DelegatedAdminRelationship.objects.get(
        customer=tenant.organization, partner=relationship.partner, status=DelegatedAdminStatus.ACTIVE
    )
    return DelegatedAdminRelationship.objects.create(
        customer=tenant.organization,
        partner=relationship.partner,
        roles=[DelegatedRole.USER_ADMIN],
        duration_days=90,
        status=DelegatedAdminStatus.APPROVAL_PENDING,
        replaces=live,
    )


@tenant_object("customer_invitation")
def _customer_invitation(tenant) -> CustomerInvitation | None:
    if tenant.kind != RESELLER:
        return None
    return CustomerInvitationFactory(
        organization=tenant.organization,
        with_provider=tenant.object("partnership"),
        email=f"{tenant.canary.lower()}-customer@example.com",
        customer_name=tenant.canary,
        invited_by=tenant.admin.user,
    )


def _customer_id(tenant):
    """The public ID of the tenant's customer (a partner's); a random one for a customer tenant (the
    routes that take it are partners' pages, 404 for a customer before reading it)."""
    if tenant.kind == CUSTOMER:
        return uuid.uuid4()
    return tenant.object("customer_relationship").customer.public_id


def _public_id(name: str):
    def build(tenant):
        found = tenant.object(name)
        return found.public_id if found is not None else uuid.uuid4()

    return build


@tenant_object("relationship_to_end")
def _relationship_to_end(tenant) -> CustomerRelationship | None:
    """A customer's second reseller of record, the relationship its end page names. Its name carries no
    canary: the permitted member's POST ends it, and the confirmation message naming the partner is still
    in that member's session when the matrix reads the next page (the suspended organization's 404)."""
    if tenant.kind != CUSTOMER:
        return None
    return customer_linked(ResellerFactory(), tenant.organization, delegated=False)[1]


url_parameter("customer_id")(_customer_id)
url_parameter("customer_invitation_id")(_public_id("customer_invitation"))
url_parameter("relationship_id")(_public_id("relationship_to_end"))
url_parameter("delegated_admin_id")(_public_id("delegated_admin"))

snapshot_table(
    CustomerInvitation,
    "status",
    "email",
    "token_hash",
    "emailed_at",
    "expires_at",
    "customer_id",
    "roles",
    "duration_days",
)
snapshot_table(
    CustomerRelationship,
    "status",
    "customer_id",
    "partner_id",
    "role",
    "reseller_id",
    "ended_at",
    "end_reason",
)
snapshot_table(
    DelegatedAdminRelationship,
    "status",
    "customer_id",
    "partner_id",
    "roles",
    "starts_at",
    "ends_at",
    "reminded_days",
    "closed_at",
    "close_reason",
)


@partner_builder("reseller of customer", tenant_kinds={CUSTOMER})
def _reseller_of_customer(tenant) -> Organization:
    return customer_linked(ResellerFactory(), tenant.organization)[1].partner


@partner_builder("provider of customer", tenant_kinds={CUSTOMER})
def _provider_of_customer(tenant) -> Organization:
    provider = ProviderFactory()
    customer_linked(ResellerFactory(), tenant.organization, provider=provider, delegated=False)
    return provider


@partner_builder("customer of reseller", tenant_kinds={RESELLER})
def _customer_of_reseller(tenant) -> Organization:
    return customer_linked(tenant.organization)[0]


@partner_builder("customer of provider", tenant_kinds={PROVIDER})
def _customer_of_provider(tenant) -> Organization:
    return customer_linked(ResellerFactory(), provider=tenant.organization, delegated=False)[0]


@organization_link
def _customer_links(organization: Organization) -> set[int]:
    """Every organization of its customer relationships: the customer, the partner and the reseller the
    relationship came through. Ended ones too: ending a relationship emails the partners after the row
    has ended (and the customer's Partner relationships page lists its ended partners)."""
    linked = set()
    rows = CustomerRelationship.objects.filter(
        Q(customer=organization) | Q(partner=organization) | Q(reseller=organization)
    )
    for customer_id, partner_id, reseller_id in rows.values_list("customer_id", "partner_id", "reseller_id"):
        linked |= {customer_id, partner_id, reseller_id}
    linked.discard(organization.pk)
    return linked

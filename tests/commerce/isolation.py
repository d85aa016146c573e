"""What the isolation matrix needs to know about customer management (see tests/isolation.py).

Each tenant gets, where its kind has one:

- a reseller: on its customer (tests/customers/isolation.py), the User administrator and License
  administrator roles besides the least-privilege ones (so its permitted member is served on the tenant
  users and licence pages), a subscription it is reseller of record of (sold through the provider of its
  partnership), a user of the customer's tenant holding a licence of it, and an order request sent to
  that provider;
- a provider: a subscription of the customer shared with it, and the reseller's order request to answer;
- a customer: its own subscription (through its reseller), a user of its tenant and a licence.

Every name carries the tenant's canary, so another tenant's pages prove they never show it.
"""

import uuid
from decimal import Decimal

from accounts.models import DirectoryUser, Organization
from commerce.models import LicenceAssignment, Order, OrderKind, OrderStatus, Subscription
from customers.models import DelegatedAdminRelationship, DelegatedAdminStatus, DelegatedRole
from tests.factories.accounts import DirectoryUserFactory
from tests.factories.commerce import OfferFactory, SubscriptionFactory
from tests.factories.providers import ProviderFactory
from tests.isolation import snapshot_table, tenant_object, url_parameter

PROVIDER, RESELLER, CUSTOMER = (
    Organization.Kind.PROVIDER,
    Organization.Kind.RESELLER,
    Organization.Kind.CUSTOMER,
)


def _customer_of(tenant) -> Organization:
    if tenant.kind == CUSTOMER:
        return tenant.organization
    return tenant.object("customer_relationship").customer


@tenant_object("management_roles")
def _management_roles(tenant):
    """The reseller's live delegated admin on its customer also holds User and License administrator."""
    if tenant.kind != RESELLER:
        return None
    customer = _customer_of(tenant)
    live = DelegatedAdminRelationship.objects.get(
        customer=customer, partner=tenant.organization, status=DelegatedAdminStatus.ACTIVE
    )
    roles = set(live.roles) | {DelegatedRole.USER_ADMIN, DelegatedRole.LICENSE_ADMIN}
    live.roles = [role for role in DelegatedRole.values if role in roles]
    live.save(update_fields=["roles"])
    return live


@tenant_object("subscription")
def _subscription(tenant) -> Subscription:
    tenant.object("management_roles")
    relationship = tenant.object("customer_relationship")
    customer = _customer_of(tenant)
    if tenant.kind == RESELLER:
        reseller, provider = tenant.organization, tenant.object("partnership").provider
    elif tenant.kind == PROVIDER:
        reseller, provider = relationship.reseller, tenant.organization
    else:
        reseller, provider = relationship.partner, ProviderFactory()
    # The offer is the program's catalogue, shown to every partner: only the subscription carries the canary.
    return SubscriptionFactory(
        customer=customer,
        reseller=reseller,
        provider=provider,
        offer=OfferFactory(),
        name=f"{tenant.canary} Suite",
        seats=5,
    )


@tenant_object("tenant_user")
def _tenant_user(tenant) -> DirectoryUser | None:
    if tenant.kind == PROVIDER:
        return None
    customer = _customer_of(tenant)
    return DirectoryUserFactory(tenant=customer.directory_tenant, display_name=f"{tenant.canary} User")


@tenant_object("licence")
def _licence(tenant) -> LicenceAssignment | None:
    user = tenant.object("tenant_user")
    if user is None:
        return None
    subscription = tenant.object("subscription")
    return LicenceAssignment.objects.create(
        customer=subscription.customer,
        subscription=subscription,
        directory_user=user,
        user_principal_name=user.user_principal_name,
    )


@tenant_object("order")
def _order(tenant) -> Order | None:
    """The reseller's order request to its provider for more seats (requested: the provider answers it)."""
    if tenant.kind == CUSTOMER:
        return None
    subscription = tenant.object("subscription")
    return Order.objects.create(
        idempotency_key=uuid.uuid4(),
        customer=subscription.customer,
        reseller=subscription.reseller,
        provider=subscription.provider,
        kind=OrderKind.SEATS,
        offer=subscription.offer,
        subscription=subscription,
        seats=6,
        currency="JPY",
        unit_price=Decimal("1200"),
        status=OrderStatus.REQUESTED,
        requested_by_reseller=True,
        note=tenant.canary,
    )


def _public_id(name: str):
    def build(tenant):
        found = tenant.object(name)
        return found.public_id if found is not None else uuid.uuid4()

    return build


url_parameter("user_id")(_public_id("tenant_user"))
url_parameter("assignment_id")(_public_id("licence"))
url_parameter("subscription_id")(_public_id("subscription"))
url_parameter("order_id")(_public_id("order"))

snapshot_table(
    Subscription, "status", "seats", "auto_renew", "renews_at", "customer_id", "reseller_id", "provider_id"
)
snapshot_table(Order, "status", "seats", "kind", "decline_reason", "submitted_at")
snapshot_table(LicenceAssignment, "subscription_id", "directory_user_id")
snapshot_table(DirectoryUser, "status", "password", "setup_token_hash", "display_name")

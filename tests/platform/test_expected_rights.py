"""Who may do what, written a second time, by hand, independently of the tables under test.

The isolation matrix takes its expectations from ``portal.access_policy`` and ``accounts.roles``; a
weakened entry there would weaken the matrix with it. These tables say again, from the product brief,
which roles may open each organization page and which permissions each role holds, and real requests
check that the portal agrees. Changing a right means changing it here too, on purpose.
"""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, MembershipInvitation, MembershipRole, Organization
from accounts.roles import ROLE_PERMISSIONS, Role
from customers.models import DelegatedAdminRelationship
from portal.access_policy import SPECIAL, iter_routes, policy_for
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import ProviderListing
from tests.factories.accounts import (
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.factories.customers import CustomerInvitationFactory, customer_linked
from tests.factories.providers import (
    BulkInvitationRunFactory,
    PartnershipFactory,
    PartnershipInvitationFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
)

pytestmark = pytest.mark.django_db

GA = "global_admin"
UMA = "user_management_admin"
BILLING = "billing_admin"
AGENT = "admin_agent"
SALES = "sales_agent"
HELPDESK = "helpdesk_agent"
ACCOUNT = "account_admin"
EVERYONE = {GA, UMA, BILLING, AGENT, SALES, HELPDESK, ACCOUNT}

# Permissions per role (PRODUCT.md, "role catalogue ... each mapped to permissions in one table").
EXPECTED_ROLE_PERMISSIONS = {
    GA: {
        "organization.view",
        "organization.manage",
        "users.view",
        "users.manage",
        "users.assign_global_admin",
        "activity.view",
        "activity.export",
        "customers.view",
        "customers.invite",
        "customers.manage",
        "partners.view",
        "partners.manage",
        # the seed: a Global admin or an Admin agent authorises an indirect provider
        "partners.authorize",
        "billing.view",
        "billing.manage",
    },
    UMA: {"organization.view", "users.view", "users.manage", "activity.view"},
    BILLING: {"organization.view", "billing.view", "billing.manage", "activity.view"},
    AGENT: {
        "organization.view",
        "customers.view",
        "customers.invite",
        "customers.manage",
        "partners.view",
        "partners.authorize",
        "activity.view",
    },
    SALES: {"organization.view", "customers.view", "customers.invite", "partners.view"},
    HELPDESK: {"organization.view", "customers.view"},
    ACCOUNT: {
        "organization.view",
        "organization.manage",
        "partners.view",
        "partners.manage",
        "customers.view",
        "activity.view",
        "activity.export",
    },
}

RESELLER, PROVIDER, CUSTOMER = "reseller", "provider", "customer"
USER_ADMINS = {GA, UMA}
# The roles each kind of organization may give its members: a customer has no agents and no Account admin.
ROLES_OFFERED = {RESELLER: EVERYONE, PROVIDER: EVERYONE, CUSTOMER: {GA, UMA, BILLING}}
# Issue 10: a reseller's customers are seen by every role that looks after customers; invited by the Global
# admin and the agents who sell (Admin agent, Sales agent); delegated admin roles are asked for by those who
# manage customers (Global admin, Admin agent). A customer's partners are its Global admin's alone.
CUSTOMER_VIEWERS = {GA, AGENT, SALES, HELPDESK, ACCOUNT}
CUSTOMER_INVITERS = {GA, AGENT, SALES}
CUSTOMER_MANAGERS = {GA, AGENT}
# Every organization page: the kind of organization it belongs to and the roles that may open it.
EXPECTED_ROUTE_ROLES = {
    "accounts:organization_dashboard": (RESELLER, EVERYONE),
    "accounts:settings": (RESELLER, EVERYONE),
    "accounts:organization_leave": (RESELLER, EVERYONE),
    # The seed's last enrollment step: only a Global admin puts themself in the Admin agent group.
    "accounts:admin_agent_join": (RESELLER, {GA}),
    "accounts:users": (RESELLER, USER_ADMINS),
    "accounts:user_invite": (RESELLER, USER_ADMINS),
    "accounts:member": (RESELLER, USER_ADMINS),
    "accounts:member_roles": (RESELLER, USER_ADMINS),
    "accounts:member_deactivate": (RESELLER, USER_ADMINS),
    "accounts:member_reactivate": (RESELLER, USER_ADMINS),
    "accounts:member_remove": (RESELLER, USER_ADMINS),
    "accounts:invitation_revoke": (RESELLER, USER_ADMINS),
    "accounts:invitation_resend": (RESELLER, USER_ADMINS),
    "accounts:activity": (RESELLER, {GA, UMA, BILLING, AGENT, ACCOUNT}),
    "accounts:activity_export": (RESELLER, {GA, ACCOUNT}),
    "customers:list": (RESELLER, CUSTOMER_VIEWERS),
    "customers:customer": (RESELLER, CUSTOMER_VIEWERS),
    "customers:expiring": (RESELLER, CUSTOMER_VIEWERS),
    "customers:invitations": (RESELLER, CUSTOMER_VIEWERS),
    "customers:invite": (RESELLER, CUSTOMER_INVITERS),
    "customers:invitation_send": (RESELLER, CUSTOMER_INVITERS),
    "customers:invitation_resend": (RESELLER, CUSTOMER_INVITERS),
    "customers:invitation_revoke": (RESELLER, CUSTOMER_INVITERS),
    "customers:delegated_admin_request": (RESELLER, CUSTOMER_MANAGERS),
    "customers:partners": (CUSTOMER, {GA}),
    "customers:relationship_end": (CUSTOMER, {GA}),
    "customers:delegated_admin_review": (CUSTOMER, {GA}),
    "customers:delegated_admin_remove": (CUSTOMER, {GA}),
    # Issue 11: a reseller's people who see customers see a customer's users, licences, subscriptions and
    # orders; those who manage customers (Global admin, Admin agent) change them, ask the provider for
    # orders and answer them on the provider's side. A customer's subscriptions are its billing people's
    # (Global admin, Billing admin); the users of its tenant and their licences its user administrators'.
    "commerce:customer_users": (RESELLER, CUSTOMER_VIEWERS),
    "commerce:customer_user_add": (RESELLER, CUSTOMER_MANAGERS),
    "commerce:customer_user_status": (RESELLER, CUSTOMER_MANAGERS),
    "commerce:customer_licences": (RESELLER, CUSTOMER_VIEWERS),
    "commerce:customer_licence_assign": (RESELLER, CUSTOMER_MANAGERS),
    "commerce:customer_licence_remove": (RESELLER, CUSTOMER_MANAGERS),
    "commerce:customer_licences_export": (RESELLER, CUSTOMER_VIEWERS),
    "commerce:order_request_new": (RESELLER, CUSTOMER_MANAGERS),
    "commerce:order_send": (RESELLER, CUSTOMER_MANAGERS),
    "commerce:order_withdraw": (RESELLER, CUSTOMER_MANAGERS),
    "commerce:orders": (RESELLER, CUSTOMER_VIEWERS),
    "commerce:order": (RESELLER, CUSTOMER_VIEWERS),
    "commerce:partner_subscriptions_export": (RESELLER, CUSTOMER_VIEWERS),
    "commerce:order_new": (PROVIDER, CUSTOMER_MANAGERS),
    "commerce:order_submit": (PROVIDER, CUSTOMER_MANAGERS),
    "commerce:order_decline": (PROVIDER, CUSTOMER_MANAGERS),
    "commerce:subscription_auto_renew": (PROVIDER, CUSTOMER_MANAGERS),
    "commerce:subscriptions": (CUSTOMER, {GA, BILLING}),
    "commerce:subscriptions_export": (CUSTOMER, {GA, BILLING}),
    "commerce:users": (CUSTOMER, USER_ADMINS),
    "commerce:user_add": (CUSTOMER, USER_ADMINS),
    "commerce:user_status": (CUSTOMER, USER_ADMINS),
    "commerce:licences": (CUSTOMER, USER_ADMINS),
    "commerce:licence_assign": (CUSTOMER, USER_ADMINS),
    "commerce:licence_remove": (CUSTOMER, USER_ADMINS),
    "commerce:licences_export": (CUSTOMER, USER_ADMINS),
    # Issue 9: whoever may see partners sees these pages; ending, inviting, asking, answering, the listing
    # and bulk files belong to those who manage partners (Global admin, Account admin).
    "providers:providers": (RESELLER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:directory": (RESELLER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:listing": (RESELLER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:request_create": (RESELLER, {GA, ACCOUNT}),
    "providers:request_withdraw": (RESELLER, {GA, ACCOUNT}),
    "providers:partnership": (RESELLER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:partnership_end": (RESELLER, {GA, ACCOUNT}),
    "providers:resellers": (PROVIDER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:resellers_export": (PROVIDER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:invitations": (PROVIDER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:invite": (PROVIDER, {GA, ACCOUNT}),
    "providers:invitation_send": (PROVIDER, {GA, ACCOUNT}),
    "providers:invitation_resend": (PROVIDER, {GA, ACCOUNT}),
    "providers:invitation_revoke": (PROVIDER, {GA, ACCOUNT}),
    "providers:requests": (PROVIDER, {GA, AGENT, SALES, ACCOUNT}),
    "providers:request_decline": (PROVIDER, {GA, ACCOUNT}),
    "providers:listing_edit": (PROVIDER, {GA, ACCOUNT}),
    "providers:listing_visibility": (PROVIDER, {GA, ACCOUNT}),
    "providers:bulk": (PROVIDER, {GA, ACCOUNT}),
    "providers:bulk_run": (PROVIDER, {GA, ACCOUNT}),
    "providers:bulk_report": (PROVIDER, {GA, ACCOUNT}),
}


def organization_routes():
    return sorted(
        (name, route, callback)
        for name, route, callback in iter_routes()
        if policy_for(name) not in SPECIAL and not name.startswith("<")
    )


def test_the_role_table_grants_exactly_the_expected_permissions():
    assert set(Role.values) == EVERYONE
    actual = {role: set(ROLE_PERMISSIONS[role]) for role in Role.values}
    assert actual == EXPECTED_ROLE_PERMISSIONS


def test_every_organization_page_has_an_expected_right():
    assert sorted(name for name, _route, _callback in organization_routes()) == sorted(EXPECTED_ROUTE_ROLES)


def snapshot(organization) -> tuple:
    return (
        list(Membership.objects.filter(organization=organization).order_by("pk").values_list("pk", "status")),
        sorted(
            MembershipRole.objects.filter(membership__organization=organization).values_list("pk", "role")
        ),
        list(MembershipInvitation.objects.filter(organization=organization).values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def provider_route_kwargs(names: set[str], organization) -> dict:
    """The objects the providers' routes name, of the organization's side: its partnership, its request
    (sent or received), the invitation and the bulk run it sent, a listing of the directory; and a
    provider's own listing (its listing pages edit it)."""
    side = "provider" if organization.kind == PROVIDER else "reseller"
    if organization.kind == PROVIDER:  # a provider has its listing from the start (provider_create)
        ProviderListing.objects.create(
            organization=organization, name=organization.legal_name, authorized_at=timezone.now()
        )
    builders = {
        "listing_id": lambda: ProviderFactory(countries=[str(organization.country)]).provider_listing,
        "partnership_id": lambda: PartnershipFactory(**{side: organization}),
        "request_id": lambda: PartnershipRequestFactory(**{side: organization}),
        "partnership_invitation_id": lambda: PartnershipInvitationFactory(organization=organization),
        "run_id": lambda: BulkInvitationRunFactory(organization=organization),
    }
    return {name: build().public_id for name, build in builders.items() if name in names}


def customer_route_kwargs(name: str, names: set[str], organization) -> dict:
    """The objects the customers' routes name, of the organization's side: a reseller's customer and its
    invitation to a customer; a customer's relationship with its reseller, and that reseller's live
    delegated admin access (to remove) or its pending request for changed roles (to review)."""
    kwargs = {}
    if organization.kind == RESELLER:
        if "customer_id" in names:
            kwargs["customer_id"] = customer_linked(organization)[0].public_id
        if "customer_invitation_id" in names:
            kwargs["customer_invitation_id"] = CustomerInvitationFactory(organization=organization).public_id
    if organization.kind == CUSTOMER and names & {"relationship_id", "delegated_admin_id"}:
        _customer, relationship, live = customer_linked(ResellerFactory(), organization)
        if "relationship_id" in names:
            kwargs["relationship_id"] = relationship.public_id
        if name == "customers:delegated_admin_remove":
            kwargs["delegated_admin_id"] = live.public_id
        elif "delegated_admin_id" in names:
            pending = DelegatedAdminRelationship.objects.create(
                customer=organization,
                partner=relationship.partner,
                roles=["user_admin"],
                duration_days=30,
                replaces=live,
            )
            kwargs["delegated_admin_id"] = pending.public_id
    return kwargs


def commerce_route_kwargs(names: set[str], organization) -> dict:
    """The objects the commerce routes name, of the organization's side: a reseller's customer on which it
    holds User and License administrator, and a provider's customer shared with it; the customer's
    subscription, a user of its tenant holding a licence, and the reseller's order request to the
    provider."""
    import uuid
    from decimal import Decimal

    from commerce.models import LicenceAssignment, Order, OrderKind, OrderStatus
    from tests.factories.accounts import DirectoryUserFactory
    from tests.factories.commerce import SubscriptionFactory

    if not names & {"customer_id", "user_id", "assignment_id", "subscription_id", "order_id"}:
        return {}
    if organization.kind == RESELLER:
        reseller, provider = organization, ProviderFactory()
        customer = customer_linked(reseller, provider=provider, roles=["user_admin", "license_admin"])[0]
    elif organization.kind == PROVIDER:
        reseller, provider = ResellerFactory(), organization
        customer = customer_linked(reseller, provider=provider)[0]
    else:
        reseller, provider, customer = ResellerFactory(), ProviderFactory(), organization
        customer_linked(reseller, customer)
    subscription = SubscriptionFactory(customer=customer, reseller=reseller, provider=provider)
    user = DirectoryUserFactory(tenant=customer.directory_tenant)
    licence = LicenceAssignment.objects.create(
        customer=customer,
        subscription=subscription,
        directory_user=user,
        user_principal_name=user.user_principal_name,
    )
    order = Order.objects.create(
        idempotency_key=uuid.uuid4(),
        customer=customer,
        reseller=reseller,
        provider=provider,
        kind=OrderKind.SEATS,
        offer=subscription.offer,
        subscription=subscription,
        seats=subscription.seats + 1,
        currency="JPY",
        unit_price=Decimal("1200"),
        status=OrderStatus.REQUESTED,
        requested_by_reseller=True,
    )
    values = {
        "customer_id": customer.public_id,
        "user_id": user.public_id,
        "assignment_id": licence.public_id,
        "subscription_id": subscription.public_id,
        "order_id": order.public_id,
    }
    return {name: value for name, value in values.items() if name in names}


def handles_get(callback) -> bool:
    view_class = getattr(callback, "view_class", None)
    return view_class is None or hasattr(view_class, "get")


CASES = [
    pytest.param(name, route, callback, role, id=f"{name}-{role}")
    for name, route, callback in organization_routes()
    for role in sorted(ROLES_OFFERED[EXPECTED_ROUTE_ROLES.get(name, (RESELLER,))[0]])
]


@pytest.mark.parametrize(("name", "route", "callback", "role"), CASES)
def test_each_role_opens_exactly_the_expected_pages(client, name, route, callback, role):
    kind, allowed = EXPECTED_ROUTE_ROLES[name]
    organization = OrganizationFactory(kind=kind)
    MembershipFactory(organization=organization, roles=[GA])  # the organization keeps a Global admin
    member = MembershipFactory(organization=organization, roles=[role])
    other = MembershipFactory(
        organization=organization,
        roles=[SALES],
        status=Membership.Status.DEACTIVATED if name == "accounts:member_reactivate" else "active",
    )
    invitation = MembershipInvitationFactory(organization=organization)
    kwargs = {"organization_public_id": organization.public_id}
    names = set(re.findall(r"<(?:\w+:)?(\w+)>", route))
    if "membership_id" in names:
        kwargs["membership_id"] = other.public_id
    if "invitation_id" in names:
        kwargs["invitation_id"] = invitation.public_id
    kwargs.update(provider_route_kwargs(names, organization))
    if name.startswith("commerce:"):
        kwargs.update(commerce_route_kwargs(names, organization))
    else:
        kwargs.update(customer_route_kwargs(name, names, organization))
    url = reverse(name, kwargs=kwargs)
    method = "get" if handles_get(callback) else "post"
    client.force_login(member.user)
    before = snapshot(organization)

    response = getattr(client, method)(url)

    if role in allowed:
        # An empty POST to an action with a form may be answered 400 (the form's errors): served all the same.
        assert response.status_code in ((200, 302, 400) if method == "post" else (200, 302)), (
            method,
            response.status_code,
        )
        if response.status_code == 302:
            assert not response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403, (method, response.status_code)
        assert snapshot(organization) == before


def test_members_of_a_suspended_organization_cannot_open_it(client):
    suspended = OrganizationFactory(status=Organization.Status.SUSPENDED, legal_name="Suspended KK")
    active = OrganizationFactory(legal_name="Active KK")
    user = UserFactory()
    MembershipFactory(organization=suspended, user=user, roles=[GA])
    MembershipFactory(organization=active, user=user, roles=[SALES])
    client.force_login(user)
    url = reverse("accounts:organization_dashboard", kwargs={"organization_public_id": suspended.public_id})
    assert client.get(url).status_code == 404
    landing = client.get(reverse("dashboard"))
    assert landing["Location"] == reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": active.public_id}
    )
    page = client.get(landing["Location"]).content.decode()
    assert "Active KK" in page
    assert "Suspended KK" not in page  # not offered in the organization switcher either

"""The partner personas of issue 11, each against every commerce route it could try, with a request that
would change something if a check were missing: a reseller without the delegated role (or whose role has
expired), a provider without the relationship, another reseller's customer, a customer looking at another
customer. Each is denied — 403 naming the role, or 404 — and nothing changes (tests.isolation.snapshot:
every tenant table, audit rows and outbox included)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from commerce.models import LicenceAssignment
from customers.models import DelegatedAdminRelationship, DelegatedRole
from providers.models import Partnership
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory
from tests.factories.commerce import OfferFactory, SubscriptionFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.isolation import discover, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _snapshot_tables():
    discover()  # every app's snapshot tables registered


def build(roles=(DelegatedRole.DIRECTORY_READER,)):
    link = commerce_linked(roles=list(roles))
    offer = OfferFactory()
    link.subscription = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, offer=offer, seats=5
    )
    tenant = link.customer.directory_tenant
    link.user = DirectoryUserFactory(tenant=tenant)
    link.free_user = DirectoryUserFactory(tenant=tenant)
    link.licence = LicenceAssignment.objects.create(
        customer=link.customer,
        subscription=link.subscription,
        directory_user=link.user,
        user_principal_name=link.user.user_principal_name,
    )
    link.offer = offer
    return link


def reseller_requests(link, organization):
    """(method, route, kwargs, data, role named when the role is missing) of the reseller's routes."""
    base = {"organization_public_id": organization.public_id, "customer_id": link.customer.public_id}
    domain = link.customer.directory_tenant.verified_domains[0]
    user_admin, licence_admin = DelegatedRole.USER_ADMIN.label, DelegatedRole.LICENSE_ADMIN.label
    return [
        ("get", "commerce:customer_users", base, None, user_admin),
        ("get", "commerce:customer_user_add", base, None, user_admin),
        (
            "post",
            "commerce:customer_user_add",
            base,
            {
                "user_principal_name": f"new.person@{domain}",
                "display_name": "New Person",
                "contact_email": "new.person@example.com",
                "language": "en",
            },
            user_admin,
        ),
        (
            "post",
            "commerce:customer_user_status",
            {**base, "user_id": link.user.public_id},
            {"action": "disable"},
            user_admin,
        ),
        ("get", "commerce:customer_licences", base, None, licence_admin),
        ("get", "commerce:customer_licences_export", base, None, licence_admin),
        (
            "post",
            "commerce:customer_licence_assign",
            base,
            {
                "subscription": str(link.subscription.public_id),
                "user_principal_name": link.free_user.user_principal_name,
            },
            licence_admin,
        ),
        (
            "post",
            "commerce:customer_licence_remove",
            {**base, "assignment_id": link.licence.public_id},
            {},
            licence_admin,
        ),
    ]


def provider_requests(link, organization):
    base = {"organization_public_id": organization.public_id, "customer_id": link.customer.public_id}
    return [
        ("get", "commerce:order_new", base, None, None),
        (
            "post",
            "commerce:order_new",
            base,
            {
                "kind": "new",
                "offer": str(link.offer.public_id),
                "seats": "3",
                "idempotency_key": "8d1f3a52-55f5-4c1e-9df4-2f3f6f7d0a11",
            },
            None,
        ),
        (
            "post",
            "commerce:subscription_auto_renew",
            {**base, "subscription_id": link.subscription.public_id},
            {"auto_renew": "off"},
            None,
        ),
    ]


def send(client, method, route, kwargs, data):
    url = reverse(route, kwargs=kwargs)
    return client.post(url, data or {}) if method == "post" else client.get(url)


def test_a_reseller_without_the_role_is_refused_with_the_role_named_and_nothing_changes(client):
    link = build(roles=(DelegatedRole.DIRECTORY_READER, DelegatedRole.HELPDESK_ADMIN))
    client.force_login(link.reseller_agent.user)
    for method, route, kwargs, data, role in reseller_requests(link, link.reseller):
        before = snapshot()
        response = send(client, method, route, kwargs, data)
        assert response.status_code == 403, (route, method, response.status_code)
        assert str(role) in response.content.decode(), route
        assert snapshot() == before, route


def test_a_reseller_whose_role_has_expired_is_refused_before_the_beat_job_runs(client):
    link = build(roles=(DelegatedRole.USER_ADMIN, DelegatedRole.LICENSE_ADMIN))
    DelegatedAdminRelationship.objects.filter(pk=link.delegated_admin.pk).update(
        ends_at=timezone.now() - timedelta(minutes=1)
    )
    client.force_login(link.reseller_agent.user)
    for method, route, kwargs, data, role in reseller_requests(link, link.reseller):
        before = snapshot()
        response = send(client, method, route, kwargs, data)
        assert response.status_code == 403, (route, method, response.status_code)
        assert str(role) in response.content.decode(), route
        assert snapshot() == before, route


def test_the_same_reseller_with_the_roles_is_served(client):
    """The control: the requests above are the ones a permitted reseller makes successfully."""
    link = build(roles=(DelegatedRole.USER_ADMIN, DelegatedRole.LICENSE_ADMIN))
    client.force_login(link.reseller_agent.user)
    for method, route, kwargs, data, _role in reseller_requests(link, link.reseller):
        response = send(client, method, route, kwargs, data)
        assert response.status_code in (200, 302), (route, method, response.status_code)


def test_another_resellers_customer_is_not_found_and_nothing_changes(client):
    link = build(roles=(DelegatedRole.USER_ADMIN, DelegatedRole.LICENSE_ADMIN))
    other = ResellerFactory()
    commerce_linked(other, roles=[DelegatedRole.GLOBAL_ADMIN])  # the other reseller has customers of its own
    member = MembershipFactory(organization=other, roles=[Role.GLOBAL_ADMIN])
    client.force_login(member.user)
    requests = [
        *reseller_requests(link, other),
        (
            "get",
            "commerce:order_request_new",
            {"organization_public_id": other.public_id, "customer_id": link.customer.public_id},
            None,
            None,
        ),
    ]
    for method, route, kwargs, data, _role in requests:
        before = snapshot()
        response = send(client, method, route, kwargs, data)
        assert response.status_code == 404, (route, method, response.status_code)
        assert link.customer.legal_name not in response.content.decode()
        assert snapshot() == before, route


def test_a_provider_without_the_relationship_is_not_found_and_nothing_changes(client):
    link = build()
    stranger = ProviderFactory()
    Partnership.objects.create(
        provider=stranger, reseller=link.reseller
    )  # partner of the reseller, not of the customer
    member = MembershipFactory(organization=stranger, roles=[Role.GLOBAL_ADMIN])
    client.force_login(member.user)
    for method, route, kwargs, data, _role in provider_requests(link, stranger):
        before = snapshot()
        response = send(client, method, route, kwargs, data)
        assert response.status_code == 404, (route, method, response.status_code)
        assert snapshot() == before, route


def test_a_provider_whose_partnership_ended_loses_the_customer_on_the_next_request(client):
    link = build()
    client.force_login(link.provider_agent.user)
    url = reverse(
        "commerce:order_new",
        kwargs={"organization_public_id": link.provider.public_id, "customer_id": link.customer.public_id},
    )
    assert client.get(url).status_code == 200
    Partnership.objects.filter(provider=link.provider, reseller=link.reseller).update(
        status=Partnership.Status.ENDED, ended_at=timezone.now()
    )
    for method, route, kwargs, data, _role in provider_requests(link, link.provider):
        before = snapshot()
        response = send(client, method, route, kwargs, data)
        assert response.status_code == 404, (route, method, response.status_code)
        assert snapshot() == before, route


def test_a_customer_cannot_open_another_customers_pages_or_objects(client):
    link = build()
    other = CustomerFactory()
    member = MembershipFactory(organization=other, roles=[Role.GLOBAL_ADMIN])
    client.force_login(member.user)
    foreign = {"organization_public_id": link.customer.public_id}
    own = {"organization_public_id": other.public_id}
    attempts = [
        ("get", "commerce:subscriptions", foreign, None),
        ("get", "commerce:subscriptions_export", foreign, None),
        ("get", "commerce:users", foreign, None),
        ("get", "commerce:licences", foreign, None),
        ("get", "commerce:licences_export", foreign, None),
        ("post", "commerce:user_status", {**foreign, "user_id": link.user.public_id}, {"action": "disable"}),
        ("post", "commerce:licence_remove", {**foreign, "assignment_id": link.licence.public_id}, {}),
        # its own organization in the URL, the other customer's objects
        ("post", "commerce:user_status", {**own, "user_id": link.user.public_id}, {"action": "disable"}),
        ("post", "commerce:licence_remove", {**own, "assignment_id": link.licence.public_id}, {}),
        (
            "post",
            "commerce:licence_assign",
            own,
            {
                "subscription": str(link.subscription.public_id),
                "user_principal_name": link.free_user.user_principal_name,
            },
        ),
    ]
    for method, route, kwargs, data in attempts:
        before = snapshot()
        response = send(client, method, route, kwargs, data)
        assert response.status_code in (404, 400), (route, method, response.status_code)
        if route == "commerce:licence_assign":
            # its own page, with an unknown subscription: the form's error, nothing of the other customer
            assert link.subscription.name not in response.content.decode()
        assert link.customer.legal_name not in response.content.decode()
        assert snapshot() == before, route

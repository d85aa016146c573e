"""The customer in control: Partner relationships (every partner, its rights and end dates), answering a
role request, removing delegated admin access, ending a relationship after seeing what it affects; only
the customer's own objects, only its Global admins; each partner told."""

from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from customers.models import (
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    RelationshipStatus,
)
from customers.selectors import partner_may
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.factories.accounts import MembershipFactory
from tests.factories.customers import CustomerFactory, customer_linked
from tests.factories.providers import ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)
ROLES = [DelegatedRole.HELPDESK_ADMIN, DelegatedRole.LICENSE_ADMIN]


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def reseller():
    reseller = ResellerFactory(legal_name="Fabrikam Japan KK")
    MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN])  # hears about its customers
    return reseller


@pytest.fixture
def provider():
    provider = ProviderFactory(legal_name="Northwind Distribution KK")
    MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    return provider


@pytest.fixture
def customer():
    return CustomerFactory(legal_name="Contoso KK")


@pytest.fixture
def admin(customer):
    return MembershipFactory(organization=customer, roles=[Role.GLOBAL_ADMIN])


@pytest.fixture
def linked(reseller, provider, customer):
    """The customer with its reseller (helpdesk and licence roles for 90 days) and a provider through it."""
    return customer_linked(reseller, customer, provider=provider, roles=ROLES, days=90)


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin.user)
    return client


def url(name: str, customer, **kwargs) -> str:
    return reverse(f"customers:{name}", kwargs={"organization_public_id": customer.public_id, **kwargs})


def text(response) -> str:
    return unescape(response.content.decode())


def pending_request(customer, partner, roles=(DelegatedRole.USER_ADMIN,), days=30):
    live = DelegatedAdminRelationship.objects.filter(
        customer=customer, partner=partner, status="active"
    ).first()
    return DelegatedAdminRelationship.objects.create(
        customer=customer,
        partner=partner,
        roles=list(roles),
        duration_days=days,
        status=DelegatedAdminStatus.APPROVAL_PENDING,
        replaces=live,
    )


def state() -> tuple:
    return (
        list(CustomerRelationship.objects.order_by("pk").values_list("pk", "status", "end_reason")),
        list(DelegatedAdminRelationship.objects.order_by("pk").values_list("pk", "status", "close_reason")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


# --- The page -------------------------------------------------------------------------------------------


def test_the_page_lists_every_partner_with_its_rights_and_end_dates(signed_in, customer, linked):
    response = signed_in.get(url("partners", customer))

    assert response.status_code == 200
    body = text(response)
    assert '<a href="/o/' in body and 'aria-current="page">Partner relationships</a>' in body
    assert (
        '<bdi>Fabrikam Japan KK</bdi>\n    <span class="badge customer-role">Reseller of record</span>'
        in body
    )
    assert (
        '<bdi>Northwind Distribution KK</bdi>\n    <span class="badge customer-role">Indirect provider</span>'
        in body
    )
    assert (
        "Indirect provider through <bdi>Fabrikam Japan KK</bdi>: it may submit orders for your organization."
    ) in body
    assert "Helpdesk administrator" in body and "License administrator" in body
    assert "Reset passwords and sign-in methods of your users who are not administrators" in body
    assert "<dt>Starts</dt><dd>2031-03-10</dd>" in body
    assert "<dt>Ends</dt><dd><strong>2031-06-08</strong></dd>" in body
    assert "No: the access ends on that date, unless you approve a new request." in body
    assert "None: this partner holds no delegated admin role in your tenant." in body  # the provider
    delegated = linked[2]
    remove = url("delegated_admin_remove", customer, delegated_admin_id=delegated.public_id)
    assert f'href="{remove}">Remove delegated admin access</a>' in body
    assert body.count(">End relationship</a>") == 2
    assert "Nothing has ended yet." in body


def test_an_expiring_access_is_highlighted(signed_in, customer, reseller):
    customer_linked(
        reseller, customer, roles=ROLES, ends_in=timedelta(days=6), status=DelegatedAdminStatus.EXPIRING
    )

    body = text(signed_in.get(url("partners", customer)))

    assert "customer-partner--reseller customer-partner--expiring" in body
    assert '<span class="badge badge--expiring">Expiring</span>' in body
    assert (
        "This access ends on 2031-03-16. To keep it, the partner sends a new request, which you approve."
        in body
    )


def test_a_pending_request_is_listed_with_a_link_to_review(signed_in, customer, reseller, linked):
    request = pending_request(customer, reseller)

    body = text(signed_in.get(url("partners", customer)))

    assert "Requests to answer</h2>" in body
    assert (
        "<bdi>Fabrikam Japan KK</bdi> asks for delegated admin roles in your tenant "
        "(requested on 2031-03-10):" in body
    )
    review = url("delegated_admin_review", customer, delegated_admin_id=request.public_id)
    assert f'href="{review}">Review the request</a>' in body


def test_the_page_costs_the_same_queries_whatever_the_number_of_partners(signed_in, customer, linked):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get(url("partners", customer)).status_code == 200
        return len(captured)

    queries()  # the first request of the session also stores the active organization
    one = queries()
    for _ in range(3):
        other = ResellerFactory()
        customer_linked(other, customer, provider=ProviderFactory(), roles=ROLES)
        pending_request(customer, other)
        CustomerRelationship.objects.filter(customer=customer, partner=other).update(
            status=RelationshipStatus.ENDED, ended_at=NOW
        )
        customer_linked(other, customer, roles=ROLES, delegated=False)

    assert queries() == one


def test_other_organization_kinds_have_no_partner_relationships_tab(client, reseller):
    admin = MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN])
    client.force_login(admin.user)

    body = text(
        client.get(reverse("accounts:settings", kwargs={"organization_public_id": reseller.public_id}))
    )

    assert "Partner relationships" not in body
    assert client.get(url("partners", reseller)).status_code == 404


def test_the_settings_page_links_to_partner_relationships(signed_in, customer):
    body = text(
        signed_in.get(reverse("accounts:settings", kwargs={"organization_public_id": customer.public_id}))
    )

    assert f'<a href="{url("partners", customer)}">Partner relationships</a>' in body


# --- Removing delegated admin access ------------------------------------------------------------------


def test_removing_delegated_admin_access_shows_what_it_removes_then_removes_it(
    signed_in, customer, reseller, linked
):
    delegated = linked[2]
    page = signed_in.get(url("delegated_admin_remove", customer, delegated_admin_id=delegated.public_id))
    assert page.status_code == 200
    body = text(page)
    assert "Remove the delegated admin access of <bdi>Fabrikam Japan KK</bdi>?" in body
    assert "Helpdesk administrator" in body and "License administrator" in body
    assert "<bdi>Fabrikam Japan KK</bdi> loses the roles above in your tenant at once." in body
    assert partner_may(reseller, customer, DelegatedRole.HELPDESK_ADMIN) is True

    response = signed_in.post(
        url("delegated_admin_remove", customer, delegated_admin_id=delegated.public_id),
        {"reason": "We no longer need help."},
    )

    assert (response.status_code, response["Location"]) == (302, url("partners", customer))
    delegated.refresh_from_db()
    assert (delegated.status, delegated.close_reason) == (
        DelegatedAdminStatus.TERMINATED,
        "We no longer need help.",
    )
    assert partner_may(reseller, customer, DelegatedRole.HELPDESK_ADMIN) is False
    assert partner_may(reseller, customer, "view") is True  # the relationship itself stays
    assert (
        OutboxEmail.objects.filter(template="delegated_admin_removed", organization_id=reseller.pk).count()
        == 1
    )
    followed = text(signed_in.get(response["Location"]))
    assert (
        "The delegated admin access of Fabrikam Japan KK was removed. Fabrikam Japan KK was notified."
        in followed
    )
    assert "We no longer need help." in followed  # in the history
    assert ">Remove delegated admin access</a>" not in followed


def test_access_already_ended_cannot_be_removed_again(signed_in, customer, reseller, linked):
    delegated = linked[2]
    signed_in.post(url("delegated_admin_remove", customer, delegated_admin_id=delegated.public_id))
    before = state()

    page = signed_in.get(url("delegated_admin_remove", customer, delegated_admin_id=delegated.public_id))
    again = signed_in.post(url("delegated_admin_remove", customer, delegated_admin_id=delegated.public_id))

    assert "This delegated admin access is not active: there is nothing to remove." in text(page)
    assert again.status_code == 400
    assert state() == before


# --- Ending a relationship ----------------------------------------------------------------------------


def test_ending_the_reseller_shows_its_effects_then_ends_the_provider_and_the_access_too(
    signed_in, customer, reseller, provider, linked
):
    _customer, relationship, delegated = linked
    before = state()

    page = signed_in.get(url("relationship_end", customer, relationship_id=relationship.public_id))

    assert page.status_code == 200
    body = text(page)
    assert "End the relationship with <bdi>Fabrikam Japan KK</bdi>?" in body
    assert "<bdi>Fabrikam Japan KK</bdi> is no longer your reseller of record." in body
    assert (
        "<bdi>Northwind Distribution KK</bdi>, indirect provider through <bdi>Fabrikam Japan KK</bdi>, "
        "may no longer submit orders for your organization."
    ) in body
    assert (
        "<bdi>Fabrikam Japan KK</bdi> loses its delegated admin roles in your tenant at once "
        "(they would have ended on 2031-06-08):"
    ) in body
    assert (
        '<li class="customer-role-name">Helpdesk administrator</li>'
        '<li class="customer-role-name">License administrator</li>'
    ) in body
    assert state() == before  # showing changes nothing

    response = signed_in.post(
        url("relationship_end", customer, relationship_id=relationship.public_id), {"reason": "We moved."}
    )

    assert (response.status_code, response["Location"]) == (302, url("partners", customer))
    rows = CustomerRelationship.objects.order_by("role").values_list("partner", "status", "end_reason")
    assert list(rows) == [
        (provider.pk, RelationshipStatus.ENDED, "We moved."),
        (reseller.pk, RelationshipStatus.ENDED, "We moved."),
    ]
    delegated.refresh_from_db()
    assert delegated.status == DelegatedAdminStatus.TERMINATED
    assert partner_may(reseller, customer, "view") is False
    assert partner_may(provider, customer, "order") is False
    ended_emails = OutboxEmail.objects.filter(template="customer_relationship_ended")
    assert sorted(ended_emails.values_list("organization_id", flat=True)) == sorted(
        [reseller.pk, provider.pk]
    )
    followed = text(signed_in.get(response["Location"]))
    assert (
        "The relationship with Fabrikam Japan KK has ended. The partners concerned were notified." in followed
    )
    assert "No partners yet." in followed
    assert "Ended relationships</h3>" in followed and "Ended delegated admin access</h3>" in followed
    assert "The relationship ended" in followed  # why the access closed


def test_ending_the_provider_ends_that_relationship_only(signed_in, customer, reseller, provider, linked):
    provider_row = CustomerRelationship.objects.get(partner=provider)
    body = text(signed_in.get(url("relationship_end", customer, relationship_id=provider_row.public_id)))
    assert "is no longer your reseller of record" not in body
    assert "loses its delegated admin roles" not in body

    signed_in.post(url("relationship_end", customer, relationship_id=provider_row.public_id))

    provider_row.refresh_from_db()
    assert provider_row.status == RelationshipStatus.ENDED
    assert CustomerRelationship.objects.get(partner=reseller).status == RelationshipStatus.ACTIVE
    assert partner_may(reseller, customer, DelegatedRole.HELPDESK_ADMIN) is True
    ended = text(signed_in.get(url("relationship_end", customer, relationship_id=provider_row.public_id)))
    assert "This relationship already ended on 2031-03-10." in ended


# --- Answering a role request -------------------------------------------------------------------------


def test_approving_a_role_request_replaces_the_live_roles(signed_in, customer, reseller, linked):
    old = linked[2]
    request = pending_request(customer, reseller, roles=[DelegatedRole.USER_ADMIN], days=30)
    review = url("delegated_admin_review", customer, delegated_admin_id=request.public_id)

    body = text(signed_in.get(review))

    assert "Delegated admin request from <bdi>Fabrikam Japan KK</bdi>" in body
    assert "User administrator" in body
    assert "Create, change and delete your users and groups" in body
    assert "<dt>Access duration</dt><dd>30 days</dd>" in body
    assert "<dt>Ends (UTC)</dt><dd><strong>2031-04-09</strong>, if you approve today</dd>" in body
    assert "Global administrator is among the roles" not in body
    assert (
        "these roles that <bdi>Fabrikam Japan KK</bdi> holds now "
        '(until <span class="nowrap">2031-06-08</span>) end' in body
    )
    assert 'name="decision" value="approve"' in body and 'name="decision" value="decline"' in body

    # neither button: a clear error, and nothing changes
    response = signed_in.post(review, {"decision": "maybe"})
    assert response.status_code == 400
    assert "Choose Approve or Decline." in text(response)
    request.refresh_from_db()
    assert request.status == DelegatedAdminStatus.APPROVAL_PENDING

    response = signed_in.post(review, {"decision": "approve"})

    assert (response.status_code, response["Location"]) == (302, url("partners", customer))
    request.refresh_from_db()
    old.refresh_from_db()
    assert (request.status, request.ends_at) == (DelegatedAdminStatus.ACTIVE, NOW + timedelta(days=30))
    assert old.status == DelegatedAdminStatus.TERMINATED
    assert partner_may(reseller, customer, DelegatedRole.USER_ADMIN) is True
    assert partner_may(reseller, customer, DelegatedRole.HELPDESK_ADMIN) is False
    followed = text(signed_in.get(response["Location"]))
    assert (
        "You approved the delegated admin roles of Fabrikam Japan KK, until 2031-04-09. "
        "Fabrikam Japan KK was notified."
    ) in followed


def test_declining_a_role_request_keeps_the_live_roles(signed_in, customer, reseller, linked):
    old = linked[2]
    request = pending_request(customer, reseller)
    review = url("delegated_admin_review", customer, delegated_admin_id=request.public_id)

    response = signed_in.post(review, {"decision": "decline", "reason": "Not now."})

    assert (response.status_code, response["Location"]) == (302, url("partners", customer))
    request.refresh_from_db()
    old.refresh_from_db()
    assert (request.status, request.close_reason) == (DelegatedAdminStatus.TERMINATED, "Not now.")
    assert old.status == DelegatedAdminStatus.ACTIVE
    assert OutboxEmail.objects.filter(
        template="delegated_admin_declined", organization_id=reseller.pk
    ).exists()
    assert "You declined the request of Fabrikam Japan KK." in text(signed_in.get(response["Location"]))


def test_an_answered_request_shows_its_status_only(signed_in, customer, reseller, linked):
    request = pending_request(customer, reseller)
    review = url("delegated_admin_review", customer, delegated_admin_id=request.public_id)
    signed_in.post(review, {"decision": "decline"})
    before = state()

    body = text(signed_in.get(review))
    again = signed_in.post(review, {"decision": "approve"})

    assert "This request was already answered or withdrawn: there is nothing to decide." in body
    assert 'value="approve"' not in body
    assert again.status_code == 400
    assert state() == before


def test_a_post_without_a_decision_changes_nothing(signed_in, customer, reseller, linked):
    request = pending_request(customer, reseller)
    before = state()

    response = signed_in.post(url("delegated_admin_review", customer, delegated_admin_id=request.public_id))

    assert response.status_code == 400
    assert state() == before


# --- Isolation and permissions ------------------------------------------------------------------------


def _routes(customer, reseller):
    relationship = CustomerRelationship.objects.get(customer=customer, partner=reseller)
    delegated = DelegatedAdminRelationship.objects.get(customer=customer, status="active")
    request = pending_request(customer, reseller)
    return [
        ("relationship_end", {"relationship_id": relationship.public_id}, {"reason": "x"}),
        ("delegated_admin_remove", {"delegated_admin_id": delegated.public_id}, {"reason": "x"}),
        ("delegated_admin_review", {"delegated_admin_id": request.public_id}, {"decision": "approve"}),
        ("delegated_admin_review", {"delegated_admin_id": request.public_id}, {"decision": "decline"}),
    ]


def test_another_customers_objects_are_404_and_nothing_changes(signed_in, customer, reseller, linked):
    other = CustomerFactory(legal_name="Other Customer KK")
    customer_linked(reseller, other, roles=ROLES)
    routes = _routes(other, reseller)
    before = state()

    for name, kwargs, data in routes:
        assert signed_in.get(url(name, customer, **kwargs)).status_code == 404
        assert signed_in.post(url(name, customer, **kwargs), data).status_code == 404

    assert state() == before


def test_a_user_management_admin_of_the_customer_is_refused_and_nothing_changes(
    client, customer, reseller, linked
):
    member = MembershipFactory(organization=customer, roles=[Role.USER_MANAGEMENT_ADMIN])
    client.force_login(member.user)
    routes = _routes(customer, reseller)
    before = state()

    assert client.get(url("partners", customer)).status_code == 403
    for name, kwargs, data in routes:
        assert client.get(url(name, customer, **kwargs)).status_code == 403
        assert client.post(url(name, customer, **kwargs), data).status_code == 403

    assert state() == before
    settings_page = text(
        client.get(reverse("accounts:settings", kwargs={"organization_public_id": customer.public_id}))
    )
    assert "Partner relationships" not in settings_page


# --- The Activity log ---------------------------------------------------------------------------------


def test_the_activity_log_names_the_partner_steps(signed_in, customer, reseller, linked):
    delegated = linked[2]
    signed_in.post(url("delegated_admin_remove", customer, delegated_admin_id=delegated.public_id))
    relationship = CustomerRelationship.objects.get(partner=reseller)
    signed_in.post(url("relationship_end", customer, relationship_id=relationship.public_id))

    body = text(
        signed_in.get(reverse("accounts:activity", kwargs={"organization_public_id": customer.public_id}))
    )

    assert 'Delegated admin access ended<br><code class="muted">delegated_admin.terminated</code>' in body
    assert 'Customer relationship ended<br><code class="muted">customer_relationship.ended</code>' in body


def test_the_customers_dashboard_shows_the_request_to_answer_and_the_next_end(
    signed_in, customer, reseller, linked
):
    dashboard = reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": customer.public_id}
    )
    body = text(signed_in.get(dashboard))
    assert "Partner relationships" in body and "asks for delegated admin roles" not in body
    assert "The next delegated admin access to end in your tenant ends on" in body

    request = pending_request(customer, reseller)
    body = text(signed_in.get(dashboard))
    review = url("delegated_admin_review", customer, delegated_admin_id=request.public_id)
    assert f'A partner asks for delegated admin roles in your tenant: <a href="{review}">' in body

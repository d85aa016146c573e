"""The subscription pages: the customer's own Subscriptions page (with its latest orders), the CSV exports
of each side, the provider's auto-renew switch, and the subscriptions on a partner's customer pages (one
customer; the Customers list with a query count that does not grow). A denied request changes nothing."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from commerce.models import Order, OrderKind, Subscription, SubscriptionStatus
from commerce.services import orders as order_services
from customers.models import DelegatedRole
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

START = datetime(2025, 4, 1, 9, 30, tzinfo=UTC)


def url(name, organization, **kwargs):
    return reverse(f"commerce:{name}", kwargs={"organization_public_id": organization.public_id, **kwargs})


def customers_url(name, organization, **kwargs):
    return reverse(f"customers:{name}", kwargs={"organization_public_id": organization.public_id, **kwargs})


def state():
    return (
        sorted(Subscription.objects.values_list("pk", "status", "seats", "auto_renew")),
        sorted(Order.objects.values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"),
        ProviderFactory(legal_name="Blue Yonder Distribution"),
        customer=CustomerFactory(legal_name="Fabrikam KK"),
    )


@pytest.fixture
def subscriptions(link):
    """Two subscriptions of the customer (one with two licences assigned), and another customer's."""
    suite = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider,
        offer=OfferFactory(name="Cloud Suite Business", product_code="CSB-1"), seats=5,
        started_at=START, term_started_at=START, renews_at=START + timedelta(days=30),
    )  # fmt: skip
    security = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider,
        offer=OfferFactory(name="Advanced Security", product_code="SEC-1", billing_term="annual"),
        seats=2, auto_renew=False, started_at=START, term_started_at=START,
        renews_at=START + timedelta(days=365), unit_price=2400,
    )  # fmt: skip
    for _ in range(2):
        LicenceAssignmentFactory(
            subscription=suite, directory_user=DirectoryUserFactory(tenant=link.customer.directory_tenant)
        )
    other = commerce_linked(ResellerFactory(legal_name="Tailspin Toys KK"), link.provider)
    foreign = SubscriptionFactory(
        customer=other.customer, reseller=other.reseller, provider=link.provider,
        offer=OfferFactory(name="Someone Else's Suite"),
    )  # fmt: skip
    return {"suite": suite, "security": security, "foreign": foreign, "other": other}


# --- The customer's own Subscriptions page ----------------------------------------------------------


def test_the_customer_sees_its_subscriptions_and_latest_orders(client, link, subscriptions):
    submitted = order_services.order_submit(
        by=link.provider_agent, customer=link.customer, reseller=link.reseller, kind=OrderKind.SEATS,
        subscription=subscriptions["suite"], seats=6, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    order_services.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.SEATS,
        subscription=subscriptions["security"], seats=9, send=False, idempotency_key=uuid.uuid4(),
    )  # a draft: the reseller's own  # fmt: skip
    client.force_login(link.customer_admin.user)

    response = client.get(url("subscriptions", link.customer))

    assert response.status_code == 200
    listed = [(item.name, item.seats, item.assigned) for item in response.context["page"].object_list]
    assert listed == [("Advanced Security", 2, 0), ("Cloud Suite Business", 5, 2)]
    assert [order.pk for order in response.context["orders"]] == [submitted.pk]
    body = response.content.decode()
    assert "The latest order that your partners submitted or asked for." in body  # one, not "the latest 20"
    assert "<h1>Subscriptions</h1>" in body
    assert "2 of 5" in body
    assert "2025-05-01 09:30" in body  # the renewal date, UTC
    assert "<bdi>Contoso Japan KK</bdi>" in body and "<bdi>Blue Yonder Distribution</bdi>" in body
    assert "Someone Else" not in body
    assert url("subscriptions_export", link.customer) in body


def test_a_customer_member_without_billing_view_cannot_open_it(client, link, subscriptions):
    client.force_login(MembershipFactory(organization=link.customer, roles=[Role.USER_MANAGEMENT_ADMIN]).user)

    assert client.get(url("subscriptions", link.customer)).status_code == 403
    assert client.get(url("subscriptions_export", link.customer)).status_code == 403


# --- CSV exports ------------------------------------------------------------------------------------

HEADER = [
    "subscription_id", "name", "offer", "product_code", "seats", "licences_assigned", "billing_term",
    "commitment", "status", "status_label", "started_utc", "renews_utc", "auto_renew", "currency",
    "price_per_seat", "reseller_of_record", "provider",
]  # fmt: skip


def test_the_customers_export_has_its_own_subscriptions_with_formulas_neutralised(
    client, link, subscriptions
):
    Subscription.objects.filter(pk=subscriptions["security"].pk).update(name='=HYPERLINK("x")')
    client.force_login(link.customer_admin.user)

    response = client.get(url("subscriptions_export", link.customer))

    assert (
        response["Content-Disposition"]
        == f'attachment; filename="subscriptions-{link.customer.public_id}.csv"'
    )
    rows = csv_rows(response)
    assert rows[0] == HEADER
    security, suite = subscriptions["security"], subscriptions["suite"]
    assert rows[1:] == [
        [
            str(security.public_id), "'=HYPERLINK(\"x\")", "Advanced Security", "SEC-1", "2", "0", "annual",
            "none", "active", "Active", "2025-04-01T09:30:00+00:00", "2026-04-01T09:30:00+00:00", "no",
            "JPY", "2400", "Contoso Japan KK", "Blue Yonder Distribution",
        ],
        [
            str(suite.public_id), "Cloud Suite Business", "Cloud Suite Business", "CSB-1", "5", "2",
            "monthly", "none", "active", "Active", "2025-04-01T09:30:00+00:00", "2025-05-01T09:30:00+00:00",
            "yes", "JPY", "1200", "Contoso Japan KK", "Blue Yonder Distribution",
        ],
    ]  # fmt: skip


def test_the_partners_export_has_every_subscription_it_reads_with_the_customers_name(
    client, link, subscriptions, monkeypatch
):
    monkeypatch.setattr("commerce.views.subscriptions.EXPORT_CUSTOMERS_PER_QUERY", 1)  # a batch per customer
    client.force_login(link.reseller_agent.user)

    rows = csv_rows(client.get(url("partner_subscriptions_export", link.reseller)))

    assert rows[0] == ["customer", "customer_id", *HEADER]
    assert [(row[0], row[3]) for row in rows[1:]] == [
        ("Fabrikam KK", "Advanced Security"),
        ("Fabrikam KK", "Cloud Suite Business"),
    ]
    assert rows[1][1] == str(link.customer.public_id)

    client.force_login(link.provider_agent.user)
    rows = csv_rows(client.get(url("partner_subscriptions_export", link.provider)))
    other = subscriptions["other"].customer.legal_name
    assert sorted((row[0], row[3]) for row in rows[1:]) == sorted(
        [("Fabrikam KK", "Advanced Security"), ("Fabrikam KK", "Cloud Suite Business"),
         (other, "Someone Else's Suite")]
    )  # fmt: skip

    stranger = ResellerFactory()
    client.force_login(MembershipFactory(organization=stranger, roles=[Role.GLOBAL_ADMIN]).user)
    assert csv_rows(client.get(url("partner_subscriptions_export", stranger))) == [
        ["customer", "customer_id", *HEADER]
    ]


def test_a_customer_has_no_partner_export(client, link, subscriptions):
    client.force_login(link.customer_admin.user)

    assert client.get(url("partner_subscriptions_export", link.customer)).status_code == 404


# --- Auto-renew -------------------------------------------------------------------------------------


def auto_renew_url(link, subscription, organization=None):
    return url(
        "subscription_auto_renew",
        organization or link.provider,
        customer_id=link.customer.public_id,
        subscription_id=subscription.public_id,
    )


def test_the_provider_turns_auto_renew_off_and_on(client, link, subscriptions):
    suite = subscriptions["suite"]
    client.force_login(link.provider_agent.user)

    response = client.post(auto_renew_url(link, suite), {"auto_renew": "off"})

    suite.refresh_from_db()
    assert response["Location"] == customers_url(
        "customer", link.provider, customer_id=link.customer.public_id
    )
    assert suite.auto_renew is False
    rows = AuditEvent.objects.filter(action="subscription.auto_renew_changed")
    assert sorted(
        (row.organization_id, row.after["auto_renew"], row.after["acting_partner"]) for row in rows
    ) == sorted(
        (organization.pk, False, "Blue Yonder Distribution")
        for organization in (link.customer, link.reseller, link.provider)
    )
    page = client.get(response["Location"])
    assert [str(message) for message in page.context["messages"]] == [
        "Auto-renew is off: the subscription ends on 2025-05-01 (UTC)."
    ]

    client.post(auto_renew_url(link, suite), {"auto_renew": "on"})
    suite.refresh_from_db()
    assert suite.auto_renew is True


def test_auto_renew_is_the_providers_with_customers_manage_only(client, link, subscriptions):
    suite = subscriptions["suite"]
    before = state()

    client.force_login(MembershipFactory(organization=link.provider, roles=[Role.HELPDESK_AGENT]).user)
    assert client.post(auto_renew_url(link, suite), {"auto_renew": "off"}).status_code == 403
    client.force_login(link.reseller_agent.user)
    assert client.post(auto_renew_url(link, suite, link.reseller), {"auto_renew": "off"}).status_code == 404
    stranger = ProviderFactory()
    client.force_login(MembershipFactory(organization=stranger, roles=[Role.GLOBAL_ADMIN]).user)
    assert client.post(auto_renew_url(link, suite, stranger), {"auto_renew": "off"}).status_code == 404
    client.force_login(link.provider_agent.user)
    foreign = subscriptions["foreign"]
    assert client.post(auto_renew_url(link, foreign), {"auto_renew": "off"}).status_code == 404
    assert state() == before


# --- A partner's customer page ----------------------------------------------------------------------


def test_the_providers_customer_page_has_the_subscriptions_and_its_order_actions(client, link, subscriptions):
    suite = subscriptions["suite"]
    client.force_login(link.provider_agent.user)

    response = client.get(customers_url("customer", link.provider, customer_id=link.customer.public_id))

    assert [item.name for item in response.context["subscriptions"]] == [
        "Advanced Security", "Cloud Suite Business",
    ]  # fmt: skip
    body = response.content.decode()
    order_new = url("order_new", link.provider, customer_id=link.customer.public_id)
    assert f'href="{order_new}?kind=new">New order</a>' in body
    assert f"{order_new}?kind=seats&amp;subscription={suite.public_id}" in body
    assert f"{order_new}?kind=cancel&amp;subscription={suite.public_id}" in body
    assert auto_renew_url(link, suite) in body
    assert "Turn off auto-renew" in body and "Turn on auto-renew" in body  # the second one is off
    assert "<bdi>Contoso Japan KK</bdi>, the reseller of record, holds the delegated admin" in body
    assert "Delegated admin history" not in body and "Request new or changed roles" not in body
    assert url("customer_users", link.reseller, customer_id=link.customer.public_id) not in body


def test_a_provider_member_who_may_not_order_sees_no_order_actions(client, link, subscriptions):
    client.force_login(MembershipFactory(organization=link.provider, roles=[Role.HELPDESK_AGENT]).user)

    body = client.get(
        customers_url("customer", link.provider, customer_id=link.customer.public_id)
    ).content.decode()

    assert "Cloud Suite Business" in body
    assert "New order" not in body and "Turn off auto-renew" not in body and "Change seats" not in body


def test_the_resellers_customer_page_has_requests_and_says_which_roles_it_lacks(client, link, subscriptions):
    suite = subscriptions["suite"]
    link.delegated_admin.roles = [DelegatedRole.LICENSE_ADMIN]
    link.delegated_admin.save(update_fields=["roles"])
    client.force_login(link.reseller_agent.user)

    body = client.get(
        customers_url("customer", link.reseller, customer_id=link.customer.public_id)
    ).content.decode()

    request_new = url("order_request_new", link.reseller, customer_id=link.customer.public_id)
    assert f'href="{request_new}?kind=new">Request an order</a>' in body
    assert f"{request_new}?kind=seats&amp;subscription={suite.public_id}" in body
    assert "New order" not in body and "Turn off auto-renew" not in body
    assert url("customer_users", link.reseller, customer_id=link.customer.public_id) in body
    assert "Needs the User administrator role." in body
    assert "You hold the License administrator role." in body
    assert (
        customers_url("delegated_admin_request", link.reseller, customer_id=link.customer.public_id) in body
    )
    assert "Delegated admin history" in body


# --- The Customers list -----------------------------------------------------------------------------


def test_each_customer_row_shows_its_subscriptions_and_links(client, link, subscriptions):
    client.force_login(link.reseller_agent.user)

    body = client.get(customers_url("list", link.reseller)).content.decode()

    row = body.split('<li class="customer-row')[1]
    # each part whole on its line: a phone breaks the line between them, never inside one ("10 | seats")
    nowrap = '<span class="nowrap">{}</span>'.format
    assert (
        f"<li><bdi>Advanced Security</bdi> · {nowrap('2 seats')} · {nowrap('Active')} · "
        f"{nowrap('ends 2026-04-01 (UTC)')}</li>"
    ) in row
    assert (
        f"<li><bdi>Cloud Suite Business</bdi> · {nowrap('5 seats')} · {nowrap('Active')} · "
        f"{nowrap('renews 2025-05-01 (UTC)')}</li>"
    ) in row
    assert url("customer_users", link.reseller, customer_id=link.customer.public_id) in row
    assert url("customer_licences", link.reseller, customer_id=link.customer.public_id) in row
    assert "needs the" not in row  # the factory's delegated admin holds both roles

    client.force_login(link.provider_agent.user)
    body = client.get(customers_url("list", link.provider)).content.decode()
    rows = {
        part.split("<bdi>")[1].split("</bdi>")[0]: part for part in body.split('<li class="customer-row')[1:]
    }
    fabrikam = rows["Fabrikam KK"]
    order_new = url("order_new", link.provider, customer_id=link.customer.public_id)
    assert f"{order_new}?kind=new&amp;reseller={link.reseller.public_id}" in fabrikam
    assert "Cloud Suite Business" in fabrikam and "Someone Else" not in fabrikam


def _query_count(client, path) -> int:
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    for query in captured:
        assert "COUNT(" not in query["sql"].upper() and "OFFSET" not in query["sql"].upper()
    return len(captured)


@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_the_customers_list_query_count_does_not_grow_with_subscriptions(client, side):
    reseller, provider = ResellerFactory(), ProviderFactory()
    first = commerce_linked(reseller, provider)
    client.force_login(getattr(first, f"{side}_agent").user)

    def add(count):
        for _ in range(count):
            link = commerce_linked(reseller, provider)
            for _ in range(2):
                SubscriptionFactory(customer=link.customer, reseller=reseller, provider=provider)

    add(2)
    few = _query_count(client, customers_url("list", getattr(first, side)))
    add(27)
    many = _query_count(client, customers_url("list", getattr(first, side)))

    rows = client.get(customers_url("list", getattr(first, side))).context["rows"]
    assert len(rows) == 30
    assert sum(len(row.subscriptions) for row in rows) == 58
    assert few == many


def test_an_ended_subscription_shows_its_end_and_no_actions(client, link, subscriptions):
    Subscription.objects.filter(pk=subscriptions["suite"].pk).update(
        status=SubscriptionStatus.CANCELLED, ended_at=START + timedelta(days=3)
    )
    client.force_login(link.provider_agent.user)

    body = client.get(
        customers_url("customer", link.provider, customer_id=link.customer.public_id)
    ).content.decode()

    assert "ended 2025-04-04" in body
    assert f"subscription={subscriptions['suite'].public_id}" not in body
    assert auto_renew_url(link, subscriptions["suite"]) not in body

"""The customer's Subscriptions page and the subscriptions of a partner's customer page print their rows
through ``{% memo %}`` (portal/memo.py, issue 12): a second request is read from the memo and is the same
page, a row whose data changed (name, seats, licences in use, status, auto-renew) shows the new values at
once, and the provider's auto-renew forms keep a CSRF token of their own response. The customer's first page
of subscriptions is read by a query compiled once (``own_subscription_rows_first``): the same page as
``keyset_page`` gives, and the next pages still are ``keyset_page``'s."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict
from django.urls import reverse

from commerce import selectors
from commerce.models import Order, OrderKind, OrderStatus, Subscription, SubscriptionStatus
from commerce.services import orders as order_services
from commerce.views.subscriptions import SUBSCRIPTION_ORDERING
from portal.lists import keyset_first_page, keyset_page
from portal.memo import memo
from tests.factories.accounts import DirectoryUserFactory
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.support.pages import CSRF_TOKEN, body_of

pytestmark = pytest.mark.django_db

START = datetime(2025, 4, 1, 9, 30, tzinfo=UTC)


def subscriptions_url(customer, query=""):
    path = reverse("commerce:subscriptions", kwargs={"organization_public_id": customer.public_id})
    return f"{path}?{query}" if query else path


def customer_page_url(partner, customer):
    return reverse(
        "customers:customer",
        kwargs={"organization_public_id": partner.public_id, "customer_id": customer.public_id},
    )


def row_of(body: str, name: str) -> str:
    """The markup of the subscriptions table's row of the subscription named ``name``."""
    [row] = [
        row.split("</tr>")[0]
        for row in body.split("<tr>")[1:]
        if f'<bdi class="subscription-name">{name}</bdi>' in row
    ]
    return row


def table_of(response) -> str:
    """The subscriptions table and its page links."""
    body = body_of(response)
    return body[body.index('<div class="table-scroll"') : body.index('<section class="customer-history"')]


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"),
        ProviderFactory(legal_name="Blue Yonder Distribution"),
        customer=CustomerFactory(legal_name="Fabrikam KK"),
    )


@pytest.fixture
def subscriptions(link):
    """A seat-based subscription with two licences in use, one without auto-renew, one not sold by the
    seat and a cancelled one; and an order of the provider and a request of the reseller."""
    made = {
        "suite": SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider, name="Cloud Suite",
            offer=OfferFactory(product_code="CSB-1"), seats=5, started_at=START, term_started_at=START,
            renews_at=START + timedelta(days=30),
        ),
        "security": SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider, name="Advanced Security",
            seats=2, auto_renew=False, started_at=START, term_started_at=START,
            renews_at=START + timedelta(days=365),
        ),
        "support": SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider, name="Premier Support",
            offer=OfferFactory(seat_based=False), seats=1,
        ),
        "archive": SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider, name="Archive",
            status=SubscriptionStatus.CANCELLED, ended_at=START + timedelta(days=3),
        ),
    }  # fmt: skip
    for _ in range(2):
        LicenceAssignmentFactory(
            subscription=made["suite"],
            directory_user=DirectoryUserFactory(tenant=link.customer.directory_tenant),
        )
    order_services.order_submit(
        by=link.provider_agent, customer=link.customer, reseller=link.reseller, kind=OrderKind.SEATS,
        subscription=made["suite"], seats=6, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    order_services.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.CANCEL,
        subscription=made["security"], send=True, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    return made


# --- The customer's own page ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_second_request_of_the_customers_page_is_read_from_the_memo_and_is_the_same_page(
    client, link, subscriptions, language
):
    client.force_login(link.customer_admin.user)
    client.cookies["portal_language"] = language
    first = body_of(client.get(subscriptions_url(link.customer)))
    rows = first.count('<bdi class="subscription-name">') + first.count('<bdi class="order-offer">')
    assert rows == 4 + 2

    hits, misses = memo.hits, memo.misses
    second = body_of(client.get(subscriptions_url(link.customer)))

    # every fragment of the second response comes from the memo (the table is one memo of its rows')
    assert memo.hits > hits and memo.misses == misses
    assert second == first


def test_the_customers_page_shows_a_rows_new_values_at_once(client, link, subscriptions):
    client.force_login(link.customer_admin.user)
    body = body_of(client.get(subscriptions_url(link.customer)))
    suite = row_of(body, "Cloud Suite")
    assert '<span class="nowrap">2 of 5</span>' in suite and "Auto-renew on" in suite
    assert f"?subscription={subscriptions['suite'].public_id}" in suite  # its Licences link
    assert "Not sold by the seat" in row_of(body, "Premier Support")
    assert "ended 2025-04-04" in row_of(body, "Archive")

    Subscription.objects.filter(pk=subscriptions["suite"].pk).update(
        name="Cloud Suite Plus", seats=8, auto_renew=False, renews_at=START + timedelta(days=61)
    )
    LicenceAssignmentFactory(
        subscription=subscriptions["suite"],
        directory_user=DirectoryUserFactory(tenant=link.customer.directory_tenant),
    )
    Subscription.objects.filter(pk=subscriptions["security"].pk).update(status=SubscriptionStatus.SUSPENDED)
    Order.objects.filter(customer=link.customer, kind=OrderKind.SEATS).update(status=OrderStatus.FAILED)
    body = body_of(client.get(subscriptions_url(link.customer)))

    suite = row_of(body, "Cloud Suite Plus")
    assert '<span class="nowrap">3 of 8</span>' in suite
    assert "2025-06-01 09:30" in suite and "Auto-renew off" in suite and "Auto-renew on" not in suite
    assert '<bdi class="subscription-name">Cloud Suite</bdi>' not in body
    assert '<span class="badge badge--suspended">Suspended</span>' in row_of(body, "Advanced Security")
    assert '<span class="badge badge--failed">Failed</span>' in body


def test_the_customers_latest_orders_are_read_anew(client, link, subscriptions):
    client.force_login(link.customer_admin.user)
    body = body_of(client.get(subscriptions_url(link.customer)))
    assert "The latest 2 orders that your partners submitted or asked for." in body

    order_services.order_submit(
        by=link.provider_agent, customer=link.customer, reseller=link.reseller, kind=OrderKind.CANCEL,
        subscription=subscriptions["support"], idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    body = body_of(client.get(subscriptions_url(link.customer)))

    assert "The latest 3 orders that your partners submitted or asked for." in body
    assert '<bdi class="order-offer">Premier Support</bdi>' in body


# --- The first page and the next ones ---------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 3, 50, 51, 120])
def test_the_first_page_is_the_one_keyset_page_gives(link, count):
    offer = OfferFactory()
    for number in range(count):
        SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider, offer=offer,
            name=f"Suite {number % 7:03d}",
        )  # fmt: skip
    query = QueryDict("status=any&x=%C3%A9")
    expected = keyset_page(
        selectors.with_assigned_counts(
            selectors.subscription_rows(selectors.subscriptions_of(link.customer, link.customer))
        ),
        ordering=SUBSCRIPTION_ORDERING,
        query=query,
    )

    rows = selectors.own_subscription_rows_first(link.customer, ordering=SUBSCRIPTION_ORDERING, count=51)
    page = keyset_first_page(rows, ordering=SUBSCRIPTION_ORDERING, query=query)

    assert page == expected
    assert [
        (row.pk, row.name, row.assigned, row.offer.product_code, row.reseller.legal_name)
        for row in page.object_list
    ] == [
        (row.pk, row.name, row.assigned, row.offer.product_code, row.reseller.legal_name)
        for row in expected.object_list
    ]


def test_the_customer_pages_through_its_subscriptions(client, link):
    offer = OfferFactory()
    names = [f"Suite {number:03d}" for number in range(53)]
    for name in names:
        SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider, offer=offer, name=name
        )
    client.force_login(link.customer_admin.user)

    first = client.get(subscriptions_url(link.customer))
    second = client.get(subscriptions_url(link.customer, first.context["page"].next_query))
    back = client.get(subscriptions_url(link.customer, second.context["page"].previous_query))

    assert [row.name for row in first.context["rows"]] == names[:50]
    assert [row.name for row in second.context["rows"]] == names[50:]
    assert table_of(back) == table_of(first)  # the same rows and links (the language switcher's differ)


def test_the_customers_first_page_reads_only_its_own_subscriptions(client, link, subscriptions):
    other = commerce_linked(link.reseller, link.provider)
    SubscriptionFactory(customer=other.customer, reseller=link.reseller, provider=link.provider, name="Aaa")
    client.force_login(link.customer_admin.user)

    response = client.get(subscriptions_url(link.customer))

    assert [row.name for row in response.context["rows"]] == [
        "Advanced Security", "Archive", "Cloud Suite", "Premier Support",
    ]  # fmt: skip
    assert "Aaa" not in response.content.decode()


# --- A partner's customer page ----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_the_second_request_of_a_partners_customer_page_is_read_from_the_memo(
    client, link, subscriptions, side
):
    partner = getattr(link, side)
    client.force_login(getattr(link, f"{side}_agent").user)
    first_response = client.get(customer_page_url(partner, link.customer))
    first = body_of(first_response)
    rows = first.count('<bdi class="subscription-name">')
    assert rows == 4

    hits, misses = memo.hits, memo.misses
    second_response = client.get(customer_page_url(partner, link.customer))

    # every fragment of the second response comes from the memo (the table is one memo of its rows')
    assert memo.hits > hits and memo.misses == misses
    assert body_of(second_response) == first
    if side == "provider":
        # each live subscription's auto-renew form, a hole in the table's memo: this response's own token
        tokens = CSRF_TOKEN.findall(second_response.content.decode())
        assert len(tokens) >= 3 and all(tokens) and len(set(tokens)) == 1
        assert not set(tokens) & set(CSRF_TOKEN.findall(first_response.content.decode()))
        assert first.count('<form method="post" action="/o/') >= 3


def test_the_providers_customer_page_shows_a_new_auto_renew_and_status_at_once(client, link, subscriptions):
    client.force_login(link.provider_agent.user)
    body = body_of(client.get(customer_page_url(link.provider, link.customer)))
    suite = row_of(body, "Cloud Suite")
    assert "Turn off auto-renew" in suite and "kind=cancel" in suite

    Subscription.objects.filter(pk=subscriptions["suite"].pk).update(auto_renew=False)
    body = body_of(client.get(customer_page_url(link.provider, link.customer)))
    suite = row_of(body, "Cloud Suite")
    assert "Turn on auto-renew" in suite and "Turn off auto-renew" not in suite

    Subscription.objects.filter(pk=subscriptions["suite"].pk).update(
        status=SubscriptionStatus.CANCELLED, ended_at=START + timedelta(days=9)
    )
    body = body_of(client.get(customer_page_url(link.provider, link.customer)))
    suite = row_of(body, "Cloud Suite")
    assert "auto-renew" not in suite.lower()  # neither its switch nor its renewal: it has ended
    assert "kind=cancel" not in suite and "ended 2025-04-10" in suite
    assert '<div class="table__actions' not in suite

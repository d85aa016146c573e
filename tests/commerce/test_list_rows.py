"""What the commerce list pages read per row, made cheaper than the full objects: the same rows, names and
links as the full objects give, on each side (customer, reseller, provider), and the date filters that
write what ``|date`` writes."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from commerce import selectors
from commerce.models import Order, OrderKind
from commerce.services import orders as order_services
from tests.factories.commerce import OfferFactory, SubscriptionFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db


def page_url(name, organization):
    return reverse(f"commerce:{name}", kwargs={"organization_public_id": organization.public_id})


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"),
        ProviderFactory(legal_name="Blue Yonder Distribution"),
        customer=CustomerFactory(legal_name="Fabrikam KK"),
    )


@pytest.fixture
def orders(link):
    """A new subscription ordered by the provider, a seats change sent by the reseller, and the reseller's
    draft of another subscription's cancellation (which only the reseller sees)."""
    offer = OfferFactory(name="Cloud Suite Business", product_code="CSB-1", prices={"JP": ("JPY", 1200)})
    subscription = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider,
        offer=OfferFactory(name="Advanced Security"), name="Security for Fabrikam", seats=5,
    )  # fmt: skip
    ending = SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider)
    new = order_services.order_submit(
        by=link.provider_agent, customer=link.customer, reseller=link.reseller, kind=OrderKind.NEW,
        offer=offer, seats=3, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    seats = order_services.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.SEATS,
        subscription=subscription, seats=7, send=True, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    draft = order_services.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.CANCEL,
        subscription=ending, send=False, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    return {"new": new, "seats": seats, "draft": draft}


@pytest.mark.parametrize("side", ["customer", "reseller", "provider"])
def test_an_order_row_has_the_full_orders_names_in_the_same_order(link, orders, side):
    organization = getattr(link, side)

    full = list(selectors.orders_visible_to(organization))
    rows = list(selectors.order_rows_visible_to(organization))

    assert [row.pk for row in rows] == [order.pk for order in full]
    for row, order in zip(rows, full, strict=True):
        assert (row.public_id, row.kind, row.status, row.seats, row.created_at) == (
            order.public_id, order.kind, order.status, order.seats, order.created_at,
        )  # fmt: skip
        assert row.requested_by_reseller == order.requested_by_reseller
        assert row.item_name == (order.subscription.name if order.subscription else order.offer.name)
        for party in ("customer", "reseller", "provider"):
            if party != side:
                assert getattr(row, f"{party}_name") == getattr(order, party).legal_name
    names = {row.pk: row.item_name for row in rows}
    assert names[orders["new"].pk] == "Cloud Suite Business"
    assert names[orders["seats"].pk] == "Security for Fabrikam"
    assert (orders["draft"].pk in names) is (side == "reseller")


@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_the_orders_list_links_each_row_to_its_order_with_its_labels(client, link, orders, side):
    organization = getattr(link, side)
    client.force_login(getattr(link, f"{side}_agent").user)

    response = client.get(page_url("orders", organization))

    body = response.content.decode()
    listed = response.context["page"].object_list
    assert [row.pk for row in listed] == list(
        selectors.orders_visible_to(organization).values_list("pk", flat=True)
    )
    rows = response.context["rows"]
    assert len(rows) == len(listed)
    for listed_order, row in zip(listed, rows, strict=True):
        order = Order.objects.get(pk=listed_order.pk)
        link_to = reverse(
            "commerce:order",
            kwargs={"organization_public_id": organization.public_id, "order_id": order.public_id},
        )
        assert row.url == link_to
        assert f'<a href="{link_to}"><bdi>Fabrikam KK</bdi></a>' in body
        assert f'<span class="badge badge--{order.status}">{order.get_status_display()}</span>' in body
    assert '<span class="muted">New subscription</span>' in body
    assert '<span class="muted">Change seats · <span class="nowrap">Order request</span></span>' in body
    party = "Contoso Japan KK" if side == "provider" else "Blue Yonder Distribution"
    assert f'<td class="table__party"><bdi>{party}</bdi></td>' in body


def test_the_orders_list_says_its_labels_in_japanese(client, link, orders):
    client.force_login(link.provider_agent.user)
    client.cookies["portal_language"] = "ja"

    body = client.get(page_url("orders", link.provider)).content.decode()

    with translation.override("ja"):
        for order in (orders["new"], orders["seats"]):
            assert f'<span class="badge badge--{order.status}">{order.get_status_display()}</span>' in body
            assert f'<span class="muted">{order.get_kind_display()}' in body
        assert not orders["new"].get_kind_display().isascii()


def test_the_customers_latest_orders_have_both_partners_names(client, link, orders):
    client.force_login(link.customer_admin.user)

    response = client.get(page_url("subscriptions", link.customer))

    rows = response.context["orders"]
    assert [row.pk for row in rows] == [orders["seats"].pk, orders["new"].pk]
    assert [(row.item_name, row.reseller_name, row.provider_name) for row in rows] == [
        ("Security for Fabrikam", "Contoso Japan KK", "Blue Yonder Distribution"),
        ("Cloud Suite Business", "Contoso Japan KK", "Blue Yonder Distribution"),
    ]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 4, 1, 9, 5, 7, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 1, 1, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo")),  # 2025-12-31 23:30 UTC
        datetime(987, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2025, 4, 1, 0, 0, tzinfo=UTC).replace(tzinfo=None),  # naive
        None,
        "",
    ],
)
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_date_filter_writes_what_the_date_filter_writes(moment, language):
    template = Template('{% load commerce_tags %}{{ moment|date:"Y-m-d H:i" }}|{{ moment|datetime_minute }}')

    with translation.override(language):
        minute, fast_minute = template.render(Context({"moment": moment})).split("|")

    assert fast_minute == minute


def test_the_date_filter_writes_the_utc_time_of_an_aware_time():
    moment = datetime(2026, 1, 1, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo")) + timedelta(minutes=1)

    template = Template("{% load commerce_tags %}{{ moment|datetime_minute }}")

    rendered = template.render(Context({"moment": moment}))

    assert rendered == "2025-12-31 23:31"


def _queries(client, path) -> int:
    client.get(path)  # the session's first write is not the page's cost
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_customers_subscriptions_page_reads_no_column_per_row(client, link, orders):
    client.force_login(link.customer_admin.user)
    few = _queries(client, page_url("subscriptions", link.customer))
    for _ in range(12):
        subscription = SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider
        )
        order_services.order_request_create(
            by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.SEATS,
            subscription=subscription, seats=2, send=True, idempotency_key=uuid.uuid4(),
        )  # fmt: skip

    many = _queries(client, page_url("subscriptions", link.customer))

    assert few == many
    response = client.get(page_url("subscriptions", link.customer))
    assert len(response.context["page"].object_list) == 14 and len(response.context["orders"]) == 14

"""A partner's Orders list prints its content through ``{% memo %}`` (portal/memo.py, issue 12): a second
request is read from the memo and is the same page, in both languages and on both sides; an order whose
status changed shows at once. Its first page is read by a query compiled once per process and status
(``commerce.selectors.order_rows_first``): the same page as ``keyset_page`` gives, and the next pages
still are ``keyset_page``'s."""

import uuid

import pytest
from django.http import QueryDict
from django.urls import reverse

from accounts.roles import Role
from commerce import selectors
from commerce.models import Order, OrderKind, OrderStatus
from commerce.services import orders as order_services
from commerce.views.orders import ORDER_ORDERING
from portal.lists import keyset_first_page, keyset_page
from portal.memo import memo
from tests.factories.accounts import MembershipFactory
from tests.factories.commerce import OfferFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.support.pages import body_of

pytestmark = pytest.mark.django_db


def orders_url(organization, query="") -> str:
    path = reverse("commerce:orders", kwargs={"organization_public_id": organization.public_id})
    return f"{path}?{query}" if query else path


def row_of(body: str, text: str) -> str:
    """The table row that shows ``text``."""
    [row] = [row.split("</tr>")[0] for row in body.split("<tr>")[1:] if text in row]
    return row


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso <Japan> KK"),
        ProviderFactory(legal_name="Blue Yonder Distribution"),
        customer=CustomerFactory(legal_name="Fabrikam & Sons"),
    )


@pytest.fixture
def offer():
    return OfferFactory(name="Cloud Suite Business", product_code="CSB-1", prices={"JP": ("JPY", 1200)})


def request_orders(link, offer, count, *, send=True, seats=1) -> list[Order]:
    return [
        order_services.order_request_create(
            by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.NEW,
            offer=offer, seats=seats, send=send, idempotency_key=uuid.uuid4(),
        )
        for _ in range(count)
    ]  # fmt: skip


def signed_in(client, organization, language="en"):
    member = MembershipFactory(
        organization=organization, roles=[Role.GLOBAL_ADMIN], user__preferred_language=language
    )
    client.force_login(member.user)
    return member


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_the_second_request_of_the_orders_page_is_read_from_the_memo_and_is_the_same_page(
    client, link, offer, side, language
):
    request_orders(link, offer, 3)
    request_orders(link, offer, 1, send=False, seats=4)  # a draft: the reseller's only
    organization = getattr(link, side)
    signed_in(client, organization, language)
    first = body_of(client.get(orders_url(organization)))
    assert first.count('<td class="table__name">') == (4 if side == "reseller" else 3)

    hits, misses = memo.hits, memo.misses
    second = body_of(client.get(orders_url(organization)))

    assert memo.misses == misses  # the page's content, its rows and the shell: every fragment from the memo
    assert memo.hits - hits >= 1
    assert second == first


def test_an_order_whose_status_changed_shows_at_once_and_the_other_rows_come_from_their_memo(
    client, link, offer
):
    sent, other = request_orders(link, offer, 2)
    Order.objects.filter(pk=other.pk).update(seats=9)
    signed_in(client, link.reseller)
    before = body_of(client.get(orders_url(link.reseller)))
    assert '<span class="badge badge--requested">Requested</span>' in row_of(
        before, f"/orders/{sent.public_id}/"
    )
    assert '<td class="nowrap">9</td>' in row_of(before, f"/orders/{other.public_id}/")

    Order.objects.filter(pk=sent.pk).update(status=OrderStatus.DECLINED, decline_reason="Not now.")
    hits = memo.hits
    after = body_of(client.get(orders_url(link.reseller)))

    assert memo.hits - hits >= 1  # the row that did not change, from its own memo
    assert '<span class="badge badge--declined">Declined</span>' in row_of(
        after, f"/orders/{sent.public_id}/"
    )
    assert row_of(after, f"/orders/{other.public_id}/") == row_of(before, f"/orders/{other.public_id}/")
    declined = body_of(client.get(orders_url(link.reseller, "status=declined")))
    assert declined.count('<td class="table__name">') == 1
    assert f"/orders/{sent.public_id}/" in declined
    assert 'aria-current="page">Declined</a>' in declined


def test_an_empty_tab_says_so_in_both_languages(client, link, offer):
    request_orders(link, offer, 1)
    signed_in(client, link.provider)

    body = body_of(client.get(orders_url(link.provider, "status=failed")))
    assert '<p class="empty">No orders with this status.</p>' in body
    assert "<table" not in body

    signed_in(client, link.provider, "ja")
    body = body_of(client.get(orders_url(link.provider, "status=failed")))
    assert "<table" not in body and '<p class="empty">' in body
    assert "No orders with this status." not in body


@pytest.mark.parametrize("count", [0, 3, 50, 51, 120])
@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_the_first_page_is_the_one_keyset_page_gives(link, offer, side, count):
    request_orders(link, offer, count)
    request_orders(link, offer, 2, send=False)
    Order.objects.filter(pk__in=Order.objects.order_by("id").values("pk")[:5]).update(
        status=OrderStatus.PROVISIONED
    )
    organization = getattr(link, side)
    query = QueryDict("x=%C3%A9")
    for status in ("", OrderStatus.PROVISIONED, OrderStatus.REQUESTED, OrderStatus.DRAFT):
        visible = selectors.order_rows_visible_to(organization)
        expected = keyset_page(
            visible.filter(status=status) if status else visible, ordering=ORDER_ORDERING, query=query
        )

        rows = selectors.order_rows_first(organization, status=status, ordering=ORDER_ORDERING, count=51)
        page = keyset_first_page(rows, ordering=ORDER_ORDERING, query=query)

        assert page == expected
        columns = ("pk", "status", "seats", "customer_name", "item_name", "created_at")
        party = "reseller_name" if side == "provider" else "provider_name"
        assert [tuple(getattr(row, name) for name in (*columns, party)) for row in page.object_list] == [
            tuple(getattr(row, name) for name in (*columns, party)) for row in expected.object_list
        ]


def test_a_partner_pages_through_its_orders(client, link, offer):
    orders = request_orders(link, offer, 53)
    newest_first = [order.public_id for order in reversed(orders)]
    signed_in(client, link.provider)

    first = client.get(orders_url(link.provider))
    second = client.get(orders_url(link.provider, first.context["page"].next_query))
    back = client.get(orders_url(link.provider, second.context["page"].previous_query))

    assert [row.public_id for row in first.context["page"].object_list] == newest_first[:50]
    assert [row.public_id for row in second.context["page"].object_list] == newest_first[50:]
    assert [row.public_id for row in back.context["page"].object_list] == newest_first[:50]
    assert 'rel="next"' in body_of(first) and 'rel="prev"' not in body_of(first)
    assert 'rel="prev"' in body_of(second) and 'rel="next"' not in body_of(second)
    assert body_of(second).count('<td class="table__name">') == 3

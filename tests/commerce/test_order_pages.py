"""The order pages: a provider's order for a shared customer (new subscription, seats, cancellation), a
reseller's order request (draft, send, withdraw) and the provider's answer (submit, decline with a
reason), the orders list and one order's page. Every refusal shows the service's reason and saves
nothing; a denied request changes nothing either."""

import re
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from commerce.models import Commitment, Order, OrderKind, OrderStatus, Subscription
from commerce.services import orders as order_services
from customers.models import CustomerRelationship, PartnerRole
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)
from tests.factories.customers import CustomerFactory, customer_linked
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

KEY = re.compile(r'<input type="hidden" name="idempotency_key" value="([0-9a-f-]{36})"')


def url(name, organization, **kwargs):
    return reverse(f"commerce:{name}", kwargs={"organization_public_id": organization.public_id, **kwargs})


def order_new(link, **query):
    path = url("order_new", link.provider, customer_id=link.customer.public_id)
    return path + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def order_request_new(link, **query):
    path = url("order_request_new", link.reseller, customer_id=link.customer.public_id)
    return path + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def state():
    """Everything a refused or denied request must leave as it was."""
    return (
        sorted(Order.objects.values_list("pk", "status", "seats", "decline_reason", "submitted_at")),
        sorted(Subscription.objects.values_list("pk", "status", "seats", "auto_renew")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def audit_rows(action):
    return sorted(
        (row.organization_id, (row.after or {}).get("acting_partner"))
        for row in AuditEvent.objects.filter(action=action)
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"),
        ProviderFactory(legal_name="Blue Yonder Distribution"),
        customer=CustomerFactory(legal_name="Fabrikam KK"),
    )


@pytest.fixture
def offer():
    return OfferFactory(name="Cloud Suite Business", product_code="CSB-1", prices={"JP": ("JPY", 1200)})


@pytest.fixture
def provider_client(client, link):
    client.force_login(link.provider_agent.user)
    return client


@pytest.fixture
def reseller_client(client, link):
    client.force_login(link.reseller_agent.user)
    return client


def new_order_data(link, offer, *, key=None, seats="3"):
    return {
        "idempotency_key": str(key or uuid.uuid4()),
        "reseller": str(link.reseller.public_id),
        "offer": str(offer.public_id),
        "seats": seats,
    }


# --- The provider orders ----------------------------------------------------------------------------


def test_the_new_order_form_offers_what_is_on_sale_in_the_customers_country_at_its_price(
    provider_client, link, offer
):
    OfferFactory(name="US Only Suite", prices={"US": ("USD", "12.50")})
    OfferFactory(name="Withdrawn Suite", is_active=False)
    OfferFactory(name="Annual Security", billing_term="annual", prices={"JP": ("JPY", 24000)})

    response = provider_client.get(order_new(link, kind="new"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>New order</h1>" in body
    assert "Cloud Suite Business — ¥1,200 per seat per month" in body
    assert "Annual Security — ¥24,000 per seat per year" in body
    assert "US Only Suite" not in body and "Withdrawn Suite" not in body
    assert f'<option value="{link.reseller.public_id}" selected>Contoso Japan KK</option>' in body
    assert KEY.search(body) is not None
    assert provider_client.get(order_new(link, kind="new")).content.decode() != body  # a new key each time


def test_the_new_order_form_shows_prices_in_japanese(provider_client, link, offer):
    provider_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"

    body = provider_client.get(order_new(link, kind="new")).content.decode()

    assert "￥1,200" in body


def test_a_provider_submits_a_new_order_for_a_shared_customer(provider_client, link, offer):
    key = uuid.uuid4()

    response = provider_client.post(order_new(link, kind="new"), new_order_data(link, offer, key=key))

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("order", link.provider, order_id=order.public_id)
    assert (
        order.idempotency_key, order.customer, order.reseller, order.provider, order.kind, order.offer,
        order.subscription, order.seats, order.currency, order.unit_price, order.status,
        order.requested_by_reseller, order.created_by, order.submitted_by,
    ) == (
        key, link.customer, link.reseller, link.provider, OrderKind.NEW, offer, None, 3, "JPY", 1200,
        OrderStatus.SUBMITTED, False, link.provider_agent.user, link.provider_agent.user,
    )  # fmt: skip
    assert audit_rows("order.submitted") == sorted(
        (organization.pk, "Blue Yonder Distribution")
        for organization in (link.customer, link.reseller, link.provider)
    )
    page = provider_client.get(response["Location"])
    assert messages_of(page) == ["Order submitted; provisioning…"]
    body = page.content.decode()
    assert "<h1>Order: New subscription</h1>" in body
    assert "<bdi>Fabrikam KK</bdi>" in body and "<bdi>Contoso Japan KK</bdi>" in body
    assert "¥1,200" in body
    assert "Provisioning…" in body


def test_the_same_idempotency_key_posted_twice_makes_one_order(provider_client, link, offer):
    data = new_order_data(link, offer)

    first = provider_client.post(order_new(link, kind="new"), data)
    second = provider_client.post(order_new(link, kind="new"), data)

    order = Order.objects.get()
    assert first["Location"] == second["Location"] == url("order", link.provider, order_id=order.public_id)
    assert AuditEvent.objects.filter(action="order.submitted").count() == 3


def test_a_seats_change_shows_the_subscription_and_who_holds_its_licences(provider_client, link, offer):
    subscription = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, offer=offer, seats=5
    )
    tenant = link.customer.directory_tenant
    for name in ("cho", "ann", "bob"):
        user = DirectoryUserFactory(tenant=tenant, user_principal_name=f"{name}@{tenant.verified_domains[0]}")
        LicenceAssignmentFactory(subscription=subscription, directory_user=user)
    path = order_new(link, kind="seats", subscription=subscription.public_id)

    body = provider_client.get(path).content.decode()

    assert "<h1>Change seats</h1>" in body
    assert "<dt>Current seats</dt><dd>5</dd>" in body
    assert "3 licences are assigned. Fewer seats than licences are refused: remove licences first." in body
    domain = tenant.verified_domains[0]
    assert f"<li><bdi>ann@{domain}</bdi></li><li><bdi>bob@{domain}</bdi></li>" in body
    assert 'name="seats" value="5"' in body
    before = state()

    refused = provider_client.post(path, {"idempotency_key": str(uuid.uuid4()), "seats": "2"})

    assert refused.status_code == 400
    assert refused.context["form"].errors["seats"] == [
        f"3 licences of Cloud Suite Business are assigned, more than 2 seats, to: ann@{domain}, "
        f"bob@{domain}, cho@{domain}. Remove licences first."
    ]
    assert state() == before

    more = provider_client.post(path, {"idempotency_key": str(uuid.uuid4()), "seats": "8"})

    order = Order.objects.get()
    assert more.status_code == 302
    assert (order.kind, order.subscription, order.seats, order.status) == (
        OrderKind.SEATS, subscription, 8, OrderStatus.SUBMITTED,
    )  # fmt: skip


def test_a_cancellation_is_refused_once_the_window_of_a_committed_term_passed(provider_client, link):
    offer = OfferFactory(name="Committed Suite", commitment=Commitment.TERM, billing_term="annual")
    started = timezone.now() - timedelta(days=10)
    subscription = SubscriptionFactory(
        customer=link.customer,
        reseller=link.reseller,
        provider=link.provider,
        offer=offer,
        term_started_at=started,
        started_at=started,
        renews_at=started + timedelta(days=365),
    )
    path = order_new(link, kind="cancel", subscription=subscription.public_id)
    window_end = (started + timedelta(days=7)).strftime("%Y-%m-%d %H:%M")

    body = provider_client.get(path).content.decode()

    assert "<h1>Cancel subscription</h1>" in body
    assert f"Committed for the term: the cancellation window ended on {window_end} (UTC)." in body
    before = state()

    response = provider_client.post(path, {"idempotency_key": str(uuid.uuid4()), "confirm": "on"})

    assert response.status_code == 400
    renews = subscription.renews_at.strftime("%Y-%m-%d")
    assert response.context["form"].non_field_errors() == [
        f"Committed Suite is committed for its term: seats can be removed or the subscription cancelled "
        f"only until {window_end} (UTC), 7 days after the term started. Turn off auto-renew to end it at "
        f"{renews} (UTC)."
    ]
    assert "Committed Suite is committed for its term" in response.content.decode()
    assert state() == before


def test_a_cancellation_needs_the_confirmation_and_then_is_submitted(provider_client, link, offer):
    subscription = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, offer=offer
    )
    path = order_new(link, kind="cancel", subscription=subscription.public_id)
    before = state()

    unconfirmed = provider_client.post(path, {"idempotency_key": str(uuid.uuid4())})

    assert unconfirmed.status_code == 400
    assert unconfirmed.context["form"].errors["confirm"] == ["Confirm the cancellation."]
    assert state() == before

    provider_client.post(path, {"idempotency_key": str(uuid.uuid4()), "confirm": "on"})

    order = Order.objects.get()
    assert (order.kind, order.subscription, order.seats, order.status) == (
        OrderKind.CANCEL, subscription, 0, OrderStatus.SUBMITTED,
    )  # fmt: skip


def test_an_offer_unavailable_in_the_customers_country_is_refused_with_its_reason(provider_client, link):
    us_only = OfferFactory(name="US Only Suite", prices={"US": ("USD", "12.50")})
    before = state()

    response = provider_client.post(order_new(link, kind="new"), new_order_data(link, us_only))

    assert response.status_code == 400
    assert response.context["form"].errors["offer"] == [
        "US Only Suite is not available in Japan, the customer's country."
    ]
    assert (
        "US Only Suite is not available in Japan, the customer&#x27;s country." in response.content.decode()
    )
    assert state() == before


def test_an_order_through_a_reseller_whose_partnership_ended_is_refused_with_its_reason(
    provider_client, link, offer
):
    # The provider shares the customer through a second reseller too: the page still opens.
    other = ResellerFactory(legal_name="Tailspin Toys KK")
    CustomerRelationship.objects.create(
        customer=link.customer, partner=other, role=PartnerRole.RESELLER, reseller=other,
        customer_name="Fabrikam KK",
    )  # fmt: skip
    PartnershipFactory(provider=link.provider, reseller=other)
    CustomerRelationship.objects.create(
        customer=link.customer, partner=link.provider, role=PartnerRole.PROVIDER, reseller=other,
        customer_name="Fabrikam KK",
    )  # fmt: skip
    body = provider_client.get(order_new(link, kind="new")).content.decode()
    assert "Contoso Japan KK</option>" in body and "Tailspin Toys KK</option>" in body
    Partnership.objects.filter(provider=link.provider, reseller=link.reseller).update(
        status=Partnership.Status.ENDED, ended_at=timezone.now()
    )
    before = state()

    # A form shown a moment ago still names Contoso.
    response = provider_client.post(order_new(link, kind="new"), new_order_data(link, offer))

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "The partnership between Blue Yonder Distribution and Contoso Japan KK is not active: orders for "
        "the reseller's customers need a live partnership."
    ]
    assert state() == before
    assert (
        "Contoso Japan KK</option>" not in provider_client.get(order_new(link, kind="new")).content.decode()
    )


def test_a_provider_whose_only_partnership_ended_no_longer_sees_the_customer(provider_client, link, offer):
    Partnership.objects.filter(provider=link.provider, reseller=link.reseller).update(
        status=Partnership.Status.ENDED, ended_at=timezone.now()
    )
    before = state()

    assert provider_client.get(order_new(link, kind="new")).status_code == 404
    assert provider_client.post(order_new(link, kind="new"), new_order_data(link, offer)).status_code == 404
    assert state() == before


def test_members_without_the_right_and_other_partners_cannot_order(client, link, offer):
    before = state()
    client.force_login(MembershipFactory(organization=link.provider, roles=[Role.HELPDESK_AGENT]).user)
    assert client.get(order_new(link, kind="new")).status_code == 403
    assert client.post(order_new(link, kind="new"), new_order_data(link, offer)).status_code == 403

    stranger = ProviderFactory()
    client.force_login(MembershipFactory(organization=stranger, roles=[Role.GLOBAL_ADMIN]).user)
    path = url("order_new", stranger, customer_id=link.customer.public_id) + "?kind=new"
    assert client.get(path).status_code == 404
    assert client.post(path, new_order_data(link, offer)).status_code == 404

    client.force_login(link.reseller_agent.user)  # a reseller has no order page: it requests orders
    path = url("order_new", link.reseller, customer_id=link.customer.public_id) + "?kind=new"
    assert client.post(path, new_order_data(link, offer)).status_code == 404
    assert state() == before


def test_a_subscription_of_another_customer_is_a_missing_page(provider_client, link, offer):
    other = commerce_linked(link.reseller, link.provider)
    foreign = SubscriptionFactory(
        customer=other.customer, reseller=link.reseller, provider=link.provider, offer=offer
    )

    response = provider_client.get(order_new(link, kind="seats", subscription=foreign.public_id))

    assert response.status_code == 404
    assert provider_client.get(order_new(link, kind="seats", subscription="nonsense")).status_code == 404


# --- The reseller's order requests ------------------------------------------------------------------


def request_data(link, offer, *, action="send", key=None, provider=None, **extra):
    return {
        "idempotency_key": str(key or uuid.uuid4()),
        "provider": str((provider or link.provider).public_id),
        "offer": str(offer.public_id),
        "seats": "4",
        "note": "Start next Monday, please.",
        "action": action,
        **extra,
    }


def test_a_reseller_request_sent_to_the_provider_is_submitted_by_it(client, link, offer):
    client.force_login(link.reseller_agent.user)
    form = client.get(order_request_new(link, kind="new")).content.decode()
    assert "<h1>Request an order</h1>" in form
    assert ">Send to Blue Yonder Distribution</button>" in form and ">Save draft</button>" in form

    response = client.post(order_request_new(link, kind="new"), request_data(link, offer))

    order = Order.objects.get()
    assert response["Location"] == url("order", link.reseller, order_id=order.public_id)
    assert (order.status, order.requested_by_reseller, order.seats, order.note, order.provider) == (
        OrderStatus.REQUESTED, True, 4, "Start next Monday, please.", link.provider,
    )  # fmt: skip
    assert messages_of(client.get(response["Location"])) == [
        "Order request sent to Blue Yonder Distribution."
    ]

    client.force_login(link.provider_agent.user)
    waiting = client.get(url("orders", link.provider) + "?status=requested")
    assert [item.pk for item in waiting.context["page"].object_list] == [order.pk]
    page = client.get(url("order", link.provider, order_id=order.public_id)).content.decode()
    assert ">Submit order</button>" in page and ">Decline</a>" in page

    submitted = client.post(url("order_submit", link.provider, order_id=order.public_id))

    order.refresh_from_db()
    assert submitted["Location"] == url("order", link.provider, order_id=order.public_id)
    assert (order.status, order.submitted_by) == (OrderStatus.SUBMITTED, link.provider_agent.user)
    assert messages_of(client.get(submitted["Location"])) == ["Order submitted; provisioning…"]
    again = client.post(url("order_submit", link.provider, order_id=order.public_id))  # a double click
    assert again.status_code == 302
    assert Order.objects.get().status == OrderStatus.SUBMITTED
    assert AuditEvent.objects.filter(action="order.submitted").count() == 3


def test_a_draft_is_the_resellers_until_it_sends_it(client, link, offer):
    client.force_login(link.reseller_agent.user)
    client.post(order_request_new(link, kind="new"), request_data(link, offer, action="draft"))
    order = Order.objects.get()
    assert order.status == OrderStatus.DRAFT

    client.force_login(link.provider_agent.user)
    assert client.get(url("order", link.provider, order_id=order.public_id)).status_code == 404
    assert client.post(url("order_submit", link.provider, order_id=order.public_id)).status_code == 404
    assert Order.objects.get().status == OrderStatus.DRAFT

    client.force_login(link.reseller_agent.user)
    page = client.get(url("order", link.reseller, order_id=order.public_id)).content.decode()
    assert ">Send to Blue Yonder Distribution</button>" in page and ">Withdraw</button>" in page
    client.post(url("order_send", link.reseller, order_id=order.public_id))
    assert Order.objects.get().status == OrderStatus.REQUESTED
    client.post(url("order_withdraw", link.reseller, order_id=order.public_id))
    order.refresh_from_db()
    assert order.status == OrderStatus.WITHDRAWN
    page = client.get(url("order", link.reseller, order_id=order.public_id)).content.decode()
    assert "<strong>Withdrawn by the reseller</strong>" in page
    assert ">Withdraw</button>" not in page


def test_a_request_to_a_provider_whose_partnership_ended_is_refused_with_its_reason(
    reseller_client, link, offer
):
    Partnership.objects.filter(provider=link.provider, reseller=link.reseller).update(
        status=Partnership.Status.ENDED, ended_at=timezone.now()
    )
    before = state()

    response = reseller_client.post(order_request_new(link, kind="new"), request_data(link, offer))

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "The partnership between Blue Yonder Distribution and Contoso Japan KK is not active: orders for "
        "the reseller's customers need a live partnership."
    ]
    assert state() == before


def test_a_request_to_a_provider_the_customer_never_accepted_is_refused_with_its_reason(
    reseller_client, link, offer
):
    other = ProviderFactory(legal_name="Northwind Distribution")
    PartnershipFactory(provider=other, reseller=link.reseller)
    form = reseller_client.get(order_request_new(link, kind="new")).content.decode()
    assert '<optgroup label="Providers that do not share this customer with you">' in form
    before = state()

    response = reseller_client.post(
        order_request_new(link, kind="new"), request_data(link, offer, provider=other)
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Fabrikam KK has not accepted Northwind Distribution as its indirect provider through Contoso Japan "
        "KK. The reseller can invite the customer again with this provider."
    ]
    assert state() == before


def test_the_provider_declines_with_a_reason_that_the_reseller_reads(client, link, offer):
    order = order_services.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.NEW,
        offer=offer, seats=2, send=True, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    client.force_login(link.provider_agent.user)
    path = url("order_decline", link.provider, order_id=order.public_id)
    assert "<h1>Decline the order request</h1>" in client.get(path).content.decode()
    before = state()

    empty = client.post(path, {"reason": "  "})

    assert empty.status_code == 400
    assert empty.context["form"].errors["reason"] == ["Tell the reseller why you decline."]
    assert state() == before

    response = client.post(path, {"reason": "This offer is sold out in Japan until April."})

    order.refresh_from_db()
    assert response["Location"] == url("order", link.provider, order_id=order.public_id)
    assert (order.status, order.decline_reason) == (
        OrderStatus.DECLINED,
        "This offer is sold out in Japan until April.",
    )
    client.force_login(link.reseller_agent.user)
    page = client.get(url("order", link.reseller, order_id=order.public_id)).content.decode()
    assert "<strong>Declined by the provider</strong>" in page
    assert "This offer is sold out in Japan until April." in page
    declined = client.get(url("orders", link.reseller) + "?status=declined").context["page"].object_list
    assert [item.pk for item in declined] == [order.pk]


def test_a_reseller_member_without_customers_manage_cannot_request_orders(client, link, offer):
    client.force_login(MembershipFactory(organization=link.reseller, roles=[Role.SALES_AGENT]).user)
    before = state()

    assert client.get(order_request_new(link, kind="new")).status_code == 403
    assert client.post(order_request_new(link, kind="new"), request_data(link, offer)).status_code == 403
    assert state() == before


def test_another_resellers_customer_cannot_be_the_subject_of_a_request(reseller_client, link, offer):
    foreign, _relationship, _admin = customer_linked(ResellerFactory(), provider=link.provider)
    path = url("order_request_new", link.reseller, customer_id=foreign.public_id) + "?kind=new"
    before = state()

    assert reseller_client.get(path).status_code == 404
    assert reseller_client.post(path, request_data(link, offer)).status_code == 404
    assert state() == before


# --- Orders: the list and one order -----------------------------------------------------------------


def test_a_provider_opening_another_providers_order_gets_a_missing_page(client, link, offer):
    order = order_services.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.NEW,
        offer=offer, seats=2, send=True, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    stranger = ProviderFactory()
    client.force_login(MembershipFactory(organization=stranger, roles=[Role.GLOBAL_ADMIN]).user)
    before = state()

    assert client.get(url("order", stranger, order_id=order.public_id)).status_code == 404
    assert client.post(url("order_submit", stranger, order_id=order.public_id)).status_code == 404
    decline = url("order_decline", stranger, order_id=order.public_id)
    assert client.get(decline).status_code == 404
    assert client.post(decline, {"reason": "No."}).status_code == 404
    assert client.get(url("orders", stranger)).context["page"].object_list == []
    assert state() == before


def test_a_failed_order_shows_the_translated_failure_reason(provider_client, link, offer):
    provider_client.post(order_new(link, kind="new"), new_order_data(link, offer))
    order = Order.objects.get()
    offer.prices.update(is_available=False)
    assert order_services.order_provision(order_id=order.pk) == "failed"

    body = provider_client.get(url("order", link.provider, order_id=order.public_id)).content.decode()

    assert "<strong>Failed</strong>" in body
    assert "The offer is not available in the customer&#x27;s country." in body
    order.refresh_from_db()
    assert (order.status, order.failure_code) == (OrderStatus.FAILED, "offer_unavailable_in_country")


def _orders(link, offer, count):
    for _ in range(count):
        order_services.order_request_create(
            by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.NEW,
            offer=offer, seats=1, send=True, idempotency_key=uuid.uuid4(),
        )  # fmt: skip


def _query_count(client, path) -> int:
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    for query in captured:
        assert "COUNT(" not in query["sql"].upper() and "OFFSET" not in query["sql"].upper()
    return len(captured)


@pytest.mark.parametrize("side", ["provider", "reseller"])
def test_the_orders_list_query_count_does_not_grow(client, link, offer, side):
    organization = getattr(link, side)
    client.force_login(getattr(link, f"{side}_agent").user)
    _orders(link, offer, 5)
    few = _query_count(client, url("orders", organization))
    _orders(link, offer, 45)
    many = _query_count(client, url("orders", organization))

    listed = client.get(url("orders", organization)).context["page"].object_list
    assert len(listed) == 50
    assert few == many


def test_the_orders_list_is_newest_first_with_its_columns_and_tabs(client, link, offer):
    _orders(link, offer, 2)
    draft = order_services.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.NEW,
        offer=offer, seats=7, send=False, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    client.force_login(link.reseller_agent.user)

    response = client.get(url("orders", link.reseller))

    expected = list(Order.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert [item.pk for item in response.context["page"].object_list] == expected
    body = response.content.decode()
    assert ">Drafts</a>" in body and ">Waiting for the provider</a>" in body
    drafts = client.get(url("orders", link.reseller) + "?status=draft").context["page"].object_list
    assert [item.pk for item in drafts] == [draft.pk]

    client.force_login(link.provider_agent.user)
    provider_view = client.get(url("orders", link.provider))
    assert draft.pk not in [item.pk for item in provider_view.context["page"].object_list]
    assert ">Waiting for you</a>" in provider_view.content.decode()


def test_a_customer_has_no_orders_list(client, link):
    client.force_login(link.customer_admin.user)

    assert client.get(url("orders", link.customer)).status_code == 404

"""The catalogue, subscriptions, orders and licences on the review site (/review/): staff add and change
offers with a price per country (the models check the currency and its decimals, at the field) and each
save is audited; subscriptions are read-only with Suspend and Reactivate through their service; orders and
licence assignments are read-only records; only program staff with two-factor authentication get in."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commerce.models import Offer, OfferPrice, Order, OrderKind, Subscription
from commerce.services import orders
from portal.audit.models import AuditEvent
from tests.factories.accounts import DirectoryUserFactory, StaffFactory, UserFactory
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)

pytestmark = pytest.mark.django_db

OFFERS = "/review/commerce/offer/"
ADD_OFFER = "/review/commerce/offer/add/"
SUBSCRIPTIONS = "/review/commerce/subscription/"
ORDERS = "/review/commerce/order/"
LICENCES = "/review/commerce/licenceassignment/"


@pytest.fixture
def staff():
    """Program staff with two-factor authentication, holding every permission."""
    return StaffFactory(is_superuser=True, email="riko@program.example")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def prices_form(*rows, initial: int = 0) -> dict:
    """The offer page's price rows (the inline formset of ``OfferPrice``)."""
    data = {
        "prices-TOTAL_FORMS": str(len(rows)),
        "prices-INITIAL_FORMS": str(initial),
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"prices-{index}-{name}": value for name, value in row.items()})
    return data


OFFER = {
    "name": "Cloud Security E5",
    "product_code": "SEC-E5",
    "description": "",
    "seat_based": "on",
    "billing_term": "annual",
    "commitment": "term",
    "min_seats": "1",
    "max_seats": "500",
    "is_active": "on",
}
JPY = {"country": "JP", "currency": "jpy", "unit_price": "5400", "is_available": "on"}
USD = {"country": "US", "currency": "USD", "unit_price": "38.50", "is_available": "on"}


def catalogue() -> tuple:
    """What saving an offer could have touched."""
    return (
        list(Offer.objects.order_by("pk").values_list("pk", "name", "product_code", "is_active")),
        list(OfferPrice.objects.order_by("pk").values_list("offer_id", "country", "currency", "unit_price")),
        AuditEvent.objects.count(),
    )


def price_errors(response) -> list[dict]:
    return [form.errors for form in response.context["inline_admin_formsets"][0].formset.forms]


# --- The catalogue -------------------------------------------------------------------------------------


def test_staff_add_an_offer_priced_in_yen_and_dollars_and_it_is_audited(staff_client, staff):
    assert staff_client.get(ADD_OFFER).status_code == 200

    response = staff_client.post(ADD_OFFER, {**OFFER, **prices_form(JPY, USD), "_save": "Save"})

    assert response.status_code == 302
    offer = Offer.objects.get(product_code="SEC-E5")
    assert (offer.name, offer.billing_term, offer.commitment, offer.max_seats, offer.is_active) == (
        "Cloud Security E5",
        "annual",
        "term",
        500,
        True,
    )
    assert sorted(offer.prices.values_list("country", "currency", "unit_price", "is_available")) == [
        ("JP", "JPY", 5400, True),  # the currency code as ISO 4217 writes it
        ("US", "USD", Decimal("38.50"), True),
    ]
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.organization_id) == ("offer.created", staff.pk, None)
    assert (event.target_type, event.target_id) == ("commerce.offer", str(offer.public_id))
    assert event.before is None
    assert event.after["prices"] == [
        {"country": "JP", "currency": "JPY", "unit_price": "5400.00", "available": True},
        {"country": "US", "currency": "USD", "unit_price": "38.50", "available": True},
    ]
    assert event.after["product_code"] == "SEC-E5"
    # The list shows each price as the reader's language writes it.
    body = staff_client.get(OFFERS).content.decode()
    assert "JP ¥5,400" in body and "US $38.50" in body


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({**JPY, "unit_price": "5400.50"}, "unit_price", "Prices in JPY have at most 0 decimal places."),
        (
            {**USD, "unit_price": "38.505"},
            "unit_price",
            "Ensure that there are no more than 2 decimal places.",
        ),
        ({**JPY, "currency": "XYZ"}, "currency", "Enter an ISO 4217 currency code, such as JPY or USD."),
        ({**JPY, "unit_price": "-1"}, "unit_price", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_a_price_the_currency_cannot_hold_is_refused_at_its_field_and_nothing_is_saved(
    staff_client, row, field, message
):
    before = catalogue()

    response = staff_client.post(ADD_OFFER, {**OFFER, **prices_form(row), "_save": "Save"})

    assert response.status_code == 200
    assert price_errors(response) == [{field: [message]}]
    assert message in response.content.decode()
    assert catalogue() == before


def test_seats_and_product_codes_are_checked_at_their_fields(staff_client):
    before = catalogue()

    response = staff_client.post(
        ADD_OFFER,
        {**OFFER, "min_seats": "10", "max_seats": "5", "product_code": "bad code", **prices_form(JPY)},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["max_seats"] == ["The maximum number of seats cannot be below the minimum."]
    assert errors["product_code"][0].startswith("Use 3 to 40 capital letters")
    assert catalogue() == before


def test_one_price_per_country(staff_client):
    before = catalogue()

    response = staff_client.post(ADD_OFFER, {**OFFER, **prices_form(JPY, {**JPY, "unit_price": "6000"})})

    assert response.status_code == 200
    assert "Please correct the duplicate data for country" in response.content.decode()
    assert catalogue() == before


def test_staff_change_an_offers_prices_and_the_audit_row_has_before_and_after(staff_client, staff):
    offer = OfferFactory(name="Cloud Suite", product_code="CS-BASIC", prices={"JP": ("JPY", 1200)})
    price = offer.prices.get()
    url = reverse("admin:commerce_offer_change", args=[offer.pk])
    assert staff_client.get(url).status_code == 200
    fields = {
        **OFFER,
        "name": "Cloud Suite",
        "product_code": "CS-BASIC",
        "billing_term": "monthly",
        "commitment": "none",
        "max_seats": "300",
    }
    existing = {"id": str(price.pk), "offer": str(offer.pk), **JPY, "unit_price": "1500"}

    response = staff_client.post(url, {**fields, **prices_form(existing, USD, initial=1), "_save": "Save"})

    assert response.status_code == 302
    assert sorted(offer.prices.values_list("country", "unit_price")) == [
        ("JP", 1500),
        ("US", Decimal("38.50")),
    ]
    event = AuditEvent.objects.get(action="offer.changed")
    assert event.actor_id == staff.pk
    assert event.before["prices"] == [
        {"country": "JP", "currency": "JPY", "unit_price": "1200.00", "available": True}
    ]
    assert [row["unit_price"] for row in event.after["prices"]] == ["1500.00", "38.50"]
    # Saving again without a change records nothing more.
    us = offer.prices.get(country="US")
    unchanged = prices_form(
        {**existing, "unit_price": "1500"},
        {"id": str(us.pk), "offer": str(offer.pk), **USD},
        initial=2,
    )
    assert staff_client.post(url, {**fields, **unchanged, "_save": "Save"}).status_code == 302
    assert AuditEvent.objects.filter(action="offer.changed").count() == 1


def test_offers_are_never_deleted_on_the_review_site(staff_client):
    offer = OfferFactory()

    assert staff_client.get(reverse("admin:commerce_offer_delete", args=[offer.pk])).status_code == 403
    assert (
        staff_client.post(
            reverse("admin:commerce_offer_delete", args=[offer.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Offer.objects.filter(pk=offer.pk).exists()


def test_the_offer_list_filters_by_country_and_sale(staff_client):
    japan = OfferFactory(name="Japan Only", prices={"JP": ("JPY", 1000)})
    OfferFactory(name="America Only", prices={"US": ("USD", 10)})
    retired = OfferFactory(name="Retired", is_active=False)

    names = [row.name for row in staff_client.get(OFFERS, {"country": "JP"}).context["cl"].result_list]
    assert names == [japan.name, retired.name]
    names = [
        row.name for row in staff_client.get(OFFERS, {"is_active__exact": "0"}).context["cl"].result_list
    ]
    assert names == [retired.name]
    names = [row.name for row in staff_client.get(OFFERS, {"q": "america"}).context["cl"].result_list]
    assert names == ["America Only"]


# --- Subscriptions -------------------------------------------------------------------------------------


@pytest.fixture
def subscription():
    link = commerce_linked()
    return SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider)


def act(client, action: str, *rows):
    response = client.post(
        SUBSCRIPTIONS, {"action": action, "_selected_action": [str(row.pk) for row in rows]}, follow=True
    )
    assert response.status_code == 200
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def status_rows(subscription, action):
    return sorted(
        AuditEvent.objects.filter(action=action, target_id=str(subscription.public_id)).values_list(
            "organization_id", "actor_id"
        )
    )


def test_staff_suspend_and_reactivate_a_subscription_and_each_side_sees_it(staff_client, staff, subscription):
    parties = sorted([subscription.customer_id, subscription.reseller_id, subscription.provider_id])

    assert act(staff_client, "suspend", subscription) == [("success", "1 subscription suspended.")]

    subscription.refresh_from_db()
    assert subscription.status == "suspended"
    assert status_rows(subscription, "subscription.suspended") == [(org, staff.pk) for org in parties]

    assert act(staff_client, "reactivate", subscription) == [("success", "1 subscription reactivated.")]

    subscription.refresh_from_db()
    assert subscription.status == "active"
    assert status_rows(subscription, "subscription.reactivated") == [(org, staff.pk) for org in parties]


def test_a_refused_status_change_is_an_error_message_and_changes_nothing(staff_client, subscription):
    other = SubscriptionFactory(
        customer=subscription.customer, reseller=subscription.reseller, provider=subscription.provider
    )
    act(staff_client, "suspend", subscription)
    before = (
        list(Subscription.objects.order_by("pk").values_list("pk", "status")),
        AuditEvent.objects.count(),
    )

    messages = act(staff_client, "reactivate", other)

    assert messages == [("error", "This action is no longer possible: the item is Active.")]
    assert (
        list(Subscription.objects.order_by("pk").values_list("pk", "status")),
        AuditEvent.objects.count(),
    ) == (before)
    # Several rows at once: each is tried; the ones that changed are counted.
    messages = act(staff_client, "suspend", subscription, other)
    assert messages == [
        ("error", "This action is no longer possible: the item is Suspended."),
        ("success", "1 subscription suspended."),
    ]
    assert set(Subscription.objects.values_list("status", flat=True)) == {"suspended"}


def test_subscriptions_are_read_only(staff_client, subscription):
    body = staff_client.get(
        reverse("admin:commerce_subscription_change", args=[subscription.pk])
    ).content.decode()

    assert 'name="_save"' not in body
    assert "¥1,200" in body
    assert staff_client.get(reverse("admin:commerce_subscription_add")).status_code == 403
    delete = reverse("admin:commerce_subscription_delete", args=[subscription.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert Subscription.objects.filter(pk=subscription.pk, status="active").exists()


def test_staff_who_may_only_view_subscriptions_cannot_suspend_them(client, subscription):
    viewer = StaffFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_subscription"))
    client.force_login(viewer)
    before = AuditEvent.objects.count()

    page = client.get(SUBSCRIPTIONS)
    assert page.status_code == 200
    assert [row.pk for row in page.context["cl"].result_list] == [subscription.pk]
    assert 'value="suspend"' not in page.content.decode()
    act(client, "suspend", subscription)

    subscription.refresh_from_db()
    assert subscription.status == "active"
    assert AuditEvent.objects.count() == before


# --- Orders and licences -------------------------------------------------------------------------------


def failed_order() -> Order:
    link = commerce_linked()
    offer = OfferFactory(name="Cloud Suite")
    order = orders.order_submit(
        by=link.provider_agent,
        customer=link.customer,
        reseller=link.reseller,
        kind=OrderKind.NEW,
        offer=offer,
        seats=3,
        idempotency_key=uuid.uuid4(),
    )
    offer.is_active = False
    offer.save(update_fields=["is_active"])
    assert orders.order_provision(order_id=order.pk) == "failed"
    order.refresh_from_db()
    return order


def test_orders_are_a_read_only_list_that_says_why_one_failed(staff_client):
    order = failed_order()

    page = staff_client.get(ORDERS, {"status__exact": "failed"})
    assert [row.pk for row in page.context["cl"].result_list] == [order.pk]
    assert "The offer is no longer on sale." in page.content.decode()
    assert [
        row.pk for row in staff_client.get(ORDERS, {"status__exact": "provisioned"}).context["cl"].result_list
    ] == []

    body = staff_client.get(reverse("admin:commerce_order_change", args=[order.pk])).content.decode()
    assert 'name="_save"' not in body
    assert str(order.idempotency_key) not in body  # the form's key is not something staff read
    assert "The offer is no longer on sale." in body
    assert staff_client.get(reverse("admin:commerce_order_add")).status_code == 403
    assert (
        staff_client.post(
            reverse("admin:commerce_order_delete", args=[order.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Order.objects.filter(pk=order.pk, status="failed").exists()


def test_licence_assignments_are_read_only(staff_client, subscription):
    assignment = LicenceAssignmentFactory(
        subscription=subscription,
        directory_user=DirectoryUserFactory(tenant=subscription.customer.directory_tenant),
    )

    page = staff_client.get(LICENCES)
    assert [row.pk for row in page.context["cl"].result_list] == [assignment.pk]
    assert staff_client.get(reverse("admin:commerce_licenceassignment_add")).status_code == 403
    body = staff_client.get(reverse("admin:commerce_licenceassignment_change", args=[assignment.pk])).content
    assert b'name="_save"' not in body


def test_the_lists_read_the_same_number_of_times_whatever_their_length(staff_client, subscription):
    failed_order()
    LicenceAssignmentFactory(subscription=subscription)
    OfferFactory(prices={"JP": ("JPY", 1000), "US": ("USD", 10)})
    counts = {}
    for url in (OFFERS, SUBSCRIPTIONS, ORDERS, LICENCES):
        staff_client.get(url)  # the session's first-visit bookkeeping
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(url).status_code == 200
        counts[url] = len(queries)

    for _ in range(5):
        failed_order()
        more = SubscriptionFactory(
            customer=subscription.customer, reseller=subscription.reseller, provider=subscription.provider
        )
        LicenceAssignmentFactory(subscription=more)
        OfferFactory(prices={"JP": ("JPY", 1000), "GB": ("GBP", 8)})

    for url, few in counts.items():
        with CaptureQueriesContext(connection) as queries:
            staff_client.get(url)
        assert len(queries) == few, url


# --- Who gets in ---------------------------------------------------------------------------------------

PAGES = [OFFERS, ADD_OFFER, SUBSCRIPTIONS, ORDERS, LICENCES]


def test_people_who_are_not_staff_are_sent_to_sign_in_and_change_nothing(client, subscription):
    client.force_login(UserFactory())
    before = (catalogue(), list(Subscription.objects.values_list("status", flat=True)))

    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/review/login/"), url
    assert client.post(ADD_OFFER, {**OFFER, **prices_form(JPY)}).status_code == 302
    assert (
        client.post(SUBSCRIPTIONS, {"action": "suspend", "_selected_action": [subscription.pk]}).status_code
        == 302
    )

    assert (catalogue(), list(Subscription.objects.values_list("status", flat=True))) == before


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"


def test_staff_without_two_factor_authentication_must_set_it_up_first(client, subscription):
    client.force_login(StaffFactory(is_superuser=True, mfa=False))
    before = (catalogue(), list(Subscription.objects.values_list("status", flat=True)))

    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("mfa_activate_totp"))
    assert (
        client.post(SUBSCRIPTIONS, {"action": "suspend", "_selected_action": [subscription.pk]}).status_code
        == 302
    )

    assert (catalogue(), list(Subscription.objects.values_list("status", flat=True))) == before


def test_staff_without_a_permission_on_the_catalogue_cannot_add_offers(client):
    client.force_login(StaffFactory())
    before = catalogue()

    assert client.get(OFFERS).status_code == 403
    assert client.post(ADD_OFFER, {**OFFER, **prices_form(JPY)}).status_code == 403

    assert catalogue() == before

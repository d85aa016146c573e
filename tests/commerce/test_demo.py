"""The commerce demo: a catalogue in yen and dollars, tenant users for every demo customer, and for the
customer Fabrikam shares with Contoso subscriptions, licences, an order history with one failed order
and order requests waiting; loading it twice changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import DirectoryUser, Organization
from commerce.models import LicenceAssignment, Offer, OfferPrice, Order, Subscription
from commerce.selectors import (
    order_requests_waiting,
    orders_visible_to,
    subscriptions_of,
    tenant_users,
    with_assigned_counts,
)
from commerce.services.catalogue import offers_on_sale_in
from customers.models import DelegatedRole
from customers.selectors import partner_may
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail

pytestmark = pytest.mark.django_db

SAKURA = "Sakura Logistics KK"
#: each customer: (users in its tenant with its Global Administrator, the one disabled)
TENANTS = {
    SAKURA: (20, "nanami.inoue"),
    "Blue Yonder Airlines Inc.": (13, "ryan.jackson"),
    "Hokuto Precision Manufacturing KK": (12, "tomoya.maeda"),
    "Humongous Insurance Co.": (11, "takashi.endo"),
}


def organization(name: str, kind: str = Organization.Kind.CUSTOMER) -> Organization:
    return Organization.objects.get(kind=kind, legal_name=name)


def counts() -> dict[str, int]:
    return {
        "offers": Offer.objects.count(),
        "prices": OfferPrice.objects.count(),
        "available": OfferPrice.objects.filter(is_available=True).count(),
        "directory_users": DirectoryUser.objects.count(),
        "disabled": DirectoryUser.objects.filter(status=DirectoryUser.Status.DISABLED).count(),
        "subscriptions": Subscription.objects.count(),
        "orders": Order.objects.count(),
        "assignments": LicenceAssignment.objects.count(),
        "audit": AuditEvent.objects.count(),
        "emails": OutboxEmail.objects.count(),
    }


def test_the_commerce_demo_has_every_state_and_loads_twice():
    call_command("load_demo")
    now = timezone.now()
    fabrikam = organization("Fabrikam Cloud Solutions", Organization.Kind.RESELLER)
    contoso = organization("Contoso Distribution KK", Organization.Kind.PROVIDER)
    sakura = organization(SAKURA)

    # The catalogue: yen without decimals for Japan, dollars for the United States; E1 no longer on sale,
    # the phone system priced in the United States only, Project Plan 3 no longer available in Japan.
    prices = {
        (price.offer.product_code, price.country.code): (price.currency, price.unit_price, price.is_available)
        for price in OfferPrice.objects.select_related("offer")
    }
    assert prices["CP-STD-A", "JP"] == ("JPY", Decimal("22488"), True)
    assert prices["CP-STD-A", "US"] == ("USD", Decimal("150.00"), True)
    assert all(
        amount == amount.to_integral() for (currency, amount, _a) in prices.values() if currency == "JPY"
    )
    assert {currency for (_o, country), (currency, _p, _a) in prices.items() if country == "JP"} == {"JPY"}
    assert {currency for (_o, country), (currency, _p, _a) in prices.items() if country == "US"} == {"USD"}
    assert [code for code, country in prices if code == "CV-PHONE-M"] == ["CV-PHONE-M"]
    assert prices["CPR-P3-M", "JP"][2] is False
    assert Offer.objects.get(product_code="CP-E1-A").is_active is False
    assert Offer.objects.get(product_code="CB-1TB-M").seat_based is False
    assert [offer.name for offer in offers_on_sale_in("JP")] == [
        "Cloud Backup 1 TB",
        "Cloud Meeting Rooms",
        "Cloud Productivity Business Basic",
        "Cloud Productivity Business Standard",
        "Cloud Productivity E3",
        "Endpoint Security Plan 1",
    ]
    assert [offer.name for offer in offers_on_sale_in("US")] == [
        "Cloud Backup 1 TB",
        "Cloud Meeting Rooms",
        "Cloud Productivity Business Basic",
        "Cloud Productivity Business Standard",
        "Cloud Productivity E3",
        "Cloud Project Plan 3",
        "Cloud Voice Phone System",
        "Endpoint Security Plan 1",
    ]

    # Fabrikam may manage Sakura's users and licences (User and License administrator).
    assert partner_may(fabrikam, sakura, DelegatedRole.USER_ADMIN) is True
    assert partner_may(fabrikam, sakura, DelegatedRole.LICENSE_ADMIN) is True

    # Every customer's tenant: 10 to 19 users besides the Global Administrator, Japanese and English
    # names, one disabled.
    for name, (total, disabled) in TENANTS.items():
        people = tenant_users(organization(name))
        assert people.count() == total
        assert [user.user_principal_name.split("@")[0] for user in people.filter(status="disabled")] == [
            disabled
        ]
        names = list(people.values_list("display_name", flat=True))
        assert any(not name.isascii() for name in names) and any(name.isascii() for name in names)
    # Fabrikam added two of Sakura's users (their set-up emails wait in the outbox) and disabled one;
    # Blue Yonder's admin added one of its own.
    setup = OutboxEmail.objects.filter(template="directory_user_setup")
    assert sorted(setup.values_list("to", "language")) == [
        ("akari.shimizu@blueyonderair.example", "ja"),
        ("kaito.kimura@sakuralogistics.example", "ja"),
        ("olivia.brown@sakuralogistics.example", "en"),
    ]
    disabled_rows = AuditEvent.objects.filter(action="directory_user.disabled", organization_id=fabrikam.pk)
    assert [row.after["user_principal_name"].split("@")[0] for row in disabled_rows] == ["nanami.inoue"]

    # Sakura's subscriptions, as Fabrikam's Customers page shows them.
    rows = {
        row.name: (row.status, row.seats, row.assigned, row.auto_renew, row.currency)
        for row in with_assigned_counts(subscriptions_of(fabrikam, sakura))
    }
    assert rows == {
        "Cloud Backup 1 TB": ("active", 1, 0, True, "JPY"),
        "Cloud Meeting Rooms": ("cancelled", 3, 0, True, "JPY"),
        "Cloud Productivity Business Basic": ("active", 10, 9, True, "JPY"),
        "Cloud Productivity Business Standard": ("active", 8, 8, True, "JPY"),
        "Cloud Productivity E3": ("active", 5, 4, False, "JPY"),
        "Endpoint Security Plan 1": ("active", 20, 14, True, "JPY"),
    }
    assert list(subscriptions_of(contoso, sakura).order_by("name").values_list("name", flat=True)) == sorted(
        rows
    )
    standard = Subscription.objects.get(customer=sakura, name="Cloud Productivity Business Standard")
    assert now + timedelta(days=4) < standard.renews_at <= now + timedelta(days=5)
    assert standard.started_at < now - timedelta(days=355)
    assert standard.renewal_reminded_at is not None
    assert OutboxEmail.objects.filter(template="subscription_renewal_reminder").exists()
    # no live subscription is past its renewal date (the beat job would act on it at once)
    assert not Subscription.objects.filter(status="active", renews_at__lte=now).exists()
    # licences go to active users of Sakura's tenant only; the other customers have no subscriptions
    assert set(LicenceAssignment.objects.values_list("customer__legal_name", flat=True)) == {SAKURA}
    assert not LicenceAssignment.objects.filter(directory_user__status="disabled").exists()
    assert set(Subscription.objects.values_list("customer__legal_name", flat=True)) == {SAKURA}
    holders = AuditEvent.objects.filter(action="licence.assigned", organization_id=sakura.pk)
    assert holders.count() == 35
    assert holders.filter(after__acting_partner="Fabrikam Cloud Solutions").count() == 31

    # Orders: a provisioned history, a declined request, one failed provisioning, two requests open.
    history = sorted(
        (order.status, order.kind, order.offer.product_code, order.requested_by_reseller)
        for order in Order.objects.filter(customer=sakura).select_related("offer")
    )
    assert history == [
        ("declined", "new", "CB-1TB-M", True),
        ("draft", "seats", "ES-P1-M", True),
        ("failed", "new", "CPR-P3-M", False),
        ("provisioned", "cancel", "CM-ROOMS-M", False),
        ("provisioned", "new", "CB-1TB-M", False),
        ("provisioned", "new", "CM-ROOMS-M", False),
        ("provisioned", "new", "CP-BASIC-M", False),
        ("provisioned", "new", "CP-E3-A", True),
        ("provisioned", "new", "CP-STD-A", False),
        ("provisioned", "new", "ES-P1-M", False),
        ("provisioned", "seats", "CP-STD-A", True),
        ("provisioned", "seats", "ES-P1-M", False),
        ("requested", "seats", "CP-STD-A", True),
    ]
    [failed] = Order.objects.filter(status="failed")
    assert (failed.failure_code, failed.customer, failed.seats) == ("offer_unavailable_in_country", sakura, 5)
    assert failed.completed_at is not None and failed.completed_at < now - timedelta(days=1)
    assert OutboxEmail.objects.filter(template="order_failed").exists()
    [waiting] = order_requests_waiting(contoso)
    assert (waiting.subscription, waiting.seats, waiting.reseller) == (standard, 12, fabrikam)
    assert "all 8 seats are in use" in waiting.note
    assert orders_visible_to(fabrikam).filter(status="draft").count() == 1
    assert not orders_visible_to(contoso).filter(status="draft").exists()
    assert not orders_visible_to(sakura).filter(status="draft").exists()
    # made through the services: each side's activity log has its rows
    assert AuditEvent.objects.filter(action="order.failed", organization_id=sakura.pk).count() == 1
    assert AuditEvent.objects.filter(action="subscription.created", organization_id=contoso.pk).count() == 6
    assert (
        AuditEvent.objects.filter(action="subscription.auto_renew_changed", organization_id=sakura.pk)
        .get()
        .after["acting_partner"]
        == "Contoso Distribution KK"
    )
    first = counts()

    call_command("load_demo")

    assert counts() == first

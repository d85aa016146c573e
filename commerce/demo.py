"""Demo catalogue, subscriptions, tenant users, licences and orders for the customers of
``customers/demo.py``, made through the services a person's clicks (or the worker) call, with the dates
moved back where a state needs time to pass.

- **Catalogue**: cloud productivity and security offers priced in yen for Japan and in dollars for the
  United States; Cloud Productivity E1 is no longer on sale, Cloud Voice Phone System is priced in the
  United States only, and Cloud Project Plan 3 stopped being available in Japan (see the failed order).
- **Tenant users**: 10 to 19 users in each customer's built-in tenant besides its Global Administrator,
  with Japanese and English names (password ``demo-directory-2026``); one disabled in each. In Sakura
  Logistics, Fabrikam (User administrator) added two of them (their set-up emails are in the mailbox)
  and disabled one.
- **Sakura Logistics KK** (the customer Fabrikam shares with Contoso, so the only one Contoso can order
  for): six subscriptions ordered through Contoso, provisioned as the worker does: Business Standard
  (annual, committed) renewing in 5 days (reminded) with all 8 seats assigned, Business Basic with 9 of 10
  seats assigned, E3 with 4 of 5 seats assigned and auto-renew turned off by Contoso, Endpoint Security
  Plan 1 (14 of 20), Cloud Backup 1 TB (not seat-based) and Cloud Meeting Rooms, cancelled. The order
  history has direct orders, reseller requests Contoso submitted, a declined request, and one order that
  failed provisioning (Cloud Project Plan 3 became unavailable in Japan after Contoso submitted it).
  Fabrikam's order requests waiting: one sent to Contoso (more seats of Business Standard), one draft.

The other customers have no indirect provider (Fabrikam invited them without one), so they have users but
no subscriptions. Idempotent: what exists is left alone (the orders have fixed idempotency keys).
"""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.models import DirectoryUser, Membership, Organization
from accounts.services.directory import directory_user_create, directory_user_find
from commerce.models import (
    TERM_MONTHS,
    BillingTerm,
    Commitment,
    LicenceAssignment,
    Offer,
    OfferPrice,
    Order,
    OrderKind,
    Subscription,
)
from commerce.services import licences, orders, subscriptions, users
from enrollment.demo_directory import DIRECTORY_DEMO_PASSWORD

RESELLER = "Fabrikam Cloud Solutions"
PROVIDER = "Contoso Distribution KK"
SHARED_CUSTOMER = "Sakura Logistics KK"
#: the demo orders' idempotency keys derive from this and a label: loading twice finds them
KEYS = uuid.UUID("6f1d2c1e-8a43-4d55-9a7e-0c5b3f1e2d10")

M, A = BillingTerm.MONTHLY, BillingTerm.ANNUAL
NONE, TERM = Commitment.NONE, Commitment.TERM

#: (product code, name, seat-based, billing term, commitment, on sale, {country: (currency, price)},
#: description)
OFFERS = [
    (
        "CP-BASIC-M",
        "Cloud Productivity Business Basic",
        True,
        M,
        NONE,
        True,
        {"JP": ("JPY", 899), "US": ("USD", "6.00")},
        "Web and mobile office apps, email, 1 TB of file storage and online meetings.",
    ),
    (
        "CP-STD-A",
        "Cloud Productivity Business Standard",
        True,
        A,
        TERM,
        True,
        {"JP": ("JPY", 22488), "US": ("USD", "150.00")},
        "Everything in Business Basic, with the desktop office apps; one year, committed.",
    ),
    (
        "CP-E3-A",
        "Cloud Productivity E3",
        True,
        A,
        TERM,
        True,
        {"JP": ("JPY", 59280), "US": ("USD", "432.00")},
        "The enterprise suite with compliance and information protection; one year, committed.",
    ),
    (
        "CP-E1-A",
        "Cloud Productivity E1",
        True,
        A,
        TERM,
        False,
        {"JP": ("JPY", 38280), "US": ("USD", "300.00")},
        "The web-only enterprise suite. Replaced by E3: no longer sold.",
    ),
    (
        "ES-P1-M",
        "Endpoint Security Plan 1",
        True,
        M,
        NONE,
        True,
        {"JP": ("JPY", 450), "US": ("USD", "3.00")},
        "Antivirus, attack surface reduction and device control for up to five devices per user.",
    ),
    (
        "CB-1TB-M",
        "Cloud Backup 1 TB",
        False,
        M,
        NONE,
        True,
        {"JP": ("JPY", 2500), "US": ("USD", "18.00")},
        "Backup of the tenant's mailboxes and files, 1 TB for the whole organization.",
    ),
    (
        "CM-ROOMS-M",
        "Cloud Meeting Rooms",
        True,
        M,
        NONE,
        True,
        {"JP": ("JPY", 2998), "US": ("USD", "20.00")},
        "Meeting room devices: one seat per room.",
    ),
    (
        "CV-PHONE-M",
        "Cloud Voice Phone System",
        True,
        M,
        NONE,
        True,
        {"US": ("USD", "8.00")},
        "Calls to and from phone numbers in the United States.",
    ),
    (
        "CPR-P3-M",
        "Cloud Project Plan 3",
        True,
        M,
        NONE,
        True,
        {"JP": ("JPY", 3750), "US": ("USD", "30.00")},
        "Project planning, resource management and reports.",
    ),
]

#: Each customer's tenant users besides its Global Administrator: (name before the @, display name,
#: language). The first ``disabled`` index is disabled; for Sakura, the last two are added by Fabrikam.
USERS = {
    "Sakura Logistics KK": [
        ("yui.suzuki", "鈴木 結衣", "ja"),
        ("ren.takahashi", "高橋 蓮", "ja"),
        ("aoi.tanaka", "田中 葵", "ja"),
        ("sota.watanabe", "渡辺 蒼太", "ja"),
        ("hina.ito", "伊藤 陽菜", "ja"),
        ("minato.yamamoto", "山本 湊", "ja"),
        ("mei.nakamura", "中村 芽依", "ja"),
        ("daiki.kobayashi", "小林 大輝", "ja"),
        ("sakura.kato", "加藤 さくら", "ja"),
        ("kenta.yoshida", "吉田 健太", "ja"),
        ("riko.yamada", "山田 莉子", "ja"),
        ("emily.clark", "Emily Clark", "en"),
        ("james.wilson", "James Wilson", "en"),
        ("yuto.matsumoto", "松本 悠斗", "ja"),
        ("sophie.martin", "Sophie Martin", "en"),
        ("takumi.sasaki", "佐々木 拓海", "ja"),
        ("nanami.inoue", "井上 七海", "ja"),
        # added by Fabrikam through the portal (set-up email)
        ("kaito.kimura", "木村 海斗", "ja"),
        ("olivia.brown", "Olivia Brown", "en"),
    ],
    "Blue Yonder Airlines Inc.": [
        ("ashley.johnson", "Ashley Johnson", "en"),
        ("michael.davis", "Michael Davis", "en"),
        ("jessica.garcia", "Jessica Garcia", "en"),
        ("david.rodriguez", "David Rodriguez", "en"),
        ("kenji.tanaka", "Kenji Tanaka", "en"),
        ("sarah.martinez", "Sarah Martinez", "en"),
        ("chris.anderson", "Chris Anderson", "en"),
        ("haruka.mori", "森 遥", "ja"),
        ("daniel.thomas", "Daniel Thomas", "en"),
        ("laura.moore", "Laura Moore", "en"),
        ("ryan.jackson", "Ryan Jackson", "en"),
        # added by the customer's own Global admin through the portal (set-up email)
        ("akari.shimizu", "清水 あかり", "ja"),
    ],
    "Hokuto Precision Manufacturing KK": [
        ("hiroshi.yamaguchi", "山口 博", "ja"),
        ("naoko.matsuda", "松田 直子", "ja"),
        ("kazuki.okada", "岡田 一輝", "ja"),
        ("ayaka.hasegawa", "長谷川 彩花", "ja"),
        ("shota.ishikawa", "石川 翔太", "ja"),
        ("misaki.ogawa", "小川 美咲", "ja"),
        ("takeshi.fujita", "藤田 剛", "ja"),
        ("yuka.goto", "後藤 由佳", "ja"),
        ("mark.evans", "Mark Evans", "en"),
        ("rina.okamoto", "岡本 里奈", "ja"),
        ("tomoya.maeda", "前田 智也", "ja"),
    ],
    "Humongous Insurance Co.": [
        ("jennifer.white", "Jennifer White", "en"),
        ("robert.harris", "Robert Harris", "en"),
        ("emma.thompson", "Emma Thompson", "en"),
        ("william.clark", "William Clark", "en"),
        ("yoko.nakano", "Yoko Nakano", "en"),
        ("olivia.lewis", "Olivia Lewis", "en"),
        ("benjamin.walker", "Benjamin Walker", "en"),
        ("sophia.hall", "Sophia Hall", "en"),
        ("lucas.young", "Lucas Young", "en"),
        ("takashi.endo", "遠藤 隆", "ja"),
    ],
}
#: the user disabled in each tenant (an index into USERS)
DISABLED = {
    "Sakura Logistics KK": 16,
    "Blue Yonder Airlines Inc.": 10,
    "Hokuto Precision Manufacturing KK": 10,
    "Humongous Insurance Co.": 9,
}
#: users added through the portal with a set-up email: (customer, how many at the end of its list, by whom)
ADDED_IN_PORTAL = {"Sakura Logistics KK": (2, "reseller"), "Blue Yonder Airlines Inc.": (1, "customer")}


def _key(label: str) -> uuid.UUID:
    return uuid.uuid5(KEYS, label)


def _member(organization: Organization, email: str) -> Membership:
    return Membership.objects.select_related("user", "organization").get(
        organization=organization, user__email=email, status=Membership.Status.ACTIVE
    )


def _customer_admin(customer: Organization) -> Membership:
    return (
        Membership.objects.select_related("user", "organization")
        .filter(organization=customer, status=Membership.Status.ACTIVE)
        .order_by("pk")
        .first()
    )


# --- The catalogue ----------------------------------------------------------------------------------


def _catalogue() -> dict[str, Offer]:
    """The offers as program staff keep them in the review site; an offer that exists is left as it is
    (its prices included: the failed order made one unavailable on purpose)."""
    offers = {}
    for code, name, seat_based, term, commitment, on_sale, prices, description in OFFERS:
        offer, created = Offer.objects.get_or_create(
            product_code=code,
            defaults={
                "name": name,
                "description": description,
                "seat_based": seat_based,
                "billing_term": term,
                "commitment": commitment,
                "is_active": on_sale,
                "min_seats": 1,
                "max_seats": 300 if seat_based else 1,
            },
        )
        if created:
            for country, (currency, amount) in prices.items():
                price = OfferPrice(
                    offer=offer, country=country, currency=currency, unit_price=Decimal(amount)
                )
                price.full_clean()  # the currency's decimals, as the review site checks them
                price.save()
        offers[code] = offer
    return offers


# --- Tenant users -----------------------------------------------------------------------------------


def _tenant_users(customer: Organization, *, fabrikam_admin: Membership) -> list[DirectoryUser]:
    """The tenant's users, made once: most as if the customer's admin had created them, the last ones
    added through the portal (set-up email), and one disabled."""
    name = customer.legal_name
    tenant = customer.directory_tenant
    domain = tenant.verified_domains[0]
    entries = USERS[name]
    admin = _customer_admin(customer)
    existing = [directory_user_find(f"{local}@{domain}") for local, _display, _language in entries]
    if all(existing):
        return existing
    added, added_by = ADDED_IN_PORTAL.get(name, (0, ""))
    partner_adds = added_by == "reseller"
    made = []
    for index, (local, display_name, language) in enumerate(entries):
        upn = f"{local}@{domain}"
        if existing[index] is not None:
            made.append(existing[index])
        elif index >= len(entries) - added:
            made.append(
                users.customer_user_add(
                    by=fabrikam_admin if partner_adds else admin,
                    customer=customer,
                    user_principal_name=upn,
                    display_name=display_name,
                    contact_email=f"{local}@{domain.split('.')[0]}.example",
                    language=language,
                )
            )
        else:
            made.append(
                directory_user_create(
                    tenant=tenant,
                    user_principal_name=upn,
                    display_name=display_name,
                    password=DIRECTORY_DEMO_PASSWORD,
                    by_user=admin.user,
                )
            )
    disabled = made[DISABLED[name]]
    if disabled.status == DirectoryUser.Status.ACTIVE:
        made[DISABLED[name]] = users.customer_user_disable(
            by=fabrikam_admin if partner_adds else admin, customer=customer, directory_user=disabled
        )
    return made


# --- Sakura Logistics: orders, subscriptions, licences ----------------------------------------------


def _term_end(start: datetime, billing_term: str) -> datetime:
    return start + relativedelta(months=TERM_MONTHS[billing_term])


def _backdate_order(order: Order, *, submitted: datetime, requested: datetime | None = None) -> None:
    """As if the order was requested, submitted and provisioned (a minute later) at those times."""
    changes = {"created_at": requested or submitted, "submitted_at": submitted}
    if requested is not None:
        changes["requested_at"] = requested
    if order.completed_at is not None:
        changes["completed_at"] = submitted + timedelta(minutes=1)
    Order.objects.filter(pk=order.pk).update(**changes)


def _backdate_subscription(subscription: Subscription, *, started: datetime, renews: datetime) -> None:
    term = TERM_MONTHS[subscription.billing_term]
    Subscription.objects.filter(pk=subscription.pk).update(
        started_at=started, term_started_at=renews - relativedelta(months=term), renews_at=renews
    )


class _Sakura:
    """Everything Contoso and Fabrikam did for Sakura Logistics, in the order it happened."""

    def __init__(self, customer, *, offers, provider_admin, reseller_admin, customer_admin, now):
        self.customer = customer
        self.offers = offers
        self.provider_admin = provider_admin
        self.reseller_admin = reseller_admin
        self.customer_admin = customer_admin
        self.now = now

    def submit(self, label: str, *, kind=OrderKind.NEW, code=None, subscription=None, seats=1) -> Order:
        """Contoso submits an order directly, and the worker provisions it."""
        order = orders.order_submit(
            by=self.provider_admin,
            customer=self.customer,
            reseller=self.reseller_admin.organization,
            kind=kind,
            offer=self.offers[code] if code else None,
            subscription=subscription,
            seats=seats,
            idempotency_key=_key(label),
        )
        orders.order_provision(order_id=order.pk)
        order.refresh_from_db()
        return order

    def request(
        self, label: str, *, kind=OrderKind.NEW, code=None, subscription=None, seats=1, note="", send=True
    ) -> Order:
        """Fabrikam drafts an order request for Contoso (and sends it unless ``send`` is False)."""
        return orders.order_request_create(
            by=self.reseller_admin,
            customer=self.customer,
            provider=self.provider_admin.organization,
            kind=kind,
            offer=self.offers[code] if code else None,
            subscription=subscription,
            seats=seats,
            note=note,
            send=send,
            idempotency_key=_key(label),
        )

    def request_submitted(self, label: str, **terms) -> Order:
        """Fabrikam's request, submitted by Contoso and provisioned by the worker."""
        order = orders.order_request_submit(by=self.provider_admin, order=self.request(label, **terms))
        orders.order_provision(order_id=order.pk)
        order.refresh_from_db()
        return order

    def assign(self, subscription: Subscription, holders: list[DirectoryUser], *, by: Membership) -> None:
        for holder in holders:
            licences.licence_assign(
                by=by, subscription=subscription, user_principal_name=holder.user_principal_name
            )
        LicenceAssignment.objects.filter(subscription=subscription).update(
            assigned_at=Subscription.objects.get(pk=subscription.pk).started_at + timedelta(hours=2)
        )

    def load(self, tenant_users: list[DirectoryUser]) -> None:
        now, day = self.now, timedelta(days=1)

        # Business Standard, annual and committed: its first term ends in 5 days; 5 seats, then 8.
        renews = now + 5 * day
        started = renews - relativedelta(months=12)
        order = self.submit("standard", code="CP-STD-A", seats=5)
        standard = order.subscription
        _backdate_order(order, submitted=started - timedelta(minutes=1))
        _backdate_subscription(standard, started=started, renews=renews)
        order = self.request_submitted(
            "standard-seats",
            kind=OrderKind.SEATS,
            subscription=standard,
            seats=8,
            note="Three people joined the Tokyo warehouse team.",
        )
        _backdate_order(order, requested=started + 120 * day, submitted=started + 121 * day)

        # Business Basic and Endpoint Security Plan 1, monthly: since 100 days; Endpoint Security 15 → 20.
        order = self.submit("basic", code="CP-BASIC-M", seats=10)
        basic = order.subscription
        _backdate_order(order, submitted=now - 100 * day)
        _backdate_subscription(basic, started=now - 100 * day, renews=now + 22 * day)
        order = self.submit("endpoint", code="ES-P1-M", seats=15)
        endpoint = order.subscription
        _backdate_order(order, submitted=now - 100 * day)
        _backdate_subscription(endpoint, started=now - 100 * day, renews=now + 22 * day)
        order = self.submit("endpoint-seats", kind=OrderKind.SEATS, subscription=endpoint, seats=20)
        _backdate_order(order, submitted=now - 30 * day)

        # E3 for the management team, asked for by Fabrikam; Contoso turned auto-renew off.
        order = self.request_submitted(
            "e3",
            code="CP-E3-A",
            seats=5,
            note="For the management team: they need the desktop apps and information protection.",
        )
        e3 = order.subscription
        started = now - 150 * day
        _backdate_order(order, requested=started - 2 * day, submitted=started - timedelta(minutes=1))
        _backdate_subscription(e3, started=started, renews=_term_end(started, A))
        subscriptions.subscription_auto_renew_set(by=self.provider_admin, subscription=e3, auto_renew=False)

        # Cloud Backup 1 TB (not seat-based) since 50 days.
        order = self.submit("backup", code="CB-1TB-M")
        _backdate_order(order, submitted=now - 50 * day)
        _backdate_subscription(order.subscription, started=now - 50 * day, renews=now + 11 * day)

        # Cloud Meeting Rooms: 3 rooms for 33 days, then cancelled.
        order = self.submit("rooms", code="CM-ROOMS-M", seats=3)
        rooms = order.subscription
        _backdate_order(order, submitted=now - 45 * day)
        _backdate_subscription(rooms, started=now - 45 * day, renews=now + 15 * day)
        order = self.submit("rooms-cancel", kind=OrderKind.CANCEL, subscription=rooms, seats=0)
        _backdate_order(order, submitted=now - 12 * day)
        Subscription.objects.filter(pk=rooms.pk).update(ended_at=now - 12 * day + timedelta(minutes=1))

        # A second backup, asked for by Fabrikam and declined by Contoso.
        order = self.request(
            "backup-second", code="CB-1TB-M", note="A second backup for the Osaka warehouse."
        )
        order = orders.order_request_decline(
            by=self.provider_admin,
            order=order,
            reason=(
                "Sakura Logistics already has Cloud Backup 1 TB, which covers the whole tenant: the Osaka "
                "warehouse's mailboxes and files are backed up already."
            ),
        )
        Order.objects.filter(pk=order.pk).update(
            created_at=now - 20 * day, requested_at=now - 20 * day, decided_at=now - 19 * day
        )

        # Licences: Business Standard full, Business Basic and E3 one seat short of full.
        people = [user for user in tenant_users if user.status == DirectoryUser.Status.ACTIVE]
        kaito = next(user for user in people if user.user_principal_name.startswith("kaito."))
        self.assign(standard, people[0:8], by=self.reseller_admin)
        self.assign(basic, [*people[8:16], kaito], by=self.reseller_admin)
        self.assign(endpoint, people[0:14], by=self.reseller_admin)
        admin_user = directory_user_find(f"admin@{self.customer.directory_tenant.verified_domains[0]}")
        self.assign(e3, [admin_user, *people[0:3]], by=self.customer_admin)

        # Submitted two days ago; before the worker provisioned it, program staff made Cloud Project
        # Plan 3 unavailable in Japan: provisioning failed for that reason.
        order = orders.order_submit(
            by=self.provider_admin,
            customer=self.customer,
            reseller=self.reseller_admin.organization,
            kind=OrderKind.NEW,
            offer=self.offers["CPR-P3-M"],
            seats=5,
            idempotency_key=_key("project-failed"),
        )
        OfferPrice.objects.filter(offer=self.offers["CPR-P3-M"], country="JP").update(is_available=False)
        orders.order_provision(order_id=order.pk)
        order.refresh_from_db()
        _backdate_order(order, submitted=now - 2 * day)

        # Waiting for Contoso: four more Business Standard seats (all 8 are in use). Fabrikam's draft.
        order = self.request(
            "standard-more",
            kind=OrderKind.SEATS,
            subscription=standard,
            seats=12,
            note="Four new staff join the Osaka office next month, and all 8 seats are in use.",
        )
        Order.objects.filter(pk=order.pk).update(created_at=now - day, requested_at=now - day)
        order = self.request(
            "endpoint-draft", kind=OrderKind.SEATS, subscription=endpoint, seats=25, send=False
        )
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(hours=3))

        # The beat job's run of yesterday: Business Standard's renewal reminder (7 days ahead).
        subscriptions.subscriptions_run_due(now=now - day)


def load() -> list[tuple[str, str, str]]:
    fabrikam = Organization.objects.get(kind=Organization.Kind.RESELLER, legal_name=RESELLER)
    contoso = Organization.objects.get(kind=Organization.Kind.PROVIDER, legal_name=PROVIDER)
    fabrikam_admin = _member(fabrikam, "reseller.admin@demo.example")
    offers = _catalogue()
    tenant_users = {}
    for name in USERS:
        customer = Organization.objects.get(kind=Organization.Kind.CUSTOMER, legal_name=name)
        tenant_users[name] = _tenant_users(customer, fabrikam_admin=fabrikam_admin)

    sakura = Organization.objects.get(kind=Organization.Kind.CUSTOMER, legal_name=SHARED_CUSTOMER)
    if not Order.objects.filter(customer=sakura, idempotency_key=_key("standard")).exists():
        _Sakura(
            sakura,
            offers=offers,
            provider_admin=_member(contoso, "provider.admin@demo.example"),
            reseller_admin=fabrikam_admin,
            customer_admin=_customer_admin(sakura),
            now=timezone.now(),
        ).load(tenant_users[SHARED_CUSTOMER])
    return []

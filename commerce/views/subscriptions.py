"""The subscription pages: the customer's own Subscriptions page (with its latest orders), the CSV export
of subscriptions for each side, the provider's auto-renew switch, and what a partner's customer pages
(customers/views/partner_side.py) show of a customer's subscriptions and the actions on them.
"""

from __future__ import annotations

from typing import NamedTuple

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Organization
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from commerce import access, selectors
from commerce.models import SUBSCRIPTION_LIVE, Order, Subscription, SubscriptionStatus
from commerce.services.subscriptions import subscription_auto_renew_set
from commerce.views.base import CustomerScopedView
from customers import selectors as customer_selectors
from customers.models import DelegatedRole
from customers.selectors import role_satisfied
from portal.csv_export import EXPORT_FETCH_ROWS, csv_response
from portal.errors import DomainError
from portal.lists import DEFAULT_PAGE_SIZE, keyset_first_page, keyset_page
from portal.navigation import pages_open_to
from portal.rows import RowLink, choice_labels, day, minute

#: The subscriptions list's keyset ordering (the last field unique).
SUBSCRIPTION_ORDERING = ("name", "id")
#: the subscriptions a row of the Customers page shows (it says when the customer has more)
SUBSCRIPTIONS_PER_ROW = 5
#: The partner's export reads the subscriptions of this many customers per query.
EXPORT_CUSTOMERS_PER_QUERY = 500
#: The customer's Subscriptions page shows its latest orders, this many.
LATEST_ORDERS = 20

EXPORT_HEADER = [
    "subscription_id", "name", "offer", "product_code", "seats", "licences_assigned", "billing_term",
    "commitment", "status", "status_label", "started_utc", "renews_utc", "auto_renew", "currency",
    "price_per_seat", "reseller_of_record", "provider",
]  # fmt: skip
EXPORT_COLUMNS = (
    "public_id", "name", "offer__name", "offer__product_code", "seats", "assigned", "billing_term",
    "commitment", "status", "started_at", "renews_at", "auto_renew", "currency", "unit_price",
    "reseller__legal_name", "provider__legal_name",
)  # fmt: skip


def price_in_minor_units(amount, currency: str) -> str:
    """The price with the currency's own decimals (JPY 1200, USD 12.50), as a file reader expects."""
    from decimal import Decimal

    from babel.numbers import get_currency_precision

    return str(Decimal(amount).quantize(Decimal(1).scaleb(-get_currency_precision(currency))))


def _export_rows(columns, *, lead: int = 0):
    """The export's rows: ``lead`` columns of the partner's export, then ``EXPORT_COLUMNS``; read on a
    server-side cursor."""
    labels = dict(SubscriptionStatus.choices)
    for values in columns.iterator(chunk_size=EXPORT_FETCH_ROWS):
        first = values[:lead]
        (
            public_id, name, offer, code, seats, assigned, term, commitment, status, started_at, renews_at,
            auto_renew, currency, unit_price, reseller, provider,
        ) = values[lead:]  # fmt: skip
        yield (
            *first, public_id, name, offer, code, seats, assigned, term, commitment, status,
            labels.get(status, status), started_at.isoformat(), renews_at.isoformat(),
            "yes" if auto_renew else "no", currency, price_in_minor_units(unit_price, currency), reseller,
            provider,
        )  # fmt: skip


class SubscriptionListView(CustomerScopedView):
    """The customer's own subscriptions (seats used of seats bought), and its latest orders."""

    action = access.SUBSCRIPTIONS_VIEW

    def get(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=self.action)
        if denied is not None:
            return denied
        if self.is_customer_side and not request.GET.get("after") and not request.GET.get("before"):
            # the first page, which nearly every visit is: its query compiled once per process
            rows = selectors.own_subscription_rows_first(
                self.customer, ordering=SUBSCRIPTION_ORDERING, count=DEFAULT_PAGE_SIZE + 1
            )
            page = keyset_first_page(rows, ordering=SUBSCRIPTION_ORDERING, query=request.GET)
        else:
            subscriptions = selectors.subscriptions_of(self.organization, self.customer)
            subscriptions = selectors.subscription_rows(subscriptions)
            page = keyset_page(
                selectors.with_assigned_counts(subscriptions),
                ordering=SUBSCRIPTION_ORDERING,
                query=request.GET,
            )
        orders = selectors.latest_order_rows_of_customer(self.customer, count=LATEST_ORDERS)
        context = self.get_context_data(
            page=page,
            rows=subscription_table_rows(
                page.object_list,
                organization=self.organization,
                membership=self.membership,
                customer=self.customer,
            ),
            orders=orders,
            order_rows=latest_order_rows(orders),
            latest_orders=len(orders),
        )
        return render(request, "commerce/subscriptions.html", context)


class SubscriptionRow(NamedTuple):
    """What a row of a subscriptions table (commerce/_subscriptions_table.html) prints, in plain values:
    the row's ``{% memo %}`` keys it by them (``portal.memo``). The action links are the ones this member
    may follow on this row ("" when the row offers none)."""

    public_id: str
    name: str
    product_code: str
    seat_based: bool
    seats: int
    assigned: int
    billing_term_label: str
    commitment_label: str
    started: str  # "Y-m-d", UTC
    status: str
    status_label: str
    is_live: bool
    renews: str  # "Y-m-d H:i", UTC
    auto_renew: bool
    ended: str  # "Y-m-d", UTC; "" while the subscription has not ended
    reseller_name: str
    provider_name: str
    seats_url: str  # the provider's Change seats, the reseller's Request a change
    cancel_url: str  # the provider's Cancel subscription, the reseller's Request a cancellation
    auto_renew_url: str  # the provider's auto-renew switch (a POST form, outside the row's memo)
    licences_url: str  # the customer's Licences page of the subscription

    @property
    def has_actions(self) -> bool:
        return bool(self.cancel_url or self.auto_renew_url or self.licences_url)


def subscription_table_rows(
    subscriptions,
    *,
    organization: Organization,
    membership,
    customer: Organization,
    actions: str = "",
    may_order: bool = False,
    may_renewal: bool = False,
    may_request: bool = False,
) -> list[SubscriptionRow]:
    """The rows of a subscriptions table (``selectors.subscription_rows`` with ``assigned``) of
    ``customer``'s subscriptions, as ``membership`` of ``organization`` sees them.

    ``actions``: "provider" (Change seats / Cancel of an active subscription with ``may_order``, the
    auto-renew switch of a live one with ``may_renewal``), "reseller" (the requests of an active one with
    ``may_request``) or "" (none). A seat-based row links to its Licences page when the member may open
    that page (as ``{{ links.licences }}``)."""
    in_customer = {"organization_public_id": organization.public_id, "customer_id": customer.public_id}
    order_url = ""
    if actions == "provider" and may_order:
        order_url = reverse("commerce:order_new", kwargs=in_customer)
    elif actions == "reseller" and may_request:
        order_url = reverse("commerce:order_request_new", kwargs=in_customer)
    auto_renew_url = None
    if actions == "provider" and may_renewal:
        auto_renew_url = RowLink("commerce:subscription_auto_renew", "subscription_id", **in_customer)
    licences = next((url for entry, url in pages_open_to(membership) if entry.key == "licences"), "")
    terms = choice_labels(Subscription, "billing_term")
    commitments = choice_labels(Subscription, "commitment")
    statuses = choice_labels(Subscription, "status")
    rows = []
    for subscription in subscriptions:
        public_id, status = str(subscription.public_id), subscription.status
        seat_based = subscription.offer.seat_based
        is_live = status in SUBSCRIPTION_LIVE
        orderable = order_url and status == SubscriptionStatus.ACTIVE
        rows.append(
            SubscriptionRow(
                public_id=public_id,
                name=subscription.name,
                product_code=subscription.offer.product_code,
                seat_based=seat_based,
                seats=subscription.seats,
                assigned=subscription.assigned,
                billing_term_label=terms.get(subscription.billing_term, subscription.billing_term),
                commitment_label=commitments.get(subscription.commitment, subscription.commitment),
                started=day(subscription.started_at),
                status=status,
                status_label=statuses.get(status, status),
                is_live=is_live,
                renews=minute(subscription.renews_at),
                auto_renew=subscription.auto_renew,
                ended=day(subscription.ended_at) if subscription.ended_at else "",
                reseller_name=subscription.reseller.legal_name,
                provider_name=subscription.provider.legal_name,
                seats_url=f"{order_url}?kind=seats&subscription={public_id}"
                if orderable and seat_based
                else "",
                cancel_url=f"{order_url}?kind=cancel&subscription={public_id}" if orderable else "",
                auto_renew_url=auto_renew_url(public_id) if auto_renew_url and is_live else "",
                licences_url=f"{licences}?subscription={public_id}" if licences and seat_based else "",
            )
        )
    return rows


class LatestOrderRow(NamedTuple):
    """What a row of the customer's latest orders prints, in plain values (its ``{% memo %}`` key)."""

    created: str  # "Y-m-d H:i", UTC
    item_name: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    seats: int
    reseller_name: str
    provider_name: str


def latest_order_rows(orders) -> list[LatestOrderRow]:
    """The rows of the customer's latest orders (``selectors.order_rows_visible_to`` of the customer)."""
    kinds, statuses = choice_labels(Order, "kind"), choice_labels(Order, "status")
    return [
        LatestOrderRow(
            created=minute(order.created_at),
            item_name=order.item_name,
            kind=order.kind,
            kind_label=kinds.get(order.kind, order.kind),
            status=order.status,
            status_label=statuses.get(order.status, order.status),
            seats=order.seats,
            reseller_name=order.reseller_name,
            provider_name=order.provider_name,
        )
        for order in orders
    ]


class CustomerExportView(CustomerScopedView):
    """The customer's subscriptions as CSV, streamed."""

    action = access.SUBSCRIPTIONS_VIEW

    def get(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=self.action)
        if denied is not None:
            return denied
        columns = (
            selectors.with_assigned_counts(selectors.subscriptions_of(self.organization, self.customer))
            .order_by(*SUBSCRIPTION_ORDERING)
            .values_list(*EXPORT_COLUMNS)
        )
        return csv_response(
            f"subscriptions-{self.organization.public_id}.csv", EXPORT_HEADER, _export_rows(columns)
        )


class PartnerExportView(OrganizationView):
    """Every subscription a partner may read (its customers', by customer), as CSV, streamed: the
    customers it sees (``customers.selectors``), then their subscriptions, a batch of customers at a
    time."""

    def get(self, request):
        visible = customer_selectors.customer_relationships_visible_to(self.organization).order_by(
            "customer_name", "id"
        )

        def batches():
            """The visible customers' ids, each once, EXPORT_CUSTOMERS_PER_QUERY at a time, as the cursor
            reads them: the first rows go out before the last customers are read (500,000 for a provider
            that has every reseller, bench/scale.py)."""
            seen: set[int] = set()
            batch: list[int] = []
            for customer_id in visible.values_list("customer_id", flat=True).iterator(
                chunk_size=EXPORT_FETCH_ROWS
            ):
                if customer_id not in seen:
                    seen.add(customer_id)
                    batch.append(customer_id)
                    if len(batch) == EXPORT_CUSTOMERS_PER_QUERY:
                        yield batch
                        batch = []
            if batch:
                yield batch

        def rows():
            for batch in batches():
                columns = (
                    selectors.with_assigned_counts(selectors.subscriptions_sold_to(self.organization, batch))
                    .order_by("customer__legal_name", "customer_id", *SUBSCRIPTION_ORDERING)
                    .values_list("customer__legal_name", "customer__public_id", *EXPORT_COLUMNS)
                )
                yield from _export_rows(columns, lead=2)

        return csv_response(
            f"customer-subscriptions-{self.organization.public_id}.csv",
            ["customer", "customer_id", *EXPORT_HEADER],
            rows(),
        )


class AutoRenewView(CustomerScopedView):
    """POST ``auto_renew=on|off``: the provider turns a subscription's auto-renew on or off."""

    action = access.SUBSCRIPTION_RENEWAL_CHANGE

    def post(self, request, customer_id, subscription_id):
        denied = self.customer_resolve(customer_id, action=self.action)
        if denied is not None:
            return denied
        subscription = selectors.subscription_for(self.organization, self.customer, subscription_id)
        auto_renew = request.POST.get("auto_renew") == "on"
        try:
            subscription = subscription_auto_renew_set(
                by=self.membership, subscription=subscription, auto_renew=auto_renew
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            # The message names no subscription: it stays in the session for the next page, whatever it is.
            values = {"date": subscription.renews_at.strftime("%Y-%m-%d")}
            if subscription.auto_renew:
                message = _("Auto-renew is on: the subscription renews on %(date)s (UTC).") % values
            else:
                message = _("Auto-renew is off: the subscription ends on %(date)s (UTC).") % values
            messages.success(request, message)
        return redirect(
            "customers:customer",
            organization_public_id=self.organization.public_id,
            customer_id=self.customer.public_id,
        )


# --- What a partner's customer pages show (customers/views/partner_side.py) ---------------------------


def customer_page_context(view, customer: Organization, live) -> dict:
    """A partner's customer page: the customer's subscriptions as the partner reads them, the actions the
    partner may take (the ``commerce.access`` table) and, for a reseller, whether it holds the delegated
    roles the users and licences pages need (``live``: its live delegated admin relationship)."""
    organization, membership = view.organization, view.membership
    is_provider = organization.kind == Organization.Kind.PROVIDER
    roles = live.roles if live is not None else ()

    def allowed(action):
        return access.customer_action_allowed(organization, membership, customer, action)

    may_order = is_provider and allowed(access.ORDERS_SUBMIT)
    may_renewal = is_provider and allowed(access.SUBSCRIPTION_RENEWAL_CHANGE)
    may_request = not is_provider and allowed(access.ORDERS_REQUEST)
    # the page found the customer visible: its subscriptions, without checking that again per row
    subscriptions = selectors.with_assigned_counts(
        selectors.subscription_rows(selectors.subscriptions_sold_to(organization, [customer.pk]))
    ).order_by(*SUBSCRIPTION_ORDERING)
    return {
        "subscriptions": subscription_table_rows(
            subscriptions,
            organization=organization,
            membership=membership,
            customer=customer,
            actions="provider" if is_provider else "reseller",
            may_order=may_order,
            may_renewal=may_renewal,
            may_request=may_request,
        ),
        "may_order": may_order,
        "may_renewal": may_renewal,
        "may_request": may_request,
        "holds_user_admin": role_satisfied(roles, DelegatedRole.USER_ADMIN),
        "holds_license_admin": role_satisfied(roles, DelegatedRole.LICENSE_ADMIN),
        "user_admin_label": DelegatedRole.USER_ADMIN.label,
        "license_admin_label": DelegatedRole.LICENSE_ADMIN.label,
        "can_export_subscriptions": membership.can(Permission.CUSTOMERS_VIEW),
    }

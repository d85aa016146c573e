"""The subscription pages: the customer's own Subscriptions page (with its latest orders), the CSV export
of subscriptions for each side, the provider's auto-renew switch, and what a partner's customer pages
(customers/views/partner_side.py) show of a customer's subscriptions and the actions on them.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.models import Organization
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from commerce import access, selectors
from commerce.models import SubscriptionStatus
from commerce.services.subscriptions import subscription_auto_renew_set
from commerce.views.base import CustomerScopedView
from customers import selectors as customer_selectors
from customers.models import DelegatedRole
from customers.selectors import role_satisfied
from portal.csv_export import EXPORT_FETCH_ROWS, csv_response
from portal.errors import DomainError
from portal.lists import keyset_page

#: The subscriptions list's keyset ordering (the last field unique).
SUBSCRIPTION_ORDERING = ("name", "id")
#: the subscriptions a row of the Customers page shows (it says when the customer has more)
SUBSCRIPTIONS_PER_ROW = 5
#: the columns of those subscriptions that the row reads
ROW_SUBSCRIPTION_COLUMNS = (
    "name", "seats", "status", "auto_renew", "renews_at", "customer_id", "reseller_id", "offer__seat_based",
)  # fmt: skip
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
        subscriptions = selectors.subscriptions_of(self.organization, self.customer)
        subscriptions = selectors.subscription_rows(subscriptions)
        page = keyset_page(
            selectors.with_assigned_counts(subscriptions), ordering=SUBSCRIPTION_ORDERING, query=request.GET
        )
        orders = list(selectors.order_rows_visible_to(self.customer)[:LATEST_ORDERS])
        context = self.get_context_data(page=page, orders=orders, latest_orders=len(orders))
        return render(request, "commerce/subscriptions.html", context)


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

    return {
        "subscriptions": list(
            # the page found the customer visible: its subscriptions, without checking that again per row
            selectors.with_assigned_counts(
                selectors.subscription_rows(selectors.subscriptions_sold_to(organization, [customer.pk]))
            ).order_by(*SUBSCRIPTION_ORDERING)
        ),
        "may_order": is_provider and allowed(access.ORDERS_SUBMIT),
        "may_renewal": is_provider and allowed(access.SUBSCRIPTION_RENEWAL_CHANGE),
        "may_request": not is_provider and allowed(access.ORDERS_REQUEST),
        "holds_user_admin": role_satisfied(roles, DelegatedRole.USER_ADMIN),
        "holds_license_admin": role_satisfied(roles, DelegatedRole.LICENSE_ADMIN),
        "user_admin_label": DelegatedRole.USER_ADMIN.label,
        "license_admin_label": DelegatedRole.LICENSE_ADMIN.label,
        "can_export_subscriptions": membership.can(Permission.CUSTOMERS_VIEW),
    }


def customer_rows_annotate(organization: Organization, rows) -> None:
    """The Customers page's rows (customer relationships) each get ``subscriptions`` (one query for the
    page: a provider's row, only those sold through its reseller) and, for a reseller, whether its live
    delegated admin (``row.delegated_admin``) holds the users and licences roles."""
    customer_ids = {row.customer_id for row in rows}
    found: dict[int, list] = {}
    if customer_ids:
        first = selectors.subscriptions_sold_to_first(
            organization, customer_ids, per_customer=SUBSCRIPTIONS_PER_ROW
        )
        # only what a row's short list shows (customers/list.html), not the parties and the whole offer
        first = first.select_related(None).select_related("offer").only(*ROW_SUBSCRIPTION_COLUMNS)
        for subscription in first.order_by("customer_id", *SUBSCRIPTION_ORDERING):
            found.setdefault(subscription.customer_id, []).append(subscription)
    is_provider = organization.kind == Organization.Kind.PROVIDER
    for row in rows:
        subscriptions = found.get(row.customer_id, [])
        if is_provider:
            subscriptions = [item for item in subscriptions if item.reseller_id == row.reseller_id]
        # a customer may have a thousand: the row shows the first ones, the customer's page all of them
        row.subscriptions = subscriptions[:SUBSCRIPTIONS_PER_ROW]
        row.subscriptions_more = len(subscriptions) > SUBSCRIPTIONS_PER_ROW
        roles = row.delegated_admin.roles if getattr(row, "delegated_admin", None) else ()
        row.holds_user_admin = role_satisfied(roles, DelegatedRole.USER_ADMIN)
        row.holds_license_admin = role_satisfied(roles, DelegatedRole.LICENSE_ADMIN)

"""The order pages: a provider's order for a shared customer, a reseller's order request to its provider,
a partner's list of orders, one order with its timeline and the next steps (the reseller sends or
withdraws its request; the provider submits or declines it).

The forms carry an idempotency key made when the form is shown: a retried or double-clicked submission
gets back the order the first one created (``commerce.services.orders``). Every refusal is the service's,
shown at its field, and saves nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import NamedTuple

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Organization
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from commerce import access, selectors
from commerce.forms_orders import DeclineForm, OrderForm, OrderRequestForm
from commerce.models import CANCELLATION_WINDOW_DAYS, ORDER_STATUS, Commitment, Order, OrderKind, OrderStatus
from commerce.money import money
from commerce.services import orders as order_services
from commerce.services.catalogue import offers_on_sale_in
from commerce.views.base import CustomerScopedView
from customers import partner_selectors
from customers import selectors as customer_selectors
from portal.errors import DomainError, form_add_domain_error
from portal.lists import DEFAULT_PAGE_SIZE, keyset_first_page, keyset_page
from portal.rows import RowLink, choice_labels, minute

#: The orders list's keyset ordering (the last field unique).
ORDER_ORDERING = ("-created_at", "-id")

#: The status tabs of the orders list, per kind of partner ("" shows every order).
ORDER_TABS = {
    Organization.Kind.PROVIDER: (
        ("", gettext_lazy("All")),
        (OrderStatus.REQUESTED, gettext_lazy("Waiting for you")),
        (OrderStatus.SUBMITTED, gettext_lazy("Submitted")),
        (OrderStatus.PROVISIONED, gettext_lazy("Provisioned")),
        (OrderStatus.FAILED, gettext_lazy("Failed")),
        (OrderStatus.DECLINED, gettext_lazy("Declined")),
    ),
    Organization.Kind.RESELLER: (
        ("", gettext_lazy("All")),
        (OrderStatus.DRAFT, gettext_lazy("Drafts")),
        (OrderStatus.REQUESTED, gettext_lazy("Waiting for the provider")),
        (OrderStatus.SUBMITTED, gettext_lazy("Submitted")),
        (OrderStatus.PROVISIONED, gettext_lazy("Provisioned")),
        (OrderStatus.FAILED, gettext_lazy("Failed")),
        (OrderStatus.DECLINED, gettext_lazy("Declined")),
        (OrderStatus.WITHDRAWN, gettext_lazy("Withdrawn")),
    ),
}


def _uuid_or_404(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise Http404 from None


def _order_redirect(organization: Organization, order: Order):
    return redirect("commerce:order", organization_public_id=organization.public_id, order_id=order.public_id)


# --- The order forms (one customer) -----------------------------------------------------------------


class _OrderFormPage(CustomerScopedView):
    """GET ``?kind=new|seats|cancel&subscription=<public id>``: the form of that kind; POST (to the same
    address): the service, then the order's page, or the form again with the service's reason (400)."""

    action: str
    template_name: str

    def get(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=self.action)
        if denied is not None:
            return denied
        kind, subscription = self.terms(request)
        return self.render_form(self.form(kind, subscription), kind, subscription)

    def post(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=self.action)
        if denied is not None:
            return denied
        kind, subscription = self.terms(request)
        form = self.form(kind, subscription, request.POST)
        if form.is_valid():
            try:
                order = self.submit(form.cleaned_data, kind, subscription)
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(request, self.success_message(order))
                return _order_redirect(self.organization, order)
        return self.render_form(form, kind, subscription, status=400)

    def terms(self, request):
        """The kind of order the page is about, and the subscription it changes (404: not one the partner
        sees for this customer)."""
        kind = request.GET.get("kind")
        if kind not in OrderKind.values:
            kind = OrderKind.NEW
        if kind == OrderKind.NEW:
            return kind, None
        public_id = _uuid_or_404(request.GET.get("subscription"))
        return kind, selectors.subscription_for(self.organization, self.customer, public_id)

    def form(self, kind, subscription, data=None):
        raise NotImplementedError

    def submit(self, data: dict, kind: str, subscription):
        raise NotImplementedError

    def success_message(self, order: Order) -> str:
        raise NotImplementedError

    def render_form(self, form, kind, subscription, status=200, **context):
        holders, holder_count = ([], 0)
        window_ends = None
        if subscription is not None:
            holders, holder_count = order_services.holders_of(subscription)
            if subscription.commitment == Commitment.TERM:
                window_ends = subscription.term_started_at + timedelta(days=CANCELLATION_WINDOW_DAYS)
        context = self.get_context_data(
            form=form,
            kind=kind,
            kind_label=OrderKind(kind).label,
            subscription=subscription,
            subscription_price=money(subscription.unit_price, subscription.currency) if subscription else "",
            holders=holders,
            holders_more=holder_count - len(holders),
            holder_count=holder_count,
            committed=window_ends is not None,
            window_ends=window_ends,
            window_open=order_services.cancellation_window_open(subscription) if subscription else True,
            window_days=CANCELLATION_WINDOW_DAYS,
            customer_url=reverse(
                "customers:customer",
                kwargs={
                    "organization_public_id": self.organization.public_id,
                    "customer_id": self.customer.public_id,
                },
            ),
            **context,
        )
        return render(self.request, self.template_name, context, status=status)


class OrderNewView(_OrderFormPage):
    """The provider orders for a customer it shares with a reseller: a new subscription (the reseller of
    record chosen among the resellers sharing the customer), more or fewer seats, or a cancellation."""

    action = access.ORDERS_SUBMIT
    template_name = "commerce/order_new.html"

    def resellers(self) -> list[Organization]:
        """The resellers through which the provider sees this customer now."""
        rows = (
            customer_selectors.customer_relationships_visible_to(self.organization)
            .filter(customer=self.customer)
            .select_related("reseller")
            .order_by("reseller__legal_name", "id")
        )
        return [row.reseller for row in rows]

    def form(self, kind, subscription, data=None):
        if kind != OrderKind.NEW:
            initial = {"seats": subscription.seats} if kind == OrderKind.SEATS else {}
            return OrderForm(data, kind=kind, initial=initial, seat_based=subscription.offer.seat_based)
        resellers = self.resellers()
        chosen = self.request.GET.get("reseller")
        if not any(str(reseller.public_id) == chosen for reseller in resellers):
            chosen = str(self.relationship.reseller.public_id)
        return OrderForm(
            data,
            kind=kind,
            resellers=resellers,
            # a form shown a moment ago may name a reseller whose partnership ended since: the service says so
            accepted_resellers=selectors.resellers_accepted_with(self.organization, self.customer)
            if data is not None
            else (),
            offers=list(offers_on_sale_in(self.customer.country)),
            initial={"reseller": chosen, "seats": 1},
        )

    def submit(self, data, kind, subscription):
        return order_services.order_submit(
            by=self.membership,
            customer=self.customer,
            reseller=data["reseller"] if kind == OrderKind.NEW else subscription.reseller,
            kind=kind,
            offer=data.get("offer"),
            subscription=subscription,
            seats=data.get("seats", 0),
            idempotency_key=data["idempotency_key"],
        )

    def success_message(self, order):
        return _("Order submitted; provisioning…")

    def render_form(self, form, kind, subscription, status=200, **context):
        return super().render_form(
            form,
            kind,
            subscription,
            status=status,
            reseller=subscription.reseller if subscription else None,
            **context,
        )


class OrderRequestNewView(_OrderFormPage):
    """The reseller of record asks its provider for an order: saved as a draft, or sent at once."""

    action = access.ORDERS_REQUEST
    template_name = "commerce/order_request_new.html"

    def providers(self) -> tuple[list[Organization], list[Organization]]:
        """The providers that share this customer with the reseller now, and its other providers (a live
        partnership, or the customer's acceptance through it): the service says why those cannot."""
        sharing = partner_selectors.providers_by_customer(self.organization, [self.customer.pk]).get(
            self.customer.pk, []
        )
        accepted = selectors.providers_accepted_through(self.organization, self.customer)
        partnered = [
            partnership.provider for partnership in partner_selectors.partnerships_live(self.organization)
        ]
        seen = {provider.pk for provider in sharing}
        others = []
        for provider in sorted(
            [*accepted, *partnered], key=lambda provider: (provider.legal_name, provider.pk)
        ):
            if provider.pk not in seen:
                seen.add(provider.pk)
                others.append(provider)
        return sharing, others

    def form(self, kind, subscription, data=None):
        if kind != OrderKind.NEW:
            initial = {"seats": subscription.seats} if kind == OrderKind.SEATS else {}
            return OrderRequestForm(
                data, kind=kind, initial=initial, seat_based=subscription.offer.seat_based
            )
        sharing, others = self.providers()
        chosen = self.request.GET.get("provider")
        if not any(str(provider.public_id) == chosen for provider in [*sharing, *others]):
            chosen = str(sharing[0].public_id) if sharing else None
        return OrderRequestForm(
            data,
            kind=kind,
            sharing=sharing,
            others=others,
            offers=list(offers_on_sale_in(self.customer.country)),
            initial={"provider": chosen, "seats": 1},
        )

    def sending(self) -> bool:
        return self.request.POST.get("action") == "send"

    def submit(self, data, kind, subscription):
        return order_services.order_request_create(
            by=self.membership,
            customer=self.customer,
            provider=data["provider"] if kind == OrderKind.NEW else subscription.provider,
            kind=kind,
            offer=data.get("offer"),
            subscription=subscription,
            seats=data.get("seats", 0),
            note=data.get("note", ""),
            send=self.sending(),
            idempotency_key=data["idempotency_key"],
        )

    def success_message(self, order):
        if order.status == OrderStatus.DRAFT:
            return _("Order request saved as a draft. Send it to %(provider)s when it is ready.") % {
                "provider": order.provider.legal_name
            }
        return _("Order request sent to %(provider)s.") % {"provider": order.provider.legal_name}

    def render_form(self, form, kind, subscription, status=200, **context):
        provider = subscription.provider if subscription else None
        if provider is None and "provider" in form.fields:
            choices = [key for _group, options in form.fields["provider"].choices for key, _label in options]
            if len(choices) == 1:
                provider = form.fields["provider"].lookup(choices[0])
        return super().render_form(form, kind, subscription, status=status, provider=provider, **context)


# --- A partner's orders -----------------------------------------------------------------------------


class OrderListView(OrganizationView):
    """A partner's orders and order requests, newest first, by status (tabs)."""

    def get(self, request):
        tabs = ORDER_TABS[self.organization.kind]
        status = request.GET.get("status", "")
        if status not in {value for value, _label in tabs}:
            status = ""
        if not request.GET.get("after") and not request.GET.get("before"):
            # the first page, which nearly every visit is: its query compiled once per process
            rows = selectors.order_rows_first(
                self.organization, status=status, ordering=ORDER_ORDERING, count=DEFAULT_PAGE_SIZE + 1
            )
            page = keyset_first_page(rows, ordering=ORDER_ORDERING, query=request.GET)
        else:
            rows = selectors.order_rows_visible_to(self.organization)
            if status:
                rows = rows.filter(status=status)
            page = keyset_page(rows, ordering=ORDER_ORDERING, query=request.GET)
        in_organization = {"organization_public_id": self.organization.public_id}
        orders_url = reverse("commerce:orders", kwargs=in_organization)
        context = self.get_context_data(
            page=page,
            tabs=tuple(
                OrderTab(
                    status=value,
                    label=label,
                    current=value == status,
                    url=f"{orders_url}?status={value}" if value else orders_url,
                )
                for value, label in tabs
            ),
            status=status,
            is_provider=self.organization.kind == Organization.Kind.PROVIDER,
            rows=order_rows(self.organization, page.object_list),
        )
        return render(request, "commerce/orders.html", context)


class OrderTab(NamedTuple):
    """A status tab of the orders list (its label translated when printed)."""

    status: str
    label: str
    current: bool
    url: str


class OrderRow(NamedTuple):
    """What a row of the orders list prints, in plain values: the row's ``{% memo %}`` keys it by them,
    so a row already printed with these values is not rendered again (``portal.memo``)."""

    url: str
    customer_name: str
    item_name: str
    kind: str
    kind_label: str
    requested_by_reseller: bool
    status: str
    status_label: str
    seats: int
    party_name: str  # the reseller of record for a provider, the provider for a reseller
    created: str  # "Y-m-d H:i" in the current time zone


def order_rows(organization: Organization, orders) -> list[OrderRow]:
    order_url = RowLink("commerce:order", "order_id", organization_public_id=organization.public_id)
    kinds, statuses = choice_labels(Order, "kind"), choice_labels(Order, "status")
    party = "reseller_name" if organization.kind == Organization.Kind.PROVIDER else "provider_name"
    return [
        OrderRow(
            url=order_url(order.public_id),
            customer_name=order.customer_name,
            item_name=order.item_name,
            kind=order.kind,
            kind_label=kinds.get(order.kind, order.kind),
            requested_by_reseller=order.requested_by_reseller,
            status=order.status,
            status_label=statuses.get(order.status, order.status),
            seats=order.seats,
            party_name=getattr(order, party),
            created=minute(order.created_at),
        )
        for order in orders
    ]


def order_timeline(order: Order) -> list[dict]:
    """The steps the order went through, each with its time (UTC) and what it says."""
    steps = [
        {
            "label": _("Drafted by the reseller") if order.requested_by_reseller else _("Created"),
            "at": order.created_at,
        }
    ]
    if order.requested_at:
        steps.append({"label": _("Sent to the provider"), "at": order.requested_at})
    if order.submitted_at:
        steps.append({"label": _("Submitted"), "at": order.submitted_at})
    if order.status == OrderStatus.SUBMITTED:
        steps.append({"label": _("Provisioning…"), "at": None})
    elif order.status == OrderStatus.PROVISIONED:
        steps.append({"label": _("Provisioned"), "at": order.completed_at})
    elif order.status == OrderStatus.FAILED:
        steps.append(
            {
                "label": _("Failed"),
                "at": order.completed_at,
                "detail": order_services.failure_message(order.failure_code),
            }
        )
    elif order.status == OrderStatus.DECLINED:
        steps.append(
            {"label": _("Declined by the provider"), "at": order.decided_at, "detail": order.decline_reason}
        )
    elif order.status == OrderStatus.WITHDRAWN:
        steps.append({"label": _("Withdrawn by the reseller"), "at": order.decided_at})
    return steps


class _OrderPage(OrganizationView):
    def order(self, order_id) -> Order:
        return selectors.order_for(self.organization, order_id)

    def next_steps(self, order: Order) -> dict:
        """Which buttons the page offers: the transition table, the side of the order, the member's right."""
        manages = self.membership.can(Permission.CUSTOMERS_MANAGE)
        is_reseller = order.reseller_id == self.organization.pk and order.requested_by_reseller
        is_provider = order.provider_id == self.organization.pk
        return {
            "can_send": manages and is_reseller and ORDER_STATUS.allows(order.status, OrderStatus.REQUESTED),
            "can_withdraw": manages
            and is_reseller
            and ORDER_STATUS.allows(order.status, OrderStatus.WITHDRAWN),
            "can_submit": manages
            and is_provider
            and ORDER_STATUS.allows(order.status, OrderStatus.SUBMITTED),
            "can_decline": manages
            and is_provider
            and ORDER_STATUS.allows(order.status, OrderStatus.DECLINED),
        }


class OrderView(_OrderPage):
    def get(self, request, order_id):
        order = self.order(order_id)
        context = self.get_context_data(
            order=order,
            price=money(order.unit_price, order.currency),
            timeline=order_timeline(order),
            is_provider=self.organization.kind == Organization.Kind.PROVIDER,
            **self.next_steps(order),
        )
        return render(request, "commerce/order.html", context)


class _OrderActionView(_OrderPage):
    """A POST on one order: the service, then the order's page with a message (reloading repeats
    nothing)."""

    def act(self, order: Order) -> Order:
        raise NotImplementedError

    def success_message(self, order: Order) -> str:
        raise NotImplementedError

    def post(self, request, order_id):
        order = self.order(order_id)
        try:
            order = self.act(order)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.success_message(order))
        return _order_redirect(self.organization, order)


class OrderSendView(_OrderActionView):
    def act(self, order):
        return order_services.order_request_send(by=self.membership, order=order)

    def success_message(self, order):
        return _("Order request sent to %(provider)s.") % {"provider": order.provider.legal_name}


class OrderWithdrawView(_OrderActionView):
    def act(self, order):
        return order_services.order_request_withdraw(by=self.membership, order=order)

    def success_message(self, order):
        return _("Order request withdrawn.")


class OrderSubmitView(_OrderActionView):
    def act(self, order):
        return order_services.order_request_submit(by=self.membership, order=order)

    def success_message(self, order):
        return _("Order submitted; provisioning…")


class OrderDeclineView(_OrderPage):
    """GET: the reason form; POST: the decline, which the reseller reads with the reason."""

    def get(self, request, order_id):
        order = self.order(order_id)
        return self._render(order, DeclineForm())

    def post(self, request, order_id):
        order = self.order(order_id)
        form = DeclineForm(request.POST)
        if form.is_valid():
            try:
                order = order_services.order_request_decline(
                    by=self.membership, order=order, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("Order request declined. %(reseller)s reads your reason.")
                    % {"reseller": order.reseller.legal_name},
                )
                return _order_redirect(self.organization, order)
        return self._render(order, form, status=400)

    def _render(self, order, form, status=200):
        context = self.get_context_data(order=order, form=form, **self.next_steps(order))
        return render(self.request, "commerce/order_decline.html", context, status=status)

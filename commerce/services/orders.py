"""Orders: the provider submits them for customers it shares with a reseller; the reseller of record
drafts order requests and sends them to its provider, who submits or declines them; a Celery task
provisions what was submitted (submitted → provisioned | failed).

Rules, each checked when an order is created, submitted and provisioned (so a link that ended
meanwhile is caught at every step):

- the provider's partnership with the reseller is active, the reseller is the customer's reseller of
  record, and the customer accepted the provider through that reseller (``order_links_check``);
- the offer is on sale and available in the customer's country; the seats are within the offer's range;
- a change of seats or a cancellation concerns a live subscription sold through this provider and
  reseller; a committed subscription loses seats or is cancelled only within the cancellation window;
  never fewer seats than licences assigned (the holders are named).

Submitting is idempotent: the form carries a key, and ``(provider, reseller, idempotency_key)`` is unique,
so a retried or double-clicked submission returns the order the first one created.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from functools import partial

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Membership, Organization
from commerce import access
from commerce.models import (
    CANCELLATION_WINDOW_DAYS,
    ORDER_STATUS,
    SUBSCRIPTION_STATUS,
    TERM_MONTHS,
    Commitment,
    LicenceAssignment,
    Offer,
    Order,
    OrderKind,
    OrderStatus,
    Subscription,
    SubscriptionStatus,
)
from commerce.services.catalogue import offer_price_for
from commerce.services.common import audit_parties, notify_parties
from customers.models import CustomerRelationship, PartnerRole, RelationshipStatus
from portal.errors import DomainError
from portal.transitions import transition_apply, transition_claim

logger = logging.getLogger(__name__)

#: A submitted order not provisioned after this long is published again by the sweep.
#: Holders named in the refusal of fewer seats than assignments (the rest are counted).
HOLDERS_NAMED = 20

#: What a failed provisioning says, by code, in the reader's language.
FAILURE_MESSAGES = {
    "partnership_missing": _("The partnership between the indirect provider and the reseller is not active."),
    "reseller_relationship_missing": _("The reseller is no longer the customer's reseller of record."),
    "provider_relationship_missing": _(
        "The customer's relationship with the indirect provider through this reseller is not active."
    ),
    "offer_not_on_sale": _("The offer is no longer on sale."),
    "offer_unavailable_in_country": _("The offer is not available in the customer's country."),
    "subscription_not_live": _("The subscription is no longer active."),
    "seats_below_assignments": _("More licences are assigned than the seats asked for."),
    "cancellation_window_passed": _("The cancellation window of the subscription's term has passed."),
}


def failure_message(code: str) -> str:
    return str(FAILURE_MESSAGES.get(code, _("The order could not be provisioned.")))


# --- The rules --------------------------------------------------------------------------------------


def order_links_check(*, provider: Organization, reseller: Organization, customer: Organization) -> None:
    """The three links an order travels on, each refused with its own reason. Every read starts from the
    acting partner's own rows (the partnership, the provider's relationship through this reseller); the
    reseller's own relationship is asked of in a subquery of the provider's row."""
    from django.db.models import Exists, OuterRef

    from providers.models import Partnership

    if not Partnership.objects.filter(
        provider=provider, reseller=reseller, status=Partnership.Status.ACTIVE
    ).exists():
        raise DomainError(
            _(
                "The partnership between %(provider)s and %(reseller)s is not active: orders for the "
                "reseller's customers need a live partnership."
            )
            % {"provider": provider.legal_name, "reseller": reseller.legal_name},
            code="partnership_missing",
        )
    reseller_row = CustomerRelationship.objects.filter(
        customer=OuterRef("customer"),
        partner=OuterRef("reseller"),
        role=PartnerRole.RESELLER,
        status=RelationshipStatus.ACTIVE,
    )
    reseller_live = (
        CustomerRelationship.objects.filter(
            customer=customer,
            partner=provider,
            role=PartnerRole.PROVIDER,
            reseller=reseller,
            status=RelationshipStatus.ACTIVE,
        )
        .annotate(reseller_live=Exists(reseller_row))
        .values_list("reseller_live", flat=True)
        .first()
    )
    if reseller_live is None:
        # Ending the reseller of record ends the providers through it (customers.services.relationships):
        # no provider row is the answer in both cases.
        raise DomainError(
            _(
                "%(customer)s has not accepted %(provider)s as its indirect provider through %(reseller)s. "
                "The reseller can invite the customer again with this provider."
            )
            % {
                "customer": customer.legal_name,
                "provider": provider.legal_name,
                "reseller": reseller.legal_name,
            },
            code="provider_relationship_missing",
        )
    if not reseller_live:
        raise DomainError(
            _("%(reseller)s is not the reseller of record of %(customer)s.")
            % {"reseller": reseller.legal_name, "customer": customer.legal_name},
            code="reseller_relationship_missing",
        )


def _offer_check(offer: Offer, customer: Organization, *, selling: bool):
    """The offer's price in the customer's country; ``selling`` (a new subscription, more seats) also
    needs the offer on sale."""
    if selling and not offer.is_active:
        raise DomainError(
            _("%(offer)s is no longer on sale.") % {"offer": offer.name},
            code="offer_not_on_sale",
            field="offer",
        )
    price = offer_price_for(offer, customer.country)
    if price is None:
        raise DomainError(
            _("%(offer)s is not available in %(country)s, the customer's country.")
            % {"offer": offer.name, "country": customer.country.name},
            code="offer_unavailable_in_country",
            field="offer",
        )
    return price


def _seats_check(offer: Offer, seats) -> int:
    try:
        seats = int(seats)
    except (TypeError, ValueError):
        raise DomainError(_("Enter the number of seats."), code="seats_invalid", field="seats") from None
    if not offer.seat_based:
        if seats != 1:
            raise DomainError(
                _("%(offer)s is not sold by the seat: order 1.") % {"offer": offer.name},
                code="seats_not_seat_based",
                field="seats",
            )
        return seats
    if not offer.min_seats <= seats <= offer.max_seats:
        raise DomainError(
            _("Choose from %(min)d to %(max)d seats.") % {"min": offer.min_seats, "max": offer.max_seats},
            code="seats_range",
            field="seats",
        )
    return seats


def cancellation_window_open(subscription: Subscription, *, now=None) -> bool:
    """Whether a committed subscription may lose seats or be cancelled now (always, without commitment)."""
    if subscription.commitment != Commitment.TERM:
        return True
    now = now or timezone.now()
    return now <= subscription.term_started_at + timedelta(days=CANCELLATION_WINDOW_DAYS)


def holders_of(subscription: Subscription) -> tuple[list[str], int]:
    """Who holds the subscription's licences: the first names (by name) and how many in all."""
    assignments = LicenceAssignment.objects.filter(subscription=subscription)
    names = list(
        assignments.order_by("user_principal_name", "id").values_list("user_principal_name", flat=True)[
            :HOLDERS_NAMED
        ]
    )
    return names, assignments.count()


def seats_below_assignments_error(subscription: Subscription, seats: int) -> DomainError | None:
    names, count = holders_of(subscription)
    if count <= seats:
        return None
    more = count - len(names)
    listed = ", ".join(names) + (" " + str(_("and %(count)d more")) % {"count": more} if more else "")
    if seats == 0:
        message = ngettext(
            "%(count)d licence of %(subscription)s is assigned, to: %(holders)s. Remove it before "
            "cancelling the subscription.",
            "%(count)d licences of %(subscription)s are assigned, to: %(holders)s. Remove them before "
            "cancelling the subscription.",
            count,
        )
    else:
        # more licences than seats: at least two licences, so only the seats need a singular
        message = ngettext(
            "%(count)d licences of %(subscription)s are assigned, more than %(seats)d seat, to: "
            "%(holders)s. Remove licences first.",
            "%(count)d licences of %(subscription)s are assigned, more than %(seats)d seats, to: "
            "%(holders)s. Remove licences first.",
            seats,
        )
    return DomainError(
        message % {"count": count, "subscription": subscription.name, "seats": seats, "holders": listed},
        code="seats_below_assignments",
        field="seats",
    )


def _subscription_lock(subscription: Subscription | None) -> Subscription | None:
    """Lock the subscription an order changes (one change decided at a time), re-read."""
    if subscription is None:
        return None
    return (
        Subscription.objects.select_for_update(of=("self",)).select_related("offer").get(pk=subscription.pk)
    )


def _pending_order_check(subscription: Subscription, order: Order | None) -> None:
    """One change at a time: each order sets the seats it asks for, so two waiting at once could be
    provisioned in either order. The caller holds the subscription's row lock."""
    waiting = Order.objects.filter(
        subscription=subscription, status__in=[OrderStatus.REQUESTED, OrderStatus.SUBMITTED]
    )
    if order is not None:
        waiting = waiting.exclude(pk=order.pk)
    if waiting.exists():
        raise DomainError(
            _(
                "Another order for %(subscription)s is waiting for the provider or for provisioning. Change "
                "the subscription again once it is done, declined or withdrawn."
            )
            % {"subscription": subscription.name},
            code="order_pending",
        )


def _subscription_change_check(subscription: Subscription, *, kind: str, seats: int, now=None) -> None:
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise DomainError(
            _("%(subscription)s cannot be changed: its status is %(status)s.")
            % {"subscription": subscription.name, "status": subscription.get_status_display()},
            code="subscription_not_live",
        )
    if kind == OrderKind.SEATS and seats == subscription.seats:
        raise DomainError(
            ngettext(
                "The subscription already has %(seats)d seat.",
                "The subscription already has %(seats)d seats.",
                seats,
            )
            % {"seats": seats},
            code="seats_unchanged",
            field="seats",
        )
    lowering = kind == OrderKind.CANCEL or seats < subscription.seats
    if lowering and not cancellation_window_open(subscription, now=now):
        ends = subscription.term_started_at + timedelta(days=CANCELLATION_WINDOW_DAYS)
        raise DomainError(
            _(
                "%(subscription)s is committed for its term: seats can be removed or the subscription "
                "cancelled only until %(date)s (UTC), %(days)d days after the term started. Turn off "
                "auto-renew to end it at %(renews)s (UTC)."
            )
            % {
                "subscription": subscription.name,
                "date": ends.strftime("%Y-%m-%d %H:%M"),
                "days": CANCELLATION_WINDOW_DAYS,
                "renews": subscription.renews_at.strftime("%Y-%m-%d"),
            },
            code="cancellation_window_passed",
            field="seats" if kind == OrderKind.SEATS else None,
        )
    if lowering:
        error = seats_below_assignments_error(subscription, 0 if kind == OrderKind.CANCEL else seats)
        if error is not None:
            raise error


def order_terms_check(
    *,
    provider: Organization,
    reseller: Organization,
    customer: Organization,
    kind: str,
    offer: Offer | None,
    subscription: Subscription | None,
    seats,
    now=None,
    order: Order | None = None,
    pending_check: bool = True,
):
    """Every rule of an order (links, offer, seats, subscription); returns (offer, seats, price).
    ``order``: the order being checked again (it does not count as another one waiting)."""
    if kind not in OrderKind.values:
        raise DomainError(_("Choose what to order."), code="kind_invalid", field="kind")
    order_links_check(provider=provider, reseller=reseller, customer=customer)
    if pending_check and kind != OrderKind.NEW and subscription is not None:
        _pending_order_check(subscription, order)
    if kind == OrderKind.NEW:
        if offer is None:
            raise DomainError(_("Choose an offer."), code="offer_required", field="offer")
        price = _offer_check(offer, customer, selling=True)
        return offer, _seats_check(offer, seats), price
    if (
        subscription is None
        or subscription.customer_id != customer.pk
        or subscription.provider_id != provider.pk
        or subscription.reseller_id != reseller.pk
    ):
        raise DomainError(
            _("Choose a subscription of this customer sold through you."), code="subscription_invalid"
        )
    offer = subscription.offer
    if kind == OrderKind.CANCEL:
        _subscription_change_check(subscription, kind=kind, seats=0, now=now)
        return offer, 0, None
    seats = _seats_check(offer, seats)
    if seats > subscription.seats:
        _offer_check(offer, customer, selling=True)
    _subscription_change_check(subscription, kind=kind, seats=seats, now=now)
    return offer, seats, None


def _order_audit_values(order: Order) -> dict:
    return {
        "kind": order.kind,
        "offer": order.offer.product_code,
        "subscription": str(order.subscription.public_id) if order.subscription_id else "",
        "seats": order.seats,
        "customer": order.customer.legal_name,
        "reseller": order.reseller.legal_name,
        "provider": order.provider.legal_name,
        "status": order.status,
    }


def _order_context(order: Order) -> dict:
    return {
        "order_id": str(order.public_id),
        "order_kind": order.get_kind_display(),
        "kind": order.kind,
        "offer_name": order.offer.name,
        "subscription_name": order.subscription.name if order.subscription_id else order.offer.name,
        "seats": order.seats,
        "customer_name": order.customer.legal_name,
        "reseller_name": order.reseller.legal_name,
        "provider_name": order.provider.legal_name,
        "customer_public_id": str(order.customer.public_id),
    }


def _publish_after_commit(order: Order) -> None:
    transaction.on_commit(partial(order_provision_publish, order_id=order.pk), robust=True)


def order_provision_publish(*, order_id: int) -> bool:
    """Hand the order to the worker; a broker that is down costs a log line: the sweep publishes it."""
    from commerce.tasks import order_provision

    try:
        order_provision.apply_async(args=[order_id])
    except Exception:
        logger.warning(
            "Could not publish an order; the sweep will retry", extra={"order_id": order_id}, exc_info=True
        )
        return False
    return True


def _idempotency_key(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise DomainError(
            _("The form expired. Reload the page and submit again."), code="idempotency_key_invalid"
        ) from None


def _fingerprint(*, kind, offer, subscription, seats, by_reseller: bool) -> dict:
    """What a submission asked for: the same key with something else is another order, not a retry."""
    try:
        seats = int(seats)
    except (TypeError, ValueError):
        seats = None
    return {
        "kind": kind,
        "offer_id": getattr(offer, "pk", None) if kind == OrderKind.NEW else None,
        "subscription_id": getattr(subscription, "pk", None) if kind != OrderKind.NEW else None,
        "seats": 0 if kind == OrderKind.CANCEL else seats,
        "requested_by_reseller": by_reseller,
    }


def _existing(provider, reseller, key, customer, fingerprint: dict) -> Order | None:
    """The order this key already made (a retried or double-clicked submission), or None. The key with
    another customer or other terms (the form changed after Back) is refused: it is not a retry."""
    order = (
        Order.objects.select_related("customer", "offer", "subscription")
        .filter(provider=provider, reseller=reseller, idempotency_key=key)
        .first()
    )
    if order is None:
        return None
    made = {
        "kind": order.kind,
        "offer_id": order.offer_id if order.kind == OrderKind.NEW else None,
        "subscription_id": order.subscription_id if order.kind != OrderKind.NEW else None,
        "seats": order.seats,
        "requested_by_reseller": order.requested_by_reseller,
    }
    if order.customer_id != customer.pk or made != fingerprint:
        raise DomainError(
            _("This form was already submitted. Reload the page to place another order."),
            code="idempotency_key_reused",
        )
    return order


def _order_fields(key, customer, reseller, provider, kind, offer, subscription, seats, price) -> dict:
    """What every new order holds: the parties, the terms, and the price (the country's for a new
    subscription or more seats, the subscription's own otherwise)."""
    return {
        "idempotency_key": key,
        "customer": customer,
        "reseller": reseller,
        "provider": provider,
        "kind": kind,
        "offer": offer,
        "subscription": subscription,
        "seats": seats,
        "currency": price.currency if price else subscription.currency,
        "unit_price": price.unit_price if price else subscription.unit_price,
    }


def _order_insert(fingerprint: dict, fields: dict, **more) -> tuple[Order, bool]:
    """Insert, or find the order a concurrent twin of this submission created (the unique key)."""
    fields = {**fields, **more}
    try:
        with transaction.atomic():
            return Order.objects.create(**fields), True
    except IntegrityError:
        order = _existing(
            fields["provider"], fields["reseller"], fields["idempotency_key"], fields["customer"], fingerprint
        )
        if order is None:
            raise
        return order, False


# --- The provider submits ---------------------------------------------------------------------------


@transaction.atomic
def order_submit(
    *,
    by: Membership,
    customer: Organization,
    reseller: Organization,
    kind: str,
    offer: Offer | None = None,
    subscription: Subscription | None = None,
    seats=1,
    idempotency_key,
) -> Order:
    """The provider (``by``'s organization) submits an order for a customer it shares with ``reseller``;
    the same key again returns the same order."""
    provider = by.organization
    if provider.kind != Organization.Kind.PROVIDER:
        # Only a provider submits: anyone else gets the access table's answer (it always refuses them),
        # not a link check reading the reseller or the customer as if it were a provider.
        access.customer_act_check(by=by, customer=customer, action=access.ORDERS_SUBMIT)
        raise access.ActionNotPermitted
    key = _idempotency_key(idempotency_key)
    fingerprint = _fingerprint(
        kind=kind, offer=offer, subscription=subscription, seats=seats, by_reseller=False
    )
    existing = _existing(provider, reseller, key, customer, fingerprint)
    if existing is not None:
        return existing
    order_links_check(provider=provider, reseller=reseller, customer=customer)
    actor = access.customer_act_check(by=by, customer=customer, action=access.ORDERS_SUBMIT)
    if subscription is not None:
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("offer")
            .get(pk=subscription.pk)
        )
    offer, seats, price = order_terms_check(
        provider=provider,
        reseller=reseller,
        customer=customer,
        kind=kind,
        offer=offer,
        subscription=subscription,
        seats=seats,
    )
    now = timezone.now()
    order, created = _order_insert(
        fingerprint,
        _order_fields(key, customer, reseller, provider, kind, offer, subscription, seats, price),
        status=OrderStatus.SUBMITTED,
        created_by=by.user,
        submitted_by=by.user,
        submitted_at=now,
        created_at=now,
    )
    if created:
        audit_parties(
            action="order.submitted",
            actor=by.user,
            organizations=[customer, reseller, provider],
            target=order,
            acting_partner=actor,
            after=_order_audit_values(order),
        )
        _publish_after_commit(order)
    return order


# --- The reseller's order requests ------------------------------------------------------------------


@transaction.atomic
def order_request_create(
    *,
    by: Membership,
    customer: Organization,
    provider: Organization,
    kind: str,
    offer: Offer | None = None,
    subscription: Subscription | None = None,
    seats=1,
    note: str = "",
    send: bool,
    idempotency_key,
) -> Order:
    """The reseller of record (``by``'s organization) drafts an order request for its provider, and sends
    it at once when ``send``. The same key again returns the same request."""
    reseller = by.organization
    key = _idempotency_key(idempotency_key)
    fingerprint = _fingerprint(
        kind=kind, offer=offer, subscription=subscription, seats=seats, by_reseller=True
    )
    existing = _existing(provider, reseller, key, customer, fingerprint)
    if existing is not None:
        return existing
    actor = access.customer_act_check(by=by, customer=customer, action=access.ORDERS_REQUEST)
    if provider is None or provider.kind != Organization.Kind.PROVIDER:
        raise DomainError(
            _("Choose one of your indirect providers."), code="provider_invalid", field="provider"
        )
    subscription = _subscription_lock(subscription)
    offer, seats, price = order_terms_check(
        provider=provider,
        reseller=reseller,
        customer=customer,
        kind=kind,
        offer=offer,
        subscription=subscription,
        seats=seats,
    )
    note = (note or "").strip()
    if len(note) > 1000:
        raise DomainError(_("Keep the note under 1,000 characters."), code="note_too_long", field="note")
    now = timezone.now()
    order, created = _order_insert(
        fingerprint,
        _order_fields(key, customer, reseller, provider, kind, offer, subscription, seats, price),
        status=OrderStatus.REQUESTED if send else OrderStatus.DRAFT,
        requested_by_reseller=True,
        note=note,
        created_by=by.user,
        created_at=now,
        requested_at=now if send else None,
    )
    if created:
        audit_parties(
            action="order.requested" if send else "order.drafted",
            actor=by.user,
            organizations=[customer, reseller, provider] if send else [reseller],
            target=order,
            acting_partner=actor,
            after=_order_audit_values(order),
        )
        if send:
            _request_notify(order)
    return order


def _request_notify(order: Order) -> None:
    notify_parties(
        organizations=[order.provider],
        template="order_request",
        context={**_order_context(order), "note": order.note},
        dedupe_key=f"order-request:{order.public_id}",
    )


def _reseller_order_lock(by: Membership, order: Order, *, customer_check: bool = True) -> Order:
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "reseller", "provider", "offer", "subscription")
        .get(pk=order.pk)
    )
    if order.reseller_id != by.organization_id or not order.requested_by_reseller:
        raise DomainError(_("This order request is not yours."), code="order_not_yours")
    if customer_check:
        access.customer_act_check(by=by, customer=order.customer, action=access.ORDERS_REQUEST)
    else:
        access.partner_permission_check(by=by)
    return order


@transaction.atomic
def order_request_send(*, by: Membership, order: Order) -> Order:
    """The reseller sends its draft to the provider (the rules are checked again)."""
    order = _reseller_order_lock(by, order)
    ORDER_STATUS.check(order.status, OrderStatus.REQUESTED)
    _subscription_lock(order.subscription)
    order_terms_check(
        provider=order.provider,
        reseller=order.reseller,
        customer=order.customer,
        kind=order.kind,
        offer=order.offer,
        subscription=order.subscription,
        seats=order.seats,
        order=order,
    )
    order = transition_apply(
        order,
        OrderStatus.REQUESTED,
        transitions=ORDER_STATUS,
        action="order.requested",
        actor=by.user,
        organization_id=order.reseller_id,
        changes={"requested_at": timezone.now()},
    )
    audit_parties(
        action="order.requested",
        actor=by.user,
        organizations=[order.customer, order.provider],
        target=order,
        acting_partner=order.reseller,
        after=_order_audit_values(order),
    )
    _request_notify(order)
    return order


@transaction.atomic
def order_request_withdraw(*, by: Membership, order: Order) -> Order:
    """The reseller withdraws its draft or its request before the provider answers (also once the
    customer is no longer its customer: its own open requests can always be cleared)."""
    order = _reseller_order_lock(by, order, customer_check=False)
    was_sent = order.status == OrderStatus.REQUESTED
    order = transition_apply(
        order,
        OrderStatus.WITHDRAWN,
        transitions=ORDER_STATUS,
        action="order.withdrawn",
        actor=by.user,
        organization_id=order.reseller_id,
        changes={"decided_at": timezone.now()},
    )
    if was_sent:
        audit_parties(
            action="order.withdrawn",
            actor=by.user,
            organizations=[order.customer, order.provider],
            target=order,
            acting_partner=order.reseller,
        )
    return order


def _provider_order_lock(by: Membership, order: Order) -> Order:
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "reseller", "provider", "offer", "subscription")
        .get(pk=order.pk)
    )
    if order.provider_id != by.organization_id:
        raise DomainError(_("This order is not yours."), code="order_not_yours")
    return order


@transaction.atomic
def order_request_submit(*, by: Membership, order: Order) -> Order:
    """The provider submits the reseller's request as an order. A second click finds it submitted and
    returns it (one conditional UPDATE wins)."""
    order = _provider_order_lock(by, order)
    if order.status in (OrderStatus.SUBMITTED, OrderStatus.PROVISIONED, OrderStatus.FAILED):
        return order
    ORDER_STATUS.check(order.status, OrderStatus.SUBMITTED)
    order_links_check(provider=order.provider, reseller=order.reseller, customer=order.customer)
    actor = access.customer_act_check(by=by, customer=order.customer, action=access.ORDERS_SUBMIT)
    subscription = order.subscription
    if subscription is not None:
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("offer")
            .get(pk=subscription.pk)
        )
    order_terms_check(
        provider=order.provider,
        reseller=order.reseller,
        customer=order.customer,
        kind=order.kind,
        offer=order.offer,
        subscription=subscription,
        seats=order.seats,
        order=order,
    )
    now = timezone.now()
    if not transition_claim(
        Order,
        order.pk,
        OrderStatus.REQUESTED,
        OrderStatus.SUBMITTED,
        transitions=ORDER_STATUS,
        changes={"submitted_by": by.user, "submitted_at": now},
    ):
        order.refresh_from_db()
        return order
    order.refresh_from_db()
    audit_parties(
        action="order.submitted",
        actor=by.user,
        organizations=[order.customer, order.reseller, order.provider],
        target=order,
        acting_partner=actor,
        before={"status": OrderStatus.REQUESTED},
        after=_order_audit_values(order),
    )
    _publish_after_commit(order)
    return order


@transaction.atomic
def order_request_decline(*, by: Membership, order: Order, reason: str) -> Order:
    """The provider declines the reseller's request, with a reason the reseller reads."""
    order = _provider_order_lock(by, order)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Tell the reseller why you decline."), code="reason_required", field="reason")
    if len(reason) > 1000:
        raise DomainError(
            _("Keep the reason under 1,000 characters."), code="reason_too_long", field="reason"
        )
    access.partner_permission_check(by=by)
    order = transition_apply(
        order,
        OrderStatus.DECLINED,
        transitions=ORDER_STATUS,
        action="order.declined",
        actor=by.user,
        organization_id=order.provider_id,
        changes={"decided_at": timezone.now(), "decline_reason": reason},
        audit_after={"reason": reason},
    )
    audit_parties(
        action="order.declined",
        actor=by.user,
        organizations=[order.reseller],
        target=order,
        acting_partner=order.provider,
        after={"reason": reason},
    )
    # The customer's log says it was declined; the reason is the provider's word to its reseller.
    audit_parties(
        action="order.declined",
        actor=by.user,
        organizations=[order.customer],
        target=order,
        acting_partner=order.provider,
    )
    notify_parties(
        organizations=[order.reseller],
        template="order_request_declined",
        context={**_order_context(order), "reason": reason},
        dedupe_key=f"order-declined:{order.public_id}",
    )
    return order


# --- Provisioning (the worker) ----------------------------------------------------------------------


def _term_end(start, billing_term: str):
    return start + relativedelta(months=TERM_MONTHS[billing_term])


@transaction.atomic
def order_provision(*, order_id: int) -> str:
    """Provision a submitted order: the rules once more, then the subscription created or changed; or
    the order fails with its reason. Everyone concerned is emailed. Safe to run again."""
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "reseller", "provider", "offer", "subscription")
        .filter(pk=order_id)
        .first()
    )
    if order is None or order.status != OrderStatus.SUBMITTED:
        return "skipped"
    now = timezone.now()
    subscription = order.subscription
    if subscription is not None:
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("offer")
            .get(pk=subscription.pk)
        )
    try:
        order_terms_check(
            provider=order.provider,
            reseller=order.reseller,
            customer=order.customer,
            kind=order.kind,
            offer=order.offer,
            subscription=subscription,
            seats=order.seats,
            now=now,
            order=order,
            pending_check=False,  # checked when it was submitted; provisioning finishes it
        )
    except DomainError as error:
        with translation.override("en"):
            detail = str(error.message)
        order = transition_apply(
            order,
            OrderStatus.FAILED,
            transitions=ORDER_STATUS,
            action="order.failed",
            organization_id=order.provider_id,
            changes={"completed_at": now, "failure_code": error.code, "failure_reason": detail},
            audit_after={"failure": error.code},
        )
        audit_parties(
            action="order.failed",
            actor=None,
            organizations=[order.customer, order.reseller],
            target=order,
            after={"failure": error.code},
        )
        notify_parties(
            organizations=[order.customer, order.reseller, order.provider],
            template="order_failed",
            context={**_order_context(order), "failure_code": error.code},
            dedupe_key=f"order-failed:{order.public_id}",
        )
        return "failed"

    changes = {"completed_at": now}
    if order.kind == OrderKind.NEW:
        subscription = Subscription.objects.create(
            customer=order.customer,
            reseller=order.reseller,
            provider=order.provider,
            offer=order.offer,
            name=order.offer.name,
            seats=order.seats,
            billing_term=order.offer.billing_term,
            commitment=order.offer.commitment,
            currency=order.currency,
            unit_price=order.unit_price,
            started_at=now,
            term_started_at=now,
            renews_at=_term_end(now, order.offer.billing_term),
        )
        changes["subscription"] = subscription
        audit_parties(
            action="subscription.created",
            actor=None,
            organizations=[order.customer, order.reseller, order.provider],
            target=subscription,
            after={
                "offer": order.offer.product_code,
                "seats": subscription.seats,
                "order": str(order.public_id),
            },
        )
    elif order.kind == OrderKind.SEATS:
        before = subscription.seats
        subscription.seats = order.seats
        subscription.save(update_fields=["seats"])
        audit_parties(
            action="subscription.seats_changed",
            actor=None,
            organizations=[order.customer, order.reseller, order.provider],
            target=subscription,
            before={"seats": before},
            after={"seats": subscription.seats, "order": str(order.public_id)},
        )
    else:
        subscription = transition_apply(
            subscription,
            SubscriptionStatus.CANCELLED,
            transitions=SUBSCRIPTION_STATUS,
            action="subscription.cancelled",
            organization_id=order.customer_id,
            changes={"ended_at": now},
            audit_after={"order": str(order.public_id)},
        )
        audit_parties(
            action="subscription.cancelled",
            actor=None,
            organizations=[order.reseller, order.provider],
            target=subscription,
            after={"order": str(order.public_id)},
        )
    order = transition_apply(
        order,
        OrderStatus.PROVISIONED,
        transitions=ORDER_STATUS,
        action="order.provisioned",
        organization_id=order.provider_id,
        changes=changes,
    )
    audit_parties(
        action="order.provisioned", actor=None, organizations=[order.customer, order.reseller], target=order
    )
    notify_parties(
        organizations=[order.customer, order.reseller, order.provider],
        template="order_provisioned",
        context={
            **_order_context(order),
            "subscription_name": subscription.name,
            "seats": subscription.seats,
        },
        dedupe_key=f"order-provisioned:{order.public_id}",
    )
    return "provisioned"


def orders_provision_sweep(*, now=None, limit: int = 1000) -> int:
    """Publish again the orders submitted a while ago and still not provisioned (a lost task, a broker
    that was down): the worker provisions each once."""
    now = now or timezone.now()
    ids = list(
        Order.objects.filter(
            status=OrderStatus.SUBMITTED,
            submitted_at__lte=now - timedelta(seconds=settings.ORDER_PROVISION_SWEEP_AFTER_SECONDS),
        )
        .order_by("submitted_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for order_id in ids:
        order_provision_publish(order_id=order_id)
    return len(ids)

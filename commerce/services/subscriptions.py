"""Subscriptions after they are provisioned: auto-renew, the renewal beat job (a reminder before the
term ends, then renew or end), and the program staff's suspension."""

from __future__ import annotations

from datetime import timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from commerce import access
from commerce.models import (
    RENEWAL_REMINDER_DAYS,
    SUBSCRIPTION_STATUS,
    TERM_MONTHS,
    LicenceAssignment,
    Subscription,
    SubscriptionStatus,
)
from commerce.services.common import audit_parties, notify_parties
from portal.errors import DomainError
from portal.transitions import transition_apply

BATCH = 500


def subscription_context(subscription: Subscription) -> dict:
    return {
        "subscription_name": subscription.name,
        "seats": subscription.seats,
        "renews_at": subscription.renews_at,
        # whether it will renew at term: a suspended subscription ends there, whatever its switch says
        "auto_renew": subscription.auto_renew and subscription.status == SubscriptionStatus.ACTIVE,
        "status": subscription.status,
        "customer_name": subscription.customer.legal_name,
        "reseller_name": subscription.reseller.legal_name,
        "provider_name": subscription.provider.legal_name,
        "customer_public_id": str(subscription.customer.public_id),
    }


def _organizations(subscription: Subscription):
    return [subscription.customer, subscription.reseller, subscription.provider]


@transaction.atomic
def subscription_auto_renew_set(
    *, by: Membership, subscription: Subscription, auto_renew: bool
) -> Subscription:
    """The provider turns auto-renew on or off (off: the subscription ends at the end of its term)."""
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("customer", "reseller", "provider")
        .get(pk=subscription.pk)
    )
    if subscription.provider_id != by.organization_id:
        raise DomainError(_("This subscription is not sold through you."), code="subscription_not_yours")
    actor = access.customer_act_check(
        by=by, customer=subscription.customer, action=access.SUBSCRIPTION_RENEWAL_CHANGE
    )
    if not subscription.is_live:
        raise DomainError(_("This subscription has ended."), code="subscription_not_live")
    from commerce.services.orders import order_links_check

    # through the partnership this subscription was sold on, not only any that shows the customer
    order_links_check(
        provider=subscription.provider, reseller=subscription.reseller, customer=subscription.customer
    )
    auto_renew = bool(auto_renew)
    if subscription.auto_renew == auto_renew:
        return subscription
    subscription.auto_renew = auto_renew
    subscription.save(update_fields=["auto_renew"])
    audit_parties(
        action="subscription.auto_renew_changed",
        actor=by.user,
        organizations=_organizations(subscription),
        target=subscription,
        acting_partner=actor,
        before={"auto_renew": not auto_renew},
        after={"auto_renew": auto_renew},
    )
    return subscription


#: The review site's two moves, each with its audit action.
STAFF_STATUS_ACTIONS = {
    SubscriptionStatus.SUSPENDED: "subscription.suspended",
    SubscriptionStatus.ACTIVE: "subscription.reactivated",
}


@transaction.atomic
def subscription_status_set(*, subscription: Subscription, status: str, by_user) -> Subscription:
    """Program staff suspend a subscription (a billing hold) or make it active again (the review site)."""
    if status not in STAFF_STATUS_ACTIONS:
        raise DomainError(_("Only suspending and reactivating are done here."), code="status_invalid")
    action = STAFF_STATUS_ACTIONS[status]
    subscription = Subscription.objects.select_related("customer", "reseller", "provider").get(
        pk=subscription.pk
    )
    subscription = transition_apply(
        subscription,
        status,
        transitions=SUBSCRIPTION_STATUS,
        action=action,
        actor=by_user,
        organization_id=subscription.customer_id,
    )
    audit_parties(
        action=action,
        actor=by_user,
        organizations=[subscription.reseller, subscription.provider],
        target=subscription,
        after={"status": status},
    )
    return subscription


def _next_renewal(subscription: Subscription):
    """The end of the term that follows the one ending at ``renews_at``, counted from the start: one
    started on the 31st renews on the last day of a shorter month, then on the 31st again (adding a
    month to the previous renewal date would drift to the 28th for good)."""
    months = TERM_MONTHS[subscription.billing_term]
    start, current = subscription.started_at, subscription.renews_at
    terms = max(1, ((current.year - start.year) * 12 + current.month - start.month) // months)
    while (renewal := start + relativedelta(months=terms * months)) <= current:
        terms += 1
    return renewal


def _remind_one(pk: int, now) -> bool:
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("customer", "reseller", "provider")
            .filter(pk=pk)
            .first()
        )
        if (
            subscription is None
            or not subscription.is_live
            or subscription.renews_at > now + timedelta(days=RENEWAL_REMINDER_DAYS)
            or subscription.renews_at <= now
            or (
                subscription.renewal_reminded_at
                and subscription.renewal_reminded_at >= subscription.term_started_at
            )
        ):
            return False
        subscription.renewal_reminded_at = now
        subscription.save(update_fields=["renewal_reminded_at"])
        audit_parties(
            action="subscription.renewal_reminded",
            actor=None,
            organizations=_organizations(subscription),
            target=subscription,
            after={"renews_at": subscription.renews_at.isoformat(), "auto_renew": subscription.auto_renew},
        )
        notify_parties(
            organizations=_organizations(subscription),
            template="subscription_renewal_reminder",
            context=subscription_context(subscription),
            dedupe_key=f"subscription-reminder:{subscription.public_id}:{subscription.renews_at.date()}",
        )
        return True


def _renewal_refusal(subscription: Subscription) -> str:
    """Why an auto-renewing subscription cannot renew, as a failure code, or "": it renews only while it
    could be ordered again (the partnership, the reseller of record and the provider relationship live,
    the offer on sale in the customer's country). Otherwise it ends at term, and everyone is told why."""
    from commerce.services.orders import _offer_check, order_links_check

    try:
        order_links_check(
            provider=subscription.provider, reseller=subscription.reseller, customer=subscription.customer
        )
        _offer_check(subscription.offer, subscription.customer, selling=True)
    except DomainError as error:
        return error.code
    return ""


def _term_end_one(pk: int, now) -> str:
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("customer", "reseller", "provider", "offer")
            .filter(pk=pk)
            .first()
        )
        if subscription is None or not subscription.is_live or subscription.renews_at > now:
            return ""
        refusal = _renewal_refusal(subscription) if subscription.auto_renew else ""
        if subscription.auto_renew and subscription.status == SubscriptionStatus.ACTIVE and not refusal:
            before = subscription.renews_at
            # A worker that was down catches up one term at a time, to the term that holds ``now``.
            while subscription.renews_at <= now:
                subscription.term_started_at = subscription.renews_at
                subscription.renews_at = _next_renewal(subscription)
            subscription.renewal_reminded_at = None
            subscription.save(update_fields=["term_started_at", "renews_at", "renewal_reminded_at"])
            audit_parties(
                action="subscription.renewed",
                actor=None,
                organizations=_organizations(subscription),
                target=subscription,
                before={"renews_at": before.isoformat()},
                after={"renews_at": subscription.renews_at.isoformat()},
            )
            notify_parties(
                organizations=_organizations(subscription),
                template="subscription_renewed",
                context=subscription_context(subscription),
                dedupe_key=f"subscription-renewed:{subscription.public_id}:{before.date()}",
            )
            return "renewed"
        end_reason = refusal or (
            "suspended" if subscription.status == SubscriptionStatus.SUSPENDED else "auto_renew_off"
        )
        released = LicenceAssignment.objects.filter(subscription=subscription).delete()[0]
        subscription = transition_apply(
            subscription,
            SubscriptionStatus.EXPIRED,
            transitions=SUBSCRIPTION_STATUS,
            action="subscription.expired",
            organization_id=subscription.customer_id,
            changes={"ended_at": now},
            audit_after={"licences_released": released, **({"reason": refusal} if refusal else {})},
        )
        audit_parties(
            action="subscription.expired",
            actor=None,
            organizations=[subscription.reseller, subscription.provider],
            target=subscription,
            after={"licences_released": released, **({"reason": refusal} if refusal else {})},
        )
        notify_parties(
            organizations=_organizations(subscription),
            template="subscription_ended",
            context={
                **subscription_context(subscription),
                "licences_released": released,
                "end_reason": end_reason,
            },
            dedupe_key=f"subscription-ended:{subscription.public_id}",
        )
        return "expired"


def subscriptions_run_due(*, now=None) -> dict:
    """The beat job: renewal reminders, then renewals and ends at term. Each row in its own short
    transaction (locked rows are skipped: another run holds them); safe to run again."""
    now = now or timezone.now()
    reminded = renewed = expired = 0
    live = [SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED]
    reminder_ids = (
        Subscription.objects.filter(
            status__in=live, renews_at__gt=now, renews_at__lte=now + timedelta(days=RENEWAL_REMINDER_DAYS)
        )
        .filter(Q(renewal_reminded_at__isnull=True) | Q(renewal_reminded_at__lt=F("term_started_at")))
        .values_list("pk", flat=True)
    )
    for pk in reminder_ids.iterator(chunk_size=BATCH):
        reminded += _remind_one(pk, now)
    for pk in (
        Subscription.objects.filter(status__in=live, renews_at__lte=now)
        .values_list("pk", flat=True)
        .iterator(chunk_size=BATCH)
    ):
        result = _term_end_one(pk, now)
        renewed += result == "renewed"
        expired += result == "expired"
    return {"renewal_reminders": reminded, "renewed": renewed, "ended": expired}

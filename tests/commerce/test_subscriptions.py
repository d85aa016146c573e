"""Subscriptions at term, with time travel: the renewal reminder (once per term, seven days before), the
renewal (auto-renew: the next term, catching up terms a stopped worker missed) or the end (licences
released); auto-renew changed by the provider only; suspension by program staff."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connections, transaction

from accounts.models import Organization
from accounts.roles import Role
from commerce import tasks
from commerce.models import BillingTerm, LicenceAssignment, Subscription, SubscriptionStatus
from commerce.services import orders, subscriptions
from portal.audit.catalogue import is_declared
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from providers.services.partnerships import partnership_end
from tests.factories.accounts import MembershipFactory, StaffFactory
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)
from tests.factories.providers import ProviderFactory

pytestmark = pytest.mark.django_db

#: A subscription started on the 31st: its monthly terms end on the last day of shorter months.
STARTED = datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
FIRST_RENEWAL = datetime(2025, 2, 28, 9, 30, tzinfo=UTC)
NOTHING = {"renewal_reminders": 0, "renewed": 0, "ended": 0}


def at(moment):
    return time_machine.travel(moment, tick=False)


def run_at(moment) -> dict:
    with at(moment):
        return subscriptions.subscriptions_run_due()


def linked():
    """A shared customer and the people told about its subscriptions: the customer's Global admin (en),
    the reseller's (ja) and the provider's (en) Admin agents; a Helpdesk agent of the reseller is not."""
    link = commerce_linked()
    link.reseller_agent.user.preferred_language = "ja"
    link.reseller_agent.user.save(update_fields=["preferred_language"])
    MembershipFactory(organization=link.reseller, roles=[Role.HELPDESK_AGENT])
    return link


def notified(link):
    return sorted(
        [
            (link.customer_admin.user.email, "en", link.customer.pk),
            (link.reseller_agent.user.email, "ja", link.reseller.pk),
            (link.provider_agent.user.email, "en", link.provider.pk),
        ]
    )


def emails(template):
    return sorted(
        OutboxEmail.objects.filter(template=template).values_list("to", "language", "organization_id")
    )


def subscription_of(link, *, term=BillingTerm.MONTHLY, renews_at=FIRST_RENEWAL, **kwargs):
    return SubscriptionFactory(
        customer=link.customer,
        reseller=link.reseller,
        provider=link.provider,
        offer=OfferFactory(billing_term=term),
        started_at=STARTED,
        term_started_at=STARTED,
        renews_at=renews_at,
        **kwargs,
    )


def terms(subscription):
    subscription.refresh_from_db()
    return (subscription.term_started_at, subscription.renews_at, subscription.status)


def parties(link):
    return sorted([link.customer.pk, link.reseller.pk, link.provider.pk])


def state():
    return {
        "subscriptions": list(
            Subscription.objects.order_by("id").values_list(
                "id", "status", "seats", "auto_renew", "term_started_at", "renews_at", "renewal_reminded_at"
            )
        ),
        "licences": LicenceAssignment.objects.count(),
        "audit": AuditEvent.objects.count(),
        "outbox": OutboxEmail.objects.count(),
    }


def refused(code, call) -> DomainError:
    before = state()
    with pytest.raises(DomainError) as error:
        call()
    assert error.value.code == code, error.value.message
    assert state() == before
    return error.value


# --- The reminder -----------------------------------------------------------------------------------


def test_the_renewal_reminder_goes_out_once_per_term_seven_days_before():
    link = linked()
    subscription = subscription_of(link)

    assert run_at(FIRST_RENEWAL - timedelta(days=7, seconds=1)) == NOTHING
    assert run_at(FIRST_RENEWAL - timedelta(days=7)) == {**NOTHING, "renewal_reminders": 1}
    subscription.refresh_from_db()
    assert subscription.renewal_reminded_at == FIRST_RENEWAL - timedelta(days=7)
    assert emails("subscription_renewal_reminder") == notified(link)
    reminded = AuditEvent.objects.filter(action="subscription.renewal_reminded")
    assert sorted((row.organization_id, row.actor_label, row.after) for row in reminded) == [
        (pk, "system", {"renews_at": FIRST_RENEWAL.isoformat(), "auto_renew": True}) for pk in parties(link)
    ]

    # Later runs in the same term remind nobody again.
    before = state()
    assert run_at(FIRST_RENEWAL - timedelta(days=3)) == NOTHING
    assert run_at(FIRST_RENEWAL - timedelta(seconds=1)) == NOTHING
    assert state() == before

    # The next term has its own reminder, seven days before its end (the 31st of March).
    assert run_at(FIRST_RENEWAL) == {**NOTHING, "renewed": 1}
    second_renewal = datetime(2025, 3, 31, 9, 30, tzinfo=UTC)
    assert run_at(second_renewal - timedelta(days=7, seconds=1)) == NOTHING
    assert run_at(second_renewal - timedelta(days=7)) == {**NOTHING, "renewal_reminders": 1}
    assert run_at(second_renewal - timedelta(days=1)) == NOTHING
    assert len(emails("subscription_renewal_reminder")) == 2 * 3


# --- At term ----------------------------------------------------------------------------------------


def test_an_auto_renewing_subscription_starts_its_next_term_at_the_renewal_date():
    link = linked()
    subscription = subscription_of(link)
    run_at(FIRST_RENEWAL - timedelta(days=7))

    assert run_at(FIRST_RENEWAL - timedelta(seconds=1)) == NOTHING
    assert run_at(FIRST_RENEWAL) == {**NOTHING, "renewed": 1}
    # Counted from the start on the 31st: the next term ends on the 31st of March, not the 28th.
    assert terms(subscription) == (
        FIRST_RENEWAL,
        datetime(2025, 3, 31, 9, 30, tzinfo=UTC),
        SubscriptionStatus.ACTIVE,
    )
    assert subscription.renewal_reminded_at is None
    assert emails("subscription_renewed") == notified(link)
    renewed = AuditEvent.objects.filter(action="subscription.renewed")
    assert sorted((row.organization_id, row.before, row.after) for row in renewed) == [
        (
            pk,
            {"renews_at": FIRST_RENEWAL.isoformat()},
            {"renews_at": datetime(2025, 3, 31, 9, 30, tzinfo=UTC).isoformat()},
        )
        for pk in parties(link)
    ]

    before = state()
    assert run_at(FIRST_RENEWAL + timedelta(minutes=5)) == NOTHING
    assert state() == before
    # Then April ends on the 30th, and May on the 31st again.
    assert run_at(datetime(2025, 3, 31, 9, 30, tzinfo=UTC)) == {**NOTHING, "renewed": 1}
    assert terms(subscription)[1] == datetime(2025, 4, 30, 9, 30, tzinfo=UTC)
    assert run_at(datetime(2025, 4, 30, 9, 30, tzinfo=UTC)) == {**NOTHING, "renewed": 1}
    assert terms(subscription)[1] == datetime(2025, 5, 31, 9, 30, tzinfo=UTC)


def test_an_annual_subscription_renews_for_twelve_months():
    link = linked()
    first_end = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    subscription = subscription_of(link, term=BillingTerm.ANNUAL, renews_at=first_end)

    assert run_at(datetime(2025, 12, 31, tzinfo=UTC)) == NOTHING
    assert run_at(first_end + timedelta(minutes=1)) == {**NOTHING, "renewed": 1}
    assert terms(subscription) == (
        first_end,
        datetime(2027, 1, 31, 9, 30, tzinfo=UTC),
        SubscriptionStatus.ACTIVE,
    )


def test_a_worker_that_was_down_catches_up_two_missed_monthly_terms_in_one_run():
    link = linked()
    subscription = subscription_of(link)

    # Nothing ran on the 28th of February nor on the 31st of March.
    assert run_at(datetime(2025, 4, 2, tzinfo=UTC)) == {**NOTHING, "renewed": 1}
    assert terms(subscription) == (
        datetime(2025, 3, 31, 9, 30, tzinfo=UTC),
        datetime(2025, 4, 30, 9, 30, tzinfo=UTC),
        SubscriptionStatus.ACTIVE,
    )
    renewed = AuditEvent.objects.filter(action="subscription.renewed", organization_id=link.customer.pk)
    assert [(row.before, row.after) for row in renewed] == [
        (
            {"renews_at": FIRST_RENEWAL.isoformat()},
            {"renews_at": datetime(2025, 4, 30, 9, 30, tzinfo=UTC).isoformat()},
        )
    ]
    assert len(emails("subscription_renewed")) == 3


def test_without_auto_renew_the_subscription_ends_at_term_and_its_licences_are_released():
    link = linked()
    subscription = subscription_of(link, auto_renew=False, seats=5)
    LicenceAssignmentFactory(subscription=subscription)
    LicenceAssignmentFactory(subscription=subscription)
    kept = LicenceAssignmentFactory(subscription=subscription_of(link))

    assert run_at(FIRST_RENEWAL - timedelta(days=7)) == {**NOTHING, "renewal_reminders": 2}
    assert run_at(FIRST_RENEWAL) == {**NOTHING, "ended": 1, "renewed": 1}

    assert terms(subscription) == (STARTED, FIRST_RENEWAL, SubscriptionStatus.EXPIRED)
    assert subscription.ended_at == FIRST_RENEWAL
    assert list(LicenceAssignment.objects.values_list("pk", flat=True)) == [kept.pk]
    expired = AuditEvent.objects.filter(action="subscription.expired", target_id=str(subscription.public_id))
    assert sorted((row.organization_id, row.before, row.after) for row in expired) == sorted(
        [
            (link.customer.pk, {"status": "active"}, {"status": "expired", "licences_released": 2}),
            (link.reseller.pk, None, {"licences_released": 2}),
            (link.provider.pk, None, {"licences_released": 2}),
        ]
    )
    assert emails("subscription_ended") == notified(link)

    # An ended subscription is left alone by later runs, and cannot be ordered against.
    before = state()
    assert run_at(FIRST_RENEWAL + timedelta(days=40)) == {**NOTHING, "renewed": 1}
    subscription.refresh_from_db()
    assert (subscription.status, subscription.ended_at) == (SubscriptionStatus.EXPIRED, FIRST_RENEWAL)
    assert state()["licences"] == before["licences"]


def test_a_suspended_subscription_ends_at_term_even_with_auto_renew():
    link = linked()
    subscription = subscription_of(link, seats=3)
    LicenceAssignmentFactory(subscription=subscription)
    staff = StaffFactory()
    subscriptions.subscription_status_set(
        subscription=subscription, status=SubscriptionStatus.SUSPENDED, by_user=staff
    )

    assert run_at(FIRST_RENEWAL) == {**NOTHING, "ended": 1}
    assert terms(subscription) == (STARTED, FIRST_RENEWAL, SubscriptionStatus.EXPIRED)
    assert LicenceAssignment.objects.count() == 0
    assert AuditEvent.objects.get(action="subscription.expired", organization_id=link.customer.pk).after == {
        "status": "expired",
        "licences_released": 1,
    }


@pytest.mark.django_db(transaction=True)
def test_the_beat_job_renews_a_subscription_while_another_transaction_holds_its_customer():
    """The job locks the subscription row only: an organization locked by some other change (a member
    being added, a partnership ending) does not make it skip the subscription."""
    link = linked()
    subscription = subscription_of(link)
    locked, release = threading.Event(), threading.Event()

    def hold_the_customer():
        try:
            with transaction.atomic():
                Organization.objects.select_for_update().get(pk=link.customer.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_customer)
    holder.start()
    try:
        assert locked.wait(10)
        assert run_at(FIRST_RENEWAL) == {**NOTHING, "renewed": 1}
    finally:
        release.set()
        holder.join(10)
    assert terms(subscription)[1] == datetime(2025, 3, 31, 9, 30, tzinfo=UTC)


def test_the_beat_task_runs_the_deadlines_and_the_order_sweep():
    link = linked()
    subscription_of(link)
    with at(FIRST_RENEWAL):
        assert tasks.commerce_deadlines() == {**NOTHING, "renewed": 1, "orders_republished": 0}


# --- Auto-renew -------------------------------------------------------------------------------------


def test_the_provider_turns_auto_renew_off_and_the_subscription_ends_at_term():
    link = linked()
    subscription = subscription_of(link)

    changed = subscriptions.subscription_auto_renew_set(
        by=link.provider_agent, subscription=subscription, auto_renew=False
    )
    assert changed.auto_renew is False
    rows = AuditEvent.objects.filter(action="subscription.auto_renew_changed")
    assert sorted(
        (
            row.organization_id,
            row.actor_label,
            row.before,
            row.after["auto_renew"],
            row.after["acting_partner"],
        )
        for row in rows
    ) == [
        (pk, link.provider_agent.user.email, {"auto_renew": True}, False, link.provider.legal_name)
        for pk in parties(link)
    ]
    assert OutboxEmail.objects.count() == 0

    # The same value again changes nothing and writes nothing.
    before = state()
    subscriptions.subscription_auto_renew_set(
        by=link.provider_agent, subscription=subscription, auto_renew=False
    )
    assert state() == before

    assert run_at(FIRST_RENEWAL) == {**NOTHING, "ended": 1}
    assert terms(subscription)[2] == SubscriptionStatus.EXPIRED
    refused(
        "subscription_not_live",
        lambda: subscriptions.subscription_auto_renew_set(
            by=link.provider_agent, subscription=subscription, auto_renew=True
        ),
    )


def test_only_the_subscriptions_provider_changes_auto_renew():
    link = linked()
    subscription = subscription_of(link)

    def setting(by):
        return lambda: subscriptions.subscription_auto_renew_set(
            by=by, subscription=subscription, auto_renew=False
        )

    refused("subscription_not_yours", setting(link.reseller_agent))
    refused(
        "subscription_not_yours",
        setting(MembershipFactory(organization=link.reseller, roles=[Role.GLOBAL_ADMIN])),
    )
    refused("subscription_not_yours", setting(link.customer_admin))
    refused(
        "subscription_not_yours",
        setting(MembershipFactory(organization=ProviderFactory(), roles=[Role.ADMIN_AGENT])),
    )
    refused(
        "actor_not_permitted",
        setting(MembershipFactory(organization=link.provider, roles=[Role.HELPDESK_AGENT])),
    )

    # The provider whose partnership with the reseller ended no longer sees the customer.
    partnership_end(
        partnership=Partnership.objects.get(provider=link.provider, reseller=link.reseller),
        by=MembershipFactory(organization=link.provider, roles=[Role.GLOBAL_ADMIN]),
        reason="The contract ended.",
    )
    refused("customer_not_visible", setting(link.provider_agent))
    subscription.refresh_from_db()
    assert subscription.auto_renew is True


# --- Suspension by program staff --------------------------------------------------------------------


def test_program_staff_suspend_and_reactivate_a_subscription():
    link = linked()
    subscription = subscription_of(link)
    staff = StaffFactory()

    suspended = subscriptions.subscription_status_set(
        subscription=subscription, status=SubscriptionStatus.SUSPENDED, by_user=staff
    )
    assert suspended.status == SubscriptionStatus.SUSPENDED
    rows = AuditEvent.objects.filter(action="subscription.suspended")
    assert sorted((row.organization_id, row.actor_label) for row in rows) == [
        (pk, staff.email) for pk in parties(link)
    ]
    # Suspended: no order changes it.
    error = refused(
        "subscription_not_live",
        lambda: orders.order_submit(
            by=link.provider_agent,
            customer=link.customer,
            reseller=link.reseller,
            kind="seats",
            subscription=subscription,
            seats=9,
            idempotency_key="8c1f0f0e-4a43-4a8e-8d62-3b7e2f9d8a10",
        ),
    )
    assert error.message == f"{subscription.name} cannot be changed: its status is Suspended."

    active = subscriptions.subscription_status_set(
        subscription=subscription, status=SubscriptionStatus.ACTIVE, by_user=staff
    )
    assert active.status == SubscriptionStatus.ACTIVE
    assert AuditEvent.objects.filter(action="subscription.reactivated").count() == 3
    refused(
        "status_invalid",
        lambda: subscriptions.subscription_status_set(
            subscription=subscription, status=SubscriptionStatus.CANCELLED, by_user=staff
        ),
    )
    for action in ("subscription.suspended", "subscription.reactivated", "subscription.renewed"):
        assert is_declared(action)

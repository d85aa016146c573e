"""Orders at the service level: the provider submits for a shared customer (new subscription, seats,
cancellation), every refusal with its reason and nothing changed; the reseller's order requests (draft,
send, withdraw, submit, decline); provisioning (the rules checked again, the subscription created, the
emails in each recipient's language); the sweep that publishes lost orders again."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.http import Http404

from accounts.models import Membership
from accounts.roles import Role
from commerce import selectors
from commerce.models import (
    BillingTerm,
    Commitment,
    Order,
    OrderKind,
    OrderStatus,
    Subscription,
    SubscriptionStatus,
)
from commerce.services import orders
from customers.models import CustomerRelationship, PartnerRole, RelationshipStatus
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from providers.services.partnerships import partnership_end
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

NOW = datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
NEW, SEATS, CANCEL = OrderKind.NEW, OrderKind.SEATS, OrderKind.CANCEL


def at(moment):
    return time_machine.travel(moment, tick=False)


def linked(**kwargs):
    """A shared customer with the people who hear about its orders, in their languages: the customer's
    Global admin (en) and Billing admin (ja), the reseller's and the provider's Admin agents (ja, en);
    and people who do not (a customer's User management admin, a reseller's Helpdesk agent)."""
    link = commerce_linked(**kwargs)
    link.reseller_agent.user.preferred_language = "ja"
    link.reseller_agent.user.save(update_fields=["preferred_language"])
    link.billing_admin = MembershipFactory(
        organization=link.customer, roles=[Role.BILLING_ADMIN], user__preferred_language="ja"
    )
    MembershipFactory(organization=link.customer, roles=[Role.USER_MANAGEMENT_ADMIN])
    MembershipFactory(organization=link.reseller, roles=[Role.HELPDESK_AGENT])
    return link


def notified(link):
    """(address, language, organization) of everyone told about the customer's orders."""
    return sorted(
        [
            (link.customer_admin.user.email, "en", link.customer.pk),
            (link.billing_admin.user.email, "ja", link.customer.pk),
            (link.reseller_agent.user.email, "ja", link.reseller.pk),
            (link.provider_agent.user.email, "en", link.provider.pk),
        ]
    )


def emails(template):
    return sorted(
        OutboxEmail.objects.filter(template=template).values_list("to", "language", "organization_id")
    )


def audit_rows(action, target=None):
    """(organization, actor's address, acting partner) of each row of ``action``, by organization."""
    rows = AuditEvent.objects.filter(action=action)
    if target is not None:
        rows = rows.filter(target_id=str(target.public_id))
    return sorted(
        (row.organization_id, row.actor_label, (row.after or {}).get("acting_partner")) for row in rows
    )


def submit(link, **kwargs):
    values = {
        "by": link.provider_agent,
        "customer": link.customer,
        "reseller": link.reseller,
        "kind": NEW,
        "seats": 1,
        "idempotency_key": uuid.uuid4(),
    }
    return orders.order_submit(**{**values, **kwargs})


def request(link, *, send=True, **kwargs):
    values = {
        "by": link.reseller_agent,
        "customer": link.customer,
        "provider": link.provider,
        "kind": NEW,
        "seats": 1,
        "send": send,
        "idempotency_key": uuid.uuid4(),
    }
    return orders.order_request_create(**{**values, **kwargs})


def state():
    """What a refusal must leave as it was: every order, subscription, audit row and email."""
    return {
        "orders": list(Order.objects.order_by("id").values_list("id", "status", "seats", "decline_reason")),
        "subscriptions": list(
            Subscription.objects.order_by("id").values_list(
                "id", "status", "seats", "auto_renew", "renews_at"
            )
        ),
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


def subscription_of(link, **kwargs):
    values = {"customer": link.customer, "reseller": link.reseller, "provider": link.provider}
    return SubscriptionFactory(**{**values, **kwargs})


# --- A new subscription -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "renews_at"),
    [
        (BillingTerm.MONTHLY, datetime(2025, 2, 28, 9, 30, tzinfo=UTC)),
        (BillingTerm.ANNUAL, datetime(2026, 1, 31, 9, 30, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize(
    ("country", "currency", "unit_price"), [("JP", "JPY", Decimal("1200")), ("US", "USD", Decimal("12.50"))]
)
def test_the_provider_orders_a_new_subscription_provisioned_at_the_customers_country_price(
    term, renews_at, country, currency, unit_price
):
    with at(NOW):
        link = linked(customer=CustomerFactory(country=country))
        offer = OfferFactory(
            billing_term=term,
            commitment=Commitment.TERM,
            prices={"JP": ("JPY", 1200), "US": ("USD", "12.50")},
        )
        order = submit(link, offer=offer, seats=3)

        assert (order.status, order.kind, order.offer, order.subscription, order.seats) == (
            OrderStatus.SUBMITTED,
            NEW,
            offer,
            None,
            3,
        )
        assert (order.currency, order.unit_price, order.reseller, order.provider) == (
            currency,
            unit_price,
            link.reseller,
            link.provider,
        )
        assert (order.created_by, order.submitted_by, order.submitted_at, order.requested_by_reseller) == (
            link.provider_agent.user,
            link.provider_agent.user,
            NOW,
            False,
        )
        # Submitting tells nobody yet: the emails say what provisioning did.
        assert OutboxEmail.objects.count() == 0
        email = link.provider_agent.user.email
        assert audit_rows("order.submitted") == sorted(
            (org.pk, email, link.provider.legal_name) for org in (link.customer, link.reseller, link.provider)
        )

        assert orders.order_provision(order_id=order.pk) == "provisioned"

    subscription = Subscription.objects.get(customer=link.customer)
    assert (subscription.reseller, subscription.provider, subscription.offer, subscription.name) == (
        link.reseller,
        link.provider,
        offer,
        offer.name,
    )
    assert (subscription.seats, subscription.billing_term, subscription.commitment) == (3, term, "term")
    assert (subscription.currency, subscription.unit_price) == (currency, unit_price)
    assert (subscription.started_at, subscription.term_started_at, subscription.renews_at) == (
        NOW,
        NOW,
        renews_at,
    )
    assert (subscription.auto_renew, subscription.status, subscription.renewal_reminded_at) == (
        True,
        SubscriptionStatus.ACTIVE,
        None,
    )
    order.refresh_from_db()
    assert (order.status, order.subscription, order.completed_at) == (
        OrderStatus.PROVISIONED,
        subscription,
        NOW,
    )
    assert emails("order_provisioned") == notified(link)
    assert OutboxEmail.objects.exclude(template="order_provisioned").count() == 0
    parties = (link.customer.pk, link.reseller.pk, link.provider.pk)
    assert audit_rows("subscription.created") == sorted((pk, "system", None) for pk in parties)
    assert audit_rows("order.provisioned") == sorted((pk, "system", None) for pk in parties)


def test_more_seats_and_a_cancellation_are_provisioned_on_the_subscription():
    link = linked()
    subscription = subscription_of(link, seats=5)

    more = submit(link, kind=SEATS, subscription=subscription, seats=8)
    assert (more.offer, more.seats, more.currency, more.unit_price) == (
        subscription.offer,
        8,
        "JPY",
        Decimal("1200"),
    )
    assert orders.order_provision(order_id=more.pk) == "provisioned"
    subscription.refresh_from_db()
    assert subscription.seats == 8
    changed = AuditEvent.objects.filter(action="subscription.seats_changed")
    assert sorted((row.organization_id, row.before, row.after) for row in changed) == sorted(
        (org.pk, {"seats": 5}, {"seats": 8, "order": str(more.public_id)})
        for org in (link.customer, link.reseller, link.provider)
    )

    fewer = submit(link, kind=SEATS, subscription=subscription, seats=2)
    assert orders.order_provision(order_id=fewer.pk) == "provisioned"
    subscription.refresh_from_db()
    assert subscription.seats == 2

    cancel = submit(link, kind=CANCEL, subscription=subscription, seats=7)
    assert (cancel.kind, cancel.seats) == (CANCEL, 0)
    assert orders.order_provision(order_id=cancel.pk) == "provisioned"
    subscription.refresh_from_db()
    assert (subscription.status, subscription.seats) == (SubscriptionStatus.CANCELLED, 2)
    assert subscription.ended_at is not None
    assert sorted(
        AuditEvent.objects.filter(action="subscription.cancelled").values_list("organization_id", flat=True)
    ) == sorted([link.customer.pk, link.reseller.pk, link.provider.pk])
    assert len(emails("order_provisioned")) == 3 * 4


# --- Refusals: nothing changes ----------------------------------------------------------------------


def test_an_ended_partnership_refuses_the_order():
    link = linked()
    offer = OfferFactory()
    admin = MembershipFactory(organization=link.provider, roles=[Role.GLOBAL_ADMIN])
    partnership = Partnership.objects.get(provider=link.provider, reseller=link.reseller)
    partnership_end(partnership=partnership, by=admin, reason="The contract ended.")

    error = refused("partnership_missing", lambda: submit(link, offer=offer))
    assert error.message == (
        f"The partnership between {link.provider.legal_name} and {link.reseller.legal_name} is not "
        "active: orders for the reseller's customers need a live partnership."
    )


def test_a_reseller_no_longer_of_record_refuses_the_order():
    link = linked()
    offer = OfferFactory()
    # The provider's own row still stands (only its check of the reseller's row catches this).
    CustomerRelationship.objects.filter(
        customer=link.customer, partner=link.reseller, role=PartnerRole.RESELLER
    ).update(status=RelationshipStatus.ENDED, ended_at=NOW)

    error = refused("reseller_relationship_missing", lambda: submit(link, offer=offer))
    assert error.message == (
        f"{link.reseller.legal_name} is not the reseller of record of {link.customer.legal_name}."
    )


def test_a_customer_that_never_accepted_the_provider_refuses_its_orders():
    reseller, provider = ResellerFactory(), ProviderFactory()
    PartnershipFactory(provider=provider, reseller=reseller)
    customer, _relationship, _admin = customer_linked(reseller)  # reseller only: no provider relationship
    agent = MembershipFactory(organization=provider, roles=[Role.ADMIN_AGENT])
    offer = OfferFactory()

    error = refused(
        "provider_relationship_missing",
        lambda: orders.order_submit(
            by=agent,
            customer=customer,
            reseller=reseller,
            kind=NEW,
            offer=offer,
            seats=1,
            idempotency_key=uuid.uuid4(),
        ),
    )
    assert error.message == (
        f"{customer.legal_name} has not accepted {provider.legal_name} as its indirect provider through "
        f"{reseller.legal_name}. The reseller can invite the customer again with this provider."
    )


def test_an_offer_off_sale_or_not_priced_in_the_customers_country_is_refused():
    link = linked()
    off_sale = OfferFactory(is_active=False)
    error = refused("offer_not_on_sale", lambda: submit(link, offer=off_sale))
    assert (error.message, error.field) == (f"{off_sale.name} is no longer on sale.", "offer")

    american = OfferFactory(prices={"US": ("USD", "9.99")})
    error = refused("offer_unavailable_in_country", lambda: submit(link, offer=american))
    assert error.message == f"{american.name} is not available in Japan, the customer's country."

    withdrawn_price = OfferFactory()
    withdrawn_price.prices.update(is_available=False)
    refused("offer_unavailable_in_country", lambda: submit(link, offer=withdrawn_price))

    # More seats of an offer no longer on sale are refused too; fewer are not a sale.
    subscription = subscription_of(link, offer=OfferFactory(), seats=5)
    subscription.offer.is_active = False
    subscription.offer.save(update_fields=["is_active"])
    refused("offer_not_on_sale", lambda: submit(link, kind=SEATS, subscription=subscription, seats=6))
    assert submit(link, kind=SEATS, subscription=subscription, seats=4).status == OrderStatus.SUBMITTED


def test_seats_are_checked_against_the_offer():
    link = linked()
    offer = OfferFactory(min_seats=5, max_seats=50)
    for seats in (4, 51, 0):
        error = refused("seats_range", lambda seats=seats: submit(link, offer=offer, seats=seats))
        assert (error.message, error.field) == ("Choose from 5 to 50 seats.", "seats")
    error = refused("seats_invalid", lambda: submit(link, offer=offer, seats="five"))
    assert error.message == "Enter the number of seats."

    flat = OfferFactory(seat_based=False)
    error = refused("seats_not_seat_based", lambda: submit(link, offer=flat, seats=2))
    assert error.message == f"{flat.name} is not sold by the seat: order 1."
    assert submit(link, offer=flat, seats=1).seats == 1

    subscription = subscription_of(link, seats=7)
    error = refused("seats_unchanged", lambda: submit(link, kind=SEATS, subscription=subscription, seats=7))
    assert error.message == "The subscription already has 7 seats."


def test_a_committed_subscription_loses_seats_only_within_the_cancellation_window():
    with at(NOW):
        link = linked()
        offer = OfferFactory(commitment=Commitment.TERM)
        subscription = subscription_of(
            link,
            offer=offer,
            seats=10,
            term_started_at=NOW,
            renews_at=datetime(2025, 2, 28, 9, 30, tzinfo=UTC),
        )
    with at(NOW + timedelta(days=7)):  # the window's last moment
        assert orders.cancellation_window_open(subscription)
        inside = submit(link, kind=SEATS, subscription=subscription, seats=9)
        assert inside.status == OrderStatus.SUBMITTED
        assert orders.order_provision(order_id=inside.pk) == "provisioned"  # one change at a time
    with at(NOW + timedelta(days=7, seconds=1)):
        assert not orders.cancellation_window_open(subscription)
        error = refused(
            "cancellation_window_passed", lambda: submit(link, kind=SEATS, subscription=subscription, seats=8)
        )
        assert error.message == (
            f"{offer.name} is committed for its term: seats can be removed or the subscription cancelled "
            "only until 2025-02-07 09:30 (UTC), 7 days after the term started. Turn off auto-renew to "
            "end it at 2025-02-28 (UTC)."
        )
        assert error.field == "seats"
        error = refused(
            "cancellation_window_passed", lambda: submit(link, kind=CANCEL, subscription=subscription)
        )
        assert error.field is None
        # Adding seats is a sale, not a cancellation: still possible.
        assert submit(link, kind=SEATS, subscription=subscription, seats=12).seats == 12

    # Without commitment the window never closes.
    loose = subscription_of(link, seats=3, term_started_at=NOW, renews_at=NOW + timedelta(days=30))
    with at(NOW + timedelta(days=20)):
        assert submit(link, kind=CANCEL, subscription=loose).status == OrderStatus.SUBMITTED


def holders(subscription, count):
    domain = subscription.customer.directory_tenant.verified_domains[0]
    return [
        LicenceAssignmentFactory(
            subscription=subscription,
            directory_user=DirectoryUserFactory(
                tenant=subscription.customer.directory_tenant, user_principal_name=f"holder{n:02d}@{domain}"
            ),
        )
        for n in range(1, count + 1)
    ]


def test_fewer_seats_than_licences_assigned_are_refused_with_the_holders_named():
    link = linked()
    subscription = subscription_of(link, seats=5)
    domain = link.customer.directory_tenant.verified_domains[0]
    holders(subscription, 3)

    error = refused(
        "seats_below_assignments", lambda: submit(link, kind=SEATS, subscription=subscription, seats=2)
    )
    assert error.message == (
        f"3 licences of {subscription.name} are assigned, more than 2 seats, to: holder01@{domain}, "
        f"holder02@{domain}, holder03@{domain}. Remove licences first."
    )
    error = refused("seats_below_assignments", lambda: submit(link, kind=CANCEL, subscription=subscription))
    assert error.message == (
        f"3 licences of {subscription.name} are assigned, to: holder01@{domain}, holder02@{domain}, "
        f"holder03@{domain}. Remove them before cancelling the subscription."
    )
    assert submit(link, kind=SEATS, subscription=subscription, seats=3).seats == 3


def test_more_than_twenty_holders_are_counted_after_the_first_twenty():
    link = linked()
    subscription = subscription_of(link, seats=30)
    domain = link.customer.directory_tenant.verified_domains[0]
    holders(subscription, 23)

    error = refused(
        "seats_below_assignments", lambda: submit(link, kind=SEATS, subscription=subscription, seats=10)
    )
    named = ", ".join(f"holder{n:02d}@{domain}" for n in range(1, 21))
    assert error.message == (
        f"23 licences of {subscription.name} are assigned, more than 10 seats, to: {named} and 3 more. "
        "Remove licences first."
    )


@pytest.mark.parametrize("status", [SubscriptionStatus.SUSPENDED, SubscriptionStatus.CANCELLED])
def test_a_subscription_that_is_not_active_cannot_be_changed(status):
    link = linked()
    subscription = subscription_of(link, seats=5, status=status)
    error = refused(
        "subscription_not_live", lambda: submit(link, kind=SEATS, subscription=subscription, seats=6)
    )
    assert (
        error.message
        == f"{subscription.name} cannot be changed: its status is {subscription.get_status_display()}."
    )
    refused("subscription_not_live", lambda: submit(link, kind=CANCEL, subscription=subscription))


def test_a_subscription_sold_through_someone_else_is_not_the_providers_to_change():
    link = linked()
    elsewhere = [
        subscription_of(link, provider=ProviderFactory()),  # another provider
        subscription_of(link, reseller=ResellerFactory()),  # another reseller of record
        SubscriptionFactory(reseller=link.reseller, provider=link.provider),  # another customer
    ]
    for subscription in elsewhere:
        error = refused(
            "subscription_invalid",
            lambda subscription=subscription: submit(link, kind=SEATS, subscription=subscription, seats=9),
        )
        assert error.message == "Choose a subscription of this customer sold through you."
    refused("subscription_invalid", lambda: submit(link, kind=CANCEL, subscription=None))


def test_malformed_orders_are_refused():
    link = linked()
    refused("offer_required", lambda: submit(link, offer=None))
    refused("kind_invalid", lambda: submit(link, kind="upgrade", offer=OfferFactory()))
    refused("idempotency_key_invalid", lambda: submit(link, offer=OfferFactory(), idempotency_key="x"))


def test_only_a_provider_member_who_manages_customers_may_submit():
    link = linked()
    offer = OfferFactory()
    helpdesk = MembershipFactory(organization=link.provider, roles=[Role.HELPDESK_AGENT])
    refused("actor_not_permitted", lambda: submit(link, by=helpdesk, offer=offer))
    # The reseller and the customer themselves are refused by the access table, whatever their roles.
    reseller_admin = MembershipFactory(organization=link.reseller, roles=[Role.GLOBAL_ADMIN])
    refused("customer_not_visible", lambda: submit(link, by=reseller_admin, offer=offer))
    refused("customer_not_visible", lambda: submit(link, by=link.reseller_agent, offer=offer))
    refused("actor_not_permitted", lambda: submit(link, by=link.customer_admin, offer=offer))
    # A provider without the customer: its link is missing.
    stranger = ProviderFactory()
    PartnershipFactory(provider=stranger, reseller=link.reseller)
    stranger_agent = MembershipFactory(organization=stranger, roles=[Role.ADMIN_AGENT])
    refused("provider_relationship_missing", lambda: submit(link, by=stranger_agent, offer=offer))
    # A member deactivated a moment ago.
    Membership.objects.filter(pk=link.provider_agent.pk).update(status=Membership.Status.DEACTIVATED)
    refused("actor_not_permitted", lambda: submit(link, offer=offer))


# --- Idempotency ------------------------------------------------------------------------------------


def test_the_same_key_twice_returns_the_same_order_and_writes_one_set_of_rows():
    link = linked()
    offer = OfferFactory()
    key = uuid.uuid4()
    first = submit(link, offer=offer, seats=2, idempotency_key=key)
    before = state()
    # A retry finds the order the key made.
    again = submit(link, offer=offer, seats=2, idempotency_key=str(key))
    assert (again.pk, again.seats) == (first.pk, 2)
    assert state() == before
    assert Order.objects.count() == 1
    assert AuditEvent.objects.filter(action="order.submitted").count() == 3
    # The same key with other terms (the form changed after Back) is not a retry: refused, nothing made.
    error = refused("idempotency_key_reused", lambda: submit(link, offer=offer, seats=4, idempotency_key=key))
    assert error.message == "This form was already submitted. Reload the page to place another order."
    assert state() == before

    # The key belongs to its customer: reused for another, the form is stale.
    other = commerce_linked(reseller=link.reseller, provider=link.provider)
    error = refused(
        "idempotency_key_reused",
        lambda: submit(link, customer=other.customer, offer=offer, idempotency_key=key),
    )
    assert error.message == "This form was already submitted. Reload the page to place another order."


# --- Order requests ---------------------------------------------------------------------------------


def test_a_draft_is_sent_then_submitted_and_provisioned():
    link = linked()
    offer = OfferFactory()
    draft = request(link, send=False, offer=offer, seats=4, note="  Needed by April.  ")
    assert (draft.status, draft.requested_by_reseller, draft.note, draft.requested_at) == (
        OrderStatus.DRAFT,
        True,
        "Needed by April.",
        None,
    )
    assert (draft.created_by, draft.currency, draft.unit_price) == (
        link.reseller_agent.user,
        "JPY",
        Decimal("1200"),
    )
    reseller_email = link.reseller_agent.user.email
    assert audit_rows("order.drafted") == [(link.reseller.pk, reseller_email, link.reseller.legal_name)]
    assert OutboxEmail.objects.count() == 0

    # A draft is the reseller's alone: the provider and the customer neither see nor submit it.
    assert list(selectors.orders_visible_to(link.reseller)) == [draft]
    assert list(selectors.orders_visible_to(link.provider)) == []
    assert list(selectors.orders_visible_to(link.customer)) == []
    assert list(selectors.order_requests_waiting(link.provider)) == []
    with pytest.raises(Http404):
        selectors.order_for(link.provider, draft.public_id)
    refused("invalid_transition", lambda: orders.order_request_submit(by=link.provider_agent, order=draft))
    refused(
        "invalid_transition",
        lambda: orders.order_request_decline(by=link.provider_agent, order=draft, reason="No."),
    )

    sent = orders.order_request_send(by=link.reseller_agent, order=draft)
    assert (sent.status, sent.requested_at is not None) == (OrderStatus.REQUESTED, True)
    assert audit_rows("order.requested") == sorted(
        [
            (link.reseller.pk, reseller_email, None),  # the reseller's own transition row
            (link.customer.pk, reseller_email, link.reseller.legal_name),
            (link.provider.pk, reseller_email, link.reseller.legal_name),
        ]
    )
    assert emails("order_request") == [(link.provider_agent.user.email, "en", link.provider.pk)]
    assert list(selectors.order_requests_waiting(link.provider)) == [sent]
    assert selectors.order_for(link.customer, sent.public_id) == sent
    refused("invalid_transition", lambda: orders.order_request_send(by=link.reseller_agent, order=sent))

    submitted = orders.order_request_submit(by=link.provider_agent, order=sent)
    assert (submitted.status, submitted.submitted_by) == (OrderStatus.SUBMITTED, link.provider_agent.user)
    provider_email = link.provider_agent.user.email
    assert audit_rows("order.submitted") == sorted(
        (org.pk, provider_email, link.provider.legal_name)
        for org in (link.customer, link.reseller, link.provider)
    )
    # Submitted: the reseller can no longer withdraw it.
    refused(
        "invalid_transition", lambda: orders.order_request_withdraw(by=link.reseller_agent, order=submitted)
    )

    assert orders.order_provision(order_id=submitted.pk) == "provisioned"
    subscription = Subscription.objects.get(customer=link.customer)
    assert (subscription.seats, subscription.offer, subscription.reseller, subscription.provider) == (
        4,
        offer,
        link.reseller,
        link.provider,
    )
    assert emails("order_provisioned") == notified(link)


def test_a_request_sent_at_once_is_idempotent_and_tells_the_provider():
    link = linked()
    offer = OfferFactory()
    key = uuid.uuid4()
    sent = request(link, offer=offer, seats=2, idempotency_key=key)
    assert sent.status == OrderStatus.REQUESTED
    email = link.reseller_agent.user.email
    assert audit_rows("order.requested") == sorted(
        (org.pk, email, link.reseller.legal_name) for org in (link.customer, link.reseller, link.provider)
    )
    before = state()
    assert request(link, offer=offer, seats=2, idempotency_key=key).pk == sent.pk
    assert state() == before
    assert emails("order_request") == [(link.provider_agent.user.email, "en", link.provider.pk)]


def test_a_draft_or_a_sent_request_is_withdrawn_by_its_reseller_only():
    link = linked()
    draft = request(link, send=False, offer=OfferFactory())
    other_reseller = MembershipFactory(organization=ResellerFactory(), roles=[Role.ADMIN_AGENT])
    refused("order_not_yours", lambda: orders.order_request_withdraw(by=other_reseller, order=draft))
    refused("order_not_yours", lambda: orders.order_request_withdraw(by=link.provider_agent, order=draft))

    withdrawn = orders.order_request_withdraw(by=link.reseller_agent, order=draft)
    assert (withdrawn.status, withdrawn.decided_at is not None) == (OrderStatus.WITHDRAWN, True)
    assert audit_rows("order.withdrawn") == [(link.reseller.pk, link.reseller_agent.user.email, None)]
    assert OutboxEmail.objects.count() == 0
    refused("invalid_transition", lambda: orders.order_request_send(by=link.reseller_agent, order=withdrawn))

    sent = request(link, offer=OfferFactory())
    orders.order_request_withdraw(by=link.reseller_agent, order=sent)
    assert audit_rows("order.withdrawn", sent) == sorted(
        [
            (link.reseller.pk, link.reseller_agent.user.email, None),
            (link.customer.pk, link.reseller_agent.user.email, link.reseller.legal_name),
            (link.provider.pk, link.reseller_agent.user.email, link.reseller.legal_name),
        ]
    )
    assert list(selectors.order_requests_waiting(link.provider)) == []


def test_the_provider_declines_a_request_with_a_reason_the_reseller_is_emailed():
    link = linked()
    sent = request(link, offer=OfferFactory(), seats=3)
    for blank in ("", "   "):
        error = refused(
            "reason_required",
            lambda blank=blank: orders.order_request_decline(
                by=link.provider_agent, order=sent, reason=blank
            ),
        )
        assert (error.message, error.field) == ("Tell the reseller why you decline.", "reason")
    refused(
        "reason_too_long",
        lambda: orders.order_request_decline(by=link.provider_agent, order=sent, reason="x" * 1001),
    )
    other_provider = MembershipFactory(organization=ProviderFactory(), roles=[Role.ADMIN_AGENT])
    refused(
        "order_not_yours", lambda: orders.order_request_decline(by=other_provider, order=sent, reason="No.")
    )
    helpdesk = MembershipFactory(organization=link.provider, roles=[Role.HELPDESK_AGENT])
    refused(
        "actor_not_permitted", lambda: orders.order_request_decline(by=helpdesk, order=sent, reason="No.")
    )

    declined = orders.order_request_decline(
        by=link.provider_agent, order=sent, reason="  The customer must order through its own tenant.  "
    )
    assert (declined.status, declined.decline_reason) == (
        OrderStatus.DECLINED,
        "The customer must order through its own tenant.",
    )
    assert emails("order_request_declined") == [(link.reseller_agent.user.email, "ja", link.reseller.pk)]
    provider_email = link.provider_agent.user.email
    assert audit_rows("order.declined") == sorted(
        [
            (link.provider.pk, provider_email, None),  # the provider's own transition row
            (link.customer.pk, provider_email, link.provider.legal_name),
            (link.reseller.pk, provider_email, link.provider.legal_name),
        ]
    )
    refused("invalid_transition", lambda: orders.order_request_submit(by=link.provider_agent, order=declined))
    assert Subscription.objects.count() == 0


def test_a_request_whose_partnership_ended_meanwhile_is_refused_at_submit():
    link = linked()
    sent = request(link, offer=OfferFactory())
    admin = MembershipFactory(organization=link.provider, roles=[Role.GLOBAL_ADMIN])
    partnership_end(
        partnership=Partnership.objects.get(provider=link.provider, reseller=link.reseller),
        by=admin,
        reason="We stop working together.",
    )
    refused("partnership_missing", lambda: orders.order_request_submit(by=link.provider_agent, order=sent))
    sent.refresh_from_db()
    assert sent.status == OrderStatus.REQUESTED


def test_only_the_reseller_of_record_asks_and_only_its_provider_submits():
    link = linked()
    offer = OfferFactory()
    refused("customer_not_visible", lambda: request(link, by=link.provider_agent, offer=offer))
    refused("actor_not_permitted", lambda: request(link, by=link.customer_admin, offer=offer))
    stranger = MembershipFactory(organization=ResellerFactory(), roles=[Role.ADMIN_AGENT])
    refused("customer_not_visible", lambda: request(link, by=stranger, offer=offer))
    refused("provider_invalid", lambda: request(link, provider=ResellerFactory(), offer=offer))
    refused("note_too_long", lambda: request(link, offer=offer, note="x" * 1001))

    sent = request(link, offer=offer)
    other_provider = MembershipFactory(organization=ProviderFactory(), roles=[Role.ADMIN_AGENT])
    refused("order_not_yours", lambda: orders.order_request_submit(by=other_provider, order=sent))
    helpdesk = MembershipFactory(organization=link.provider, roles=[Role.HELPDESK_AGENT])
    refused("actor_not_permitted", lambda: orders.order_request_submit(by=helpdesk, order=sent))


# --- Provisioning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "reason"),
    [
        (
            "price_removed",
            "offer_unavailable_in_country",
            "{offer} is not available in Japan, the customer's country.",
        ),
        ("off_sale", "offer_not_on_sale", "{offer} is no longer on sale."),
        ("partnership_ended", "partnership_missing", None),
    ],
)
def test_provisioning_checks_the_rules_again_and_fails_with_the_reason(change, code, reason):
    link = linked()
    offer = OfferFactory()
    with at(NOW):
        order = submit(link, offer=offer, seats=2)
    if change == "price_removed":
        offer.prices.filter(country="JP").delete()
    elif change == "off_sale":
        offer.is_active = False
        offer.save(update_fields=["is_active"])
    else:
        Partnership.objects.filter(provider=link.provider, reseller=link.reseller).update(
            status=Partnership.Status.ENDED, ended_at=NOW
        )

    with at(NOW + timedelta(minutes=1)):
        assert orders.order_provision(order_id=order.pk) == "failed"

    order.refresh_from_db()
    assert (order.status, order.failure_code, order.completed_at, order.subscription) == (
        OrderStatus.FAILED,
        code,
        NOW + timedelta(minutes=1),
        None,
    )
    if reason:
        assert order.failure_reason == reason.format(offer=offer.name)
    assert orders.failure_message(code) == str(orders.FAILURE_MESSAGES[code])
    assert Subscription.objects.count() == 0
    assert emails("order_failed") == notified(link)
    failed = AuditEvent.objects.filter(action="order.failed")
    assert sorted((row.organization_id, row.after["failure"]) for row in failed) == sorted(
        (org.pk, code) for org in (link.customer, link.reseller, link.provider)
    )
    # Failed is final: running it again changes nothing.
    before = state()
    assert orders.order_provision(order_id=order.pk) == "skipped"
    assert state() == before


def test_provisioning_twice_provisions_once():
    link = linked()
    order = submit(link, offer=OfferFactory(), seats=2)
    assert orders.order_provision(order_id=order.pk) == "provisioned"
    before = state()
    assert orders.order_provision(order_id=order.pk) == "skipped"
    assert state() == before
    assert Subscription.objects.count() == 1
    assert len(emails("order_provisioned")) == 4
    # An order that is not there, or not submitted, is skipped.
    assert orders.order_provision(order_id=order.pk + 10_000) == "skipped"
    draft = request(link, send=False, offer=OfferFactory())
    before = state()
    assert orders.order_provision(order_id=draft.pk) == "skipped"
    assert state() == before


def test_the_sweep_publishes_again_only_submitted_orders_older_than_its_delay(monkeypatch, settings):
    settings.ORDER_PROVISION_SWEEP_AFTER_SECONDS = 120
    published = []
    monkeypatch.setattr(
        "commerce.tasks.order_provision.apply_async", lambda args, **options: published.append(args[0])
    )
    link = linked()
    with at(NOW):
        old = submit(link, offer=OfferFactory())
        done = submit(link, offer=OfferFactory())
        orders.order_provision(order_id=done.pk)
        waiting = request(link, offer=OfferFactory())
        older = submit(link, offer=OfferFactory())
    with at(NOW - timedelta(minutes=5)):
        oldest = submit(link, offer=OfferFactory())
    with at(NOW + timedelta(minutes=1, seconds=59)):
        recent = submit(link, offer=OfferFactory())

    with at(NOW + timedelta(minutes=2)):
        assert orders.orders_provision_sweep() == 3
    assert published == [oldest.pk, old.pk, older.pk]
    assert {waiting.status, recent.status} == {OrderStatus.REQUESTED, OrderStatus.SUBMITTED}

    published.clear()
    assert orders.orders_provision_sweep(now=NOW + timedelta(minutes=1, seconds=59)) == 1
    assert published == [oldest.pk]


def test_a_submitted_order_is_published_to_the_worker_only_after_commit(
    monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr(
        "commerce.tasks.order_provision.apply_async", lambda args, **options: published.append(args[0])
    )
    link = linked()
    offer = OfferFactory()
    key = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = submit(link, offer=offer, idempotency_key=key)
        assert published == []
    assert (len(callbacks), published) == (1, [order.pk])

    # A retry and a refusal publish nothing; a request the provider submits is published once.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(link, offer=offer, idempotency_key=key)
        with pytest.raises(DomainError):
            submit(link, offer=offer, seats=0)
    assert (callbacks, published) == ([], [order.pk])
    sent = request(link, offer=offer)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_request_submit(by=link.provider_agent, order=sent)
        orders.order_request_submit(by=link.provider_agent, order=sent)
    assert published == [order.pk, sent.pk]


def test_the_provisioning_sweep_runs_every_30_seconds_after_a_one_minute_delay():
    from portal import settings as production

    assert production.CELERY_BEAT_SCHEDULE["orders-provision-sweep"] == {
        "task": "commerce.tasks.orders_provision_sweep",
        "schedule": 30.0,
    }
    assert production.ORDER_PROVISION_SWEEP_AFTER_SECONDS == 60
    assert production.CELERY_TASK_ROUTES["commerce.tasks.order_provision"] == {"queue": "provisioning"}

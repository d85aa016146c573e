"""Races on real PostgreSQL transactions (each call on its own connection, released by one barrier): a
double-clicked or retried order submission, a double-clicked order request sent at once, and two provider
clicks on one order request. Exactly one order, one submission and one set of audit rows each time."""

import uuid

import pytest
from django.db import connection

from commerce.models import Order, OrderKind, OrderStatus
from commerce.services import orders
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.factories.commerce import OfferFactory, commerce_linked
from tests.support.races import TRIALS, race

pytestmark = pytest.mark.django_db(transaction=True)


def real_database():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"


def audit_organizations(action, order):
    return sorted(
        AuditEvent.objects.filter(action=action, target_id=str(order.public_id)).values_list(
            "organization_id", flat=True
        )
    )


def test_one_key_submitted_twice_at_once_makes_one_order():
    real_database()
    for _ in range(TRIALS):
        link = commerce_linked()
        offer = OfferFactory()
        key = uuid.uuid4()

        def submitting(link=link, offer=offer, key=key):
            return orders.order_submit(
                by=link.provider_agent,
                customer=link.customer,
                reseller=link.reseller,
                kind=OrderKind.NEW,
                offer=offer,
                seats=2,
                idempotency_key=key,
            ).pk

        outcomes = race(submitting, submitting)

        rows = list(Order.objects.filter(customer=link.customer).values_list("pk", "status", "seats"))
        assert len(rows) == 1, rows
        order = Order.objects.get(customer=link.customer)
        # Both clicks get the one order back: the loser finds the winner's row by its key.
        assert outcomes == [("ok", order.pk), ("ok", order.pk)]
        assert (order.status, order.seats, order.idempotency_key) == (OrderStatus.SUBMITTED, 2, key)
        assert audit_organizations("order.submitted", order) == sorted(
            [link.customer.pk, link.reseller.pk, link.provider.pk]
        )


def test_a_request_sent_twice_at_once_makes_one_request_and_one_email():
    real_database()
    for _ in range(TRIALS):
        link = commerce_linked()
        offer = OfferFactory()
        key = uuid.uuid4()

        def requesting(link=link, offer=offer, key=key):
            return orders.order_request_create(
                by=link.reseller_agent,
                customer=link.customer,
                provider=link.provider,
                kind=OrderKind.NEW,
                offer=offer,
                seats=1,
                send=True,
                idempotency_key=key,
            ).pk

        outcomes = race(requesting, requesting)

        order = Order.objects.get(customer=link.customer)
        assert outcomes == [("ok", order.pk), ("ok", order.pk)]
        assert order.status == OrderStatus.REQUESTED
        assert audit_organizations("order.requested", order) == sorted(
            [link.customer.pk, link.reseller.pk, link.provider.pk]
        )
        assert list(
            OutboxEmail.objects.filter(
                organization_id=link.provider.pk, template="order_request"
            ).values_list("to", flat=True)
        ) == [link.provider_agent.user.email]


def test_two_provider_clicks_on_one_request_submit_it_once():
    real_database()
    for _ in range(TRIALS):
        link = commerce_linked()
        request = orders.order_request_create(
            by=link.reseller_agent,
            customer=link.customer,
            provider=link.provider,
            kind=OrderKind.NEW,
            offer=OfferFactory(),
            seats=3,
            send=True,
            idempotency_key=uuid.uuid4(),
        )

        def submitting(link=link, request=request):
            submitted = orders.order_request_submit(by=link.provider_agent, order=request)
            return (submitted.pk, submitted.status)

        outcomes = race(submitting, submitting)

        assert outcomes == [("ok", (request.pk, "submitted")), ("ok", (request.pk, "submitted"))]
        request.refresh_from_db()
        assert (request.status, request.submitted_by) == (OrderStatus.SUBMITTED, link.provider_agent.user)
        assert Order.objects.filter(customer=link.customer).count() == 1
        assert audit_organizations("order.submitted", request) == sorted(
            [link.customer.pk, link.reseller.pk, link.provider.pk]
        )

"""End to end on the real parts: an order submitted in a committed transaction reaches a real Celery
worker through the real Redis broker and is provisioned; a redelivered task does nothing more; an order
whose transaction rolled back never reaches the worker."""

import uuid

import pytest
from django.db import transaction

from commerce.models import Order, OrderKind, OrderStatus, Subscription
from commerce.services import orders
from portal.mail.models import OutboxEmail
from tests.factories.commerce import OfferFactory, commerce_linked
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PROVISION = "commerce.tasks.order_provision"
TIMEOUT = 30


def submit(link, offer, seats=2):
    return orders.order_submit(
        by=link.provider_agent,
        customer=link.customer,
        reseller=link.reseller,
        kind=OrderKind.NEW,
        offer=offer,
        seats=seats,
        idempotency_key=uuid.uuid4(),
    )


def is_provisioned(order) -> bool:
    return Order.objects.filter(pk=order.pk, status=OrderStatus.PROVISIONED).exists()


def test_the_worker_provisions_an_order_once_it_is_committed(celery_worker_thread, finished_tasks):
    link = commerce_linked()
    offer = OfferFactory()

    with transaction.atomic():
        order = submit(link, offer, seats=3)
        # Inside the transaction nothing is published: the worker could not read the order yet.
        assert finished_tasks.of(PROVISION, order.pk) == []

    wait_until(lambda: is_provisioned(order), TIMEOUT, "the worker did not provision the committed order")
    assert [run.retval for run in finished_tasks.wait_for(PROVISION, order.pk, timeout=TIMEOUT)] == [
        "provisioned"
    ]
    subscription = Subscription.objects.get(customer=link.customer)
    assert (subscription.offer, subscription.seats, subscription.reseller, subscription.provider) == (
        offer,
        3,
        link.reseller,
        link.provider,
    )
    order.refresh_from_db()
    assert order.subscription == subscription
    assert sorted(
        OutboxEmail.objects.filter(template="order_provisioned").values_list("organization_id", flat=True)
    ) == sorted([link.customer.pk, link.reseller.pk, link.provider.pk])

    # The same task delivered again (the sweep, an at-least-once broker) finds it done.
    assert orders.order_provision_publish(order_id=order.pk)
    runs = finished_tasks.wait_for(PROVISION, order.pk, count=2, timeout=TIMEOUT)
    assert [run.retval for run in runs] == ["provisioned", "skipped"]
    assert Subscription.objects.filter(customer=link.customer).count() == 1


def test_an_order_rolled_back_never_reaches_the_worker(celery_worker_thread, finished_tasks):
    link = commerce_linked()
    offer = OfferFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = submit(link, offer)
        raise RuntimeError("the request failed after the order was written")
    # The worker takes tasks in the order they were published: once a later order is provisioned, a
    # task for the rolled-back one would have run before it.
    later = submit(link, offer)
    runs = finished_tasks.wait_for(PROVISION, later.pk, timeout=TIMEOUT)
    assert [run.retval for run in runs] == ["provisioned"]

    assert finished_tasks.of(PROVISION, rolled_back.pk) == []
    assert list(Order.objects.values_list("pk", flat=True)) == [later.pk]
    assert Subscription.objects.filter(customer=link.customer).count() == 1

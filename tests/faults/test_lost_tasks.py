"""A lost task: enrollment checks and order provisioning whose message never reached a worker (the broker
lost it). The periodic sweeps, run by the real worker, finish every enrollment and every order, once.

The applications are confirmed and the orders submitted before the stack starts; starting it empties the
broker's queue, which loses their tasks (and the emails' too). The test publishes each sweep as beat would,
once the orders are old enough for the provisioning sweep for real (no row is edited): production's
ORDER_PROVISION_SWEEP_AFTER_SECONDS (60 s) in the full profile, 5 s in the short one."""

import re
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from commerce.models import Order, OrderKind, OrderStatus, Subscription
from commerce.services import orders
from enrollment.models import EnrollmentApplication
from portal.mail.models import OutboxEmail
from tests.enrollment.builders import application_checks_running
from tests.factories.commerce import OfferFactory, commerce_linked
from tests.faults.conftest import profile
from tests.support.stack import production_secret_key
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(profile(short=300, full=2400))]

APPLICATIONS = profile(short=5, full=30)
ORDERS = profile(short=5, full=30)
CHECKS_SWEEP = "enrollment.tasks.application_checks_sweep"
ORDERS_SWEEP = "commerce.tasks.orders_provision_sweep"
OUTBOX_SWEEP = "portal.mail.tasks.outbox_sweep"
# The provisioning sweep's delay: production's default in the full profile, shortened in the short one.
SWEEP_ENV = profile(short={"ORDER_PROVISION_SWEEP_AFTER_SECONDS": "5"}, full={})


def finished(worker, task_name: str) -> int:
    """How many runs of ``task_name`` the worker finished (its log's "succeeded" lines)."""
    return len(re.findall(rf"Task {re.escape(task_name)}\[[0-9a-f-]+\] succeeded", worker.log))


def test_the_sweeps_finish_every_enrollment_and_order_whose_task_was_lost(portal_stack):
    offer = OfferFactory(prices={"JP": ("JPY", 1200)})
    with production_secret_key():  # the emails' sealed links open in the deployed worker
        for _ in range(APPLICATIONS):
            application_checks_running()
        for _ in range(ORDERS):
            link = commerce_linked()
            orders.order_submit(
                by=link.provider_agent,
                customer=link.customer,
                reseller=link.reseller,
                kind=OrderKind.NEW,
                offer=offer,
                seats=2,
                idempotency_key=uuid.uuid4(),
            )
    stack = portal_stack(
        web=False,
        celery_workers=1,
        env={"ENROLLMENT_CHECKS_STALE_SECONDS": "1", "OUTBOX_SWEEP_GRACE_SECONDS": "0", **SWEEP_ENV},
    )
    [worker] = stack.workers
    # Nothing moves by itself: the tasks are gone.
    assert set(EnrollmentApplication.objects.values_list("status", flat=True)) == {"checks_running"}
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.SUBMITTED}

    # Time passes until the orders are old enough for the provisioning sweep; the beat's jobs run.
    sweep_after = int(
        SWEEP_ENV.get("ORDER_PROVISION_SWEEP_AFTER_SECONDS", settings.ORDER_PROVISION_SWEEP_AFTER_SECONDS)
    )
    swept_from = max(Order.objects.values_list("submitted_at", flat=True)) + timedelta(seconds=sweep_after)
    wait_until(
        lambda: timezone.now() > swept_from,
        sweep_after + 5,
        "the orders never became old enough for the sweep",
    )
    stack.publish(CHECKS_SWEEP)
    stack.publish(ORDERS_SWEEP)
    wait_until(
        lambda: (
            not EnrollmentApplication.objects.filter(status="checks_running").exists()
            and not Order.objects.filter(status=OrderStatus.SUBMITTED).exists()
        ),
        60,
        lambda: f"the sweeps did not finish everything\n{stack.logs()}",
    )
    stack.publish(OUTBOX_SWEEP)
    rows = stack.outbox_wait_sent(count=APPLICATIONS + 3 * ORDERS, timeout=60)

    assert set(EnrollmentApplication.objects.values_list("status", flat=True)) == {"in_review"}
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PROVISIONED}
    assert Subscription.objects.count() == ORDERS
    assert sorted(Order.objects.values_list("subscription__seats", flat=True)) == [2] * ORDERS
    templates = sorted(row.template for row in rows)
    assert templates.count("order_provisioned") == 3 * ORDERS
    assert templates.count("enrollment_contact_confirmation") == APPLICATIONS
    assert stack.sink.message_id_counts() == {stack.message_id(row): 1 for row in rows}

    # The sweeps run again (beat runs them for ever): nothing more happens.
    stack.publish(CHECKS_SWEEP)
    stack.publish(ORDERS_SWEEP)
    stack.publish(OUTBOX_SWEEP)
    wait_until(lambda: finished(worker, OUTBOX_SWEEP) == 2, 30, lambda: worker.log)
    assert finished(worker, CHECKS_SWEEP) == 2 and finished(worker, ORDERS_SWEEP) == 2
    # The provisioning sweep published every order again the first time, none the second.
    republished = re.findall(
        rf"Task {re.escape(ORDERS_SWEEP)}\[[0-9a-f-]+\] succeeded in \S+: (\d+)", worker.log
    )
    assert republished == [str(ORDERS), "0"]
    assert Subscription.objects.count() == ORDERS
    assert OutboxEmail.objects.count() == len(rows)
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {OutboxEmail.Status.SENT}
    print(
        f"\nfaults/lost tasks: {APPLICATIONS} enrollments and {ORDERS} orders finished by the sweeps, "
        f"{len(rows)} emails sent once each"
    )

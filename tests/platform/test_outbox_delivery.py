"""End to end on the real parts: Redis broker, a Celery worker, an SMTP server on loopback."""

import pytest
from django.db import transaction

from portal.mail import services
from portal.mail.models import OutboxEmail
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

DELIVER = "portal.mail.tasks.deliver_outbox_email"


@pytest.fixture(autouse=True)
def _empty_broker_queue():
    """Tasks that earlier tests left in the real broker (published while no worker ran) would reach this
    test's worker first, and a delivery task takes other due emails along on its connection, which would
    make which task sent an email a matter of chance: each test starts from an empty queue."""
    from portal.celery import queues_empty

    queues_empty()


def is_sent(email_id) -> bool:
    return OutboxEmail.objects.filter(pk=email_id, status=OutboxEmail.Status.SENT).exists()


def test_worker_sends_a_committed_email_over_smtp_exactly_once(
    celery_worker_thread, finished_tasks, smtp_sink
):
    with transaction.atomic():
        email = services.email_enqueue(
            to="ann@example.com", template="test_message", context={}, language="en"
        )

    wait_until(lambda: is_sent(email.pk), message="the committed email was not sent")
    messages = smtp_sink.wait_for(1)
    assert len(messages) == 1
    assert messages[0]["To"] == "ann@example.com"
    assert messages[0]["Message-ID"] == f"<outbox-{email.pk}@portal.test>"
    assert "outgoing email works" in messages[0].get_body(("plain",)).get_content()

    # Redelivery of the same task (at-least-once brokers do this) sends nothing more. Once the worker has
    # finished the second run (the SMTP server keeps a message before it answers the worker), it is known
    # what that run did: it skipped the email.
    assert services.outbox_email_publish(email_id=email.pk)
    runs = finished_tasks.wait_for(DELIVER, str(email.pk), count=2)
    assert [run.retval for run in runs] == ["sent", "skipped"]
    assert len(smtp_sink.messages) == 1


def test_rolled_back_email_never_reaches_the_worker(celery_worker_thread, finished_tasks, smtp_sink):
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = services.email_enqueue(
            to="ann@example.com", template="test_message", context={}, language="en"
        )
        raise RuntimeError("the change failed")
    # A later email that commits: the worker takes tasks in the order they were published, so once this
    # one is delivered, a task published for the rolled-back email would have run before it.
    with transaction.atomic():
        later = services.email_enqueue(
            to="bob@example.com", template="test_message", context={}, language="en"
        )
    assert [run.retval for run in finished_tasks.wait_for(DELIVER, str(later.pk))] == ["sent"]

    assert finished_tasks.of(DELIVER, str(rolled_back.pk)) == []
    assert list(OutboxEmail.objects.values_list("pk", flat=True)) == [later.pk]
    assert [message["To"] for message in smtp_sink.wait_for(1)] == ["bob@example.com"]


def test_email_committed_during_a_broker_outage_is_delivered_by_the_sweep(redis_server, smtp_sink, settings):
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 0
    redis_server.stop()

    # The change commits although the broker is down: the web request is not broken by it.
    with transaction.atomic():
        email = services.email_enqueue(
            to="bob@example.com", template="test_message", context={}, language="en"
        )
    email.refresh_from_db()
    assert email.status == OutboxEmail.Status.PENDING
    assert services.outbox_sweep() == 0  # still down: nothing published, nothing lost

    redis_server.start()
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert services.outbox_sweep() == 1
        wait_until(lambda: is_sent(email.pk), message="the swept email was not sent")
        messages = smtp_sink.wait_for(1)
    assert [m["Message-ID"] for m in messages] == [f"<outbox-{email.pk}@portal.test>"]

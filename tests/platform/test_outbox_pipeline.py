"""The mail pipeline at size, on the real parts (Redis broker, a Celery worker, an SMTP server on loopback):
one reused SMTP connection, a sweep that publishes any backlog once, a purge in bounded batches."""

from datetime import timedelta

import pytest
import time_machine
from celery.signals import worker_process_shutdown
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.celery import queue_lengths, queues_empty
from portal.mail import services
from portal.mail.connections import smtp_connection
from portal.mail.models import OutboxEmail
from tests.factories.mail import OutboxEmailFactory
from tests.support.services import free_port
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Status = OutboxEmail.Status
DELIVER_MANY = "portal.mail.tasks.deliver_outbox_emails"


@pytest.fixture(autouse=True)
def broker_queue():
    """The length of the worker's queue in the real Redis broker. Emptied before the test (autouse
    fixtures come first, so before any worker starts: a task an earlier test left there would take this
    test's emails along) and after it, so that no task published here reaches a later test's worker."""

    def length() -> int:
        return queue_lengths()["mail"]

    empty = queues_empty

    empty()
    yield length
    empty()


@pytest.fixture(autouse=True)
def _fresh_mail_connection():
    """Each test counts the sessions it opens: none is carried over from an earlier test."""
    smtp_connection.close()
    yield
    smtp_connection.close()


def backlog_create(count: int) -> list:
    """Rows a broker outage left behind: pending, due long ago, never handed to the broker."""
    long_ago = timezone.now() - timedelta(hours=1)
    rows = [
        OutboxEmail(
            to=f"backlog{number}@example.com",
            from_email="Portal <no-reply@portal.test>",
            subject=f"Backlog {number}",
            body_text="Hello\n",
            language="en",
            next_attempt_at=long_ago,
        )
        for number in range(count)
    ]
    return [row.pk for row in OutboxEmail.objects.bulk_create(rows)]


def message_id(email_id) -> str:
    return f"<outbox-{email_id}@portal.test>"


def test_twenty_emails_go_out_on_one_smtp_connection(celery_worker_thread, smtp_sink):
    emails = []
    for number in range(20):
        with transaction.atomic():
            emails.append(
                services.email_enqueue(
                    to=f"reader{number}@example.com", template="test_message", context={}, language="en"
                )
            )

    messages = smtp_sink.wait_for(20)
    wait_until(
        lambda: OutboxEmail.objects.filter(status=Status.SENT).count() == 20, message="not all marked sent"
    )
    assert sorted(message["Message-ID"] for message in messages) == sorted(message_id(e.pk) for e in emails)
    assert smtp_sink.connections == 1
    assert set(OutboxEmail.objects.values_list("attempts", "last_error", "sealed_secrets")) == {(1, "", "")}


def test_a_connection_the_server_dropped_is_opened_again_without_losing_the_email(smtp_sink):
    first, second = OutboxEmailFactory(), OutboxEmailFactory()
    assert services.outbox_email_deliver(email_id=first.pk) == "sent"
    smtp_sink.drop_connections()  # as a server does with an idle connection

    assert services.outbox_email_deliver(email_id=second.pk) == "sent"

    assert [message["Message-ID"] for message in smtp_sink.messages] == [
        message_id(first.pk),
        message_id(second.pk),
    ]
    assert smtp_sink.connections == 2
    second.refresh_from_db()
    # The dropped connection is no failed attempt: one attempt, no error recorded.
    assert (second.status, second.attempts, second.last_error) == (Status.SENT, 1, "")


def test_a_transient_refusal_mid_batch_retries_only_that_email(smtp_sink, broker_queue, settings):
    settings.OUTBOX_BACKOFF_SECONDS = 30
    emails = [OutboxEmailFactory(to=f"reader{number}@example.com") for number in range(5)]
    smtp_sink.refuse["reader2@example.com"] = "451 4.3.0 Mailbox busy, try later"
    started = timezone.now()

    outcomes = services.outbox_emails_deliver(email_ids=[email.pk for email in emails])

    assert outcomes == ["sent", "sent", "retry", "sent", "sent"]
    assert [message["To"] for message in smtp_sink.messages] == [
        "reader0@example.com",
        "reader1@example.com",
        "reader3@example.com",
        "reader4@example.com",
    ]
    assert smtp_sink.connections == 1  # a refused recipient leaves the session usable
    refused = OutboxEmail.objects.get(pk=emails[2].pk)
    assert (refused.status, refused.attempts) == (Status.PENDING, 1)
    assert "451" in refused.last_error
    backoff = timedelta(seconds=30)
    assert started + backoff <= refused.next_attempt_at <= timezone.now() + backoff
    assert broker_queue() == 1  # its retry, published with the backoff as countdown
    others = OutboxEmail.objects.exclude(pk=refused.pk)
    assert set(others.values_list("status", "attempts", "last_error")) == {(Status.SENT, 1, "")}


def test_an_unreachable_server_stops_the_batch_and_spends_one_attempt(smtp_sink, broker_queue, settings):
    emails = [OutboxEmailFactory() for _ in range(3)]
    settings.EMAIL_PORT = free_port()  # nothing listens there

    outcomes = services.outbox_emails_deliver(email_ids=[email.pk for email in emails])

    assert outcomes == ["retry", "deferred", "deferred"]
    rows = {row.pk: row for row in OutboxEmail.objects.all()}
    assert (rows[emails[0].pk].status, rows[emails[0].pk].attempts) == (Status.PENDING, 1)
    for email in emails[1:]:
        # Never tried: pending again, no attempt spent, due for the next sweep.
        assert (rows[email.pk].status, rows[email.pk].attempts, rows[email.pk].queued_at) == (
            Status.PENDING,
            0,
            None,
        )
    assert smtp_sink.messages == []
    assert broker_queue() == 1  # the first one's retry


def test_a_batch_past_its_time_hands_the_rest_to_a_new_task(smtp_sink, broker_queue, settings):
    settings.OUTBOX_BATCH_SECONDS = 0
    settings.OUTBOX_CLAIM_SIZE = 2
    emails = [OutboxEmailFactory() for _ in range(5)]

    outcomes = services.outbox_emails_deliver(email_ids=[email.pk for email in emails])

    assert outcomes == ["sent", "sent", "deferred", "deferred", "deferred"]
    assert [message["Message-ID"] for message in smtp_sink.messages] == [message_id(e.pk) for e in emails[:2]]
    assert broker_queue() == 1  # one task with the three others
    rest = OutboxEmail.objects.filter(pk__in=[email.pk for email in emails[2:]])
    assert set(rest.values_list("status", "attempts")) == {(Status.PENDING, 0)}


def test_a_backlog_beyond_any_old_cap_is_published_by_one_sweep_and_only_once(broker_queue, settings):
    settings.OUTBOX_BATCH_SIZE = 50
    settings.OUTBOX_SWEEP_PAGE_SIZE = 1000
    ids = backlog_create(3000)

    assert services.outbox_sweep() == 3000

    assert broker_queue() == 60  # 3,000 ids in tasks of 50
    assert OutboxEmail.objects.filter(status=Status.PENDING, queued_at__isnull=False).count() == 3000
    # They wait in the queue: the next sweeps leave them alone.
    assert services.outbox_sweep() == 0
    assert broker_queue() == 60
    # A task lost from the broker is replaced once the requeue time has passed.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.OUTBOX_REQUEUE_AFTER_SECONDS + 1)):
        assert services.outbox_sweep() == 3000
    assert broker_queue() == 120
    assert OutboxEmail.objects.filter(pk__in=ids, status=Status.PENDING).count() == 3000


def test_the_worker_drains_a_swept_backlog_sending_each_email_once(
    celery_worker_thread, finished_tasks, smtp_sink, broker_queue, settings
):
    settings.OUTBOX_BATCH_SIZE = 25
    ids = backlog_create(120)

    assert services.outbox_sweep() == 120

    def batch_runs():
        runs = [task for task in list(finished_tasks.finished) if task.name == DELIVER_MANY]
        return runs if len(runs) >= 5 else None

    runs = wait_until(batch_runs, 60, "the worker did not run the five batches")
    assert [len(run.args[0]) for run in runs] == [25, 25, 25, 25, 20]
    assert [outcome for run in runs for outcome in run.retval] == ["sent"] * 120
    messages = smtp_sink.wait_for(120)
    assert OutboxEmail.objects.filter(status=Status.SENT).count() == 120
    assert sorted(message["Message-ID"] for message in messages) == sorted(message_id(pk) for pk in ids)
    assert smtp_sink.connections == 1
    assert services.outbox_sweep() == 0
    assert len(smtp_sink.messages) == 120


def test_the_connection_is_closed_after_an_idle_time_and_at_worker_shutdown(smtp_sink, settings):
    settings.OUTBOX_SMTP_IDLE_SECONDS = 0.3
    assert services.outbox_email_deliver(email_id=OutboxEmailFactory().pk) == "sent"
    wait_until(lambda: smtp_sink.open_connections() == 0, 10, "the idle connection is still open")

    settings.OUTBOX_SMTP_IDLE_SECONDS = 300
    assert services.outbox_email_deliver(email_id=OutboxEmailFactory().pk) == "sent"
    assert (smtp_sink.connections, smtp_sink.open_connections()) == (2, 1)
    worker_process_shutdown.send(sender=None, pid=0, exitcode=0)
    wait_until(lambda: smtp_sink.open_connections() == 0, 10, "the connection outlived the worker")
    assert len(smtp_sink.messages) == 2


def test_purge_deletes_old_sent_emails_in_bounded_batches():
    long_ago = timezone.now() - timedelta(days=40)
    old = [OutboxEmailFactory(status=Status.SENT, sent_at=long_ago) for _ in range(12)]
    recent = OutboxEmailFactory(status=Status.SENT, sent_at=timezone.now() - timedelta(days=2))
    unsent = OutboxEmailFactory(status=Status.PENDING, created_at=long_ago, next_attempt_at=long_ago)
    dead = OutboxEmailFactory(status=Status.DEAD, created_at=long_ago)

    with CaptureQueriesContext(connection) as queries:
        assert services.outbox_purge(older_than_days=30, batch_size=5) == 12

    deletes = [query["sql"] for query in queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 5 + 5 + 2, each its own short transaction
    assert all("LIMIT 5" in sql for sql in deletes)
    assert set(OutboxEmail.objects.values_list("pk", flat=True)) == {recent.pk, unsent.pk, dead.pk}
    assert not OutboxEmail.objects.filter(pk__in=[email.pk for email in old]).exists()
    assert django_settings.OUTBOX_PURGE_BATCH_SIZE == 5000


def test_a_refused_sender_on_a_reused_connection_is_not_retried_on_a_new_one(smtp_sink, broker_queue):
    """Only a dropped session earns a second try on a new connection; a refusal is an attempt's outcome."""
    first, refused = OutboxEmailFactory(), OutboxEmailFactory(to="gone@example.com")
    smtp_sink.refuse["gone@example.com"] = "550 5.1.1 No such user"
    assert services.outbox_email_deliver(email_id=first.pk) == "sent"

    assert services.outbox_email_deliver(email_id=refused.pk) == "dead"

    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == (Status.DEAD, 1)
    assert "550" in refused.last_error
    assert AuditEvent.objects.filter(action="outbox.dead", target_id=str(refused.pk)).count() == 1
    assert smtp_sink.connections == 1
    assert broker_queue() == 0

"""The outbox: stored with the change, published after commit, sent at most once, retried, dead."""

import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.mail import services
from portal.mail.models import OutboxEmail
from tests.factories.accounts import StaffFactory
from tests.factories.mail import OutboxEmailFactory

pytestmark = pytest.mark.django_db

Status = OutboxEmail.Status


@pytest.fixture
def published(monkeypatch):
    """Record what would reach the broker, so these tests need no worker."""
    calls = []
    monkeypatch.setattr(
        "portal.mail.tasks.deliver_outbox_email.apply_async",
        lambda args, countdown=None: calls.append((args[0], countdown)),
    )
    # The sweep publishes batches of ids on one producer: recorded as one entry per email.
    monkeypatch.setattr(
        "portal.mail.tasks.deliver_outbox_emails.apply_async",
        lambda args, producer=None: calls.extend((email_id, None) for email_id in args[0]),
    )
    return calls


def enqueue(**overrides):
    kwargs = {"to": "ann@example.com", "template": "test_message", "context": {}, "language": "en"}
    return services.email_enqueue(**{**kwargs, **overrides})


def test_email_is_stored_in_the_transaction_and_published_only_after_commit(
    published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            email = enqueue()
            assert OutboxEmail.objects.filter(pk=email.pk, status=Status.PENDING).exists()
            assert published == []
    assert len(callbacks) == 1
    assert published == [(str(email.pk), None)]
    assert email.subject == "Test email from Cloud Solution Provider program"
    assert "outgoing email works" in email.body_text
    assert "https://portal.test/" in email.body_text
    assert "<html" in email.body_html


def test_nothing_is_stored_or_published_when_the_transaction_rolls_back(
    published, django_capture_on_commit_callbacks
):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            enqueue()
            raise Boom
    assert OutboxEmail.objects.count() == 0
    assert callbacks == []
    assert published == []


def test_email_is_rendered_in_the_recipients_language(published):
    email = enqueue(language="ja")
    assert email.language == "ja"
    assert email.subject == "クラウド ソリューション プロバイダー プログラム からのテストメール"
    assert "送信メールは正常に動作しています" in email.body_text


def test_dedupe_key_stores_one_email(published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = enqueue(dedupe_key="invitation:1:sent")
        second = enqueue(dedupe_key="invitation:1:sent")
    assert first.pk == second.pk
    assert OutboxEmail.objects.count() == 1
    assert published == [(str(first.pk), None)]


def test_subject_with_a_line_break_is_refused():
    with pytest.raises(services.InvalidEmailContent):
        services.email_enqueue_rendered(
            to="a@example.com", subject="Hi\r\nBcc: x@evil.test", body_text="x", language="en"
        )
    assert OutboxEmail.objects.count() == 0


def test_deliver_sends_once_with_a_stable_message_id():
    email = OutboxEmailFactory(language="ja")
    assert services.outbox_email_deliver(email_id=email.pk) == "sent"
    assert services.outbox_email_deliver(email_id=email.pk) == "skipped"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [email.to]
    assert message.extra_headers["Message-ID"] == f"<outbox-{email.pk}@portal.test>"
    assert message.extra_headers["Content-Language"] == "ja"
    assert message.alternatives[0].content == "<p>Hello</p>"
    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.attempts == 1
    assert email.sent_at is not None


def test_a_second_worker_cannot_claim_an_email_being_sent():
    email = OutboxEmailFactory(status=Status.SENDING, claimed_at=timezone.now())
    assert services.outbox_email_deliver(email_id=email.pk) == "skipped"
    assert mail.outbox == []


class FlakyBackend(BaseEmailBackend):
    """An email backend whose SMTP server answers with the configured error."""

    error: Exception = smtplib.SMTPServerDisconnected("connection lost")

    def send_messages(self, messages):
        raise FlakyBackend.error


@pytest.fixture
def flaky_smtp(settings):
    settings.EMAIL_BACKEND = "tests.platform.test_outbox.FlakyBackend"
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.OUTBOX_BACKOFF_SECONDS = 10
    return FlakyBackend


def test_transient_failure_is_retried_with_backoff_then_marked_dead(flaky_smtp, published):
    flaky_smtp.error = smtplib.SMTPServerDisconnected("connection lost")
    email = OutboxEmailFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert services.outbox_email_deliver(email_id=email.pk) == "retry"
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.PENDING, 1)
    assert email.next_attempt_at == start + timedelta(seconds=10)
    assert "SMTPServerDisconnected" in email.last_error
    assert published == [(str(email.pk), 10)]

    # Not due yet: a redelivered task does nothing.
    with time_machine.travel(start + timedelta(seconds=5), tick=False):
        assert services.outbox_email_deliver(email_id=email.pk) == "skipped"

    with time_machine.travel(start + timedelta(seconds=11), tick=False):
        assert services.outbox_email_deliver(email_id=email.pk) == "retry"
    email.refresh_from_db()
    assert email.attempts == 2
    assert email.next_attempt_at == start + timedelta(seconds=11 + 20)

    with time_machine.travel(start + timedelta(seconds=40), tick=False):
        assert services.outbox_email_deliver(email_id=email.pk) == "dead"
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.DEAD, 3)
    event = AuditEvent.objects.get(action="outbox.dead")
    assert event.target_id == str(email.pk)
    assert event.actor_label == "system"


def test_permanent_refusal_is_dead_at_once(flaky_smtp, published):
    flaky_smtp.error = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")})
    email = OutboxEmailFactory()
    assert services.outbox_email_deliver(email_id=email.pk) == "dead"
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.DEAD, 1)
    assert published == []


def test_temporary_refusal_is_retried(flaky_smtp, published):
    flaky_smtp.error = smtplib.SMTPRecipientsRefused({"x@example.com": (451, b"try later")})
    email = OutboxEmailFactory()
    assert services.outbox_email_deliver(email_id=email.pk) == "retry"


def test_staff_can_send_a_dead_email_again(published, django_capture_on_commit_callbacks):
    reviewer = StaffFactory()
    email = OutboxEmailFactory(status=Status.DEAD, attempts=6, last_error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_email_requeue(email=email, by=reviewer) is True
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.PENDING, 0, "")
    assert published == [(str(email.pk), None)]
    event = AuditEvent.objects.get(action="outbox.requeued")
    assert event.actor == reviewer

    # A sent email is never sent again by this route.
    sent = OutboxEmailFactory(status=Status.SENT)
    assert services.outbox_email_requeue(email=sent, by=reviewer) is False
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_sweep_republishes_due_emails_and_frees_abandoned_claims(settings, published):
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 60
    settings.OUTBOX_SENDING_TIMEOUT_SECONDS = 600
    now = timezone.now()
    old_pending = OutboxEmailFactory(next_attempt_at=now - timedelta(minutes=5))
    fresh_pending = OutboxEmailFactory(next_attempt_at=now)  # its own on_commit publish is on its way
    abandoned = OutboxEmailFactory(status=Status.SENDING, claimed_at=now - timedelta(minutes=30), attempts=1)
    busy = OutboxEmailFactory(status=Status.SENDING, claimed_at=now - timedelta(seconds=5))
    OutboxEmailFactory(status=Status.SENT, next_attempt_at=now - timedelta(hours=1))
    OutboxEmailFactory(status=Status.DEAD, next_attempt_at=now - timedelta(hours=1))

    with time_machine.travel(now + timedelta(seconds=61), tick=False):
        count = services.outbox_sweep()

    assert count == 2
    assert {email_id for email_id, _ in published} == {str(old_pending.pk), str(fresh_pending.pk)}
    abandoned.refresh_from_db()
    busy.refresh_from_db()
    assert abandoned.status == Status.PENDING
    assert busy.status == Status.SENDING
    assert str(busy.pk) not in {email_id for email_id, _ in published}


def test_sweep_stops_quietly_while_the_broker_is_down(monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr("portal.mail.tasks.deliver_outbox_emails.apply_async", broker_down)
    email = OutboxEmailFactory(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert services.outbox_sweep() == 0
    email.refresh_from_db()
    assert email.status == Status.PENDING


def test_purge_removes_only_old_sent_emails():
    old = OutboxEmailFactory(status=Status.SENT, sent_at=timezone.now() - timedelta(days=31))
    recent = OutboxEmailFactory(status=Status.SENT, sent_at=timezone.now() - timedelta(days=2))
    dead = OutboxEmailFactory(status=Status.DEAD)
    assert services.outbox_purge(older_than_days=30) == 1
    assert set(OutboxEmail.objects.values_list("pk", flat=True)) == {recent.pk, dead.pk}
    assert not OutboxEmail.objects.filter(pk=old.pk).exists()


def test_review_site_action_sends_failed_emails_again(client, published, django_capture_on_commit_callbacks):
    from django.urls import reverse

    reviewer = StaffFactory(is_superuser=True)
    dead = OutboxEmailFactory(status=Status.DEAD, attempts=6)
    sent = OutboxEmailFactory(status=Status.SENT)
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:mail_outboxemail_changelist"),
            {"action": "send_again", "_selected_action": [str(dead.pk), str(sent.pk)]},
        )
    assert response.status_code == 302
    dead.refresh_from_db()
    sent.refresh_from_db()
    assert (dead.status, dead.attempts) == (Status.PENDING, 0)
    assert sent.status == Status.SENT
    assert published == [(str(dead.pk), None)]

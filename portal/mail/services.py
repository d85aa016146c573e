"""Every write to the outbox. Emails are rendered and stored inside the caller's transaction and
handed to Celery only after it commits; the beat sweep re-publishes whatever a broker outage left.

The worker sends on one reused mail connection (``portal.mail.connections``) and takes the sweep's work in
batches of ids; each email is still claimed, sent and marked on its own, so a batch that stops half-way
loses nothing and sends nothing twice."""

import logging
import smtplib
import socket
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation

from portal.audit.services import audit_record
from portal.branding import program_name_lazy
from portal.mail import sealing
from portal.mail.connections import is_dropped_connection, smtp_connection
from portal.mail.models import OutboxEmail

logger = logging.getLogger(__name__)

Status = OutboxEmail.Status


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body_text: str
    body_html: str


class InvalidEmailContent(ValueError):
    """A subject that would inject headers, or an empty body."""


def text_render(template_name: str, context: dict) -> str:
    """Render a plain-text template: nothing is HTML-escaped (``O'Brien & Sons`` stays as it is)."""
    return get_template(template_name).template.render(Context(context, autoescape=False))


def email_render(*, template: str, context: dict, language: str) -> RenderedEmail:
    """Render ``templates/email/<template>/{subject.txt,body.txt,body.html}`` in ``language``."""
    base_context = {
        "PROGRAM_NAME": program_name_lazy,
        "SITE_URL": settings.SITE_URL,
        "LANGUAGE_CODE": language,
        **context,
    }
    with translation.override(language):
        subject = text_render(f"email/{template}/subject.txt", base_context)
        body_text = text_render(f"email/{template}/body.txt", base_context)
        body_html = render_to_string(f"email/{template}/body.html", base_context)
    return RenderedEmail(
        subject=" ".join(subject.split()), body_text=body_text.strip() + "\n", body_html=body_html
    )


def email_enqueue(
    *,
    to: str,
    template: str,
    context: dict,
    language: str,
    secrets: tuple[str, ...] = (),
    dedupe_key: str | None = None,
    organization_id: int | None = None,
    reply_to: str = "",
) -> OutboxEmail:
    """Render an email in the recipient's language and store it in the outbox of this transaction.

    ``secrets`` names the context values that open something (a link with a token, a code): they are
    stored sealed and put back only in the message handed to the mail server."""
    sealed_context, hidden = sealing.context_sealed(context, secrets)
    rendered = email_render(template=template, context=sealed_context, language=language)
    return email_enqueue_rendered(
        to=to,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        language=language,
        template=template,
        secrets=hidden,
        dedupe_key=dedupe_key,
        organization_id=organization_id,
        reply_to=reply_to,
    )


def email_enqueue_rendered(
    *,
    to: str,
    subject: str,
    body_text: str,
    language: str,
    body_html: str = "",
    template: str = "",
    secrets: dict[str, str] | None = None,
    dedupe_key: str | None = None,
    organization_id: int | None = None,
    reply_to: str = "",
) -> OutboxEmail:
    """Store an already rendered email; with ``dedupe_key`` the same email is stored only once.

    ``secrets`` maps each placeholder in the rendered parts to the secret it stands for."""
    if "\n" in subject or "\r" in subject:
        raise InvalidEmailContent("An email subject must be a single line")
    if not body_text.strip():
        raise InvalidEmailContent("An email needs a text body")
    secrets = secrets or {}
    fields = {
        "to": to,
        "subject": sealing.text_sealed(subject, secrets)[:255],
        "body_text": sealing.text_sealed(body_text, secrets),
        "body_html": sealing.text_sealed(body_html, secrets),
        "sealed_secrets": sealing.seal(secrets),
        "language": language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
        "template": template,
        "organization_id": organization_id,
        "reply_to": reply_to,
        "from_email": settings.DEFAULT_FROM_EMAIL,
    }
    # Part of the caller's change, without a savepoint of its own (two round trips fewer per email): a
    # failure here fails the caller's transaction, which is what storing with the change means.
    with transaction.atomic(savepoint=False):
        if dedupe_key:
            email, created = OutboxEmail.objects.get_or_create(dedupe_key=dedupe_key, defaults=fields)
        else:
            email, created = OutboxEmail.objects.create(**fields), True
        if created:
            transaction.on_commit(partial(outbox_email_publish, email_id=email.pk), robust=True)
    return email


def outbox_email_publish(*, email_id, countdown: int | None = None) -> bool:
    """Hand one email to Celery. A broker that is down costs a log line, never the email."""
    from portal.mail.tasks import deliver_outbox_email

    try:
        deliver_outbox_email.apply_async(args=[str(email_id)], countdown=countdown)
    except Exception:
        logger.warning(
            "Could not publish outbox email; the sweep will retry",
            extra={"outbox_id": str(email_id)},
            exc_info=True,
        )
        return False
    return True


def outbox_emails_publish(*, email_ids: list, producer=None) -> bool:
    """Hand a batch of emails to Celery as one task (the sweep's way); False when the broker is down."""
    from portal.mail.tasks import deliver_outbox_emails

    try:
        deliver_outbox_emails.apply_async(args=[[str(email_id) for email_id in email_ids]], producer=producer)
    except Exception:
        logger.warning(
            "Could not publish a batch of outbox emails; the sweep will retry",
            extra={"outbox_count": len(email_ids)},
            exc_info=True,
        )
        return False
    return True


_CLAIM_SQL = """
WITH own AS (
    SELECT id FROM {table}
    WHERE id = ANY(%(ids)s::uuid[]) AND status = %(pending)s AND next_attempt_at <= %(now)s
    FOR UPDATE SKIP LOCKED
), other AS (
    SELECT id FROM {table}
    WHERE status = %(pending)s AND next_attempt_at <= %(now)s AND NOT (id = ANY(%(ids)s::uuid[]))
    ORDER BY next_attempt_at LIMIT %(other)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {table} AS outbox SET status = %(sending)s, attempts = outbox.attempts + 1, claimed_at = %(now)s
FROM (SELECT id FROM own UNION ALL SELECT id FROM other) AS claimed
WHERE outbox.id = claimed.id AND outbox.status = %(pending)s
RETURNING outbox.*
"""

_SENT_SQL = """
UPDATE {table} AS outbox SET status = %(sent)s, sent_at = %(now)s, last_error = '', sealed_secrets = ''
WHERE outbox.id = ANY(%(ids)s::uuid[]) AND outbox.status = %(sending)s
"""


def _claim(*, email_ids: list[str], other: int) -> list[OutboxEmail]:
    """pending → sending, each email for exactly one worker: the given ones that are due, and up to
    ``other`` more due emails that no worker holds (``SKIP LOCKED``); the given ones first."""
    now = timezone.now()
    if connection.vendor != "postgresql":  # the embedded development database: one compare-and-swap each
        claimed = []
        for email_id in email_ids:
            with transaction.atomic():
                if OutboxEmail.objects.filter(
                    pk=email_id, status=Status.PENDING, next_attempt_at__lte=now
                ).update(status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=now):
                    claimed.append(OutboxEmail.objects.get(pk=email_id))
        return claimed
    params = {
        "ids": [uuid.UUID(email_id) for email_id in email_ids],
        "now": now,
        "other": other,
        "pending": Status.PENDING,
        "sending": Status.SENDING,
    }
    sql = _CLAIM_SQL.format(table=OutboxEmail._meta.db_table)
    emails = list(OutboxEmail.objects.raw(sql, params))
    order = {email_id: position for position, email_id in enumerate(email_ids)}
    return sorted(emails, key=lambda email: order.get(str(email.pk), len(order)))


def outbox_email_content(email: OutboxEmail) -> RenderedEmail:
    """The email as its recipient gets it, secrets restored (only for the mail server, and tests)."""
    hidden = sealing.unseal(email.sealed_secrets)
    return RenderedEmail(
        subject=sealing.restored(email.subject, hidden),
        body_text=sealing.restored(email.body_text, hidden),
        body_html=sealing.restored(email.body_html, hidden, html=True),
    )


def _build_message(email: OutboxEmail) -> EmailMultiAlternatives:
    content = outbox_email_content(email)
    message = EmailMultiAlternatives(
        subject=content.subject,
        body=content.body_text,
        from_email=email.from_email,
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={
            "Message-ID": email.message_id,
            "X-Portal-Outbox-Id": str(email.id),
            "Content-Language": email.language,
        },
    )
    if content.body_html:
        message.attach_alternative(content.body_html, "text/html")
    return message


def _is_transient(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return not (500 <= error.smtp_code < 600)
    if isinstance(error, smtplib.SMTPServerDisconnected | socket.timeout | OSError):
        return True
    return isinstance(error, smtplib.SMTPException)


def backoff_seconds(attempts: int) -> int:
    return min(settings.OUTBOX_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), 1800)


def _server_unavailable(error: Exception) -> bool:
    """The mail server could not be reached at all: the rest of a batch would fail the same way."""
    if is_dropped_connection(error) or isinstance(error, smtplib.SMTPConnectError):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def outbox_email_deliver(*, email_id, take_along: int = 0) -> str:
    """Send one outbox email at most once in normal operation; return what became of it. With
    ``take_along``, up to that many other due emails that no worker holds go out with it."""
    return outbox_emails_deliver(email_ids=[email_id], take_along=take_along)[0]


# Emails this process has sent (most recent last). Sent is final, so a task for one of them (a redelivery,
# or the task of an email that an earlier task took along) is skipped without asking the database.
_sent_here: OrderedDict[str, None] = OrderedDict()
_SENT_HERE_LIMIT = 20_000


def outbox_emails_deliver(*, email_ids: list, take_along: int = 0) -> list[str]:
    """Send the given outbox emails, and up to ``take_along`` other due ones that no worker holds, on the
    worker's reused connection; return what became of each given email.

    Emails are claimed ``OUTBOX_CLAIM_SIZE`` at a time (compare-and-swap) and marked sent after each such
    group, so that a killed worker leaves at most one group claimed (found again after
    ``OUTBOX_SENDING_TIMEOUT_SECONDS``). A failure retries or buries only that email. When the mail server
    cannot be reached, or the batch has run for ``OUTBOX_BATCH_SECONDS``, what is left is handed back
    (``deferred``) instead of being tried against a dead server one by one."""
    given = [str(email_id) for email_id in email_ids]
    outcomes = {email_id: "skipped" for email_id in given if email_id in _sent_here}
    waiting = [email_id for email_id in given if email_id not in outcomes]
    room = take_along if waiting else 0  # a task whose emails are all sent already is a leftover: done
    group_size = settings.OUTBOX_CLAIM_SIZE
    started = time.monotonic()
    first = True
    while waiting or room:
        # At least one group goes out, so a handed-back batch always makes progress.
        if not first and time.monotonic() - started >= settings.OUTBOX_BATCH_SECONDS:
            _hand_back(waiting, republish=True)
            outcomes.update(dict.fromkeys(waiting, "deferred"))
            break
        first = False
        group, waiting = waiting[:group_size], waiting[group_size:]
        other = 0 if waiting else min(room, group_size - len(group))
        emails = _claim(email_ids=group, other=other)
        taken_along = sum(1 for email in emails if str(email.pk) not in group)
        room = 0 if taken_along < other else room - taken_along  # fewer than asked: nothing more is due
        outcomes.update(dict.fromkeys(group, "skipped"))
        results, reachable = _send_group(emails)
        outcomes.update({email_id: result for email_id, result in results.items() if email_id in outcomes})
        if not reachable:
            _hand_back(waiting, republish=False)
            outcomes.update(dict.fromkeys(waiting, "deferred"))
            break
    return [outcomes[email_id] for email_id in given]


def _send_group(emails: list[OutboxEmail]) -> tuple[dict[str, str], bool]:
    """Send claimed emails in turn and mark those the server accepted as sent, together, at the end;
    what became of each, and whether the mail server could be reached."""
    results: dict[str, str] = {}
    sent: list[str] = []
    try:
        for position, email in enumerate(emails):
            try:
                smtp_connection.send(_build_message(email))
            except Exception as error:
                results[str(email.pk)] = _record_failure(email, error)
                if _server_unavailable(error):
                    _release(emails[position + 1 :])
                    results.update({str(rest.pk): "deferred" for rest in emails[position + 1 :]})
                    return results, False
                continue
            sent.append(str(email.pk))
            results[str(email.pk)] = "sent"
    finally:
        if sent:
            # The secrets have done their job and are erased, so no sent row holds a usable link or code.
            _mark_sent(sent)
            for email_id in sent:
                _sent_here[email_id] = None
                logger.info("Sent outbox email", extra={"outbox_id": email_id})
            while len(_sent_here) > _SENT_HERE_LIMIT:
                _sent_here.popitem(last=False)
    return results, True


#: How long a worker keeps trying to record emails the server accepted while the database is away.
MARK_SENT_RETRY_SECONDS = 30


def _mark_sent(email_ids: list[str]) -> None:
    """Record that the server accepted these emails, durably, even across a database restart or
    failover of a few seconds: a row left "sending" would wait ``OUTBOX_SENDING_TIMEOUT_SECONDS`` for the
    sweep, and then go out a second time."""
    deadline = time.monotonic() + MARK_SENT_RETRY_SECONDS
    while True:
        try:
            _mark_sent_once(email_ids)
            return
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or time.monotonic() >= deadline:
                raise
            logger.warning("Could not record sent emails; the database is away, trying again")
            connection.close()  # the next query connects anew
            time.sleep(1)


def _mark_sent_once(email_ids: list[str]) -> None:
    if connection.vendor != "postgresql":
        OutboxEmail.objects.filter(pk__in=email_ids, status=Status.SENDING).update(
            status=Status.SENT, sent_at=timezone.now(), last_error="", sealed_secrets=""
        )
        return
    sql = _SENT_SQL.format(table=OutboxEmail._meta.db_table)
    params = {
        "ids": [uuid.UUID(email_id) for email_id in email_ids],
        "now": timezone.now(),
        "sent": Status.SENT,
        "sending": Status.SENDING,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _release(emails: list[OutboxEmail]) -> None:
    """Claimed emails that were never tried: pending again, the attempt given back, due for the sweep."""
    if emails:
        OutboxEmail.objects.filter(pk__in=[email.pk for email in emails], status=Status.SENDING).update(
            status=Status.PENDING, attempts=F("attempts") - 1, claimed_at=None, queued_at=None
        )


def _hand_back(email_ids: list, *, republish: bool) -> None:
    """Given emails not claimed yet: published again at once, or left to the next sweep."""
    if not email_ids or (republish and outbox_emails_publish(email_ids=email_ids)):
        return
    # Not queued any more: the next sweep takes them (they are due already), no attempt was spent.
    OutboxEmail.objects.filter(pk__in=email_ids, status=Status.PENDING).update(queued_at=None)


def _record_failure(email: OutboxEmail, error: Exception) -> str:
    description = f"{type(error).__name__}: {error}"[:2000]
    transient = _is_transient(error)
    if transient and email.attempts < settings.OUTBOX_MAX_ATTEMPTS:
        delay = backoff_seconds(email.attempts)
        OutboxEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
            status=Status.PENDING,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            last_error=description,
            queued_at=None,
        )
        logger.warning(
            "Outbox email failed; retrying",
            extra={"outbox_id": str(email.pk), "attempts": email.attempts, "retry_in": delay},
        )
        outbox_email_publish(email_id=email.pk, countdown=delay)
        return "retry"
    with transaction.atomic():
        updated = OutboxEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
            status=Status.DEAD, last_error=description
        )
        if updated:
            audit_record(
                action="outbox.dead",
                organization_id=email.organization_id,
                target=email,
                after={"attempts": email.attempts, "error": description[:200]},
            )
    logger.error("Outbox email failed for good", extra={"outbox_id": str(email.pk), "error": description})
    return "dead"


@transaction.atomic
def outbox_email_requeue(*, email: OutboxEmail, by) -> bool:
    """A failed (dead) email goes back to pending with a fresh set of attempts."""
    updated = OutboxEmail.objects.filter(pk=email.pk, status=Status.DEAD).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="", queued_at=None
    )
    if not updated:
        return False
    audit_record(
        action="outbox.requeued",
        actor=by,
        organization_id=email.organization_id,
        target=email,
        before={"status": Status.DEAD},
        after={"status": Status.PENDING},
    )
    transaction.on_commit(partial(outbox_email_publish, email_id=email.pk), robust=True)
    return True


def outbox_sweep() -> int:
    """Re-publish every due email that no worker has, however many: a broker outage or a killed worker
    loses none. Returns how many emails were published.

    Due emails are read in keyset pages and published in batches of ``OUTBOX_BATCH_SIZE`` ids on one broker
    connection; each published email is stamped ``queued_at``, so that later sweeps leave it alone while
    it waits in the queue (for ``OUTBOX_REQUEUE_AFTER_SECONDS``, after which a lost task is replaced)."""
    from portal.mail.tasks import deliver_outbox_emails

    now = timezone.now()
    # A worker that died mid-send leaves its claim behind; after the timeout the email is due again.
    OutboxEmail.objects.filter(
        status=Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT_SECONDS),
    ).update(status=Status.PENDING, next_attempt_at=now, queued_at=None)
    due = OutboxEmail.objects.filter(
        Q(queued_at__isnull=True)
        | Q(queued_at__lte=now - timedelta(seconds=settings.OUTBOX_REQUEUE_AFTER_SECONDS)),
        status=Status.PENDING,
        next_attempt_at__lte=now - timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS),
    ).order_by("next_attempt_at", "pk")
    published = 0
    after = None
    try:
        with deliver_outbox_emails.app.producer_or_acquire() as producer:
            while True:
                page = (
                    due
                    if after is None
                    else due.filter(
                        Q(next_attempt_at__gt=after[1]) | Q(next_attempt_at=after[1], pk__gt=after[0])
                    )
                )
                rows = list(page.values_list("pk", "next_attempt_at")[: settings.OUTBOX_SWEEP_PAGE_SIZE])
                for start in range(0, len(rows), settings.OUTBOX_BATCH_SIZE):
                    batch = [email_id for email_id, _ in rows[start : start + settings.OUTBOX_BATCH_SIZE]]
                    if not outbox_emails_publish(email_ids=batch, producer=producer):
                        return published  # the broker is still down; the next sweep tries again
                    OutboxEmail.objects.filter(pk__in=batch, status=Status.PENDING).update(
                        queued_at=timezone.now()
                    )
                    published += len(batch)
                if len(rows) < settings.OUTBOX_SWEEP_PAGE_SIZE:
                    return published
                after = rows[-1]
    except Exception:
        # Reaching the broker at all failed (no connection from the pool); what was published is marked.
        logger.warning("The outbox sweep could not reach the broker", exc_info=True)
        return published


def outbox_purge(*, older_than_days: int = 30, batch_size: int | None = None) -> int:
    """Sent emails carry links and personal data: keep them no longer than needed.

    Deleted in batches of ``OUTBOX_PURGE_BATCH_SIZE``, each its own short transaction, so that a large
    purge never holds locks, or bloats one transaction, for long."""
    batch_size = batch_size or settings.OUTBOX_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=older_than_days)
    old = OutboxEmail.objects.filter(status=Status.SENT, sent_at__lt=cutoff)
    deleted = 0
    while True:
        with transaction.atomic():
            count, _ = OutboxEmail.objects.filter(pk__in=old.values("pk")[:batch_size]).delete()
        deleted += count
        if count < batch_size:
            return deleted

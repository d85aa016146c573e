"""Every write to the outbox. Emails are rendered and stored inside the caller's transaction and
handed to Celery only after it commits; the beat sweep re-publishes whatever a broker outage left."""

import logging
import smtplib
import socket
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation

from portal.audit.services import audit_record
from portal.branding import program_name_lazy
from portal.mail import sealing
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


@transaction.atomic
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


def _claim(email_id) -> bool:
    """pending → sending, for exactly one worker (compare-and-swap)."""
    now = timezone.now()
    claimed = OutboxEmail.objects.filter(pk=email_id, status=Status.PENDING, next_attempt_at__lte=now).update(
        status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    return claimed == 1


def outbox_email_content(email: OutboxEmail) -> RenderedEmail:
    """The email as its recipient gets it, secrets restored (only for the mail server, and tests)."""
    hidden = sealing.unseal(email.sealed_secrets)
    return RenderedEmail(
        subject=sealing.restored(email.subject, hidden),
        body_text=sealing.restored(email.body_text, hidden),
        body_html=sealing.restored(email.body_html, hidden, html=True),
    )


def _build_message(email: OutboxEmail, connection) -> EmailMultiAlternatives:
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
        connection=connection,
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


def outbox_email_deliver(*, email_id) -> str:
    """Send one outbox email at most once in normal operation; return what became of it."""
    if not _claim(email_id):
        return "skipped"
    email = OutboxEmail.objects.get(pk=email_id)
    try:
        connection = get_connection(fail_silently=False)
        _build_message(email, connection).send()
    except Exception as error:
        return _record_failure(email, error)
    # Sent: the secrets have done their job and are erased, so no sent row holds a usable link or code.
    OutboxEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), last_error="", sealed_secrets=""
    )
    logger.info("Sent outbox email", extra={"outbox_id": str(email.pk)})
    return "sent"


def _record_failure(email: OutboxEmail, error: Exception) -> str:
    description = f"{type(error).__name__}: {error}"[:2000]
    transient = _is_transient(error)
    if transient and email.attempts < settings.OUTBOX_MAX_ATTEMPTS:
        delay = backoff_seconds(email.attempts)
        OutboxEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
            status=Status.PENDING,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            last_error=description,
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
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
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
    """Re-publish every due email that no worker has: a broker outage or a killed worker loses none."""
    now = timezone.now()
    # A worker that died mid-send leaves its claim behind; after the timeout the email is due again.
    OutboxEmail.objects.filter(
        status=Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT_SECONDS),
    ).update(status=Status.PENDING, next_attempt_at=now)
    due = OutboxEmail.objects.filter(
        status=Status.PENDING,
        next_attempt_at__lte=now - timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS),
    ).values_list("pk", flat=True)[:500]
    published = 0
    for email_id in due:
        if not outbox_email_publish(email_id=email_id):
            break  # the broker is still down; the next sweep tries again
        published += 1
    return published


def outbox_purge(*, older_than_days: int = 30) -> int:
    """Sent emails carry links and personal data: keep them no longer than needed."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = OutboxEmail.objects.filter(status=Status.SENT, sent_at__lt=cutoff).delete()
    return deleted

"""Thin, idempotent tasks: they take ids, re-read, and call a service."""

from celery import shared_task
from django.conf import settings

from portal.mail import services


@shared_task(name="portal.mail.tasks.deliver_outbox_email", acks_late=True)
def deliver_outbox_email(email_id: str) -> str:
    # Other due emails go along on the same connection; their own tasks then find them sent.
    return services.outbox_email_deliver(email_id=email_id, take_along=settings.OUTBOX_BATCH_SIZE - 1)


@shared_task(name="portal.mail.tasks.deliver_outbox_emails", acks_late=True)
def deliver_outbox_emails(email_ids: list[str]) -> list[str]:
    return services.outbox_emails_deliver(email_ids=email_ids)


@shared_task(name="portal.mail.tasks.outbox_sweep")
def outbox_sweep() -> int:
    return services.outbox_sweep()


@shared_task(name="portal.mail.tasks.outbox_purge")
def outbox_purge() -> int:
    return services.outbox_purge()

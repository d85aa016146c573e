"""Thin, idempotent tasks: they take ids, re-read, and call a service."""

from celery import shared_task

from portal.mail import services


@shared_task(name="portal.mail.tasks.deliver_outbox_email", acks_late=True)
def deliver_outbox_email(email_id: str) -> str:
    return services.outbox_email_deliver(email_id=email_id)


@shared_task(name="portal.mail.tasks.outbox_sweep")
def outbox_sweep() -> int:
    return services.outbox_sweep()


@shared_task(name="portal.mail.tasks.outbox_purge")
def outbox_purge() -> int:
    return services.outbox_purge()

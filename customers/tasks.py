"""The customers' Celery task: invitation deadlines and the delegated admin lifecycle (beat)."""

from celery import shared_task

from customers.services import delegated, invitations


@shared_task
def customer_deadlines() -> dict:
    """Invitation reminders and expiry, then delegated admin: expiring, reminders, auto-extension,
    expiry, unanswered requests. Every step is safe to run again."""
    return {
        "invitations_reminded": invitations.customer_invitations_remind_due(),
        "invitations_expired": invitations.customer_invitations_expire_due(),
        **delegated.delegated_admins_run_due(),
    }

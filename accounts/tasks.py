"""Thin, idempotent periodic jobs over database state."""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tasks.membership_invitations_expire")
def membership_invitations_expire() -> int:
    return services.membership_invitations_expire_due()

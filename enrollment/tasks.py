"""Thin, idempotent tasks: they take ids, re-read, and call a service."""

from celery import shared_task

from enrollment.services import applications, checks, confirmation, review


@shared_task(name="enrollment.tasks.application_checks_run", acks_late=True)
def application_checks_run(application_id: int) -> str:
    return checks.application_checks_run(application_id=application_id)


@shared_task(name="enrollment.tasks.application_checks_sweep")
def application_checks_sweep() -> int:
    return checks.application_checks_sweep()


@shared_task(name="enrollment.tasks.application_deadlines")
def application_deadlines() -> dict[str, int]:
    """Reminders first (a contact reminded today is not expired today), then expiry, then the SLA."""
    return {
        "contact_reminded": confirmation.contact_confirmations_remind_due(),
        "links_expired": confirmation.contact_confirmations_expire_due(),
        "applications_expired": applications.applications_expire_due(),
        "reviewers_reminded": review.applications_sla_remind_due(),
    }

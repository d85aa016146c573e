"""The providers' Celery tasks: invitation deadlines (beat) and bulk invitation runs."""

from celery import shared_task

from providers.services import bulk, invitations


@shared_task
def partnership_invitation_deadlines() -> dict:
    """Reminders first (a link about to end), then expiry; both safe to run again. Also resumes bulk runs
    a lost task left behind."""
    return {
        "reminded": invitations.partnership_invitations_remind_due(),
        "expired": invitations.partnership_invitations_expire_due(),
        "bulk_resumed": bulk.bulk_runs_resume(),
    }


@shared_task(acks_late=True)
def partnership_bulk_run(run_id: int) -> str:
    return bulk.bulk_run_process(run_id=run_id).status

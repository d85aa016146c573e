"""Running the automated checks (``enrollment/checks.py``) in a Celery worker.

Confirmation (and resubmission) mark every check pending and publish ``application_checks_run`` after
commit. The task locks the application, runs all checks, stores their results and moves the application
into review, in one transaction: run twice, the second run finds it in review and does nothing. A broker
outage or a lost task leaves the application in "checks running"; the sweep publishes it again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from enrollment.checks import CHECKS
from enrollment.models import ApplicationStatus, CheckStatus, EnrollmentApplication, EnrollmentCheck
from enrollment.services.applications import application_lock
from enrollment.transitions import APPLICATION_STATUS
from portal.audit.services import audit_record
from portal.transitions import transition_apply

logger = logging.getLogger(__name__)
Status = ApplicationStatus
#: the statuses in which an application waits for its checks
CHECKING = (Status.CHECKS_RUNNING, Status.RESUBMITTED)


def application_checks_prepare(application: EnrollmentApplication) -> None:
    """Mark every check pending and publish the run after this transaction commits."""
    now = timezone.now()
    for kind in CHECKS:
        EnrollmentCheck.objects.update_or_create(
            application=application,
            kind=kind,
            defaults={
                "status": CheckStatus.PENDING,
                "reason_code": "",
                "detail": {},
                "started_at": now,
                "finished_at": None,
            },
        )
    transaction.on_commit(partial(application_checks_publish, application_id=application.pk), robust=True)


def application_checks_publish(*, application_id: int) -> bool:
    """Hand the run to Celery; a broker that is down costs a log line: the sweep publishes it again."""
    from enrollment.tasks import application_checks_run

    try:
        application_checks_run.apply_async(args=[application_id])
    except Exception:
        logger.warning(
            "Could not publish the enrollment checks; the sweep will retry",
            extra={"application_id": application_id},
            exc_info=True,
        )
        return False
    return True


@transaction.atomic
def application_checks_run(*, application_id: int) -> str:
    """Run every check of an application waiting for them, store the results, move it into review.
    Returns what happened ("done", or "skipped" when there was nothing to do)."""
    from enrollment.services.notifications import application_status_notify

    application = EnrollmentApplication.objects.filter(pk=application_id).first()
    if application is None:
        return "skipped"
    application = application_lock(application)
    if application.status not in CHECKING:
        return "skipped"
    now = timezone.now()
    results = {}
    for kind, check in CHECKS.items():
        result = check(application)
        results[str(kind)] = {"status": result.status, "reason_code": result.reason_code}
        EnrollmentCheck.objects.update_or_create(
            application=application,
            kind=kind,
            defaults={
                "status": result.status,
                "reason_code": result.reason_code,
                "detail": result.detail,
                "finished_at": timezone.now(),
            },
        )
    audit_record(
        action="enrollment_application.checks_completed", target=application, after={"checks": results}
    )
    application = transition_apply(
        application,
        Status.IN_REVIEW,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.in_review",
        # A new review: its own SLA clock, and its own reminder to the reviewers.
        changes={"review_started_at": now, "sla_reminded_at": None, "updated_at": now},
    )
    application_status_notify(application)
    return "done"


def application_checks_sweep(*, limit: int = 500) -> int:
    """Beat job: publish again the checks of applications left waiting longer than a run should take."""
    stale = timezone.now() - timedelta(seconds=settings.ENROLLMENT_CHECKS_STALE_SECONDS)
    waiting = (
        EnrollmentApplication.objects.filter(status__in=CHECKING, updated_at__lte=stale)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    published = 0
    for application_id in waiting:
        published += application_checks_publish(application_id=application_id)
    return published

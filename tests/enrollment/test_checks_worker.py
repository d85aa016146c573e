"""The automated checks on the real parts: the Redis broker and a Celery worker. The contact's confirmation
publishes the run after commit, the worker moves the application into review; a redelivered run does
nothing; a run lost in a broker outage is published again by the sweep."""

from datetime import timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from enrollment.models import ApplicationStatus, CheckStatus, EnrollmentApplication, EnrollmentCheck
from enrollment.services import checks, confirmation
from portal.audit.models import AuditEvent
from portal.celery import app as celery_app
from tests.enrollment import builders
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

RUN = "enrollment.tasks.application_checks_run"


def confirm(application) -> None:
    confirmation.contact_confirm(
        confirmation=builders.contact_confirmation_of(application),
        user=None,
        is_the_contact=True,
        address_is_the_company=True,
    )


def status_of(application) -> str:
    return EnrollmentApplication.objects.get(pk=application.pk).status


def test_the_worker_moves_a_confirmed_application_into_review_once(celery_worker_thread, finished_tasks):
    submitted = builders.submitted_application()

    confirm(submitted)  # commits: the run is published after commit

    wait_until(
        lambda: status_of(submitted) == ApplicationStatus.IN_REVIEW,
        timeout=20,
        message="the worker did not move the application into review",
    )
    assert [run.retval for run in finished_tasks.wait_for(RUN, submitted.pk)] == ["done"]
    application = EnrollmentApplication.objects.get(pk=submitted.pk)
    assert application.review_started_at is not None
    assert set(EnrollmentCheck.objects.filter(application=application).values_list("status", flat=True)) == {
        CheckStatus.PASSED
    }

    # A redelivery (at-least-once brokers do this) finds it in review and does nothing.
    assert checks.application_checks_publish(application_id=submitted.pk)
    runs = finished_tasks.wait_for(RUN, submitted.pk, count=2)
    assert [run.retval for run in runs] == ["done", "skipped"]
    target = {"target_id": str(submitted.public_id)}
    assert AuditEvent.objects.filter(action="enrollment_application.checks_completed", **target).count() == 1
    assert AuditEvent.objects.filter(action="enrollment_application.in_review", **target).count() == 1


def test_a_run_lost_in_a_broker_outage_is_published_again_by_the_sweep(redis_server, finished_tasks):
    submitted = builders.submitted_application()
    redis_server.stop()

    # The confirmation commits although the broker is down: the contact's page is not broken by it.
    confirm(submitted)
    assert status_of(submitted) == ApplicationStatus.CHECKS_RUNNING
    assert checks.application_checks_sweep() == 0  # not stale yet, and the broker still down

    redis_server.start()
    stale = timezone.now() + timedelta(seconds=settings.ENROLLMENT_CHECKS_STALE_SECONDS + 1)
    with time_machine.travel(stale, tick=False):
        assert checks.application_checks_sweep() == 1

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"
    ):
        runs = finished_tasks.wait_for(RUN, submitted.pk)
    assert [run.retval for run in runs] == ["done"]
    assert status_of(submitted) == ApplicationStatus.IN_REVIEW

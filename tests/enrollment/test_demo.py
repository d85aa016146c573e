"""The demo data: enrollments in every review state a person can look at, loaded twice without change."""

import pytest
from django.core.management import call_command

from accounts.models import Organization
from enrollment.models import ApplicationStatus, EnrollmentApplication

pytestmark = pytest.mark.django_db


def test_the_demo_has_an_enrollment_in_every_review_state_and_loads_twice(capsys):
    call_command("load_demo")
    first = capsys.readouterr().out
    statuses = set(EnrollmentApplication.objects.values_list("status", flat=True))
    # "checks running" and "resubmitted" last as long as the worker takes: the demo's worker moves them on.
    assert statuses >= set(ApplicationStatus.values) - {
        ApplicationStatus.CHECKS_RUNNING,
        ApplicationStatus.RESUBMITTED,
    }
    approved = EnrollmentApplication.objects.get(status=ApplicationStatus.APPROVED)
    assert approved.organization.kind == Organization.Kind.RESELLER
    assert approved.organization.partner_id == approved.partner_id
    counts = EnrollmentApplication.objects.count(), Organization.objects.count()

    call_command("load_demo")
    assert (EnrollmentApplication.objects.count(), Organization.objects.count()) == counts
    # The Run command prints the membership-center logins and an applicant who has not enrolled yet.
    assert "tailspin.jp" in first and "wingtip.us" in first and "applicant@demo.example" in first

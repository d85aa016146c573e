"""Two decisions on one application at the same moment, on real PostgreSQL transactions (two connections,
a barrier): exactly one decision, one audit row, and one organization or none."""

import pytest
from django.db import connection

from accounts.models import Membership, Organization
from enrollment.models import ApplicationStatus, EnrollmentApplication
from enrollment.services import applications, review
from portal.audit.models import AuditEvent
from tests.enrollment import builders
from tests.support.races import TRIALS, race

pytestmark = pytest.mark.django_db(transaction=True)

S = ApplicationStatus
DECISIONS = (
    "enrollment_application.approved",
    "enrollment_application.rejected",
    "enrollment_application.information_requested",
    "enrollment_application.withdrawn",
)


def decisions_of(application) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=str(application.public_id), action__in=DECISIONS).values_list(
            "action", flat=True
        )
    )


def organizations_of(application) -> int:
    return Organization.objects.filter(partner_id=application.partner_id).count()


def approve(application, by):
    return lambda: review.application_approve(application=application, by=by).pk


def reject(application, by):
    return lambda: (
        review.application_reject(
            application=application, by=by, reason="not_eligible", message="Not eligible."
        ).status
    )


def test_approve_racing_reject_makes_exactly_one_decision():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"
    winners = set()
    for _ in range(TRIALS):
        application = builders.application_in_review()
        first, second = builders.reviewer(), builders.reviewer()

        outcomes = race(approve(application, first), reject(application, second))

        assert sorted(kind for kind, _detail in outcomes) == ["ok", "refused"], outcomes
        assert [detail for kind, detail in outcomes if kind == "refused"] == ["invalid_transition"]
        status = EnrollmentApplication.objects.get(pk=application.pk).status
        winners.add(status)
        if outcomes[0][0] == "ok":
            assert status == S.APPROVED
            assert decisions_of(application) == ["enrollment_application.approved"]
            assert organizations_of(application) == 1
        else:
            assert status == S.REJECTED
            assert decisions_of(application) == ["enrollment_application.rejected"]
            assert organizations_of(application) == 0
    assert winners <= {S.APPROVED, S.REJECTED}


def test_two_approvals_at_once_make_one_organization():
    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        application = builders.application_in_review()
        first, second = builders.reviewer(), builders.reviewer()

        outcomes = race(approve(application, first), approve(application, second))

        assert [kind for kind, _detail in outcomes] == ["ok", "ok"], outcomes
        assert outcomes[0][1] == outcomes[1][1]  # both get the one organization
        assert organizations_of(application) == 1
        organization = Organization.objects.get(partner_id=application.partner_id)
        assert Membership.objects.filter(organization=organization).count() == 1
        assert decisions_of(application) == ["enrollment_application.approved"]
        assert (
            AuditEvent.objects.filter(
                action="organization.created", target_id=str(organization.public_id)
            ).count()
            == 1
        )


def test_withdrawal_racing_approval_has_one_outcome():
    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        application = builders.application_in_review()
        reviewer = builders.reviewer()

        outcomes = race(
            approve(application, reviewer),
            lambda application=application: (
                applications.application_withdraw(
                    application=application, applicant=application.applicant
                ).status
            ),
        )

        assert sorted(kind for kind, _detail in outcomes) == ["ok", "refused"], outcomes
        assert [detail for kind, detail in outcomes if kind == "refused"] == ["invalid_transition"]
        status = EnrollmentApplication.objects.get(pk=application.pk).status
        assert status == (S.APPROVED if outcomes[0][0] == "ok" else S.WITHDRAWN)
        assert len(decisions_of(application)) == 1
        assert organizations_of(application) == (1 if status == S.APPROVED else 0)

"""The state machine of an enrollment application: the table's shape (a way out of every live status, no
way out of a final one), and every move it refuses, tried through the services from every status, refused
with ``InvalidTransition`` and nothing changed."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.forms.models import model_to_dict
from django.utils import timezone

from accounts.models import Organization
from enrollment.models import APPLICATION_LIVE_STATUSES, ApplicationStatus, EnrollmentApplication
from enrollment.services import applications, checks, confirmation, review
from enrollment.transitions import APPLICATION_STATUS, WITHDRAWABLE
from portal.audit.models import AuditEvent
from portal.errors import DomainError, InvalidTransition
from portal.invitations.binding import InvitationUnusable
from portal.mail.models import OutboxEmail
from tests.enrollment import builders

S = ApplicationStatus
FINAL = {S.APPROVED, S.REJECTED, S.WITHDRAWN, S.EXPIRED}


# --- The table ----------------------------------------------------------------------------------------


def test_the_table_is_the_review_process():
    assert {
        status: {new for new in S.values if APPLICATION_STATUS.allows(status, new)} for status in S.values
    } == {
        S.DRAFT: {S.AWAITING_CONFIRMATION, S.WITHDRAWN, S.EXPIRED},
        S.AWAITING_CONFIRMATION: {S.CHECKS_RUNNING, S.WITHDRAWN, S.EXPIRED},
        S.CHECKS_RUNNING: {S.IN_REVIEW, S.WITHDRAWN},
        S.IN_REVIEW: {S.APPROVED, S.REJECTED, S.MORE_INFORMATION, S.WITHDRAWN},
        S.MORE_INFORMATION: {S.RESUBMITTED, S.WITHDRAWN, S.EXPIRED},
        S.RESUBMITTED: {S.IN_REVIEW, S.WITHDRAWN},
        S.APPROVED: set(),
        S.REJECTED: set(),
        S.WITHDRAWN: set(),
        S.EXPIRED: set(),
    }


@pytest.mark.parametrize("status", S.values)
def test_every_status_has_a_way_out_or_is_final(status):
    exits = {new for new in S.values if APPLICATION_STATUS.allows(status, new)}
    if status in FINAL:
        assert exits == set()
        assert status not in APPLICATION_LIVE_STATUSES
    else:
        assert exits
        assert status in APPLICATION_LIVE_STATUSES
        assert S.WITHDRAWN in exits  # the applicant may always stop


def test_every_live_status_leads_to_a_decision_and_every_status_is_reachable():
    def reachable(start):
        seen, todo = {start}, [start]
        while todo:
            current = todo.pop()
            for new in S.values:
                if APPLICATION_STATUS.allows(current, new) and new not in seen:
                    seen.add(new)
                    todo.append(new)
        return seen

    assert reachable(S.DRAFT) == set(S.values)
    for status in APPLICATION_LIVE_STATUSES:
        assert {S.APPROVED, S.REJECTED, S.WITHDRAWN} <= reachable(status)


def test_the_withdrawable_statuses_are_the_live_ones():
    assert set(WITHDRAWABLE) == set(APPLICATION_LIVE_STATUSES)


# --- Refused moves, tried from every status --------------------------------------------------------------


def application_expired():
    draft = builders.complete_draft()
    with time_machine.travel(timezone.now() + timedelta(days=settings.ENROLLMENT_DRAFT_DAYS, hours=1)):
        assert applications.applications_expire_due() == 1
    draft.refresh_from_db()
    return draft


BUILDERS = {
    S.DRAFT: builders.complete_draft,
    S.AWAITING_CONFIRMATION: builders.submitted_application,
    S.CHECKS_RUNNING: builders.application_checks_running,
    S.IN_REVIEW: builders.application_in_review,
    S.MORE_INFORMATION: builders.application_more_information,
    S.RESUBMITTED: builders.application_resubmitted,
    S.APPROVED: builders.application_approved,
    S.REJECTED: builders.application_rejected,
    S.WITHDRAWN: builders.application_withdrawn,
    S.EXPIRED: application_expired,
}


def approve(application, reviewer):
    return review.application_approve(application=application, by=reviewer)


def reject(application, reviewer):
    return review.application_reject(application=application, by=reviewer, reason="other", message="No.")


def request_information(application, reviewer):
    return review.application_information_request(
        application=application, by=reviewer, items=["legal_name"], message="Give the registered name."
    )


def resubmit(application, reviewer):
    return review.application_resubmit(application=application, applicant=application.applicant, values={})


def withdraw(application, reviewer):
    return applications.application_withdraw(application=application, applicant=application.applicant)


#: each service that moves an application, with the status it moves it to
MOVES = {
    "approve": (approve, S.APPROVED),
    "reject": (reject, S.REJECTED),
    "request_information": (request_information, S.MORE_INFORMATION),
    "resubmit": (resubmit, S.RESUBMITTED),
    "withdraw": (withdraw, S.WITHDRAWN),
}

REFUSED = [
    (status, move)
    for status in S.values
    for move, (_action, target) in MOVES.items()
    if not APPLICATION_STATUS.allows(status, target)
    # approving an approved application returns its organization (tested in test_review_services)
    and not (status == S.APPROVED and move == "approve")
]


def everything(application):
    """What a refused move must leave as it was."""
    row = EnrollmentApplication.objects.get(pk=application.pk)
    return {
        "application": model_to_dict(row, exclude=["id"]),
        "audit": AuditEvent.objects.count(),
        "emails": OutboxEmail.objects.count(),
        "organizations": Organization.objects.count(),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "move"), REFUSED)
def test_a_move_the_table_refuses_raises_invalid_transition_and_changes_nothing(status, move):
    application = BUILDERS[status]()
    assert application.status == status
    reviewer = builders.reviewer()
    action, target = MOVES[move]
    before = everything(application)

    with pytest.raises(InvalidTransition) as refused:
        action(application, reviewer)

    assert refused.value.code == "invalid_transition"
    assert refused.value.requested == APPLICATION_STATUS.label(target)
    assert refused.value.current == APPLICATION_STATUS.label(status)
    assert everything(application) == before


@pytest.mark.django_db
def test_the_named_refusals():
    """The issue's examples, spelled out."""
    reviewer = builders.reviewer()
    draft = builders.complete_draft()
    with pytest.raises(InvalidTransition):
        review.application_approve(application=draft, by=reviewer)
    approved = builders.application_approved()
    with pytest.raises(InvalidTransition):
        reject(approved, reviewer)
    with pytest.raises(InvalidTransition):
        withdraw(approved, reviewer)
    in_review = builders.application_in_review()
    with pytest.raises(InvalidTransition):
        resubmit(in_review, reviewer)
    for application, status in ((draft, S.DRAFT), (approved, S.APPROVED), (in_review, S.IN_REVIEW)):
        application.refresh_from_db()
        assert application.status == status


@pytest.mark.django_db
def test_confirming_twice_is_refused_and_changes_nothing():
    application = builders.submitted_application()
    link = builders.contact_confirmation_of(application)
    confirmation.contact_confirm(
        confirmation=link, user=None, is_the_contact=True, address_is_the_company=True
    )
    before = everything(application)

    # The link page's own refusal (the link flow shows it), a DomainError like InvalidTransition.
    with pytest.raises(InvitationUnusable) as refused:
        confirmation.contact_confirm(
            confirmation=link, user=None, is_the_contact=True, address_is_the_company=True
        )

    assert refused.value.code == "invitation_closed"
    assert everything(application) == before
    assert EnrollmentApplication.objects.get(pk=application.pk).status == S.CHECKS_RUNNING


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.DRAFT, S.AWAITING_CONFIRMATION, S.IN_REVIEW, S.APPROVED, S.WITHDRAWN])
def test_the_checks_do_nothing_outside_checks_running_and_resubmitted(status):
    application = BUILDERS[status]()
    before = everything(application)

    assert checks.application_checks_run(application_id=application.pk) == "skipped"

    assert everything(application) == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", sorted(set(S.values) - {S.DRAFT}))
def test_enroll_now_is_only_for_a_draft(status):
    application = BUILDERS[status]()
    before = everything(application)

    with pytest.raises(DomainError) as refused:
        applications.application_submit(application=application, applicant=application.applicant)

    assert refused.value.code == "not_a_draft"
    assert everything(application) == before

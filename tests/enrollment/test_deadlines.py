"""The deadline jobs, with the clock moved (time-machine): one reminder to a primary contact who has not
confirmed, expiry of what nobody finished (never confirmed, abandoned drafts, requests for information
never answered), and the reviewers' reminder once an application is past the review time in business
days of the program's country (Japan's Golden Week included)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from enrollment import tasks
from enrollment.directory.base import VerifiedTenant
from enrollment.models import ApplicationStatus, ContactConfirmation, EnrollmentApplication
from enrollment.services import applications, checks, confirmation, review
from portal.audit.models import AuditEvent
from portal.invitations.binding import InvitationUnusable
from portal.mail.models import OutboxEmail
from tests.enrollment import builders
from tests.factories.accounts import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

S = ApplicationStatus
TOKYO = ZoneInfo("Asia/Tokyo")


def at(moment: datetime):
    """The whole process's clock at ``moment``, standing still."""
    return time_machine.travel(moment, tick=False)


def status_of(application) -> str:
    return EnrollmentApplication.objects.get(pk=application.pk).status


def emails_since(count: int) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.order_by("created_at", "to")[count:])


def expired_audit(application) -> list[dict]:
    return list(
        AuditEvent.objects.filter(
            action="enrollment_application.expired", target_id=str(application.public_id)
        ).values_list("after", flat=True)
    )


def assert_tenant_and_partner_id_free(application) -> None:
    """Another applicant can take both now."""
    other = builders.draft_with_tenant(applicant=UserFactory())
    other = applications.application_tenant_set(
        application=other, applicant=other.applicant, verified=VerifiedTenant.from_dict(application.tenant)
    )
    other = applications.application_profile_choose(
        application=other,
        applicant=other.applicant,
        account=application.partner_profile.account,
        partner_id=application.partner_id,
    )
    assert (other.tenant_id, other.partner_id) == (application.tenant_id, application.partner_id)


# --- The contact's reminder -------------------------------------------------------------------------------


def test_one_reminder_with_a_new_link_after_the_reminder_time():
    submitted = builders.submitted_application()
    first_link = builders.contact_confirmation_of(submitted)
    reminder_time = submitted.submitted_at + timedelta(hours=settings.ENROLLMENT_CONTACT_REMINDER_HOURS)
    emails = OutboxEmail.objects.count()

    with at(reminder_time - timedelta(minutes=1)):
        assert confirmation.contact_confirmations_remind_due() == 0
    assert OutboxEmail.objects.count() == emails

    with at(reminder_time + timedelta(minutes=1)):
        assert confirmation.contact_confirmations_remind_due() == 1
        assert confirmation.contact_confirmations_remind_due() == 0  # the job runs again: nothing more
    with at(reminder_time + timedelta(hours=20)):
        assert confirmation.contact_confirmations_remind_due() == 0

    first_link.refresh_from_db()
    assert first_link.status == ContactConfirmation.Status.REVOKED
    new_link = ContactConfirmation.objects.get(
        application=submitted, status=ContactConfirmation.Status.PENDING
    )
    assert (new_link.email, new_link.reminded, new_link.invited_by) == ("aki@tailspin.jp", True, None)
    assert new_link.expires_at == reminder_time + timedelta(
        minutes=1, hours=settings.ENROLLMENT_CONTACT_LINK_HOURS
    )
    [reminder] = emails_since(emails)
    assert (reminder.to, reminder.template, reminder.language) == (
        "aki@tailspin.jp",
        "enrollment_contact_confirmation",
        "en",
    )
    assert reminder.subject == "Reminder: confirm the enrollment of Tailspin KK"
    assert status_of(submitted) == S.AWAITING_CONFIRMATION

    # The first link is dead; the reminder's link works.
    with pytest.raises(InvitationUnusable):
        confirmation.contact_confirm(
            confirmation=first_link, user=None, is_the_contact=True, address_is_the_company=True
        )
    assert status_of(submitted) == S.AWAITING_CONFIRMATION
    confirmation.contact_confirm(
        confirmation=new_link, user=None, is_the_contact=True, address_is_the_company=True
    )
    assert status_of(submitted) == S.CHECKS_RUNNING


def test_no_reminder_shortly_after_the_applicant_resent_the_link(settings):
    settings.ENROLLMENT_RESEND_COOLDOWN_SECONDS = 0
    submitted = builders.submitted_application()
    reminder_time = submitted.submitted_at + timedelta(hours=settings.ENROLLMENT_CONTACT_REMINDER_HOURS)
    with at(reminder_time - timedelta(hours=1)):
        confirmation.contact_confirmation_resend(application=submitted, applicant=submitted.applicant)

    with at(reminder_time + timedelta(minutes=1)):
        assert confirmation.contact_confirmations_remind_due() == 0
    with at(reminder_time + timedelta(hours=settings.ENROLLMENT_CONTACT_REMINDER_HOURS)):
        assert confirmation.contact_confirmations_remind_due() == 1


def test_no_reminder_once_the_contact_confirmed():
    running = builders.application_checks_running()
    later = running.submitted_at + timedelta(hours=settings.ENROLLMENT_CONTACT_REMINDER_HOURS + 1)

    with at(later):
        assert confirmation.contact_confirmations_remind_due() == 0

    assert not ContactConfirmation.objects.filter(application=running, reminded=True).exists()


# --- Expiry -----------------------------------------------------------------------------------------------


def test_an_application_never_confirmed_expires_and_frees_its_tenant_and_partner_id():
    submitted = builders.submitted_application()
    deadline = submitted.submitted_at + timedelta(days=settings.ENROLLMENT_CONFIRMATION_DAYS)

    # The beat task as it runs: the reminder on the way, then the expiry.
    with at(submitted.submitted_at + timedelta(hours=settings.ENROLLMENT_CONTACT_REMINDER_HOURS, minutes=1)):
        assert tasks.application_deadlines()["contact_reminded"] == 1
    with at(deadline - timedelta(minutes=1)):
        assert tasks.application_deadlines()["applications_expired"] == 0
    assert status_of(submitted) == S.AWAITING_CONFIRMATION
    emails = OutboxEmail.objects.count()

    with at(deadline + timedelta(minutes=1)):
        assert tasks.application_deadlines() == {
            "contact_reminded": 0,
            "links_expired": 0,
            "applications_expired": 1,
            "reviewers_reminded": 0,
        }
        assert applications.applications_expire_due() == 0  # run again: nothing more

    assert status_of(submitted) == S.EXPIRED
    assert expired_audit(submitted) == [{"status": "expired", "why": "contact_never_confirmed"}]
    sent = emails_since(emails)
    assert sorted((email.to, email.template) for email in sent) == sorted(
        [(submitted.applicant.email, "enrollment_status"), ("aki@tailspin.jp", "enrollment_status")]
    )
    assert_tenant_and_partner_id_free(submitted)


def test_the_links_of_an_unconfirmed_application_expire_at_their_own_time():
    submitted = builders.submitted_application()
    link = builders.contact_confirmation_of(submitted)

    with at(link.expires_at + timedelta(minutes=1)):
        assert confirmation.contact_confirmations_expire_due() == 1

    link.refresh_from_db()
    assert link.status == ContactConfirmation.Status.EXPIRED
    assert status_of(submitted) == S.AWAITING_CONFIRMATION


def test_an_abandoned_draft_expires_quietly():
    draft = builders.complete_draft()
    deadline = draft.updated_at + timedelta(days=settings.ENROLLMENT_DRAFT_DAYS)

    with at(deadline - timedelta(minutes=1)):
        assert applications.applications_expire_due() == 0
    with at(deadline + timedelta(minutes=1)):
        assert applications.applications_expire_due() == 1

    assert status_of(draft) == S.EXPIRED
    assert expired_audit(draft) == [{"status": "expired", "why": "draft_abandoned"}]
    assert not OutboxEmail.objects.exists()
    assert_tenant_and_partner_id_free(draft)


def test_a_draft_worked_on_recently_does_not_expire():
    draft = builders.draft_with_profile()
    deadline = draft.updated_at + timedelta(days=settings.ENROLLMENT_DRAFT_DAYS)
    with at(deadline - timedelta(days=1)):
        applications.application_details_set(
            application=draft, applicant=draft.applicant, values=builders.JP_DETAILS
        )

    with at(deadline + timedelta(minutes=1)):
        assert applications.applications_expire_due() == 0

    assert status_of(draft) == S.DRAFT


def test_a_request_for_information_never_answered_expires():
    asked = builders.application_more_information()
    deadline = asked.updated_at + timedelta(days=settings.ENROLLMENT_INFORMATION_DAYS)
    emails = OutboxEmail.objects.count()

    with at(deadline - timedelta(minutes=1)):
        assert applications.applications_expire_due() == 0
    with at(deadline + timedelta(minutes=1)):
        assert applications.applications_expire_due() == 1

    assert status_of(asked) == S.EXPIRED
    assert expired_audit(asked) == [{"status": "expired", "why": "information_never_given"}]
    assert sorted(email.to for email in emails_since(emails)) == sorted(
        [asked.applicant.email, "aki@tailspin.jp"]
    )
    assert_tenant_and_partner_id_free(asked)


@pytest.mark.parametrize("build", [builders.application_in_review, builders.application_checks_running])
def test_an_application_being_reviewed_never_expires(build):
    application = build()

    with at(timezone.now() + timedelta(days=400)):
        assert applications.applications_expire_due() == 0

    assert status_of(application) == application.status


# --- The reviewers' reminder -----------------------------------------------------------------------------


@pytest.fixture
def program_in_japan(settings):
    settings.PROGRAM_COUNTRY = "JP"
    settings.PROGRAM_TIME_ZONE = "Asia/Tokyo"
    settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = 3


@pytest.fixture
def reviewers():
    """Who is reminded: staff given the permission, and superusers; not the others."""
    permission = Permission.objects.get(
        content_type__app_label="enrollment", codename="review_enrollmentapplication"
    )
    allowed = builders.reviewer(email="reviewer@program.example")
    superuser = StaffFactory(email="super@program.example", is_superuser=True)
    StaffFactory(email="staff@program.example")  # no permission
    builders.reviewer(email="gone@program.example", is_active=False)
    UserFactory(email="not-staff@program.example").user_permissions.add(permission)
    return [allowed.email, superuser.email]


def in_review_before_golden_week():
    """In review since Tuesday 28 April 2026, 10:00 in Tokyo (Golden Week: 29 April, 3 to 6 May)."""
    with at(datetime(2026, 4, 28, 10, 0, tzinfo=TOKYO)):
        return builders.application_in_review()


def test_the_review_time_counts_business_days_across_golden_week(program_in_japan):
    application = in_review_before_golden_week()

    def days_at(*moment):
        return review.sla_business_days(application, now=datetime(*moment, tzinfo=TOKYO))

    assert days_at(2026, 4, 30, 10, 0) == 1  # 29 April is Showa Day
    assert days_at(2026, 5, 1, 10, 0) == 2
    assert days_at(2026, 5, 6, 23, 59) == 2  # 2 to 6 May: weekend and holidays
    assert days_at(2026, 5, 7, 10, 0) == 3
    assert days_at(2026, 5, 8, 9, 59) == 3
    assert days_at(2026, 5, 8, 10, 0) == 4


def test_reviewers_are_reminded_once_past_the_review_time_and_not_before(program_in_japan, reviewers):
    application = in_review_before_golden_week()
    emails = OutboxEmail.objects.count()

    # Three business days after a Tuesday would be Friday 1 May without the holidays; it is 7 May.
    for moment in [(2026, 5, 1, 12, 0), (2026, 5, 4, 12, 0), (2026, 5, 7, 12, 0), (2026, 5, 8, 9, 59)]:
        with at(datetime(*moment, tzinfo=TOKYO)):
            assert review.applications_sla_remind_due() == 0, moment
    assert OutboxEmail.objects.count() == emails

    with at(datetime(2026, 5, 8, 10, 1, tzinfo=TOKYO)):
        assert review.applications_sla_remind_due() == 1
        assert review.applications_sla_remind_due() == 0
    with at(datetime(2026, 5, 12, 10, 0, tzinfo=TOKYO)):
        assert tasks.application_deadlines()["reviewers_reminded"] == 0

    sent = emails_since(emails)
    assert sorted(email.to for email in sent) == sorted(reviewers)
    assert {email.template for email in sent} == {"enrollment_sla_reminder"}
    assert {email.subject for email in sent} == {"1 enrollment is past the review time"}
    for email in sent:
        assert "Tailspin KK" in email.body_text
    application.refresh_from_db()
    assert application.sla_reminded_at == datetime(2026, 5, 8, 10, 1, tzinfo=TOKYO)
    assert application.status == S.IN_REVIEW


def test_the_beat_task_reminds_the_reviewers(program_in_japan, reviewers):
    in_review_before_golden_week()

    with at(datetime(2026, 5, 8, 10, 1, tzinfo=TOKYO)):
        assert tasks.application_deadlines() == {
            "contact_reminded": 0,
            "links_expired": 0,
            "applications_expired": 0,
            "reviewers_reminded": 1,
        }

    assert OutboxEmail.objects.filter(template="enrollment_sla_reminder").count() == len(reviewers)


def test_the_review_time_stops_while_the_applicant_is_asked_and_restarts_on_return(
    program_in_japan, reviewers
):
    application = in_review_before_golden_week()
    with at(datetime(2026, 5, 8, 10, 1, tzinfo=TOKYO)):
        assert review.applications_sla_remind_due() == 1
        asked = review.application_information_request(
            application=application,
            by=User.objects.get(email=reviewers[0]),
            items=["legal_name"],
            message="Registered name?",
        )
    with at(datetime(2026, 5, 11, 10, 0, tzinfo=TOKYO)):  # Monday
        review.application_resubmit(application=asked, applicant=asked.applicant, values={})
        checks.application_checks_run(application_id=application.pk)
    application.refresh_from_db()
    assert application.review_started_at == datetime(2026, 5, 11, 10, 0, tzinfo=TOKYO)

    with at(datetime(2026, 5, 14, 10, 0, tzinfo=TOKYO)):  # three business days: not yet
        assert review.applications_sla_remind_due() == 0
    with at(datetime(2026, 5, 15, 10, 1, tzinfo=TOKYO)):  # past the review time of this new review
        assert review.applications_sla_remind_due() == 1
        assert review.applications_sla_remind_due() == 0

    assert OutboxEmail.objects.filter(template="enrollment_sla_reminder").count() == 2 * len(reviewers)


def test_nothing_waits_for_a_decision_after_one(program_in_japan, reviewers):
    application = in_review_before_golden_week()
    with at(datetime(2026, 5, 7, 12, 0, tzinfo=TOKYO)):
        review.application_approve(application=application, by=builders.reviewer())

    with at(datetime(2026, 6, 1, 10, 0, tzinfo=TOKYO)):
        assert review.applications_sla_remind_due() == 0

"""The primary contact's confirmation link: opened without an account, it shows only who asks and for
which company; both statements confirm (and start the checks after commit), "This is not right" withdraws;
a used, replaced or expired link says so (410); the link never signs anyone in."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ApplicationStatus, CheckStatus, ContactConfirmation, EnrollmentCheck
from enrollment.services import applications
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.enrollment import builders
from tests.factories.accounts import UserFactory
from tests.mail import email_text

pytestmark = pytest.mark.django_db

Status = ApplicationStatus
CONFIRM = {"is_the_contact": "on", "address_is_the_company": "on"}


@pytest.fixture
def published(monkeypatch):
    """What would reach the broker, recorded (these tests need no worker)."""
    calls = []
    monkeypatch.setattr(
        "enrollment.tasks.application_checks_run.apply_async", lambda args: calls.append(args[0])
    )
    monkeypatch.setattr(
        "portal.mail.tasks.deliver_outbox_email.apply_async", lambda args, countdown=None: None
    )
    return calls


@pytest.fixture
def submitted(published):
    applicant = UserFactory(full_name="Ken Sato", email="ken@tailspin.jp")
    return builders.submitted_application(applicant=applicant)


def raw_token(application) -> str:
    email = OutboxEmail.objects.filter(
        template="enrollment_contact_confirmation", to=application.contact_email
    ).latest("created_at")
    return re.search(r"/invitations/enrollment-contact/([^/\s]+)/", email_text(email)).group(1)


def open_link(client, application):
    landing = client.get(reverse("enrollment:confirmation_landing", kwargs={"token": raw_token(application)}))
    assert landing.status_code == 302
    assert landing["Location"] == reverse("enrollment:confirmation")
    return client.get(reverse("enrollment:confirmation"))


def text(response) -> str:
    inline = re.sub(r"</?(?:a|bdi|code|em|span|strong|time)\b[^>]*>", "", response.content.decode())
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def state_of(application) -> tuple:
    application.refresh_from_db()
    return (
        application.status,
        application.updated_at,
        list(ContactConfirmation.objects.filter(application=application).values_list("status", "decided_at")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
        EnrollmentCheck.objects.filter(application=application).count(),
    )


def test_the_page_shows_only_what_the_contact_must_see(client, submitted):
    response = open_link(client, submitted)
    assert response.status_code == 200
    words = text(response)
    assert "Confirm the enrollment of Tailspin KK" in words
    assert "Ken Sato asked to enroll this company as an indirect reseller" in words
    assert "Registered by Ken Sato ken@tailspin.jp" in words
    assert "Primary contact (you) Aki Tanaka aki@tailspin.jp" in words
    assert "The email address aki@tailspin.jp belongs to Tailspin KK." in words
    assert "I am the person who registered this enrollment, or I authorised it." in words
    body = response.content.decode()
    for secret in (
        submitted.partner_id,
        submitted.contact_phone,  # E.164
        "03-1234-5678",
        submitted.support_phone,
        "support@tailspin.jp",
        "Marunouchi",
        "100-0001",
        "Chiyoda",
        submitted.tenant_name,
        str(submitted.tenant_id),
    ):
        assert secret not in body, secret
    assert raw_token(submitted) not in body
    assert "_auth_user_id" not in client.session  # the link signs nobody in
    assert submitted.contact_confirmations.get().status == ContactConfirmation.Status.PENDING


@pytest.mark.parametrize("ticked", [{}, {"is_the_contact": "on"}, {"address_is_the_company": "on"}])
def test_confirming_needs_both_statements_and_changes_nothing_without_them(client, submitted, ticked):
    open_link(client, submitted)
    before = state_of(submitted)
    response = client.post(reverse("enrollment:confirmation_accept"), ticked)
    assert response.status_code == 400
    body = response.content.decode()
    for field in ("is_the_contact", "address_is_the_company"):
        assert (f'id="id_{field}_error"' in body) == (field not in ticked)
    assert "Tick this box to confirm, or choose “This is not right” below." in body
    assert state_of(submitted) == before
    # The link still works: the contact ticks both and confirms.
    assert client.post(reverse("enrollment:confirmation_accept"), CONFIRM).status_code == 200
    submitted.refresh_from_db()
    assert submitted.status == Status.CHECKS_RUNNING


def test_confirming_starts_the_checks_after_commit(
    client, submitted, published, django_capture_on_commit_callbacks
):
    open_link(client, submitted)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("enrollment:confirmation_accept"), CONFIRM)
        assert published == []

    assert response.status_code == 200
    assert "Thank you: the enrollment is confirmed" in text(response)
    submitted.refresh_from_db()
    assert submitted.status == Status.CHECKS_RUNNING
    assert submitted.confirmed_at is not None
    assert set(EnrollmentCheck.objects.filter(application=submitted).values_list("status", flat=True)) == {
        CheckStatus.PENDING
    }
    confirmation = submitted.contact_confirmations.get()
    assert confirmation.status == ContactConfirmation.Status.ACCEPTED
    assert confirmation.decided_by is None  # nobody was signed in
    assert published == []
    for callback in callbacks:
        callback()
    assert published == [submitted.pk]
    assert (
        AuditEvent.objects.filter(
            action="enrollment_application.contact_confirmed", target_id=str(submitted.public_id)
        ).count()
        == 1
    )
    assert "_auth_user_id" not in client.session
    # Used: the same link (still in the session or opened again) is refused.
    again = open_link(client, submitted)
    assert again.status_code == 410
    assert "This confirmation link was already used, or a newer email replaced it." in text(again)


def test_a_signed_in_user_may_confirm_too(client, submitted, published):
    someone = UserFactory()
    client.force_login(someone)
    assert open_link(client, submitted).status_code == 200
    response = client.post(reverse("enrollment:confirmation_accept"), CONFIRM)
    assert response.status_code == 200
    confirmation = submitted.contact_confirmations.get()
    assert (confirmation.status, confirmation.decided_by) == (ContactConfirmation.Status.ACCEPTED, someone)


def test_this_is_not_right_withdraws_and_tells_the_applicant(client, submitted):
    open_link(client, submitted)
    emails = OutboxEmail.objects.count()
    response = client.post(
        reverse("enrollment:confirmation_decline"), {"reason": "I do not know this company."}
    )
    assert response.status_code == 200
    assert "Thank you for telling us" in text(response)
    assert "The enrollment of Tailspin KK was withdrawn" in text(response)
    submitted.refresh_from_db()
    assert submitted.status == Status.WITHDRAWN
    confirmation = submitted.contact_confirmations.get()
    assert (confirmation.status, confirmation.reason) == (
        ContactConfirmation.Status.DECLINED,
        "I do not know this company.",
    )
    new = list(OutboxEmail.objects.order_by("created_at")[emails:])
    to_applicant = [email for email in new if email.to == "ken@tailspin.jp"]
    assert [(email.template, email.language) for email in to_applicant] == [("enrollment_status", "en")]
    assert "withdrawn" in email_text(to_applicant[0])
    assert (
        AuditEvent.objects.filter(
            action="enrollment_application.contact_declined", target_id=str(submitted.public_id)
        ).count()
        == 1
    )


def test_a_decline_reason_over_the_limit_is_refused_and_changes_nothing(client, submitted):
    open_link(client, submitted)
    before = state_of(submitted)
    response = client.post(reverse("enrollment:confirmation_decline"), {"reason": "x" * 501})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()
    assert state_of(submitted) == before


def test_an_expired_link_says_so_and_cannot_be_used(client, submitted, settings):
    with time_machine.travel(timezone.now() + timedelta(hours=settings.ENROLLMENT_CONTACT_LINK_HOURS + 1)):
        response = open_link(client, submitted)
        assert response.status_code == 410
        assert (
            "This confirmation link has expired. The person who registered the enrollment can send you a "
            "new one from its status page." in text(response)
        )
        assert 'name="is_the_contact"' not in response.content.decode()
        before = state_of(submitted)
        for action in ("enrollment:confirmation_accept", "enrollment:confirmation_decline"):
            refused = client.post(reverse(action), CONFIRM, follow=True)
            assert refused.redirect_chain == [(reverse("enrollment:confirmation"), 302)]
            assert refused.status_code == 410
            assert "This confirmation link has expired." in text(refused)
        assert state_of(submitted) == before


def test_a_link_of_a_withdrawn_application_is_no_longer_needed(client, submitted):
    applications.application_withdraw(application=submitted, applicant=submitted.applicant)
    response = open_link(client, submitted)
    assert response.status_code == 410
    assert "This enrollment no longer needs your confirmation." in text(response)
    before = state_of(submitted)
    client.post(reverse("enrollment:confirmation_accept"), CONFIRM)
    client.post(reverse("enrollment:confirmation_decline"), {})
    assert state_of(submitted) == before


def test_an_unknown_link_is_not_found(client):
    client.get(reverse("enrollment:confirmation_landing", kwargs={"token": "not-a-real-token"}))
    response = client.get(reverse("enrollment:confirmation"))
    assert response.status_code == 404
    assert "This confirmation link is not valid." in text(response)


def test_the_page_in_japanese(client, submitted):
    response = client.get(
        reverse("enrollment:confirmation_landing", kwargs={"token": raw_token(submitted)}),
        follow=True,
        headers={"accept-language": "ja"},
    )
    assert response.status_code == 200
    assert '<html lang="ja">' in response.content.decode()

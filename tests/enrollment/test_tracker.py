"""The applicant's pages after **Enroll now**: the status tracker, resending the contact's email,
withdrawing, answering a reviewer with a document, downloading it; and another user's application on
every one of these routes is a 404 that changes nothing."""

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from enrollment.models import (
    ApplicationDocument,
    ApplicationStatus,
    ContactConfirmation,
    EnrollmentApplication,
    InformationItem,
)
from enrollment.services import review
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.enrollment import builders
from tests.factories.accounts import UserFactory
from tests.mail import email_text

pytestmark = pytest.mark.django_db

Status = ApplicationStatus
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 64
    + b"This program cannot be run"
)
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """What would reach the broker is recorded instead (these tests need no worker)."""
    monkeypatch.setattr("enrollment.tasks.application_checks_run.apply_async", lambda args: None)
    monkeypatch.setattr(
        "portal.mail.tasks.deliver_outbox_email.apply_async", lambda args, countdown=None: None
    )


def page(client, application, name="enrollment:application", **kwargs):
    return client.get(reverse(name, kwargs={"application_id": application.public_id, **kwargs}))


def url(name, application, **kwargs):
    return reverse(name, kwargs={"application_id": application.public_id, **kwargs})


def text(response) -> str:
    """The page's words, without markup, spaces collapsed."""
    inline = re.sub(r"</?(?:a|bdi|code|em|span|strong|time)\b[^>]*>", "", response.content.decode())
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def signed_in(client, application):
    client.force_login(application.applicant)
    return client


def steps(response) -> list[tuple[str, str]]:
    """The tracker's steps: (label, state) in order."""
    body = response.content.decode()
    found = re.findall(
        r'class="tracker-step tracker-step--(\w+)".*?<span class="tracker-step__label">([^<]+)</span>',
        body,
        re.S,
    )
    return [(label, state) for state, label in found]


def state_of(application: EnrollmentApplication) -> tuple:
    application.refresh_from_db()
    return (
        application.status,
        application.updated_at,
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
        ContactConfirmation.objects.filter(application=application, status="pending").count(),
        ApplicationDocument.objects.count(),
    )


# --- The tracker, status by status ---------------------------------------------------------------------


def test_a_draft_opens_its_wizard_instead(client):
    draft = builders.complete_draft()
    response = page(signed_in(client, draft), draft)
    assert response.status_code == 302
    assert response["Location"] == url("enrollment:review", draft)


def test_awaiting_confirmation_says_to_whom_the_email_went_and_holds_resend_during_the_cool_down(
    client, settings
):
    settings.ENROLLMENT_RESEND_COOLDOWN_SECONDS = 120
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        submitted = builders.submitted_application()
        traveller.shift(timedelta(seconds=30))
        response = page(signed_in(client, submitted), submitted)

    assert response.status_code == 200
    words = text(response)
    assert "Tailspin KK" in words
    assert "Awaiting contact confirmation" in words
    assert "We emailed the primary contact, Aki Tanaka (aki@tailspin.jp)" in words
    assert "You can send it again in 90 seconds." in words
    body = response.content.decode()
    assert re.search(r'<button type="submit" class="button button--secondary" disabled[^>]*>Resend', body)
    assert f'action="{url("enrollment:resend", submitted)}"' in body
    assert f'href="{url("enrollment:withdraw", submitted)}"' in body
    assert steps(response) == [
        ("Submitted", "done"),
        ("Confirmation by the primary contact", "current"),
        ("Automated checks", "upcoming"),
        ("Review", "upcoming"),
        ("Decision", "upcoming"),
    ]
    assert "Enrollment submitted" in words  # the history, labelled from the audit catalogue
    assert "enrollment_application.submitted" not in body


def test_after_the_cool_down_the_resend_button_is_enabled(client, settings):
    settings.ENROLLMENT_RESEND_COOLDOWN_SECONDS = 120
    submitted = builders.submitted_application()
    with time_machine.travel(timezone.now() + timedelta(seconds=121)):
        response = page(signed_in(client, submitted), submitted)
    body = response.content.decode()
    assert (
        '<button type="submit" class="button button--secondary">Resend the confirmation email</button>'
        in body
    )
    assert "You can send it again" not in body


def test_checks_running_shows_each_check_pending_and_a_refresh_link(client):
    running = builders.application_checks_running()
    response = page(signed_in(client, running), running)
    words = text(response)
    assert "The automated checks are running" in words
    assert words.count("Not checked yet.") == 5
    assert steps(response)[1:3] == [
        ("Confirmation by the primary contact", "done"),
        ("Automated checks", "current"),
    ]
    assert 'http-equiv="refresh"' not in response.content.decode()  # no timed refresh (WCAG 2.2.1)


def test_in_review_shows_the_checks_their_fixes_and_business_days_in_review(client, settings):
    settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = 3
    # Monday 2 March 2026, 10:00 in Tokyo; the contact's address is on no domain of the company.
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO), tick=False) as traveller:
        in_review = builders.application_in_review(details={"contact_email": "aki@unrelated-firm.jp"})
        traveller.move_to(datetime(2026, 3, 6, 11, 0, tzinfo=TOKYO))  # Friday: four business days later
        response = page(signed_in(client, in_review), in_review)

    words = text(response)
    assert "a program reviewer is looking at your enrollment" in words
    assert re.search(r"<dt>Business days in review</dt><dd>4</dd>", response.content.decode())
    assert re.search(r"<dt>Our target, in business days</dt><dd>3</dd>", response.content.decode())
    assert "This is taking longer than our target." in words
    assert "Employment Needs attention" in words
    assert (
        "The primary contact's address is neither on a verified domain of the tenant nor on the "
        "website's domain." in words
    )
    assert (
        "What to do: Give a primary contact whose address is on one of your tenant's verified domains or on "
        "your website's domain" in words
    )
    assert (
        "Country match Passed The tenant, the partner profile and the address are in the same country."
        in words
    )
    assert words.count("What to do:") == 1  # passed checks have nothing to do
    assert steps(response)[2:] == [
        ("Automated checks", "done"),
        ("Review", "current"),
        ("Decision", "upcoming"),
    ]
    assert "Automated checks completed" in words
    assert "Primary contact confirmed" in words


def test_within_the_target_no_delay_is_announced(client, settings):
    settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = 3
    in_review = builders.application_in_review()
    response = page(signed_in(client, in_review), in_review)
    assert re.search(r"<dt>Business days in review</dt><dd>0</dd>", response.content.decode())
    assert "longer than our target" not in text(response)


def test_more_information_shows_the_reviewers_message_what_is_asked_and_the_way_to_answer(client):
    asked = builders.application_more_information(
        items=(InformationItem.SUPPORT_CONTACT, InformationItem.DOCUMENT),
        message="Send the register extract.",
    )
    response = page(signed_in(client, asked), asked)
    words = text(response)
    assert "More information requested" in words
    assert "Send the register extract." in words
    assert "Customer support contact" in words
    assert "A document (for example a certificate of registration)" in words
    assert f'href="{url("enrollment:respond", asked)}"' in response.content.decode()
    assert ("Review", "attention") in steps(response)
    assert "Program reviewer" in words  # the reviewer by role, never by address
    assert (
        "@" not in re.search(r'<ol class="tracker-history">.*?</ol>', response.content.decode(), re.S).group()
    )


def test_rejected_shows_the_reason_and_the_message_and_no_withdraw(client):
    rejected = builders.application_rejected()
    response = page(signed_in(client, rejected), rejected)
    words = text(response)
    assert "Your enrollment was not approved." in words
    assert "Reason Other" in words
    assert "Message from the reviewer Not this time." in words
    assert ("Decision", "rejected") in steps(response)
    assert url("enrollment:withdraw", rejected) not in response.content.decode()


def test_approved_links_to_the_new_organizations_dashboard(client):
    approved = builders.application_approved()
    response = page(signed_in(client, approved), approved)
    dashboard = reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": approved.organization.public_id}
    )
    assert f'href="{dashboard}"' in response.content.decode()
    assert "Tailspin KK is now an indirect reseller of the program" in text(response)
    assert ("Decision", "approved") in steps(response)
    assert url("enrollment:withdraw", approved) not in response.content.decode()


def test_the_tracker_speaks_japanese(client):
    in_review = builders.application_in_review()
    in_review.applicant.preferred_language = "ja"
    in_review.applicant.save(update_fields=["preferred_language"])
    response = page(signed_in(client, in_review), in_review)
    assert response.status_code == 200
    assert '<html lang="ja">' in response.content.decode()


# --- Resend ----------------------------------------------------------------------------------------------


def confirmation_links(application) -> list[str]:
    tokens = []
    for email in OutboxEmail.objects.filter(
        to=application.contact_email, template="enrollment_contact_confirmation"
    ).order_by("created_at"):
        tokens += re.findall(r"/invitations/enrollment-contact/([^/\s]+)/", email_text(email))
    return tokens


def test_resend_during_the_cool_down_is_refused_and_sends_nothing(client, settings):
    settings.ENROLLMENT_RESEND_COOLDOWN_SECONDS = 120
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        submitted = builders.submitted_application()
        before = state_of(submitted)
        traveller.shift(timedelta(seconds=20))
        response = signed_in(client, submitted).post(url("enrollment:resend", submitted), follow=True)

    assert response.redirect_chain == [(url("enrollment:application", submitted), 302)]
    assert "A new confirmation email can be sent in 100 seconds." in text(response)
    assert state_of(submitted) == before
    assert len(confirmation_links(submitted)) == 1


def test_resend_after_the_cool_down_sends_a_new_link_and_the_old_one_is_dead(client, settings):
    settings.ENROLLMENT_RESEND_COOLDOWN_SECONDS = 120
    submitted = builders.submitted_application()
    [old_token] = confirmation_links(submitted)
    old = ContactConfirmation.objects.get(application=submitted)

    with time_machine.travel(timezone.now() + timedelta(seconds=121)):
        response = signed_in(client, submitted).post(url("enrollment:resend", submitted), follow=True)

    assert (
        "A new confirmation email is on its way to aki@tailspin.jp; the earlier link no longer works."
        in text(response)
    )
    first, second = confirmation_links(submitted)
    assert first == old_token != second
    old.refresh_from_db()
    assert old.status == ContactConfirmation.Status.REVOKED
    assert ContactConfirmation.objects.filter(application=submitted, status="pending").count() == 1

    client.logout()
    client.get(reverse("enrollment:confirmation_landing", kwargs={"token": old_token}))
    dead = client.get(reverse("enrollment:confirmation"))
    assert dead.status_code == 410
    assert "This confirmation link was already used, or a newer email replaced it." in text(dead)
    client.get(reverse("enrollment:confirmation_landing", kwargs={"token": second}))
    assert client.get(reverse("enrollment:confirmation")).status_code == 200


def test_resend_once_confirmed_is_refused(client):
    running = builders.application_checks_running()
    before = state_of(running)
    response = signed_in(client, running).post(url("enrollment:resend", running), follow=True)
    assert "This application is not waiting for its primary contact any more." in text(response)
    assert state_of(running) == before


# --- Withdraw ----------------------------------------------------------------------------------------------


def test_withdraw_asks_first_then_frees_the_tenant_and_partner_id(client):
    in_review = builders.application_in_review()
    before = state_of(in_review)
    confirm = page(signed_in(client, in_review), in_review, "enrollment:withdraw")
    assert confirm.status_code == 200
    words = text(confirm)
    assert "Withdraw the enrollment of Tailspin KK?" in words
    assert (
        f"The tenant {in_review.tenant_name} and the partner ID {in_review.partner_id} become free" in words
    )
    assert state_of(in_review) == before  # the GET changed nothing

    response = client.post(url("enrollment:withdraw", in_review), follow=True)
    assert response.redirect_chain == [(url("enrollment:application", in_review), 302)]
    in_review.refresh_from_db()
    assert in_review.status == Status.WITHDRAWN
    words = text(response)
    assert "Your enrollment was withdrawn." in words
    assert "Its tenant and partner ID are free to use in a new enrollment." in words
    assert f'href="{reverse("enrollment:start")}"' in response.content.decode()
    assert (
        AuditEvent.objects.filter(
            action="enrollment_application.withdrawn",
            target_id=str(in_review.public_id),
            actor=in_review.applicant,
        ).count()
        == 1
    )
    assert ("Review", "stopped") in steps(response)


def test_a_decided_application_cannot_be_withdrawn(client):
    approved = builders.application_approved()
    before = state_of(approved)
    confirm = page(signed_in(client, approved), approved, "enrollment:withdraw")
    assert "This enrollment can no longer be withdrawn: it is Approved." in text(confirm)
    assert "button--danger" not in confirm.content.decode()
    response = client.post(url("enrollment:withdraw", approved), follow=True)
    assert "This action is no longer possible: the item is Approved." in text(response)
    assert state_of(approved) == before


# --- Answering a reviewer -------------------------------------------------------------------------------


@pytest.fixture
def asked():
    """Asked for the customer support contact and a document."""
    return builders.application_more_information(
        items=(InformationItem.SUPPORT_CONTACT, InformationItem.DOCUMENT),
        message="Send the register extract.",
    )


def upload(client, application, name, content, content_type="application/pdf"):
    return client.post(
        url("enrollment:respond", application),
        {"action": "upload", "document": SimpleUploadedFile(name, content, content_type=content_type)},
    )


SUPPORT = {
    "support_email": "help@tailspin.jp",
    "support_phone": "03-1234-0000",
    "support_website": "https://www.tailspin.jp/help",
}


def test_the_answer_page_shows_the_request_and_only_the_fields_asked_about(client, asked):
    response = page(signed_in(client, asked), asked, "enrollment:respond")
    assert response.status_code == 200
    body = re.search(r"<main.*</main>", response.content.decode(), re.S).group()
    assert "Send the register extract." in text(response)
    assert 'enctype="multipart/form-data"' in body
    assert set(re.findall(r'<input[^>]* name="(\w+)"', body)) - {"csrfmiddlewaretoken"} == {
        "document",
        "support_email",
        "support_phone",
        "support_website",
    }
    assert 'value="support@tailspin.jp"' in body
    assert 'name="action" value="upload"' in body
    assert 'name="action" value="resubmit"' in body


def test_upload_a_pdf_and_a_png_then_resubmit_with_a_corrected_field(client, asked):
    signed_in(client, asked)
    response = upload(client, asked, "register.pdf", PDF)
    assert response.status_code == 302
    assert response["Location"] == url("enrollment:respond", asked)
    assert upload(client, asked, "stamp.png", PNG, "image/png").status_code == 302

    documents = list(ApplicationDocument.objects.filter(application=asked).order_by("uploaded_at", "id"))
    assert [(d.original_name, d.content_type, d.size, d.uploaded_by) for d in documents] == [
        ("register.pdf", "application/pdf", len(PDF), asked.applicant),
        ("stamp.png", "image/png", len(PNG), asked.applicant),
    ]
    listed = page(client, asked, "enrollment:respond")
    for document in documents:
        assert f'href="{url("enrollment:document", asked, document_id=document.public_id)}"' in (
            listed.content.decode()
        )
    assert "register.pdf was uploaded." in text(listed)

    response = client.post(url("enrollment:respond", asked), {"action": "resubmit", **SUPPORT})
    assert response.status_code == 302
    assert response["Location"] == url("enrollment:application", asked)
    asked.refresh_from_db()
    assert asked.status == Status.RESUBMITTED
    assert (asked.support_email, asked.support_phone, asked.support_website) == (
        "help@tailspin.jp",
        "+81312340000",
        "https://www.tailspin.jp/help",
    )
    assert asked.legal_name == "Tailspin KK"
    event = AuditEvent.objects.get(
        action="enrollment_application.resubmitted", target_id=str(asked.public_id)
    )
    assert event.after == {
        "status": "resubmitted",
        "fields": ["support_email", "support_phone", "support_website"],
    }


@pytest.mark.parametrize(
    ("name", "content"),
    [("register.pdf", HTML), ("register.pdf", EXE), ("register.png", b"just some text, not an image")],
)
def test_a_file_named_like_a_pdf_but_not_one_is_refused(client, asked, name, content):
    before = state_of(asked)
    response = upload(signed_in(client, asked), asked, name, content)
    assert response.status_code == 400
    assert re.search(
        r'id="id_document_error"[^>]*>\s*<p>Upload a PDF, PNG or JPEG file. This file is not one of those, '
        r"whatever its name says.</p>",
        response.content.decode(),
    )
    assert state_of(asked) == before


def test_a_file_over_the_limit_is_refused(client, asked, settings):
    settings.ENROLLMENT_DOCUMENT_MAX_BYTES = 20
    before = state_of(asked)
    response = upload(signed_in(client, asked), asked, "register.pdf", PDF)
    assert response.status_code == 400
    assert (
        f"The file is {len(PDF)}\xa0bytes; upload a file of at most 20\xa0bytes." in response.content.decode()
    )
    assert state_of(asked) == before


def test_resubmit_without_the_document_asked_for_is_refused_at_the_upload_field(client, asked):
    before = state_of(asked)
    response = signed_in(client, asked).post(
        url("enrollment:respond", asked), {"action": "resubmit", **SUPPORT}
    )
    assert response.status_code == 400
    assert re.search(
        r'id="id_document_error"[^>]*>\s*<p>Upload the document the reviewer asked for before you '
        r"resubmit.</p>",
        response.content.decode(),
    )
    assert 'value="help@tailspin.jp"' in response.content.decode()  # what was typed is kept
    assert state_of(asked) == before
    asked.refresh_from_db()
    assert asked.support_email == "support@tailspin.jp"


def test_resubmit_with_invalid_fields_shows_each_error_and_saves_nothing(client, asked):
    upload(signed_in(client, asked), asked, "register.pdf", PDF)
    before = state_of(asked)
    response = client.post(
        url("enrollment:respond", asked),
        {
            "action": "resubmit",
            "support_email": "not-an-address",
            "support_phone": "12",
            "support_website": "",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    for field in ("support_email", "support_phone", "support_website"):
        assert f'id="id_{field}_error"' in body
    assert "Enter the website customers visit for support." in body
    assert state_of(asked) == before


def test_the_answer_page_is_only_for_an_application_asked_for_more_information(client):
    in_review = builders.application_in_review()
    before = state_of(in_review)
    response = signed_in(client, in_review).post(
        url("enrollment:respond", in_review),
        {"action": "upload", "document": SimpleUploadedFile("a.pdf", PDF)},
        follow=True,
    )
    assert response.redirect_chain == [(url("enrollment:application", in_review), 302)]
    assert "This enrollment is not waiting for more information from you." in text(response)
    assert state_of(in_review) == before


# --- Documents ----------------------------------------------------------------------------------------------


def test_the_owner_downloads_a_document_exactly_as_uploaded(client, asked):
    document = review.application_document_add(
        application=asked,
        applicant=asked.applicant,
        file=SimpleUploadedFile("Register extract.pdf", PDF, content_type="text/html"),
    )
    response = page(signed_in(client, asked), asked, "enrollment:document", document_id=document.public_id)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"  # the type found in the content, not the header sent
    assert response["Content-Disposition"] == 'attachment; filename="Register extract.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_a_document_is_not_served_to_another_user_or_under_another_application(client, asked):
    document = review.application_document_add(
        application=asked, applicant=asked.applicant, file=SimpleUploadedFile("register.pdf", PDF)
    )
    client.force_login(UserFactory())
    assert page(client, asked, "enrollment:document", document_id=document.public_id).status_code == 404

    # The other user's own application, with the owner's document id: still not found.
    other = builders.application_more_information(items=(InformationItem.DOCUMENT,), applicant=UserFactory())
    client.force_login(other.applicant)
    assert page(client, other, "enrollment:document", document_id=document.public_id).status_code == 404


# --- Another user's application --------------------------------------------------------------------------


def test_another_users_application_is_a_404_on_every_route_and_nothing_changes(client, asked, settings):
    settings.ENROLLMENT_RESEND_COOLDOWN_SECONDS = 0
    awaiting = builders.submitted_application()
    document = review.application_document_add(
        application=asked, applicant=asked.applicant, file=SimpleUploadedFile("register.pdf", PDF)
    )
    before = (state_of(asked), state_of(awaiting))
    client.force_login(UserFactory())

    for application in (asked, awaiting):
        requests = [
            ("get", url("enrollment:application", application), {}),
            ("post", url("enrollment:resend", application), {}),
            ("get", url("enrollment:withdraw", application), {}),
            ("post", url("enrollment:withdraw", application), {}),
            ("get", url("enrollment:respond", application), {}),
            ("post", url("enrollment:respond", application), {"action": "resubmit", **SUPPORT}),
            (
                "post",
                url("enrollment:respond", application),
                {"action": "upload", "document": SimpleUploadedFile("x.pdf", PDF)},
            ),
            ("get", url("enrollment:document", application, document_id=document.public_id), {}),
        ]
        for method, address, data in requests:
            response = getattr(client, method)(address, data)
            assert response.status_code == 404, (method, address)
            assert b"Tailspin" not in response.content

    assert (state_of(asked), state_of(awaiting)) == before


# --- The welcome page's enrollment card -------------------------------------------------------------------


def test_the_welcome_page_continues_a_draft(client):
    draft = builders.complete_draft()
    response = signed_in(client, draft).get(reverse("accounts:no_organization"))
    body = response.content.decode()
    assert "Continue your enrollment" in text(response)
    assert f'href="{url("enrollment:review", draft)}"' in body
    assert f'href="{reverse("enrollment:start")}"' not in body


def test_the_welcome_page_shows_the_open_application_and_past_ones(client):
    applicant = UserFactory()
    withdrawn = builders.application_withdrawn(applicant=applicant, details={"legal_name": "Old Name KK"})
    asked = builders.application_more_information(applicant=applicant)
    client.force_login(applicant)
    response = client.get(reverse("accounts:no_organization"))
    words = text(response)
    body = response.content.decode()
    assert "Tailspin KK More information requested" in words
    assert "A program reviewer needs more information before they can decide." in words
    assert f'href="{url("enrollment:application", asked)}"' in body
    assert "Earlier enrollments Old Name KK Withdrawn" in words
    assert f'href="{url("enrollment:application", withdrawn)}"' in body


def test_the_welcome_page_without_applications_offers_enroll_now(client):
    client.force_login(UserFactory())
    response = client.get(reverse("accounts:no_organization"))
    assert (
        f'<a class="button" href="{reverse("enrollment:start")}">Enroll now</a>' in response.content.decode()
    )
    assert "Earlier enrollments" not in text(response)

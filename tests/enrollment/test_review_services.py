"""The reviewers' decisions and the applicant's answer: approval provisions the reseller (once), rejection
and requests for information need their reason and message, the answer changes only what was asked (a
document first when one was asked for), and only program reviewers decide. Then the new Global admin's one
click into the Admin agent group."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.utils import timezone, translation

from accounts.models import DirectoryTenant, DirectoryTenantSource, Membership, MembershipRole, Organization
from accounts.roles import Role
from accounts.services.memberships import membership_admin_agent_join
from enrollment.directory.base import DirectoryAdmin, VerifiedTenant
from enrollment.models import (
    ApplicationDocument,
    ApplicationStatus,
    CheckStatus,
    EnrollmentApplication,
    EnrollmentCheck,
    InformationItem,
    RejectionReason,
)
from enrollment.services import applications, checks, confirmation, review
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from tests.enrollment import builders
from tests.factories.accounts import MembershipFactory, StaffFactory, UserFactory
from tests.factories.enrollment import PartnerProfileFactory

pytestmark = pytest.mark.django_db

S = ApplicationStatus
#: a tiny PDF of one empty page
TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n163\n%%EOF\n"
)


def everything(application) -> dict:
    """What a refused call must leave as it was."""
    return {
        "application": model_to_dict(EnrollmentApplication.objects.get(pk=application.pk), exclude=["id"]),
        "audit": AuditEvent.objects.count(),
        "emails": OutboxEmail.objects.count(),
        "organizations": Organization.objects.count(),
        "memberships": Membership.objects.count(),
        "documents": ApplicationDocument.objects.count(),
    }


def new_emails(count: int) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.order_by("created_at", "to")[count:])


@pytest.fixture
def reviewer():
    return builders.reviewer(email="reviewer@program.example")


@pytest.fixture
def in_review():
    return builders.application_in_review()


# --- Approval -------------------------------------------------------------------------------------------


def test_approval_provisions_the_reseller_with_the_built_in_tenant(in_review, reviewer):
    tenant = DirectoryTenant.objects.get(tenant_id=in_review.tenant_id)
    tenants = DirectoryTenant.objects.count()
    emails = OutboxEmail.objects.count()

    organization = review.application_approve(application=in_review, by=reviewer)

    organization = Organization.objects.get(pk=organization.pk)
    assert {
        "kind": organization.kind,
        "legal_name": organization.legal_name,
        "country": organization.country.code,
        "address_line1": organization.address_line1,
        "address_line2": organization.address_line2,
        "city": organization.city,
        "region": organization.region,
        "postal_code": organization.postal_code,
        "support_email": organization.support_email,
        "support_phone": organization.support_phone,
        "support_website": organization.support_website,
        "partner_id": organization.partner_id,
        "status": organization.status,
    } == {
        "kind": Organization.Kind.RESELLER,
        "legal_name": "Tailspin KK",
        "country": "JP",
        "address_line1": "1-1 Marunouchi",
        "address_line2": "",
        "city": "Chiyoda-ku",
        "region": "13",
        "postal_code": "100-0001",
        "support_email": "support@tailspin.jp",
        "support_phone": "+81312345679",
        "support_website": "https://www.tailspin.jp",
        "partner_id": in_review.partner_id,
        "status": Organization.Status.ACTIVE,
    }
    assert organization.directory_tenant_id == tenant.pk
    assert DirectoryTenant.objects.count() == tenants
    membership = Membership.objects.get(organization=organization)
    assert (membership.user_id, membership.status, membership.role_names) == (
        in_review.applicant_id,
        Membership.Status.ACTIVE,
        [Role.GLOBAL_ADMIN],
    )
    approved = EnrollmentApplication.objects.get(pk=in_review.pk)
    assert (approved.status, approved.organization_id, approved.decided_by_id) == (
        S.APPROVED,
        organization.pk,
        reviewer.pk,
    )
    assert approved.decided_at is not None
    decision = AuditEvent.objects.get(action="enrollment_application.approved")
    assert (decision.actor_id, decision.before, decision.after) == (
        reviewer.pk,
        {"status": "in_review"},
        {"status": "approved", "organization": str(organization.public_id)},
    )
    sent = new_emails(emails)
    assert sorted(email.to for email in sent) == sorted([in_review.applicant.email, "aki@tailspin.jp"])
    assert {email.subject for email in sent} == {"Enrollment approved: Tailspin KK"}


def test_approving_twice_returns_the_same_organization(in_review, reviewer):
    first = review.application_approve(application=in_review, by=reviewer)
    emails = OutboxEmail.objects.count()

    second = review.application_approve(application=in_review, by=builders.reviewer())

    assert second.pk == first.pk
    assert Organization.objects.count() == 1
    assert Membership.objects.filter(organization=first).count() == 1
    assert AuditEvent.objects.filter(action="enrollment_application.approved").count() == 1
    assert AuditEvent.objects.filter(action="organization.created").count() == 1
    assert OutboxEmail.objects.count() == emails


def entra_application_in_review() -> EnrollmentApplication:
    """An application whose tenant was verified by Microsoft Entra ID (no DirectoryTenant row yet)."""
    applicant = UserFactory()
    draft = applications.application_draft_start(applicant=applicant)
    verified = VerifiedTenant(
        tenant_id=uuid.uuid4(),
        display_name="Tailspin Toys",
        verified_domains=["tailspin.jp", "tailspintoys.onmicrosoft.com"],
        country="JP",
        source=DirectoryTenantSource.ENTRA,
        admin=DirectoryAdmin(
            object_id=uuid.uuid4(),
            user_principal_name="admin@tailspin.jp",
            email="admin@tailspin.jp",
            display_name="Aki Tanaka",
        ),
    )
    draft = applications.application_tenant_set(application=draft, applicant=applicant, verified=verified)
    profile = PartnerProfileFactory(country="JP")
    draft = applications.application_profile_choose(
        application=draft, applicant=applicant, account=profile.account, partner_id=profile.partner_id
    )
    draft = applications.application_details_set(
        application=draft, applicant=applicant, values=builders.JP_DETAILS, contact_language="en"
    )
    submitted = applications.application_submit(application=draft, applicant=applicant)
    confirmation.contact_confirm(
        confirmation=builders.contact_confirmation_of(submitted),
        user=None,
        is_the_contact=True,
        address_is_the_company=True,
    )
    checks.application_checks_run(application_id=submitted.pk)
    submitted.refresh_from_db()
    return submitted


def test_approval_records_an_entra_tenant_with_its_facts(reviewer):
    application = entra_application_in_review()
    assert application.tenant_source == "entra"
    assert not DirectoryTenant.objects.filter(tenant_id=application.tenant_id).exists()
    assert (
        EnrollmentCheck.objects.get(application=application, kind="employment").reason_code == "tenant_domain"
    )

    organization = review.application_approve(application=application, by=reviewer)

    tenant = DirectoryTenant.objects.get(tenant_id=application.tenant_id)
    assert (tenant.name, tenant.verified_domains, tenant.country.code, tenant.source) == (
        "Tailspin Toys",
        ["tailspin.jp", "tailspintoys.onmicrosoft.com"],
        "JP",
        DirectoryTenantSource.ENTRA,
    )
    assert Organization.objects.get(pk=organization.pk).directory_tenant_id == tenant.pk
    assert Membership.objects.get(organization=organization).user_id == application.applicant_id


# --- Rejection ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "message", "code", "field"),
    [
        ("", "Not eligible.", "reason_required", "reason"),
        ("because", "Not eligible.", "reason_required", "reason"),
        ("other", "", "message_required", "message"),
        ("other", "   \n  ", "message_required", "message"),
        ("other", "Line one\x00", "control_characters", "message"),
        ("other", "x" * 2001, "message_too_long", "message"),
    ],
)
def test_rejection_needs_a_reason_and_a_message(in_review, reviewer, reason, message, code, field):
    before = everything(in_review)

    with pytest.raises(DomainError) as refused:
        review.application_reject(application=in_review, by=reviewer, reason=reason, message=message)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert everything(in_review) == before


def test_rejection_records_the_reason_and_tells_the_applicant_in_their_language(reviewer):
    applicant = UserFactory(preferred_language="ja")
    application = builders.application_in_review(applicant=applicant)
    emails = OutboxEmail.objects.count()

    rejected = review.application_reject(
        application=application,
        by=reviewer,
        reason=RejectionReason.NOT_ELIGIBLE,
        message="  Resellers must have a Japanese registration.\nSee the program guide.  ",
    )

    row = EnrollmentApplication.objects.get(pk=application.pk)
    assert (row.status, row.rejection_reason, row.reviewer_message, row.decided_by_id) == (
        S.REJECTED,
        "not_eligible",
        "Resellers must have a Japanese registration.\nSee the program guide.",
        reviewer.pk,
    )
    assert rejected.organization_id is None
    assert not Organization.objects.exists()
    event = AuditEvent.objects.get(action="enrollment_application.rejected")
    assert (event.actor_id, event.after) == (reviewer.pk, {"status": "rejected", "reason": "not_eligible"})
    sent = {email.to: email for email in new_emails(emails)}
    assert set(sent) == {applicant.email, "aki@tailspin.jp"}
    assert (sent[applicant.email].language, sent["aki@tailspin.jp"].language) == ("ja", "en")
    for to, language in ((applicant.email, "ja"), ("aki@tailspin.jp", "en")):
        with translation.override(language):
            assert str(RejectionReason.NOT_ELIGIBLE.label) in sent[to].body_text
        assert "Resellers must have a Japanese registration." in sent[to].body_text


# --- Requests for information -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "message", "code"),
    [
        ([], "Tell us more.", "items_required"),
        (["bogus"], "Tell us more.", "items_required"),
        (["legal_name", "bogus"], "Tell us more.", "items_required"),
        (["legal_name"], "", "message_required"),
    ],
)
def test_an_information_request_needs_valid_items_and_a_message(in_review, reviewer, items, message, code):
    before = everything(in_review)

    with pytest.raises(DomainError) as refused:
        review.application_information_request(
            application=in_review, by=reviewer, items=items, message=message
        )

    assert refused.value.code == code
    assert everything(in_review) == before


def test_an_information_request_asks_the_applicant(in_review, reviewer):
    emails = OutboxEmail.objects.count()

    asked = review.application_information_request(
        application=in_review,
        by=reviewer,
        items=["document", "legal_name", "document"],
        message="Send the certificate of registration.",
    )

    row = EnrollmentApplication.objects.get(pk=in_review.pk)
    assert (row.status, row.information_items, row.reviewer_message) == (
        S.MORE_INFORMATION,
        ["legal_name", "document"],
        "Send the certificate of registration.",
    )
    assert asked.get_information_items_display() == [
        "Legal name",
        "A document (for example a certificate of registration)",
    ]
    assert review.answer_fields(row) == ("legal_name",)
    sent = new_emails(emails)
    assert {email.subject for email in sent} == {"More information needed: Tailspin KK"}
    assert sorted(email.to for email in sent) == sorted([in_review.applicant.email, "aki@tailspin.jp"])


def test_the_answer_fields_follow_the_items():
    application = builders.application_more_information(
        items=[InformationItem.ADDRESS, InformationItem.PRIMARY_CONTACT, InformationItem.SUPPORT_CONTACT]
    )
    assert review.answer_fields(application) == (
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "contact_name",
        "contact_email",
        "contact_phone",
        "support_email",
        "support_phone",
        "support_website",
    )


# --- The answer -----------------------------------------------------------------------------------------


def test_the_answer_changes_only_the_fields_asked_about_then_the_checks_run_again():
    asked = builders.application_more_information(items=[InformationItem.LEGAL_NAME])
    first_review = asked.review_started_at

    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        resubmitted = review.application_resubmit(
            application=asked,
            applicant=asked.applicant,
            values={
                "legal_name": "  Tailspin Japan KK ",
                "city": "Osaka",  # not asked: ignored
                "contact_email": "someone@else.example",  # not asked: ignored
            },
        )
        row = EnrollmentApplication.objects.get(pk=asked.pk)
        assert (row.status, row.legal_name, row.city, row.contact_email) == (
            S.RESUBMITTED,
            "Tailspin Japan KK",
            "Chiyoda-ku",
            "aki@tailspin.jp",
        )
        event = AuditEvent.objects.get(action="enrollment_application.resubmitted")
        assert (event.actor_id, event.after) == (
            asked.applicant_id,
            {"status": "resubmitted", "fields": ["legal_name"]},
        )
        assert set(EnrollmentCheck.objects.filter(application=row).values_list("status", flat=True)) == {
            CheckStatus.PENDING
        }

        assert checks.application_checks_run(application_id=resubmitted.pk) == "done"
        now = timezone.now()

    row.refresh_from_db()
    assert row.status == S.IN_REVIEW
    assert row.review_started_at == now
    assert row.review_started_at > first_review
    assert set(EnrollmentCheck.objects.filter(application=row).values_list("status", flat=True)) == {
        CheckStatus.PASSED
    }


def test_an_answer_with_a_bad_value_is_refused_and_nothing_changes():
    asked = builders.application_more_information(items=[InformationItem.LEGAL_NAME])
    before = everything(asked)

    with pytest.raises(DomainError) as refused:
        review.application_resubmit(
            application=asked, applicant=asked.applicant, values={"legal_name": "Tailspin\u200bKK"}
        )

    assert (refused.value.code, refused.value.field) == ("invalid_details", "legal_name")
    assert everything(asked) == before


def test_only_the_applicant_answers():
    asked = builders.application_more_information()
    before = everything(asked)

    with pytest.raises(DomainError) as refused:
        review.application_resubmit(application=asked, applicant=UserFactory(), values={"legal_name": "X KK"})

    assert refused.value.code == "not_found"
    assert everything(asked) == before


def upload(content: bytes, name: str = "certificate.pdf", content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def test_a_requested_document_must_be_uploaded_before_resubmitting():
    asked = builders.application_more_information(items=[InformationItem.DOCUMENT])
    before = everything(asked)

    with pytest.raises(DomainError) as refused:
        review.application_resubmit(application=asked, applicant=asked.applicant, values={})

    assert (refused.value.code, refused.value.field) == ("document_missing", "document")
    assert everything(asked) == before

    document = review.application_document_add(
        application=asked, applicant=asked.applicant, file=upload(TINY_PDF, name="Tōki certificate.pdf")
    )

    document = ApplicationDocument.objects.get(pk=document.pk)
    assert (document.original_name, document.content_type, document.size, document.uploaded_by_id) == (
        "Tōki certificate.pdf",
        "application/pdf",
        len(TINY_PDF),
        asked.applicant_id,
    )
    assert document.file.name.startswith(f"enrollment/{asked.public_id}/")
    assert "certificate" not in document.file.name
    with document.file.open("rb") as stored:
        assert stored.read() == TINY_PDF
    event = AuditEvent.objects.get(action="enrollment_application.document_uploaded")
    assert event.after == {
        "document": str(document.public_id),
        "type": "application/pdf",
        "size": len(TINY_PDF),
    }

    resubmitted = review.application_resubmit(application=asked, applicant=asked.applicant, values={})
    assert resubmitted.status == S.RESUBMITTED


@pytest.mark.parametrize(
    ("file", "code"),
    [
        (upload(b"<!DOCTYPE html><html><body>certificate</body></html>"), "document_type"),
        (upload(b""), "document_empty"),
        (upload(TINY_PDF + b"\0" * 2048), "document_too_large"),
    ],
)
def test_a_document_that_is_not_a_small_pdf_or_image_is_refused(settings, file, code):
    settings.ENROLLMENT_DOCUMENT_MAX_BYTES = 1024
    asked = builders.application_more_information(items=[InformationItem.DOCUMENT])
    before = everything(asked)

    with pytest.raises(DomainError) as refused:
        review.application_document_add(application=asked, applicant=asked.applicant, file=file)

    assert (refused.value.code, refused.value.field) == (code, "document")
    assert everything(asked) == before


def test_a_document_nobody_asked_for_is_refused():
    asked = builders.application_more_information(items=[InformationItem.LEGAL_NAME])
    before = everything(asked)

    with pytest.raises(DomainError) as refused:
        review.application_document_add(application=asked, applicant=asked.applicant, file=upload(TINY_PDF))

    assert refused.value.code == "document_not_requested"
    assert everything(asked) == before


def test_a_document_for_another_persons_application_is_refused():
    asked = builders.application_more_information(items=[InformationItem.DOCUMENT])
    before = everything(asked)

    with pytest.raises(DomainError) as refused:
        review.application_document_add(application=asked, applicant=UserFactory(), file=upload(TINY_PDF))

    assert refused.value.code == "not_found"
    assert everything(asked) == before


# --- Only reviewers decide ------------------------------------------------------------------------------


def staff_without_permission():
    return StaffFactory()


def inactive_reviewer():
    return builders.reviewer(is_active=False)


def reviewer_permission_without_staff():
    user = UserFactory()
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="enrollment", codename="review_enrollmentapplication")
    )
    return user


def reviewer_whose_permission_was_just_removed():
    user = builders.reviewer()
    assert user.has_perm("enrollment.review_enrollmentapplication")  # cached on this object
    user.user_permissions.clear()
    return user


DECISIONS = {
    "approve": lambda application, by: review.application_approve(application=application, by=by),
    "reject": lambda application, by: review.application_reject(
        application=application, by=by, reason="other", message="No."
    ),
    "request_information": lambda application, by: review.application_information_request(
        application=application, by=by, items=["legal_name"], message="Which name?"
    ),
}


@pytest.mark.parametrize(
    "who",
    [
        staff_without_permission,
        inactive_reviewer,
        reviewer_permission_without_staff,
        reviewer_whose_permission_was_just_removed,
    ],
)
@pytest.mark.parametrize("decision", sorted(DECISIONS))
def test_only_program_reviewers_decide(in_review, who, decision):
    by = who()
    assert review.reviewer_may_decide(type(by).objects.get(pk=by.pk)) is False
    before = everything(in_review)

    with pytest.raises(DomainError) as refused:
        DECISIONS[decision](in_review, by)

    assert refused.value.code == "not_a_reviewer"
    assert everything(in_review) == before


def test_reviewers_are_permitted_staff_and_superusers():
    assert review.reviewer_may_decide(builders.reviewer()) is True
    assert review.reviewer_may_decide(StaffFactory(is_superuser=True)) is True
    assert review.reviewer_may_decide(StaffFactory(is_superuser=True, is_active=False)) is False


# --- Admin agent, in one click ---------------------------------------------------------------------------


def test_the_new_global_admin_joins_the_admin_agent_group_once(in_review, reviewer):
    organization = review.application_approve(application=in_review, by=reviewer)
    membership = Membership.objects.get(organization=organization, user=in_review.applicant)

    joined = membership_admin_agent_join(membership=membership)
    again = membership_admin_agent_join(membership=membership)

    assert joined.role_names == [Role.GLOBAL_ADMIN, Role.ADMIN_AGENT]
    assert again.role_names == [Role.GLOBAL_ADMIN, Role.ADMIN_AGENT]
    assert MembershipRole.objects.filter(membership=membership).count() == 2
    events = AuditEvent.objects.filter(action="membership.roles_changed", target_id=str(membership.public_id))
    assert [(event.actor_id, event.before, event.after) for event in events] == [
        (
            in_review.applicant_id,
            {"roles": [Role.GLOBAL_ADMIN]},
            {"roles": [Role.GLOBAL_ADMIN, Role.ADMIN_AGENT]},
        )
    ]


@pytest.mark.parametrize(
    ("roles", "code"),
    [([Role.USER_MANAGEMENT_ADMIN], "not_global_admin"), ([Role.SALES_AGENT], "actor_not_permitted")],
)
def test_only_a_global_admin_joins_the_admin_agent_group(roles, code):
    member = MembershipFactory(roles=roles)
    audited = AuditEvent.objects.count()

    with pytest.raises(DomainError) as refused:
        membership_admin_agent_join(membership=member)

    assert refused.value.code == code
    assert sorted(MembershipRole.objects.filter(membership=member).values_list("role", flat=True)) == sorted(
        roles
    )
    assert AuditEvent.objects.count() == audited

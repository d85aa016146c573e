"""The reviewers' decisions, the applicant's answer to a request for information, and approval's
provisioning of the reseller organization.

Each decision is one locked transition (``transition_apply`` locks the application row): two reviewers
deciding at once are serialised by that lock, and the second finds the application decided and gets an
``InvalidTransition``. Approval provisions the organization in the same transaction, so an approved
application always has its organization (a database check says so too), and approving again returns it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenant, Organization, User
from accounts.services.memberships import organization_create
from enrollment.directory.base import VerifiedTenant
from enrollment.models import (
    ApplicationDocument,
    ApplicationStatus,
    EnrollmentApplication,
    InformationItem,
    RejectionReason,
)
from enrollment.services.applications import _details_store, application_lock
from enrollment.transitions import APPLICATION_STATUS
from enrollment.validation.details import CONTACT_FIELDS, LEGAL_FIELDS, SUPPORT_FIELDS
from enrollment.validation.documents import document_check
from portal.audit.services import audit_record
from portal.business_days import business_days_between
from portal.errors import DomainError
from portal.mail.services import email_enqueue
from portal.transitions import transition_apply
from portal.validators import no_control_characters

Status = ApplicationStatus

NOT_A_REVIEWER = _("Only program reviewers can decide enrollment applications.")
REASON_REQUIRED = _("Choose the reason for the rejection.")
MESSAGE_REQUIRED = _("Write what the applicant should know: it is shown to them.")
ITEMS_REQUIRED = _("Choose at least one item the applicant must fix or supply.")
DOCUMENT_MISSING = _("Upload the document the reviewer asked for before you resubmit.")
NOT_ASKED = _("The reviewer did not ask for this.")
ALREADY_LINKED = _(
    "The tenant or the partner ID of this application is already linked to an organization of the "
    "program, so it cannot be approved. Reject it as a duplicate."
)

#: the fields the applicant may change for each item a reviewer asks about
ITEM_FIELDS = {
    InformationItem.LEGAL_NAME: ("legal_name",),
    InformationItem.ADDRESS: tuple(name for name in LEGAL_FIELDS if name != "legal_name"),
    InformationItem.PRIMARY_CONTACT: CONTACT_FIELDS,
    InformationItem.SUPPORT_CONTACT: SUPPORT_FIELDS,
    InformationItem.DOCUMENT: (),
}


def reviewer_may_decide(user: User) -> bool:
    return bool(
        user.is_active
        and user.is_staff
        and (user.is_superuser or user.has_perm("enrollment.review_enrollmentapplication"))
    )


def _reviewer_require(by: User) -> None:
    by = User.objects.get(pk=by.pk)  # rights as they are now, not as the request began
    if not reviewer_may_decide(by):
        raise DomainError(NOT_A_REVIEWER, code="not_a_reviewer")


def _message_clean(message: str) -> str:
    message = (message or "").strip()
    if not message:
        raise DomainError(MESSAGE_REQUIRED, code="message_required", field="message")
    if len(message) > 2000:
        raise DomainError(_("Write at most 2,000 characters."), code="message_too_long", field="message")
    for line in message.splitlines():
        try:
            no_control_characters(line)
        except ValidationError as error:
            raise DomainError(error.messages[0], code="control_characters", field="message") from None
    return message


def sla_business_days(application: EnrollmentApplication, *, now: datetime | None = None) -> int | None:
    """Business days the application has been in review (the program country's calendar), or None."""
    if application.review_started_at is None or application.status not in (
        Status.IN_REVIEW,
        Status.RESUBMITTED,
    ):
        return None
    return business_days_between(
        application.review_started_at,
        now or timezone.now(),
        country=settings.PROGRAM_COUNTRY,
        tz=ZoneInfo(settings.PROGRAM_TIME_ZONE),
    )


def _directory_tenant_for(application: EnrollmentApplication) -> DirectoryTenant:
    verified = VerifiedTenant.from_dict(application.tenant)
    tenant, _created = DirectoryTenant.objects.get_or_create(
        tenant_id=verified.tenant_id,
        defaults={
            "name": verified.display_name,
            "verified_domains": verified.verified_domains,
            "country": verified.country,
            "source": verified.source,
        },
    )
    return tenant


@transaction.atomic
def application_approve(*, application: EnrollmentApplication, by: User) -> Organization:
    """Approve and provision the reseller: tenant and partner ID linked, the applicant its Global admin.
    Approving an approved application returns its organization (nothing new is made)."""
    from enrollment.services.notifications import application_status_notify

    _reviewer_require(by)
    application = application_lock(application)
    if application.status == Status.APPROVED:
        return application.organization
    APPLICATION_STATUS.check(application.status, Status.APPROVED)
    details = {
        "address_line1": application.address_line1,
        "address_line2": application.address_line2,
        "city": application.city,
        "region": application.region,
        "postal_code": application.postal_code,
        "support_email": application.support_email,
        "support_phone": application.support_phone,
        "support_website": application.support_website,
    }
    try:
        with transaction.atomic():
            organization = organization_create(
                kind=Organization.Kind.RESELLER,
                legal_name=application.legal_name,
                country=application.country.code,
                global_admin=application.applicant,
                by=by,
                directory_tenant=_directory_tenant_for(application),
                partner_id=application.partner_id,
                **details,
            )
    except IntegrityError:  # the tenant or the partner ID is linked to an organization already
        raise DomainError(ALREADY_LINKED, code="already_linked") from None
    now = timezone.now()
    application = transition_apply(
        application,
        Status.APPROVED,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.approved",
        actor=by,
        changes={"decided_at": now, "decided_by": by, "updated_at": now, "organization": organization},
        audit_after={"organization": str(organization.public_id)},
    )
    application_status_notify(application)
    return organization


@transaction.atomic
def application_reject(
    *, application: EnrollmentApplication, by: User, reason: str, message: str
) -> EnrollmentApplication:
    """Reject with a reason code and a message, both shown to the applicant."""
    from enrollment.services.notifications import application_status_notify

    _reviewer_require(by)
    if reason not in RejectionReason.values:
        raise DomainError(REASON_REQUIRED, code="reason_required", field="reason")
    message = _message_clean(message)
    now = timezone.now()
    application = transition_apply(
        application,
        Status.REJECTED,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.rejected",
        actor=by,
        changes={
            "decided_at": now,
            "decided_by": by,
            "updated_at": now,
            "rejection_reason": reason,
            "reviewer_message": message,
        },
        audit_after={"reason": reason},
    )
    application_status_notify(application)
    return application


@transaction.atomic
def application_information_request(
    *, application: EnrollmentApplication, by: User, items: list[str], message: str
) -> EnrollmentApplication:
    """Ask the applicant to fix named items or supply a document; the SLA clock stops until they do."""
    from enrollment.services.notifications import application_status_notify

    _reviewer_require(by)
    chosen = [item for item in InformationItem.values if item in set(items or [])]
    if not chosen or len(chosen) != len(set(items)):
        raise DomainError(ITEMS_REQUIRED, code="items_required", field="items")
    message = _message_clean(message)
    application = transition_apply(
        application,
        Status.MORE_INFORMATION,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.information_requested",
        actor=by,
        changes={"information_items": chosen, "reviewer_message": message, "updated_at": timezone.now()},
        audit_after={"items": chosen},
    )
    application_status_notify(application)
    return application


def answer_fields(application: EnrollmentApplication) -> tuple[str, ...]:
    """The detail fields the applicant may change in answer to the current request."""
    fields: list[str] = []
    for item in application.information_items:
        fields.extend(ITEM_FIELDS.get(item, ()))
    return tuple(fields)


@transaction.atomic
def application_document_add(
    *, application: EnrollmentApplication, applicant: User, file
) -> ApplicationDocument:
    """Store a document the reviewer asked for (PDF or image, checked by content and size)."""
    application = application_lock(application, applicant=applicant)
    if (
        application.status != Status.MORE_INFORMATION
        or InformationItem.DOCUMENT not in application.information_items
    ):
        raise DomainError(NOT_ASKED, code="document_not_requested", field="document")
    content_type = document_check(file)
    document = ApplicationDocument(
        application=application,
        original_name=(getattr(file, "name", "") or "document")[-200:],
        content_type=content_type,
        size=file.size,
        uploaded_by=applicant,
    )
    document.file.save("upload", file, save=False)
    document.save()
    audit_record(
        action="enrollment_application.document_uploaded",
        actor=applicant,
        target=application,
        after={"document": str(document.public_id), "type": content_type, "size": document.size},
    )
    return document


@transaction.atomic
def application_resubmit(
    *, application: EnrollmentApplication, applicant: User, values: dict[str, Any] | None = None
) -> EnrollmentApplication:
    """The applicant's answer: the fields asked about (checked with the same rules as the wizard), and
    a document when one was asked for; then the checks run again and the application returns to review."""
    from enrollment.services.checks import application_checks_prepare
    from enrollment.services.notifications import application_status_notify

    application = application_lock(application, applicant=applicant)
    APPLICATION_STATUS.check(application.status, Status.RESUBMITTED)
    fields = answer_fields(application)
    changed: list[str] = []
    if fields:
        current = {
            name: getattr(application, name) for name in LEGAL_FIELDS + CONTACT_FIELDS + SUPPORT_FIELDS
        }
        current.update({name: (values or {}).get(name, current[name]) for name in fields})
        changed = _details_store(
            application, current, contact_language=application.contact_language, fields=fields
        )
    if (
        InformationItem.DOCUMENT in application.information_items
        and not application.documents.filter(uploaded_at__gte=application.updated_at).exists()
    ):
        raise DomainError(DOCUMENT_MISSING, code="document_missing", field="document")
    application = transition_apply(
        application,
        Status.RESUBMITTED,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.resubmitted",
        actor=applicant,
        changes={**{name: getattr(application, name) for name in fields}, "updated_at": timezone.now()},
        audit_after={"fields": sorted(set(changed) & set(fields))},
    )
    application_checks_prepare(application)
    application_status_notify(application)
    return application


def reviewers() -> list[User]:
    """Active program staff who may decide enrollments."""
    staff = User.objects.filter(is_active=True, is_staff=True).order_by("email")
    return [user for user in staff if reviewer_may_decide(user)]


def applications_sla_remind_due(*, limit: int = 500) -> int:
    """Beat job: one email to each reviewer listing the applications past the SLA not yet reminded."""
    from django.urls import reverse

    now = timezone.now()
    overdue = []
    candidates = EnrollmentApplication.objects.filter(
        status__in=(Status.IN_REVIEW, Status.RESUBMITTED), sla_reminded_at__isnull=True
    ).order_by("review_started_at")[:limit]
    for application in candidates:
        days = sla_business_days(application, now=now)
        if days is not None and days > settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS:
            overdue.append((application, days))
    if not overdue:
        return 0
    with transaction.atomic():
        EnrollmentApplication.objects.filter(
            pk__in=[application.pk for application, _days in overdue]
        ).update(sla_reminded_at=now)
        items = [
            {
                "legal_name": application.legal_name,
                "partner_id": application.partner_id,
                "days": days,
                "url": settings.SITE_URL
                + reverse("admin:enrollment_enrollmentapplication_change", args=[application.pk]),
            }
            for application, days in overdue
        ]
        for reviewer in reviewers():
            email_enqueue(
                to=reviewer.email,
                template="enrollment_sla_reminder",
                context={"applications": items, "sla_days": settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS},
                language=reviewer.preferred_language,
            )
    return len(overdue)

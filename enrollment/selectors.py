"""Reads of the enrollment app that views need. An application is read through its applicant, always."""

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from enrollment.models import (
    ApplicationDocument,
    EnrollmentApplication,
    MembershipAccount,
    PartnerProfile,
)
from portal.audit.models import AuditEvent
from portal.audit.selectors import audit_history


def membership_account_signed_in(account_pk) -> MembershipAccount | None:
    """The membership account this browser signed in to (its key kept in the session), while active."""
    return MembershipAccount.objects.filter(pk=account_pk, is_active=True).first()


def membership_profiles_for(account: MembershipAccount) -> QuerySet[PartnerProfile]:
    """The organization profiles a signed-in membership account may choose from, by name."""
    return PartnerProfile.objects.filter(account=account).order_by("legal_name", "partner_id")


def application_get(*, applicant: User, public_id) -> EnrollmentApplication:
    """The applicant's own application; anyone else's, or none, is a 404."""
    application = (
        EnrollmentApplication.objects.select_related("partner_profile", "applicant", "organization")
        .filter(applicant=applicant, public_id=public_id)
        .first()
    )
    if application is None:
        raise Http404
    return application


def applications_of(applicant: User) -> QuerySet[EnrollmentApplication]:
    """The applicant's applications, newest first."""
    return EnrollmentApplication.objects.filter(applicant=applicant).order_by("-created_at")


def application_document_get(*, application: EnrollmentApplication, public_id) -> ApplicationDocument:
    document = ApplicationDocument.objects.filter(application=application, public_id=public_id).first()
    if document is None:
        raise Http404
    return document


def application_checks(application: EnrollmentApplication):
    return list(application.checks.order_by("id"))


def application_history(application: EnrollmentApplication) -> list[AuditEvent]:
    """The audit events about the application, oldest first (the tracker and the review site)."""
    return list(reversed(list(audit_history(organization_id=None, target=application))))

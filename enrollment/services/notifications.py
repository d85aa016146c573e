"""Status emails: every status change of a submitted application tells the applicant and the primary
contact, each in their own language, through the outbox of the same transaction."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from enrollment.checks import REASONS
from enrollment.models import ApplicationStatus, EnrollmentApplication, RejectionReason
from portal.mail.services import email_enqueue

Status = ApplicationStatus


def tracker_url(application: EnrollmentApplication) -> str:
    return settings.SITE_URL + reverse("enrollment:application", args=[application.public_id])


def application_status_notify(application: EnrollmentApplication) -> None:
    """Email the new status to the applicant (with the tracker's link) and to the primary contact
    (when another address; not when the confirmation email already says it all)."""
    applicant = application.applicant
    context = {
        "status": application.status,
        "legal_name": application.legal_name,
        "partner_id": application.partner_id,
        "reviewer_message": application.reviewer_message,
        # Lazy texts: each email renders them in its recipient's language (str() or get_FOO_display()
        # here would fix the language of whoever acts, a reviewer or the worker).
        "rejection_reason": RejectionReason(application.rejection_reason).label
        if application.rejection_reason
        else "",
        "information_items": application.information_items,
        "failed_checks": [
            REASONS[check.reason_code].summary
            for check in application.checks.all()
            if check.status == check.Status.FAILED and check.reason_code in REASONS
        ],
    }
    email_enqueue(
        to=applicant.email,
        template="enrollment_status",
        context={
            **context,
            "for_applicant": True,
            "name": applicant.full_name,
            "tracker_url": tracker_url(application),
        },
        language=applicant.preferred_language,
    )
    contact = application.contact_email
    if (
        contact
        and contact.lower() != applicant.email.lower()
        and application.status != Status.AWAITING_CONFIRMATION
    ):
        from enrollment.services.confirmation import contact_language

        email_enqueue(
            to=contact,
            template="enrollment_status",
            context={**context, "for_applicant": False, "name": application.contact_name, "tracker_url": ""},
            language=contact_language(application),
        )

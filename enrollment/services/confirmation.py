"""The primary contact's confirmation, on the shared link mechanism (``ContactConfirmation``).

After **Enroll now** the contact gets a link; its page asks them to confirm that (1) they are the person
who registered, or authorised it, and (2) the address belongs to the company. Confirming starts the
automated checks; declining withdraws the application. The applicant may resend (a new link, the old one
dead) after a cool-down; the deadline job sends one reminder (a new link) and then expires applications
never confirmed (``applications_expire_due``).
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from enrollment.models import ApplicationStatus, ContactConfirmation, EnrollmentApplication
from enrollment.services.applications import application_lock
from enrollment.transitions import APPLICATION_STATUS
from portal.errors import DomainError
from portal.invitations.binding import InvitationUnusable
from portal.invitations.services import (
    invitation_link,
    link_invitation_consume,
    link_invitation_decline,
    link_invitation_issue,
    link_invitations_expire_due,
)
from portal.mail.services import email_enqueue
from portal.transitions import transition_apply

Status = ApplicationStatus

COOLDOWN = _("A new confirmation email can be sent in %(seconds)s seconds.")
NOT_AWAITING = _("This application is not waiting for its primary contact any more.")
BOTH_STATEMENTS = _("Confirm both statements, or choose “This is not right”.")


def contact_language(application: EnrollmentApplication) -> str:
    return application.contact_language or application.applicant.preferred_language or settings.LANGUAGE_CODE


def contact_confirmation_send(*, application: EnrollmentApplication, reminder: bool) -> ContactConfirmation:
    """A new link to the primary contact (the pending one, if any, is superseded) and its email, in this
    transaction. Call with the application locked."""
    confirmation, raw_token = link_invitation_issue(
        ContactConfirmation,
        scope={"application": application},
        email=application.contact_email,
        invited_by=None if reminder else application.applicant,
        rate_limit_key=None,
        lifetime=timedelta(hours=settings.ENROLLMENT_CONTACT_LINK_HOURS),
        reminded=reminder,
    )
    email_enqueue(
        to=application.contact_email,
        template="enrollment_contact_confirmation",
        context={
            "link": invitation_link(ContactConfirmation.PURPOSE, raw_token),
            "legal_name": application.legal_name,
            "contact_name": application.contact_name,
            "applicant_name": application.applicant.full_name,
            "applicant_email": application.applicant.email,
            "expires_at": confirmation.expires_at,
            "reminder": reminder,
        },
        language=contact_language(application),
        secrets=("link",),
    )
    return confirmation


def resend_available_in(application: EnrollmentApplication) -> int:
    """Seconds until the applicant may resend (0: now)."""
    latest = (
        application.contact_confirmations.order_by("-created_at").values_list("created_at", flat=True).first()
    )
    if latest is None:
        return 0
    ready = latest + timedelta(seconds=settings.ENROLLMENT_RESEND_COOLDOWN_SECONDS)
    return max(0, math.ceil((ready - timezone.now()).total_seconds()))


@transaction.atomic
def contact_confirmation_resend(
    *, application: EnrollmentApplication, applicant: User
) -> ContactConfirmation:
    """The applicant asks for a new link: only while waiting for the contact, and after the cool-down."""
    application = application_lock(application, applicant=applicant)
    if application.status != Status.AWAITING_CONFIRMATION:
        raise DomainError(NOT_AWAITING, code="not_awaiting_confirmation")
    wait = resend_available_in(application)
    if wait:
        raise DomainError(COOLDOWN % {"seconds": wait}, code="cooldown")
    return contact_confirmation_send(application=application, reminder=False)


def confirmation_application(confirmation: ContactConfirmation) -> EnrollmentApplication:
    return EnrollmentApplication.objects.select_related("applicant").get(pk=confirmation.application_id)


@transaction.atomic
def contact_confirm(
    *, confirmation: ContactConfirmation, user, is_the_contact: bool, address_is_the_company: bool
) -> EnrollmentApplication:
    """The contact confirms both statements: the link is used up, the checks start (after commit)."""
    from enrollment.services.checks import application_checks_prepare
    from enrollment.services.notifications import application_status_notify

    if not (is_the_contact and address_is_the_company):
        raise DomainError(BOTH_STATEMENTS, code="statements_missing")
    application = application_lock(confirmation_application(confirmation))
    if (
        application.status != Status.AWAITING_CONFIRMATION
        or confirmation.email.lower() != application.contact_email.lower()
    ):
        raise InvitationUnusable(_("This confirmation link is no longer needed."), code="invitation_closed")
    link_invitation_consume(confirmation, user=user)
    now = timezone.now()
    application = transition_apply(
        application,
        Status.CHECKS_RUNNING,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.contact_confirmed",
        actor=user,
        changes={"confirmed_at": now, "updated_at": now},
    )
    application_checks_prepare(application)
    application_status_notify(application)
    return application


@transaction.atomic
def contact_decline(*, confirmation: ContactConfirmation, user, reason: str = "") -> EnrollmentApplication:
    """The contact says it is not right: the link is closed and the application withdrawn, so that
    nobody enrolls a company in someone else's name."""
    from enrollment.services.notifications import application_status_notify

    application = application_lock(confirmation_application(confirmation))
    link_invitation_decline(confirmation, user=user, reason=reason[:500])
    if APPLICATION_STATUS.allows(application.status, Status.WITHDRAWN):
        application = transition_apply(
            application,
            Status.WITHDRAWN,
            transitions=APPLICATION_STATUS,
            action="enrollment_application.contact_declined",
            actor=user,
            changes={"updated_at": timezone.now()},
        )
        application_status_notify(application)
    return application


def contact_confirmations_remind_due(*, limit: int = 500) -> int:
    """Beat job: one reminder (a new link) to contacts who have not confirmed within the reminder time."""
    due_before = timezone.now() - timedelta(hours=settings.ENROLLMENT_CONTACT_REMINDER_HOURS)
    candidates = (
        EnrollmentApplication.objects.filter(
            status=Status.AWAITING_CONFIRMATION, submitted_at__lte=due_before
        )
        .exclude(contact_confirmations__reminded=True)
        .order_by("submitted_at")
    )
    reminded = 0
    for application in candidates[:limit]:
        with transaction.atomic():
            locked = application_lock(application)
            latest = locked.contact_confirmations.order_by("-created_at").first()
            if locked.status != Status.AWAITING_CONFIRMATION or (
                latest is not None and (latest.reminded or latest.created_at > due_before)
            ):
                continue  # already reminded, or the applicant resent a link recently
            contact_confirmation_send(application=locked, reminder=True)
            reminded += 1
    return reminded


def contact_confirmations_expire_due() -> int:
    return link_invitations_expire_due(ContactConfirmation)

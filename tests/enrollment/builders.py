"""Applications in each state, built through the services (the same path a person takes), for tests.

``submitted_application()`` is awaiting its primary contact; ``application_in_review()`` has been
confirmed and checked. Overrides replace the organization details (``details``) or the profile's country.
"""

from __future__ import annotations

import itertools

from django.contrib.auth.models import Permission

from enrollment.models import ContactConfirmation, EnrollmentApplication, InformationItem, RejectionReason
from enrollment.services import applications, checks, confirmation, review
from tests.factories.accounts import StaffFactory, UserFactory
from tests.factories.enrollment import PartnerProfileFactory

_labels = itertools.count(1)
#: the password of the Global Administrator of every tenant the builders create
BUILDER_DIRECTORY_PASSWORD = "a-long-builder-passphrase-1"

JP_DETAILS = {
    "legal_name": "Tailspin KK",
    "address_line1": "1-1 Marunouchi",
    "city": "Chiyoda-ku",
    "region": "13",
    "postal_code": "100-0001",
    "contact_name": "Aki Tanaka",
    "contact_email": "aki@tailspin.jp",
    "contact_phone": "03-1234-5678",
    "support_email": "support@tailspin.jp",
    "support_phone": "03-1234-5679",
    "support_website": "https://www.tailspin.jp",
}

US_DETAILS = {
    "legal_name": "Wingtip Toys LLC",
    "address_line1": "500 Market Street",
    "city": "San Francisco",
    "region": "CA",
    "postal_code": "94105",
    "contact_name": "Sam Lee",
    "contact_email": "sam@wingtip.us",
    "contact_phone": "(415) 555-0134",
    "support_email": "support@wingtip.us",
    "support_phone": "(415) 555-0135",
    "support_website": "https://www.wingtip.us",
}


def draft_with_tenant(*, applicant=None, country: str = "JP") -> EnrollmentApplication:
    applicant = applicant or UserFactory()
    application = applications.application_draft_start(applicant=applicant)
    return applications.application_tenant_create(
        application=application,
        applicant=applicant,
        name=f"Tenant {country}",
        country=country,
        initial_domain_label=f"builder{next(_labels)}x{applicant.pk}",
        admin_display_name="Builder Admin",
        admin_password=BUILDER_DIRECTORY_PASSWORD,
    )


def draft_with_profile(
    *, applicant=None, country: str = "JP", already_authorised: bool = False, profile=None
):
    application = draft_with_tenant(applicant=applicant, country=country)
    profile = profile or PartnerProfileFactory(country=country, already_authorised=already_authorised)
    return applications.application_profile_choose(
        application=application,
        applicant=application.applicant,
        account=profile.account,
        partner_id=profile.partner_id,
    )


def complete_draft(*, applicant=None, country: str = "JP", details: dict | None = None, **profile_options):
    application = draft_with_profile(applicant=applicant, country=country, **profile_options)
    values = {**(US_DETAILS if country == "US" else JP_DETAILS), **(details or {})}
    return applications.application_details_set(
        application=application, applicant=application.applicant, values=values, contact_language="en"
    )


def submitted_application(
    *, applicant=None, country: str = "JP", details: dict | None = None, **profile_options
):
    application = complete_draft(applicant=applicant, country=country, details=details, **profile_options)
    return applications.application_submit(application=application, applicant=application.applicant)


def contact_confirmation_of(application: EnrollmentApplication) -> ContactConfirmation:
    return ContactConfirmation.objects.get(application=application, status=ContactConfirmation.Status.PENDING)


def application_in_review(
    *, applicant=None, country: str = "JP", details: dict | None = None, **profile_options
):
    application = submitted_application(
        applicant=applicant, country=country, details=details, **profile_options
    )
    confirmation.contact_confirm(
        confirmation=contact_confirmation_of(application),
        user=None,
        is_the_contact=True,
        address_is_the_company=True,
    )
    checks.application_checks_run(application_id=application.pk)
    application.refresh_from_db()
    return application


# --- Reviewers, and applications past the review -----------------------------------------------------------


def reviewer(**options):
    """Program staff who may decide enrollments: the permission given directly (no group needed)."""
    user = StaffFactory(**options)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="enrollment", codename="review_enrollmentapplication")
    )
    return user


def application_checks_running(**options) -> EnrollmentApplication:
    """Confirmed by its primary contact; the checks not yet run."""
    application = submitted_application(**options)
    return confirmation.contact_confirm(
        confirmation=contact_confirmation_of(application),
        user=None,
        is_the_contact=True,
        address_is_the_company=True,
    )


def application_more_information(
    *, items=(InformationItem.LEGAL_NAME,), message: str = "Give the name as registered.", by=None, **options
) -> EnrollmentApplication:
    application = application_in_review(**options)
    return review.application_information_request(
        application=application, by=by or reviewer(), items=list(items), message=message
    )


def application_resubmitted(**options) -> EnrollmentApplication:
    """Answered (nothing changed) and waiting for its checks again."""
    application = application_more_information(**options)
    return review.application_resubmit(application=application, applicant=application.applicant, values={})


def application_approved(*, by=None, **options) -> EnrollmentApplication:
    application = application_in_review(**options)
    review.application_approve(application=application, by=by or reviewer())
    application.refresh_from_db()
    return application


def application_rejected(*, by=None, **options) -> EnrollmentApplication:
    application = application_in_review(**options)
    return review.application_reject(
        application=application, by=by or reviewer(), reason=RejectionReason.OTHER, message="Not this time."
    )


def application_withdrawn(**options) -> EnrollmentApplication:
    application = submitted_application(**options)
    return applications.application_withdraw(application=application, applicant=application.applicant)

"""Demo enrollments in every review state, each made through the services a person's clicks call (its own
applicant, built-in tenant and partner profile), so the review queue and the trackers have something to
show. Plus one signed-up applicant with nothing yet, to walk the wizard from "Enroll now". Idempotent:
an applicant who already has an application is left alone."""

from __future__ import annotations

from django.db import transaction

from accounts.demo import DEMO_PASSWORD, _user
from accounts.models import User
from enrollment.models import ApplicationStatus, ContactConfirmation, EnrollmentApplication, PartnerProfile
from enrollment.services import applications, checks, confirmation, review
from enrollment.services.membership_accounts import (
    membership_account_create,
    membership_account_find,
    partner_profile_create,
)

S = ApplicationStatus
DEMO_APPLICANTS_ACCOUNT = "demo.applicants"

#: (status, applicant, company, tenant label, partner ID)
DEMO_APPLICATIONS = [
    (S.DRAFT, "Daichi Draft", "Adatum Draft KK", "adatumdraft", "4200001"),
    (S.AWAITING_CONFIRMATION, "Aoi Awaiting", "Alpine Ski House KK", "alpineski", "4200002"),
    (S.IN_REVIEW, "Ichiro Inreview", "Coho Winery KK", "cohowinery", "4200003"),
    (S.MORE_INFORMATION, "Mei Moreinfo", "Fourth Coffee KK", "fourthcoffee", "4200004"),
    (S.APPROVED, "Akira Approved", "Litware Japan KK", "litwarejp", "4200005"),
    (S.REJECTED, "Ren Rejected", "Proseware KK", "proseware", "4200006"),
    (S.WITHDRAWN, "Wataru Withdrawn", "Trey Research KK", "treyresearch", "4200007"),
    (S.EXPIRED, "Emi Expired", "Lucerne Publishing KK", "lucernepub", "4200008"),
]


def _details(company: str, domain: str) -> dict[str, str]:
    return {
        "legal_name": company,
        "address_line1": "1-1 Marunouchi",
        "city": "Chiyoda-ku",
        "region": "13",
        "postal_code": "100-0001",
        "contact_name": "Demo Contact",
        "contact_email": f"contact@{domain}",
        "contact_phone": "03-1234-5678",
        "support_email": f"support@{domain}",
        "support_phone": "03-1234-5679",
        "support_website": f"https://{domain}",
    }


def _profile(account, company: str, partner_id: str) -> PartnerProfile:
    profile = PartnerProfile.objects.filter(partner_id=partner_id).first()
    return profile or partner_profile_create(
        account=account,
        partner_id=partner_id,
        legal_name=company,
        country="JP",
        location="Tokyo",
        already_authorised=False,
        by=None,
    )


def _drive(
    applicant: User, status: str, company: str, label: str, partner_id: str, account, reviewer
) -> None:
    application = applications.application_draft_start(applicant=applicant)
    application = applications.application_tenant_create(
        application=application,
        applicant=applicant,
        name=company,
        country="JP",
        initial_domain_label=label,
        admin_display_name=applicant.full_name,
        admin_password=DEMO_PASSWORD + "-directory",
    )
    profile = _profile(account, company, partner_id)
    application = applications.application_profile_choose(
        application=application, applicant=applicant, account=account, partner_id=profile.partner_id
    )
    if status == S.DRAFT:
        return
    application = applications.application_details_set(
        application=application,
        applicant=applicant,
        values=_details(company, application.tenant_domains[0]),
        contact_language=applicant.preferred_language,
    )
    application = applications.application_submit(application=application, applicant=applicant)
    if status == S.AWAITING_CONFIRMATION:
        return
    if status == S.WITHDRAWN:
        applications.application_withdraw(application=application, applicant=applicant)
        return
    if status == S.EXPIRED:
        applications.application_expire(application=application, why="demo")
        return
    pending = ContactConfirmation.objects.get(
        application=application, status=ContactConfirmation.Status.PENDING
    )
    confirmation.contact_confirm(
        confirmation=pending, user=None, is_the_contact=True, address_is_the_company=True
    )
    checks.application_checks_run(application_id=application.pk)
    application.refresh_from_db()
    if status == S.MORE_INFORMATION:
        review.application_information_request(
            application=application,
            by=reviewer,
            items=["address", "document"],
            message="Please upload your certificate of registration and check the building name.",
        )
    elif status == S.APPROVED:
        review.application_approve(application=application, by=reviewer)
    elif status == S.REJECTED:
        review.application_reject(
            application=application,
            by=reviewer,
            reason="identity_not_verified",
            message="We could not match the company with the public business register.",
        )


def load_applications() -> list[tuple[str, str, str]]:
    reviewer = User.objects.get(email="reviewer@demo.example")
    account = membership_account_find(DEMO_APPLICANTS_ACCOUNT) or membership_account_create(
        username=DEMO_APPLICANTS_ACCOUNT, password=DEMO_PASSWORD, by=None
    )
    logins = []
    for status, name, company, label, partner_id in DEMO_APPLICATIONS:
        email = f"{label}@demo.example"
        applicant = _user(
            email, full_name=name, language="ja" if status in (S.IN_REVIEW, S.APPROVED) else "en"
        )
        if not EnrollmentApplication.objects.filter(applicant=applicant).exists():
            # Each demo enrollment on its own: the checks the commit publishes run when the worker starts.
            with transaction.atomic():
                _drive(applicant, status, company, label, partner_id, account, reviewer)
        logins.append((email, DEMO_PASSWORD, f"applicant, enrollment {S(status).label}"))
    newcomer = _user("applicant@demo.example", full_name="Yui Newcomer", language="ja")
    logins.append((newcomer.email, DEMO_PASSWORD, "applicant with no enrollment yet (Enroll now)"))
    return logins

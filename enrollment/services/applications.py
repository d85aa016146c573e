"""The applicant's side of an enrollment: the draft the wizard saves step by step, **Enroll now**,
withdrawal, and the deadlines that expire what nobody finished.

Every function takes the applicant and refuses an application that is not theirs (views answer 404
before that; this is the service's own guard). Each one locks the application row, re-checks the rule
it applies, writes the audit row, and, when the status moves, the status emails, in one transaction.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenantSource, Organization, User
from accounts.services.directory import country_clean
from enrollment.directory.base import TenantInUse, VerifiedTenant
from enrollment.directory.tenants import tenant_check_available
from enrollment.models import (
    APPLICATION_LIVE_STATUSES,
    ApplicationStatus,
    EnrollmentApplication,
    MembershipAccount,
    PartnerProfile,
)
from enrollment.transitions import APPLICATION_STATUS, WITHDRAWABLE
from enrollment.validation.details import DETAIL_FIELDS, SHORT_PATH_FIELDS, details_clean
from portal.audit.services import audit_record
from portal.errors import DomainError, InvalidTransition
from portal.transitions import transition_apply

logger = logging.getLogger(__name__)
Status = ApplicationStatus

NOT_FOUND = _("This enrollment application was not found.")
NOT_A_DRAFT = _("This application was already submitted: follow it on its status page.")
PARTNER_ID_IN_USE = _(
    "The partner ID %(partner_id)s is already enrolled, or is being enrolled by another application, so "
    "it cannot be used again. Choose another profile, or sign in with another membership account."
)
COUNTRY_MISMATCH = _(
    "The profile %(partner_id)s is in %(profile_country)s, but your tenant is in %(tenant_country)s. An "
    "enrollment needs a tenant and a partner profile of the same country. Choose another profile, or "
    "cancel and sign in with another membership account."
)
TENANT_FIRST = _("Verify your directory tenant first.")
PROFILE_NOT_YOURS = _("Choose one of the profiles of the membership account you signed in with.")
INCOMPLETE = _("Complete every step before you enroll: %(missing)s.")
TENANT_COUNTRY_KNOWN = _("Your tenant's country is already recorded: %(country)s.")
TENANT_COUNTRY_FROM_DIRECTORY = _(
    "The country of a tenant of the portal's directory comes from the directory: it cannot be given here."
)


def _audit_values(application: EnrollmentApplication) -> dict[str, Any]:
    return {
        "status": application.status,
        "partner_id": application.partner_id,
        "tenant_id": str(application.tenant_id or ""),
    }


def application_lock(
    application: EnrollmentApplication, *, applicant: User | None = None
) -> EnrollmentApplication:
    """The application's row, locked for this transaction; with ``applicant``, refused unless theirs."""
    locked = EnrollmentApplication.objects.select_for_update().filter(pk=application.pk).first()
    if locked is None or (applicant is not None and locked.applicant_id != applicant.pk):
        raise DomainError(NOT_FOUND, code="not_found")
    return locked


def _draft_lock(application: EnrollmentApplication, applicant: User) -> EnrollmentApplication:
    locked = application_lock(application, applicant=applicant)
    if locked.status != Status.DRAFT:
        raise DomainError(NOT_A_DRAFT, code="not_a_draft")
    return locked


def _touch(application: EnrollmentApplication, fields: list[str]) -> None:
    application.updated_at = timezone.now()
    application.save(update_fields=[*fields, "updated_at"])


def application_open_for(applicant: User) -> EnrollmentApplication | None:
    """The applicant's one open application (a draft or one under review), if any."""
    return EnrollmentApplication.objects.filter(
        applicant=applicant, status__in=APPLICATION_LIVE_STATUSES
    ).first()


def application_draft_start(*, applicant: User) -> EnrollmentApplication:
    """The applicant's open application, or a new draft: one at a time (the database's last word)."""
    existing = application_open_for(applicant)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            application = EnrollmentApplication.objects.create(applicant=applicant)
            audit_record(
                action="enrollment_application.started",
                actor=applicant,
                target=application,
                after={"status": application.status},
            )
    except IntegrityError:  # a second tab started one a moment ago
        existing = application_open_for(applicant)
        if existing is None:
            raise
        return existing
    return application


def _tenant_free_for(application: EnrollmentApplication, tenant_id) -> None:
    """The tenant is linked to no organization and held by no other live application."""
    tenant_check_available(tenant_id)
    held = (
        EnrollmentApplication.objects.filter(tenant_id=tenant_id, status__in=APPLICATION_LIVE_STATUSES)
        .exclude(pk=application.pk)
        .exists()
    )
    if held:
        raise TenantInUse(reason="tenant_held")


@transaction.atomic
def application_tenant_set(
    *, application: EnrollmentApplication, applicant: User, verified: VerifiedTenant
) -> EnrollmentApplication:
    """Step 2: the tenant whose Global Administrator the applicant just proved to be. A different
    tenant than before clears a partner profile of another country."""
    application = _draft_lock(application, applicant)
    _tenant_free_for(application, verified.tenant_id)
    before = {"tenant_id": str(application.tenant_id or "")}
    application.tenant_id = verified.tenant_id
    application.tenant = verified.as_dict()
    application.country = verified.country
    # A country the applicant gave belonged to the tenant before: the new one's comes from its directory.
    application.tenant_country_declared = False
    fields = ["tenant_id", "tenant", "country", "tenant_country_declared"]
    profile = application.partner_profile
    if profile is not None and profile.country.code != verified.country:
        application.partner_profile, application.partner_id, application.already_authorised = None, "", False
        fields += ["partner_profile", "partner_id", "already_authorised"]
    try:
        with transaction.atomic():
            _touch(application, fields)
    except IntegrityError:  # another application took the tenant between the check and the save
        raise TenantInUse(reason="tenant_held") from None
    audit_record(
        action="enrollment_application.tenant_verified",
        actor=applicant,
        target=application,
        before=before,
        after={
            "tenant_id": str(verified.tenant_id),
            "source": str(verified.source),
            "country": verified.country,
        },
    )
    return application


def tenant_country_needed(application: EnrollmentApplication) -> bool:
    """Whether the applicant is to give the tenant's country: a draft's Microsoft Entra ID tenant whose
    directory did not say it (Graph ``/organization`` without ``countryLetterCode``)."""
    return (
        application.status == Status.DRAFT
        and bool(application.tenant_id)
        and not application.tenant_country
        and application.tenant_source == DirectoryTenantSource.ENTRA
    )


@transaction.atomic
def application_tenant_country_set(
    *, application: EnrollmentApplication, country: str, by: User
) -> EnrollmentApplication:
    """Step 2, for a Microsoft Entra ID tenant without a country: the applicant (``by``) says which it is,
    once; the application remembers that the country was declared, not read from the directory."""
    application = _draft_lock(application, by)
    if not application.tenant_id:
        raise DomainError(TENANT_FIRST, code="tenant_missing")
    if application.tenant_source != DirectoryTenantSource.ENTRA:
        raise DomainError(TENANT_COUNTRY_FROM_DIRECTORY, code="tenant_country_from_directory")
    if application.tenant_country:
        raise DomainError(
            TENANT_COUNTRY_KNOWN % {"country": _country_name(application.tenant_country)},
            code="tenant_country_known",
        )
    country = country_clean(country)
    application.tenant = {**application.tenant, "country": country}
    application.country = country
    application.tenant_country_declared = True
    _touch(application, ["tenant", "country", "tenant_country_declared"])
    audit_record(
        action="enrollment_application.tenant_country_set",
        actor=by,
        target=application,
        before={"country": ""},
        after={"country": country, "declared": True},
    )
    return application


def application_tenant_create(
    *,
    application: EnrollmentApplication,
    applicant: User,
    name: str,
    country: str,
    initial_domain_label: str,
    admin_display_name: str,
    admin_password: str,
) -> EnrollmentApplication:
    """Step 2, **Create a new tenant** in the built-in directory: the tenant, its Global Administrator
    (the applicant) and the draft's link to it, all or nothing."""
    from enrollment.directory.builtin import builtin_tenant_create_verified

    with transaction.atomic():
        _draft_lock(application, applicant)
        verified = builtin_tenant_create_verified(
            name=name,
            country=country,
            initial_domain_label=initial_domain_label,
            admin_display_name=admin_display_name,
            admin_password=admin_password,
            by_user=applicant,
        )
        return application_tenant_set(application=application, applicant=applicant, verified=verified)


def _partner_id_free_for(application: EnrollmentApplication, partner_id: str) -> None:
    held = (
        Organization.objects.filter(partner_id=partner_id).exists()
        or EnrollmentApplication.objects.filter(partner_id=partner_id, status__in=APPLICATION_LIVE_STATUSES)
        .exclude(pk=application.pk)
        .exists()
    )
    if held:
        raise DomainError(
            PARTNER_ID_IN_USE % {"partner_id": partner_id}, code="partner_id_in_use", field="partner_id"
        )


@transaction.atomic
def application_profile_choose(
    *, application: EnrollmentApplication, applicant: User, account: MembershipAccount, partner_id: str
) -> EnrollmentApplication:
    """Step 3: link one profile of the signed-in membership account. It must be in the tenant's country
    and its partner ID neither enrolled nor held by another application."""
    application = _draft_lock(application, applicant)
    if not application.tenant_id:
        raise DomainError(TENANT_FIRST, code="tenant_missing")
    profile = PartnerProfile.objects.filter(
        account=account, account__is_active=True, partner_id=partner_id
    ).first()
    if profile is None:
        raise DomainError(PROFILE_NOT_YOURS, code="profile_unknown", field="partner_id")
    if profile.country.code != application.tenant_country:
        raise DomainError(
            COUNTRY_MISMATCH
            % {
                "partner_id": profile.partner_id,
                "profile_country": profile.country.name,
                "tenant_country": _country_name(application.tenant_country),
            },
            code="country_mismatch",
            field="partner_id",
        )
    _partner_id_free_for(application, profile.partner_id)
    before = {"partner_id": application.partner_id}
    application.partner_profile = profile
    application.partner_id = profile.partner_id
    application.already_authorised = profile.already_authorised
    fields = ["partner_profile", "partner_id", "already_authorised"]
    if not application.legal_name:
        application.legal_name = profile.legal_name
        fields.append("legal_name")
    try:
        with transaction.atomic():
            _touch(application, fields)
    except IntegrityError:
        raise DomainError(
            PARTNER_ID_IN_USE % {"partner_id": profile.partner_id},
            code="partner_id_in_use",
            field="partner_id",
        ) from None
    audit_record(
        action="enrollment_application.profile_chosen",
        actor=applicant,
        target=application,
        before=before,
        after={"partner_id": profile.partner_id, "already_authorised": profile.already_authorised},
    )
    return application


def _country_name(code: str) -> str:
    from django_countries import countries

    return str(countries.name(code)) if code else "—"


def details_fields_for(application: EnrollmentApplication) -> tuple[str, ...]:
    """The fields the details step asks for: all of them, or the support contact on the short path."""
    return SHORT_PATH_FIELDS if application.already_authorised else DETAIL_FIELDS


def details_errors_to_domain(error: ValidationError) -> DomainError:
    first_field, messages = next(iter(error.error_dict.items()))
    domain_error = DomainError(messages[0].messages[0], code="invalid_details", field=first_field)
    domain_error.validation_error = error  # every field's messages, for the form
    return domain_error


def _details_store(
    application: EnrollmentApplication,
    values: dict[str, Any],
    *,
    contact_language: str,
    fields: tuple[str, ...] | None = None,
) -> list[str]:
    """Validate and copy the details; return the names of the fields that changed."""
    try:
        cleaned = details_clean(
            values, country=application.tenant_country, short_path=application.already_authorised
        )
    except ValidationError as error:
        raise details_errors_to_domain(error) from None
    names = [name for name in (fields or cleaned) if name in cleaned]
    changed = [name for name in names if getattr(application, name) != cleaned[name]]
    for name in names:
        setattr(application, name, cleaned[name])
    if application.already_authorised:
        # The short path: the registry has the legal name; the applicant is the primary contact.
        application.legal_name = application.partner_profile.legal_name
        application.contact_name = application.applicant.full_name or application.applicant.email
        application.contact_email = application.applicant.email
        changed += ["legal_name", "contact_name", "contact_email"]
    if contact_language in dict(settings.LANGUAGES) and contact_language != application.contact_language:
        application.contact_language = contact_language
        changed.append("contact_language")
    return changed


@transaction.atomic
def application_details_set(
    *, application: EnrollmentApplication, applicant: User, values: dict[str, Any], contact_language: str = ""
) -> EnrollmentApplication:
    """Step 4: the legal business profile, primary contact and customer-support contact, checked again
    here with the same rules as the form (``details_clean``); nothing is saved when one field is wrong."""
    application = _draft_lock(application, applicant)
    if not application.tenant_id or not application.partner_id:
        raise DomainError(TENANT_FIRST, code="steps_missing")
    changed = _details_store(
        application, values, contact_language=contact_language or applicant.preferred_language
    )
    _touch(application, sorted(set(changed)))
    audit_record(
        action="enrollment_application.details_saved",
        actor=applicant,
        target=application,
        after={"fields": sorted(set(changed))},
    )
    return application


def missing_steps(application: EnrollmentApplication) -> list[str]:
    """What still keeps this draft from **Enroll now**, in words."""
    missing = []
    if not application.tenant_id:
        missing.append(str(_("directory tenant")))
    if not application.partner_id:
        missing.append(str(_("partner profile")))
    needed = ("legal_name", "contact_email", "support_email", "support_phone", "support_website")
    if any(not getattr(application, name) for name in needed):
        missing.append(str(_("organization details")))
    return missing


@transaction.atomic
def application_submit(*, application: EnrollmentApplication, applicant: User) -> EnrollmentApplication:
    """**Enroll now**: every step complete and still valid, tenant and partner ID still free; the
    application then waits for its primary contact, who gets the confirmation email."""
    from enrollment.services.confirmation import contact_confirmation_send
    from enrollment.services.notifications import application_status_notify

    application = _draft_lock(application, applicant)
    missing = missing_steps(application)
    if missing:
        raise DomainError(INCOMPLETE % {"missing": ", ".join(missing)}, code="incomplete")
    # The stored values pass today's rules (a blocked domain may have been added since the step).
    _details_store(
        application,
        {name: getattr(application, name) for name in DETAIL_FIELDS},
        contact_language=application.contact_language,
    )
    _tenant_free_for(application, application.tenant_id)
    _partner_id_free_for(application, application.partner_id)
    if application.partner_profile.country.code != application.tenant_country:
        raise DomainError(
            _("The tenant and the partner profile are in different countries."), code="country_mismatch"
        )
    now = timezone.now()
    application = transition_apply(
        application,
        Status.AWAITING_CONFIRMATION,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.submitted",
        actor=applicant,
        changes={
            "submitted_at": now,
            "updated_at": now,
            **{name: getattr(application, name) for name in DETAIL_FIELDS},
            "contact_language": application.contact_language,
            "legal_name": application.legal_name,
        },
        audit_after={"partner_id": application.partner_id, "tenant_id": str(application.tenant_id)},
    )
    contact_confirmation_send(application=application, reminder=False)
    application_status_notify(application)
    return application


@transaction.atomic
def application_withdraw(*, application: EnrollmentApplication, applicant: User) -> EnrollmentApplication:
    """The applicant stops: tenant and partner ID are free again."""
    from enrollment.services.notifications import application_status_notify

    application = application_lock(application, applicant=applicant)
    if application.status not in WITHDRAWABLE:
        raise InvalidTransition(application.get_status_display(), APPLICATION_STATUS.label(Status.WITHDRAWN))
    was_draft = application.status == Status.DRAFT
    application = transition_apply(
        application,
        Status.WITHDRAWN,
        transitions=APPLICATION_STATUS,
        action="enrollment_application.withdrawn",
        actor=applicant,
        changes={"updated_at": timezone.now()},
    )
    if not was_draft:
        application_status_notify(application)
    return application


def application_expire(*, application: EnrollmentApplication, why: str) -> bool:
    """Expire one application now, when its status allows (the deadline job; the demo); True when it did."""
    from enrollment.services.notifications import application_status_notify

    with transaction.atomic():
        locked = application_lock(application)
        if not APPLICATION_STATUS.allows(locked.status, Status.EXPIRED):
            return False
        was_draft = locked.status == Status.DRAFT
        locked = transition_apply(
            locked,
            Status.EXPIRED,
            transitions=APPLICATION_STATUS,
            action="enrollment_application.expired",
            changes={"updated_at": timezone.now()},
            audit_after={"why": why},
        )
        if not was_draft:
            application_status_notify(locked)
    return True


def applications_expire_due(*, limit: int = 500) -> int:
    """Beat job: drafts nobody touched, applications whose contact never confirmed, and requests for
    information nobody answered, each after its configured time. Safe to run again."""
    now = timezone.now()
    due = [
        (Status.DRAFT, "updated_at", timedelta(days=settings.ENROLLMENT_DRAFT_DAYS), "draft_abandoned"),
        (
            Status.AWAITING_CONFIRMATION,
            "submitted_at",
            timedelta(days=settings.ENROLLMENT_CONFIRMATION_DAYS),
            "contact_never_confirmed",
        ),
        (
            Status.MORE_INFORMATION,
            "updated_at",
            timedelta(days=settings.ENROLLMENT_INFORMATION_DAYS),
            "information_never_given",
        ),
    ]
    expired = 0
    for status, moment, age, why in due:
        candidates = EnrollmentApplication.objects.filter(
            status=status, **{f"{moment}__lte": now - age}
        ).order_by(moment)
        for application in candidates[:limit]:
            expired += application_expire(application=application, why=why)
    return expired

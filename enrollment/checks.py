"""The automated checks of an enrollment application: what each one decides, and what each outcome means
to the applicant and to the reviewer.

Each check is a pure function of the application (and the database): it returns a ``CheckResult`` with a
status and a stable reason code. ``REASONS`` gives every reason code its summary and its plain-language
fix, in English and Japanese (the catalogue's translations); the tracker and the review site show them,
and nothing else explains a check. ``enrollment.services.checks`` runs them and stores the results.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from enrollment.models import (
    APPLICATION_LIVE_STATUSES,
    ApplicationStatus,
    CheckKind,
    CheckStatus,
    ContactConfirmation,
    EnrollmentApplication,
    ScreeningEntry,
    ScreeningKind,
)
from enrollment.validation.email_domains import domain_normalise, email_domain_block_find


@dataclass(frozen=True)
class Reason:
    summary: Promise
    #: what the applicant can do about it (empty when nothing is needed)
    fix: Promise | str = ""


REASONS: dict[str, Reason] = {
    # email ownership
    "contact_confirmed": Reason(_("The primary contact confirmed the application from their mailbox.")),
    "contact_not_confirmed": Reason(
        _("The primary contact has not confirmed the current address."),
        _("Ask the primary contact to open the confirmation email and confirm; you can resend it."),
    ),
    # employment
    "tenant_domain": Reason(_("The primary contact's address is on one of the tenant's verified domains.")),
    "website_domain": Reason(_("The primary contact's address is on the domain of the company's website.")),
    "free_mail": Reason(
        _("The primary contact's address is on a free or disposable email service."),
        _("Give a primary contact with an address on your company's own domain."),
    ),
    "domain_unrelated": Reason(
        _(
            "The primary contact's address is neither on a verified domain of the tenant nor on the "
            "website's domain."
        ),
        _(
            "Give a primary contact whose address is on one of your tenant's verified domains or on your "
            "website's domain, or give your company's website; a reviewer may ask for a document instead."
        ),
    ),
    # country match
    "countries_match": Reason(_("The tenant, the partner profile and the address are in the same country.")),
    "countries_match_declared": Reason(
        _(
            "The partner profile and the address are in the country the applicant gave for the tenant "
            "(Microsoft Entra ID did not say it): reviewers confirm it."
        )
    ),
    "country_mismatch": Reason(
        _("The tenant, the partner profile and the address are not all in the same country."),
        _(
            "Enroll with a tenant and a partner profile of the country of your company's address; "
            "withdraw this application and start again with the right ones."
        ),
    ),
    # duplicates
    "no_duplicates": Reason(_("Neither the tenant nor the partner ID is enrolled or being enrolled.")),
    "tenant_enrolled": Reason(
        _("The tenant is already linked to an organization of the program."),
        _("If your company is already enrolled, ask its Global admin to invite you instead."),
    ),
    "partner_id_enrolled": Reason(
        _("The partner ID is already linked to an organization of the program."),
        _("If your company is already enrolled, ask its Global admin to invite you instead."),
    ),
    "legal_name_enrolled": Reason(
        _("An organization with the same legal name in the same country is already enrolled."),
        _("A reviewer will check whether it is your company; nothing to do unless they ask."),
    ),
    # screening
    "screening_clear": Reason(_("The company is not on the program's screening list.")),
    "screening_match": Reason(
        _("The application matches an entry of the program's screening list."),
        _("A reviewer will look at it; nothing to do unless they ask."),
    ),
}


@dataclass(frozen=True)
class CheckResult:
    status: str
    reason_code: str
    detail: dict[str, Any] = field(default_factory=dict)


def _passed(code: str, **detail) -> CheckResult:
    return CheckResult(CheckStatus.PASSED, code, detail)


def _failed(code: str, **detail) -> CheckResult:
    return CheckResult(CheckStatus.FAILED, code, detail)


def _domain_of(address: str) -> str:
    domain = address.rpartition("@")[2]
    try:
        return domain_normalise(domain)
    except Exception:
        return domain.lower()


def _within(domain: str, parent: str) -> bool:
    """``domain`` is ``parent`` or one of its subdomains."""
    return bool(parent) and (domain == parent or domain.endswith("." + parent))


def website_domain(url: str) -> str:
    host = (urlsplit(url).hostname or "") if url else ""
    if not host:
        return ""
    host = _domain_of("@" + host)
    return host[4:] if host.startswith("www.") else host


def check_email_ownership(application: EnrollmentApplication) -> CheckResult:
    confirmed = ContactConfirmation.objects.filter(
        application=application,
        status=ContactConfirmation.Status.ACCEPTED,
        email__iexact=application.contact_email,
    ).exists()
    return _passed("contact_confirmed") if confirmed else _failed("contact_not_confirmed")


def check_employment(application: EnrollmentApplication) -> CheckResult:
    domain = _domain_of(application.contact_email)
    if email_domain_block_find(domain) is not None:
        return _failed("free_mail", domain=domain)
    for verified in application.tenant_domains:
        if _within(domain, _domain_of("@" + verified)):
            return _passed("tenant_domain", domain=domain)
    site = website_domain(application.support_website)
    if site and (_within(domain, site) or _within(site, domain)):
        return _passed("website_domain", domain=domain, website=site)
    return _failed(
        "domain_unrelated", domain=domain, verified_domains=application.tenant_domains, website=site
    )


def check_country_match(application: EnrollmentApplication) -> CheckResult:
    profile_country = application.partner_profile.country.code if application.partner_profile else ""
    countries = {
        "tenant": application.tenant_country,
        "partner_profile": profile_country,
        "address": application.country.code if application.country else "",
    }
    if len(set(countries.values())) == 1 and all(countries.values()):
        if application.tenant_country_declared:
            return _passed("countries_match_declared", tenant_country_declared=True, **countries)
        return _passed("countries_match", **countries)
    return _failed("country_mismatch", **countries)


def name_key(name: str) -> str:
    """A legal name compared as people read it: width, letter case and spacing ignored."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_duplicates(application: EnrollmentApplication) -> CheckResult:
    if (
        application.tenant_id
        and Organization.objects.filter(directory_tenant__tenant_id=application.tenant_id)
        .exclude(pk=application.organization_id)
        .exists()
    ):
        return _failed("tenant_enrolled")
    if (
        application.partner_id
        and Organization.objects.filter(partner_id=application.partner_id)
        .exclude(pk=application.organization_id)
        .exists()
    ):
        return _failed("partner_id_enrolled")
    others = EnrollmentApplication.objects.exclude(pk=application.pk).filter(
        status__in=[*APPLICATION_LIVE_STATUSES, ApplicationStatus.APPROVED]
    )
    if application.tenant_id and others.filter(tenant_id=application.tenant_id).exists():
        return _failed("tenant_enrolled")
    if application.partner_id and others.filter(partner_id=application.partner_id).exists():
        return _failed("partner_id_enrolled")
    key = name_key(application.legal_name)
    same_country = (
        Organization.objects.filter(country=application.country, kind=Organization.Kind.RESELLER)
        .exclude(pk=application.organization_id)
        .values_list("legal_name", flat=True)
    )
    # Bounded by the country's resellers; the name comparison ignores width and case, which SQL cannot
    # index here without a stored key. Fine at the program's size; revisit with issue 12's figures.
    if key and any(name_key(name) == key for name in same_country.iterator()):
        return _failed("legal_name_enrolled")
    return _passed("no_duplicates")


def check_screening(application: EnrollmentApplication) -> CheckResult:
    key = name_key(application.legal_name)
    domains = {
        _domain_of(address) for address in (application.contact_email, application.support_email) if address
    }
    for entry in ScreeningEntry.objects.all().iterator():
        if entry.kind == ScreeningKind.LEGAL_NAME and name_key(entry.value) and name_key(entry.value) in key:
            return _failed("screening_match", entry=entry.pk, kind=entry.kind)
        if entry.kind == ScreeningKind.EMAIL_DOMAIN and any(
            _within(domain, _domain_of("@" + entry.value)) for domain in domains
        ):
            return _failed("screening_match", entry=entry.pk, kind=entry.kind)
        if entry.kind == ScreeningKind.PARTNER_ID and entry.value.strip() == application.partner_id:
            return _failed("screening_match", entry=entry.pk, kind=entry.kind)
    return _passed("screening_clear")


CHECKS = {
    CheckKind.EMAIL_OWNERSHIP: check_email_ownership,
    CheckKind.EMPLOYMENT: check_employment,
    CheckKind.COUNTRY_MATCH: check_country_match,
    CheckKind.DUPLICATES: check_duplicates,
    CheckKind.SCREENING: check_screening,
}

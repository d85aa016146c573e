"""Providers and their directory listings.

Program staff create a provider (legal details, countries served) and invite its first administrator;
the provider then edits its own listing, previews it and may hide it. Countries served stay with staff:
they decide where a provider may take resellers (the acceptance rule reads them).
"""

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries as all_countries

from accounts.models import Membership, Organization, User
from accounts.roles import Permission
from accounts.services.invitations import membership_invitation_first_admin
from accounts.services.people import canonical_email, name_check
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.text import text_clean
from providers.models import HELP_KINDS, LANGUAGE_CHOICES, ProviderCountry, ProviderLanguage, ProviderListing
from providers.services.common import actor_refresh, organization_locked

LISTING_FIELDS = (
    "description",
    "website",
    "contact_email",
    "contact_phone",
    *(field for field, _l in HELP_KINDS),
)


def _staff_require(by: User) -> User:
    by = User.objects.get(pk=by.pk)
    if not (by.is_active and by.is_staff):
        raise DomainError(_("Only program staff can do this."), code="not_staff")
    return by


def countries_clean(codes: Iterable[str], *, field: str = "countries") -> list[str]:
    codes = sorted({str(code).upper() for code in codes if code})
    if not codes:
        raise DomainError(_("Choose at least one country."), code="countries_required", field=field)
    unknown = [code for code in codes if code not in dict(all_countries)]
    if unknown:
        raise DomainError(_("Choose countries from the list."), code="countries_unknown", field=field)
    return codes


def languages_clean(codes: Iterable[str]) -> list[str]:
    known = dict(LANGUAGE_CHOICES)
    codes = sorted({code for code in codes if code})
    if any(code not in known for code in codes):
        raise DomainError(_("Choose languages from the list."), code="languages_unknown", field="languages")
    return codes


def _countries_set(listing: ProviderListing, codes: list[str]) -> None:
    ProviderCountry.objects.filter(listing=listing).exclude(country__in=codes).delete()
    have = set(ProviderCountry.objects.filter(listing=listing).values_list("country", flat=True))
    ProviderCountry.objects.bulk_create(
        ProviderCountry(listing=listing, country=code) for code in codes if code not in have
    )


def _languages_set(listing: ProviderListing, codes: list[str]) -> None:
    ProviderLanguage.objects.filter(listing=listing).exclude(language__in=codes).delete()
    have = set(ProviderLanguage.objects.filter(listing=listing).values_list("language", flat=True))
    ProviderLanguage.objects.bulk_create(
        ProviderLanguage(listing=listing, language=code) for code in codes if code not in have
    )


@transaction.atomic
def provider_create(
    *,
    legal_name: str,
    country: str,
    countries_served: Iterable[str],
    admin_email: str,
    admin_language: str,
    by: User,
    languages: Iterable[str] = (),
    **details,
) -> Organization:
    """Staff create and authorise a provider: the organization, its listing (shown, with the countries it
    serves) and an invitation to its first Global admin, in one transaction."""
    by = _staff_require(by)
    legal_name = text_clean(legal_name, field="legal_name", required=True, max_length=200)
    name_check(legal_name, field="legal_name")
    admin_email = canonical_email(text_clean(admin_email, field="admin_email", required=True, max_length=254))
    _validated(admin_email, EmailValidator(), field="admin_email")
    codes = countries_clean(countries_served, field="countries_served")
    if country not in dict(all_countries):
        raise DomainError(_("Choose a country from the list."), code="country_unknown", field="country")
    if admin_language not in dict(settings.LANGUAGES):
        admin_language = settings.LANGUAGE_CODE
    organization = Organization.objects.create(
        kind=Organization.Kind.PROVIDER, legal_name=legal_name, country=country, **details
    )
    audit_record(
        action="organization.created",
        actor=by,
        organization=organization,
        target=organization,
        after={"kind": organization.kind, "legal_name": legal_name, "country": country},
    )
    listing = ProviderListing.objects.create(
        organization=organization,
        name=legal_name,
        contact_email=details.get("support_email", ""),
        website=details.get("support_website", ""),
        authorized_at=timezone.now(),
        authorized_by=by,
    )
    _countries_set(listing, codes)
    _languages_set(listing, languages_clean(languages))
    audit_record(
        action="provider.authorized",
        actor=by,
        organization=organization,
        target=listing,
        after={"countries_served": codes},
    )
    membership_invitation_first_admin(
        organization=organization, email=admin_email, language=admin_language, by=by
    )
    return organization


@transaction.atomic
def provider_countries_set(
    *, listing: ProviderListing, countries: Iterable[str], by: User
) -> ProviderListing:
    """Staff change where a provider may take resellers (existing partnerships are not ended)."""
    by = _staff_require(by)
    listing = ProviderListing.objects.select_for_update().get(pk=listing.pk)
    before = sorted(listing.countries.values_list("country", flat=True))
    codes = countries_clean(countries, field="countries_served")
    _countries_set(listing, codes)
    audit_record(
        action="provider.countries_changed",
        actor=by,
        organization_id=listing.organization_id,
        target=listing,
        before={"countries_served": before},
        after={"countries_served": codes},
    )
    return listing


def _validated(value: str, validator, *, field: str) -> str:
    if value:
        try:
            validator(value)
        except ValidationError as error:
            raise DomainError(error.messages[0], code="invalid", field=field) from None
    return value


def listing_values_clean(values: dict) -> dict:
    """The listing's own fields, as the provider may set them."""
    website = (values.get("website") or "").strip()
    email = canonical_email(values.get("contact_email") or "")
    cleaned = {
        "description": text_clean(
            values.get("description", ""), field="description", required=False, max_length=2000
        ),
        "website": _validated(website, URLValidator(schemes=["https", "http"]), field="website"),
        "contact_email": _validated(email, EmailValidator(), field="contact_email"),
        "contact_phone": text_clean(
            values.get("contact_phone", ""), field="contact_phone", required=False, max_length=40
        ),
    }
    for field, _label in HELP_KINDS:
        cleaned[field] = bool(values.get(field))
    return cleaned


@transaction.atomic
def listing_update(
    *, listing: ProviderListing, by: Membership, values: dict, languages: Iterable[str]
) -> ProviderListing:
    """The provider edits its listing (not its authorisation, not the countries it serves)."""
    organization = organization_locked(listing.organization, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, organization, Permission.PARTNERS_MANAGE)
    listing = ProviderListing.objects.select_for_update().get(pk=listing.pk, organization=organization)
    cleaned = listing_values_clean(values)
    codes = languages_clean(languages)
    before = {field: getattr(listing, field) for field in LISTING_FIELDS}
    before["languages"] = sorted(listing.languages.values_list("language", flat=True))
    for field, value in cleaned.items():
        setattr(listing, field, value)
    listing.name = organization.legal_name
    listing.updated_at = timezone.now()
    listing.save(update_fields=[*cleaned, "name", "updated_at"])
    _languages_set(listing, codes)
    after = {**cleaned, "languages": codes}
    changed = {key for key in after if before.get(key) != after[key]}
    audit_record(
        action="provider_listing.updated",
        actor=by.user,
        organization=organization,
        target=listing,
        before={key: before[key] for key in sorted(changed)},
        after={key: after[key] for key in sorted(changed)},
    )
    return listing


@transaction.atomic
def listing_visibility_set(*, listing: ProviderListing, by: Membership, visible: bool) -> ProviderListing:
    organization = organization_locked(listing.organization, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, organization, Permission.PARTNERS_MANAGE)
    listing = ProviderListing.objects.select_for_update().get(pk=listing.pk, organization=organization)
    if listing.visible == visible:
        return listing
    listing.visible = visible
    listing.updated_at = timezone.now()
    listing.save(update_fields=["visible", "updated_at"])
    audit_record(
        action="provider_listing.shown" if visible else "provider_listing.hidden",
        actor=by.user,
        organization=organization,
        target=listing,
        before={"visible": not visible},
        after={"visible": visible},
    )
    return listing


def listing_rename(*, organization: Organization, after: str, **_signal) -> None:
    """The directory sorts and searches its own copy of the provider's name: keep it the legal name
    (receiver of ``accounts.signals.organization_renamed``, inside the renaming transaction)."""
    ProviderListing.objects.filter(organization=organization).update(name=after, updated_at=timezone.now())

"""The partner-membership registry: program staff create accounts and profiles; applicants sign in.

Staff writes are one transaction each with their audit row (the CSV import, in ``membership_import``,
writes one audit row per file). Sign-in is rate-limited per client and per username, and answers an
unknown username, a wrong password and an inactive account with the same error after the same work (one
password hash), so that it never tells which usernames exist.
"""

import unicodedata
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from enrollment.models import MembershipAccount, PartnerProfile
from portal.audit.services import audit_record
from portal.credentials import credentials_sign_in
from portal.errors import DomainError

#: Sign-in attempts allowed per window, counted per client (the caller's key: the applicant, or the
#: address) and per username (whoever tries it), so that neither one client guessing many usernames nor
#: many clients guessing one username get far.
SIGN_IN_ATTEMPTS_PER_CLIENT = 20
SIGN_IN_ATTEMPTS_PER_USERNAME = 10

#: The profile's fields in the order a form or a CSV file lists them (their first error is reported).
PROFILE_FIELDS = ("partner_id", "legal_name", "country", "location", "already_authorised")

INVALID_CREDENTIALS = _("The username or password is incorrect.")
USERNAME_TAKEN = _("A membership account with this username already exists.")
PARTNER_ID_TAKEN = _("This partner ID is already in the registry.")


# --- Normalising and checking values (shared with the CSV import) -----------------------------------


def username_normalise(value: str) -> str:
    """Full-width letters and digits as ASCII (spreadsheets in Japanese often hold them), no surrounding
    spaces. Case is kept for display; uniqueness and sign-in ignore it."""
    return unicodedata.normalize("NFKC", value or "").strip()


def membership_account_find(username: str) -> MembershipAccount | None:
    """The account with this username in any case, through the case-insensitive unique index."""
    return (
        MembershipAccount.objects.alias(username_lower=Lower("username"))
        .filter(username_lower=username_normalise(username).lower())
        .first()
    )


def _field_clean(model, name: str, value: Any) -> Any:
    try:
        return model._meta.get_field(name).clean(value, None)
    except ValidationError as error:
        raise DomainError(error.messages[0], code="invalid", field=name) from error


def username_clean(username: str) -> str:
    return _field_clean(MembershipAccount, "username", username_normalise(username))


def new_password_check(password: str, *, username: str) -> None:
    """The portal's own password rules (length, common, numeric, similar to the username)."""
    if not password:
        raise DomainError(
            _("A new membership account needs a password."), code="password_missing", field="password"
        )
    try:
        password_validation.validate_password(password, user=MembershipAccount(username=username))
    except ValidationError as error:
        raise DomainError(error.messages[0], code="password_invalid", field="password") from error


def profile_values_clean(
    *, partner_id: str, legal_name: str, country: str, location: str, already_authorised: bool
) -> dict[str, Any]:
    """The profile's values, normalised and checked field by field; the first invalid one raises a
    DomainError that names it."""
    values = {
        # Full-width digits, as Japanese spreadsheets often hold them, are the same partner ID.
        "partner_id": unicodedata.normalize("NFKC", partner_id or "").strip(),
        "legal_name": (legal_name or "").strip(),
        "country": (country or "").strip().upper(),
        "location": (location or "").strip(),
        "already_authorised": bool(already_authorised),
    }
    return {name: _field_clean(PartnerProfile, name, values[name]) for name in PROFILE_FIELDS}


def profile_audit_values(profile: PartnerProfile) -> dict[str, Any]:
    return {
        "account": profile.account.username,
        "partner_id": profile.partner_id,
        "legal_name": profile.legal_name,
        "country": str(profile.country),
        "location": profile.location,
        "already_authorised": profile.already_authorised,
    }


# --- Staff: create ------------------------------------------------------------------------------------


def account_insert(*, username: str, password: str) -> MembershipAccount:
    """Insert a checked account in a savepoint; a username taken meanwhile (any case) is a DomainError."""
    account = MembershipAccount(username=username)
    account.set_password(password)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as error:
        raise DomainError(USERNAME_TAKEN, code="username_taken", field="username") from error
    return account


def profile_insert(*, account: MembershipAccount, values: dict[str, Any]) -> PartnerProfile:
    """Insert checked profile values in a savepoint; a partner ID taken meanwhile is a DomainError."""
    profile = PartnerProfile(account=account, **values)
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError as error:
        raise DomainError(PARTNER_ID_TAKEN, code="partner_id_taken", field="partner_id") from error
    return profile


@transaction.atomic
def membership_account_create(*, username: str, password: str, by: User | None) -> MembershipAccount:
    """Create a membership account; the password is stored only as a hash, and never audited. ``by``
    is the staff member (None: the system, e.g. the demo data)."""
    username = username_clean(username)
    if membership_account_find(username) is not None:
        raise DomainError(USERNAME_TAKEN, code="username_taken", field="username")
    new_password_check(password, username=username)
    account = account_insert(username=username, password=password)
    audit_record(
        action="membership_account.created",
        actor=by,
        target=account,
        after={"username": account.username, "is_active": account.is_active},
    )
    return account


@transaction.atomic
def partner_profile_create(
    *,
    account: MembershipAccount,
    partner_id: str,
    legal_name: str,
    country: str,
    location: str,
    already_authorised: bool = False,
    by: User | None,
) -> PartnerProfile:
    """Add an organization profile (a partner ID) to a membership account."""
    values = profile_values_clean(
        partner_id=partner_id,
        legal_name=legal_name,
        country=country,
        location=location,
        already_authorised=already_authorised,
    )
    if PartnerProfile.objects.filter(partner_id=values["partner_id"]).exists():
        raise DomainError(PARTNER_ID_TAKEN, code="partner_id_taken", field="partner_id")
    profile = profile_insert(account=account, values=values)
    audit_record(
        action="partner_profile.created", actor=by, target=profile, after=profile_audit_values(profile)
    )
    return profile


# --- Applicants: sign in --------------------------------------------------------------------------------


def membership_sign_in(*, username: str, password: str, client_key: str) -> MembershipAccount:
    """The membership account these credentials open, or DomainError ``invalid_credentials`` (unknown
    username, wrong password and inactive account alike) or ``rate_limited``."""
    return credentials_sign_in(
        scope="membership_sign_in",
        name=username_normalise(username),
        password=password,
        client_key=client_key,
        find=membership_account_find,
        is_active=lambda account: account.is_active,
        attempts_per_client=SIGN_IN_ATTEMPTS_PER_CLIENT,
        attempts_per_name=SIGN_IN_ATTEMPTS_PER_USERNAME,
        invalid_message=INVALID_CREDENTIALS,
    )

"""The screening list reviewers keep (review site: Screening list): the deny list the screening check
compares every application with (``enrollment.checks.check_screening``).

Reviewers add and remove entries; a change is one transaction with its audit row. An entry is never
edited: to change it, remove it and add it again, so the history shows both.
"""

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from enrollment.models import ScreeningEntry, ScreeningKind, partner_id_validator
from enrollment.validation.email_domains import domain_normalise
from portal.audit.services import audit_record
from portal.errors import DomainError

ENTRY_ALREADY_LISTED = _("%(value)s is already on the screening list.")
ENTRY_NO_LONGER_LISTED = _("%(value)s is no longer on the screening list.")
KIND_UNKNOWN = _("Choose legal name, email domain or partner ID.")
VALUE_REQUIRED = _("Enter the value to screen for.")


def _field_error(error: ValidationError, field: str) -> DomainError:
    return DomainError(error.messages[0], code=error.error_list[0].code or "invalid", field=field)


def screening_value_normalise(*, kind: str, value: str) -> str:
    """The form the list stores: a domain as lower-case IDNA ASCII, a partner ID as its seven ASCII digits,
    a legal name as written (trimmed). Raises ``ValidationError`` for a value that cannot match."""
    text = str(value or "").strip()
    if not text:
        raise ValidationError(VALUE_REQUIRED, code="value_required")
    if kind == ScreeningKind.EMAIL_DOMAIN:
        return domain_normalise(text)
    if kind == ScreeningKind.PARTNER_ID:
        digits = unicodedata.normalize("NFKC", text)  # full-width digits, as people type them in Japan
        partner_id_validator(digits)
        return digits
    return text


def _audit_values(entry: ScreeningEntry) -> dict[str, Any]:
    return {"kind": entry.kind, "value": entry.value, "note": entry.note}


@transaction.atomic
def screening_entry_add(*, kind: str, value: str, note: str = "", by: User) -> ScreeningEntry:
    """Put a legal name, an email domain or a partner ID on the screening list."""
    if kind not in ScreeningKind.values:
        raise DomainError(KIND_UNKNOWN, code="kind_unknown", field="kind")
    try:
        normalised = screening_value_normalise(kind=kind, value=value)
    except ValidationError as error:
        raise _field_error(error, "value") from error
    entry = ScreeningEntry(kind=kind, value=normalised, note=str(note or "").strip())
    try:
        entry.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, errors = next(iter(error.error_dict.items()))
        raise _field_error(ValidationError(errors), field) from error
    try:
        with transaction.atomic():  # the unique index (kind, lower(value)) decides between two reviewers
            entry.save(force_insert=True)
    except IntegrityError as error:
        raise DomainError(
            ENTRY_ALREADY_LISTED % {"value": normalised}, code="entry_already_listed", field="value"
        ) from error
    audit_record(action="screening_entry.added", actor=by, target=entry, after=_audit_values(entry))
    return entry


@transaction.atomic
def screening_entry_remove(*, entry: ScreeningEntry, by: User) -> None:
    """Take an entry off the screening list (applications already checked keep their results)."""
    locked = ScreeningEntry.objects.select_for_update().filter(pk=entry.pk).first()
    if locked is None:  # another reviewer removed it first
        raise DomainError(ENTRY_NO_LONGER_LISTED % {"value": entry.value}, code="entry_not_listed")
    audit_record(action="screening_entry.removed", actor=by, target=locked, before=_audit_values(locked))
    locked.delete()

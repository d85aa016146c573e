"""The blocked email domains program staff keep (review site: Blocked email domains), on top of the
maintained free-mail and disposable-mail package lists (``enrollment.validation.email_domains``).

Staff add and remove domains; a change is one transaction with its audit row. An entry is never edited:
to change its kind or note, remove it and add it again, so the history shows both.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from enrollment.models import BlockedEmailDomain, BlockedEmailDomainKind
from enrollment.validation.email_domains import domain_display, domain_normalise
from portal.audit.services import audit_record
from portal.errors import DomainError

DOMAIN_ALREADY_BLOCKED = _("%(domain)s is already on the list of blocked domains.")
DOMAIN_NO_LONGER_BLOCKED = _("%(domain)s is no longer on the list of blocked domains.")
KIND_UNKNOWN = _("Choose free email service, disposable email service or other.")


def _field_error(error: ValidationError, field: str) -> DomainError:
    return DomainError(error.messages[0], code=error.error_list[0].code or "invalid", field=field)


def _audit_values(blocked: BlockedEmailDomain) -> dict[str, Any]:
    return {"domain": blocked.domain, "kind": blocked.kind, "note": blocked.note}


@transaction.atomic
def blocked_email_domain_add(*, domain: str, kind: str, note: str = "", by: User) -> BlockedEmailDomain:
    """Block mail at ``domain`` and at its subdomains for applicants' primary contacts."""
    try:
        ascii_domain = domain_normalise(domain)
    except ValidationError as error:
        raise _field_error(error, "domain") from error
    if kind not in BlockedEmailDomainKind.values:
        raise DomainError(KIND_UNKNOWN, code="kind_unknown", field="kind")
    blocked = BlockedEmailDomain(domain=ascii_domain, kind=kind, note=str(note or "").strip(), created_by=by)
    try:
        blocked.full_clean(exclude=["created_by"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, errors = next(iter(error.error_dict.items()))
        raise _field_error(ValidationError(errors), field) from error
    try:
        with transaction.atomic():  # the unique index decides between two staff adding it at once
            blocked.save(force_insert=True)
    except IntegrityError as error:
        raise DomainError(
            DOMAIN_ALREADY_BLOCKED % {"domain": domain_display(ascii_domain)},
            code="domain_already_blocked",
            field="domain",
        ) from error
    audit_record(action="blocked_email_domain.added", actor=by, target=blocked, after=_audit_values(blocked))
    return blocked


@transaction.atomic
def blocked_email_domain_remove(*, blocked_domain: BlockedEmailDomain, by: User) -> None:
    """Unblock a domain (the package lists may still refuse it)."""
    blocked = BlockedEmailDomain.objects.select_for_update().filter(pk=blocked_domain.pk).first()
    if blocked is None:  # another reviewer removed it first
        raise DomainError(
            DOMAIN_NO_LONGER_BLOCKED % {"domain": domain_display(blocked_domain.domain)},
            code="domain_not_blocked",
        )
    audit_record(
        action="blocked_email_domain.removed", actor=by, target=blocked, before=_audit_values(blocked)
    )
    blocked.delete()

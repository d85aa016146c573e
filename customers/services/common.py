"""What the customer services share: who hears about a relationship, the delegated admin terms, and the
facts a partner or a customer reads in an email."""

from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.roles import Permission
from customers.models import (
    AUTO_EXTEND_DAYS,
    DURATION_MAX_DAYS,
    DURATION_MIN_DAYS,
    DelegatedRole,
    roles_ordered,
)
from portal.errors import DomainError
from providers.services.common import organization_email

#: who hears about a customer, per kind of organization: partners' customer managers, customers' admins
NOTIFIED_PERMISSION = {
    Organization.Kind.RESELLER: Permission.CUSTOMERS_MANAGE,
    Organization.Kind.PROVIDER: Permission.CUSTOMERS_MANAGE,
    Organization.Kind.CUSTOMER: Permission.PARTNERS_MANAGE,
}


def notify(
    organization: Organization, *, template: str, context: dict, dedupe_key: str, extra_users=()
) -> int:
    """Email the members of ``organization`` who look after its customers (a partner) or its partners (a
    customer), each once and in their own language, in the current transaction's outbox."""
    return organization_email(
        organization,
        template=template,
        context=context,
        dedupe_key=dedupe_key,
        extra_users=extra_users,
        permission=NOTIFIED_PERMISSION[organization.kind],
    )


GLOBAL_ADMIN_NO_AUTO_EXTEND = _(
    "Auto-extend is not available when Global administrator is among the roles: that role must be "
    "requested again when it ends."
)


def delegated_terms_clean(*, roles, duration_days, auto_extend: bool) -> tuple[list[str], int, bool]:
    """The delegated admin request as stored: known roles in catalogue order (at least one), a whole
    number of days from 1 to 730, and auto-extend only without Global administrator."""
    given = [str(role) for role in (roles or [])]
    unknown = [role for role in given if role not in DelegatedRole.values]
    if unknown:
        raise DomainError(_("Choose roles from the list."), code="role_unknown", field="roles")
    roles = roles_ordered(given)
    if not roles:
        raise DomainError(
            _("Choose at least one delegated admin role."), code="roles_required", field="roles"
        )
    try:
        days = int(duration_days)
    except (TypeError, ValueError):
        raise DomainError(
            _("Enter the duration as a whole number of days."), code="duration_invalid", field="duration_days"
        ) from None
    if not DURATION_MIN_DAYS <= days <= DURATION_MAX_DAYS:
        raise DomainError(
            _("Choose a duration from %(min)d day to %(max)d days (2 years).")
            % {"min": DURATION_MIN_DAYS, "max": DURATION_MAX_DAYS},
            code="duration_range",
            field="duration_days",
        )
    auto_extend = bool(auto_extend)
    if auto_extend and DelegatedRole.GLOBAL_ADMIN in roles:
        raise DomainError(GLOBAL_ADMIN_NO_AUTO_EXTEND, code="auto_extend_global_admin", field="auto_extend")
    return roles, days, auto_extend


def role_lines(roles) -> list[dict]:
    """Each role with its label and plain-words description (for pages and emails)."""
    from customers.models import DELEGATED_ROLE_DESCRIPTIONS

    return [
        {"code": role, "label": DelegatedRole(role).label, "description": DELEGATED_ROLE_DESCRIPTIONS[role]}
        for role in roles_ordered(roles)
    ]


__all__ = ["AUTO_EXTEND_DAYS", "delegated_terms_clean", "notify", "role_lines"]

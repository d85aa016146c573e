"""The users of a customer's built-in directory tenant, managed by the customer's administrators or by
its reseller with the User administrator delegated role (``commerce.access``). The directory itself is
accounts' (``accounts.services.directory``); this module adds who may, and names the partner."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenantSource, DirectoryUser, Membership, Organization
from accounts.services import directory
from commerce import access
from portal.audit.services import audit_record
from portal.errors import DomainError

TENANT_NOT_MANAGED_HERE = _(
    "This customer's tenant is in Microsoft Entra ID: its users are managed in the Microsoft Entra admin "
    "center, not here."
)


def builtin_tenant_of(customer: Organization):
    """The customer's tenant when it is one of the built-in directory's (users managed here), else None."""
    tenant = customer.directory_tenant
    if tenant is None or tenant.source != DirectoryTenantSource.BUILTIN:
        return None
    return tenant


def _tenant_require(customer: Organization):
    tenant = builtin_tenant_of(customer)
    if tenant is None:
        raise DomainError(TENANT_NOT_MANAGED_HERE, code="tenant_not_builtin")
    return tenant


def _partner_row(
    action: str, *, by: Membership, partner: Organization | None, customer, directory_user
) -> None:
    """The partner's own activity log says what it did in which customer's tenant."""
    if partner is not None:
        audit_record(
            action=action,
            actor=by.user,
            organization=partner,
            target=directory_user,
            after={
                "customer": customer.legal_name,
                "user_principal_name": directory_user.user_principal_name,
            },
        )


@transaction.atomic
def customer_user_add(
    *,
    by: Membership,
    customer: Organization,
    user_principal_name: str,
    display_name: str,
    contact_email: str,
    language: str,
) -> DirectoryUser:
    """Add a user to the customer's tenant; the user gets a set-up email in ``language``."""
    partner = access.customer_act_check(by=by, customer=customer, action=access.USERS_MANAGE)
    tenant = _tenant_require(customer)
    directory_user = directory.directory_user_add(
        tenant=tenant,
        user_principal_name=user_principal_name,
        display_name=display_name,
        contact_email=contact_email,
        language=language,
        by_user=by.user,
        acting_partner=partner,
    )
    _partner_row(
        "directory_user.created", by=by, partner=partner, customer=customer, directory_user=directory_user
    )
    return directory_user


def _global_admin_guard(partner: Organization | None, directory_user: DirectoryUser) -> None:
    """A partner's User administrator role does not reach the customer's Global administrators (as in
    Microsoft Entra ID): it neither disables nor re-enables them."""
    if partner is not None and directory_user.is_global_admin:
        raise DomainError(
            _("A partner cannot change one of the customer's Global administrators."),
            code="global_admin_protected",
        )


def _user_of(customer: Organization, directory_user: DirectoryUser) -> DirectoryUser:
    tenant = _tenant_require(customer)
    if directory_user.tenant_id != tenant.pk:
        raise DomainError(_("This user is not in the customer's tenant."), code="user_unknown")
    return directory_user


@transaction.atomic
def customer_user_disable(
    *, by: Membership, customer: Organization, directory_user: DirectoryUser
) -> DirectoryUser:
    """Disable a user of the customer's tenant (no more sign-in; licences stay assigned)."""
    partner = access.customer_act_check(by=by, customer=customer, action=access.USERS_MANAGE)
    directory_user = _user_of(customer, directory_user)
    _global_admin_guard(partner, directory_user)
    result = directory.directory_user_disable(
        directory_user=directory_user, by_user=by.user, acting_partner=partner
    )
    _partner_row("directory_user.disabled", by=by, partner=partner, customer=customer, directory_user=result)
    return result


@transaction.atomic
def customer_user_enable(
    *, by: Membership, customer: Organization, directory_user: DirectoryUser
) -> DirectoryUser:
    """Enable a disabled user of the customer's tenant again."""
    partner = access.customer_act_check(by=by, customer=customer, action=access.USERS_MANAGE)
    directory_user = _user_of(customer, directory_user)
    _global_admin_guard(partner, directory_user)
    result = directory.directory_user_enable(
        directory_user=directory_user, by_user=by.user, acting_partner=partner
    )
    _partner_row("directory_user.enabled", by=by, partner=partner, customer=customer, directory_user=result)
    return result


@transaction.atomic
def customer_user_setup_link_send(
    *, by: Membership, customer: Organization, directory_user: DirectoryUser
) -> DirectoryUser:
    """Send a user of the customer's tenant a new set-up link (an expired one, a password forgotten)."""
    partner = access.customer_act_check(by=by, customer=customer, action=access.USERS_MANAGE)
    directory_user = _user_of(customer, directory_user)
    _global_admin_guard(partner, directory_user)
    result = directory.directory_user_setup_link_send(
        directory_user=directory_user, by_user=by.user, acting_partner=partner
    )
    _partner_row(
        "directory_user.setup_sent", by=by, partner=partner, customer=customer, directory_user=result
    )
    return result

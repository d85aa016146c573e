"""Built-in directory mode of the directory-tenant step (the default): the portal's own directory.

Two ways to prove control of a tenant, both ending in the same ``VerifiedTenant`` as the Microsoft Entra
ID mode (``source=BUILTIN``) or a ``DirectoryError``:

1. ``builtin_sign_in``: the user principal name and password of a Global Administrator of an existing
   built-in tenant (rate-limited; an unknown name, a wrong password and a disabled user get the same
   answer after the same work);
2. ``builtin_tenant_create_verified``: **Create a new tenant** (name, country, initial domain label), whose
   Global Administrator the applicant becomes.

The tenants and users themselves belong to accounts (``accounts/services/directory.py``); this module only
turns them into the wizard's terms. Nothing of the password is kept or logged.
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenant, DirectoryTenantSource, DirectoryUser, User
from accounts.services.directory import builtin_tenant_create, directory_user_sign_in
from enrollment.directory.base import (
    DirectoryAdmin,
    DirectoryError,
    InvalidCredentials,
    NotGlobalAdmin,
    TenantNotCreated,
    TooManyAttempts,
    VerifiedTenant,
)
from enrollment.directory.tenants import tenant_check_available
from portal.errors import DomainError

logger = logging.getLogger(__name__)

NOT_GLOBAL_ADMIN = _(
    "The user %(account)s is not a Global Administrator of its tenant. Sign in with a Global "
    "Administrator of the tenant, ask one to complete this step, or create a new tenant."
)


def builtin_sign_in(*, user_principal_name: str, password: str, client_key: str) -> VerifiedTenant:
    """A Global Administrator's sign-in to an existing built-in tenant that is still available, or
    ``InvalidCredentials``, ``TooManyAttempts``, ``NotGlobalAdmin``, ``TenantInUse``. ``client_key`` names
    the client for the rate limit (the applicant, or the address)."""
    try:
        try:
            directory_user = directory_user_sign_in(
                user_principal_name=user_principal_name, password=password, client_key=client_key
            )
        except DomainError as error:
            if error.code == "rate_limited":
                raise TooManyAttempts(reason="rate_limited") from None
            raise InvalidCredentials(reason=error.code) from None
        if not directory_user.is_global_admin:
            raise NotGlobalAdmin(
                NOT_GLOBAL_ADMIN % {"account": directory_user.user_principal_name},
                account=directory_user.user_principal_name,
                reason="role_missing",
            )
        tenant_check_available(directory_user.tenant.tenant_id)
    except DirectoryError as error:
        # The service logged why a sign-in was refused; this line says what the wizard was told.
        logger.warning("Built-in directory step refused: %s (%s)", error.code, error.reason)
        raise
    verified = builtin_verified_tenant(directory_user.tenant, directory_user)
    logger.info(
        "Built-in directory sign-in verified: tenant %s, administrator object %s",
        verified.tenant_id,
        verified.admin.object_id,
    )
    return verified


def builtin_tenant_create_verified(
    *,
    name: str,
    country: str,
    initial_domain_label: str,
    admin_display_name: str,
    admin_password: str,
    by_user: User | None,
) -> VerifiedTenant:
    """**Create a new tenant**: the new tenant, verified, with ``by_user`` signed in as its Global
    Administrator ``admin@<label>.<suffix>``; or ``TenantNotCreated`` whose ``field`` is the argument it
    refuses (and nothing saved)."""
    try:
        tenant, admin = builtin_tenant_create(
            name=name,
            country=country,
            initial_domain_label=initial_domain_label,
            admin_display_name=admin_display_name,
            admin_password=admin_password,
            by_user=by_user,
        )
    except DomainError as error:
        raise TenantNotCreated(error.message, field=error.field, reason=error.code) from None
    return builtin_verified_tenant(tenant, admin)


def builtin_verified_tenant(tenant: DirectoryTenant, admin: DirectoryUser) -> VerifiedTenant:
    """A built-in tenant and its Global Administrator in the wizard's terms."""
    return VerifiedTenant(
        tenant_id=tenant.tenant_id,
        display_name=tenant.name,
        verified_domains=[str(domain).lower() for domain in tenant.verified_domains],
        country=tenant.country.code if tenant.country else "",
        source=DirectoryTenantSource.BUILTIN,
        admin=DirectoryAdmin(
            object_id=admin.public_id,
            user_principal_name=admin.user_principal_name,
            email="",  # the built-in directory has no mailboxes: the contact's email comes later
            display_name=admin.display_name,
        ),
    )

"""What every directory-tenant mode gives the wizard: a ``VerifiedTenant``, or a ``DirectoryError``.

Both modes (Microsoft Entra ID in ``entra.py``, the portal's built-in directory) prove the same thing: the
person in front of the browser is a Global Administrator of a directory tenant, and here are that
tenant's facts. Errors carry a stable ``code`` for the wizard and a translated, plain-language message for
the person; ``reason`` is a short machine word for the logs and is never shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenantSource
from portal.errors import DomainError

# Global Administrator's role template id: the same in every Microsoft Entra ID tenant.
GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID = "62e90394-69f5-4237-9190-012177145e10"


@dataclass(frozen=True, kw_only=True)
class DirectoryAdmin:
    """The Global Administrator who proved control of the tenant."""

    object_id: uuid.UUID
    user_principal_name: str
    email: str = ""  # empty when the directory did not say
    display_name: str = ""


@dataclass(frozen=True, kw_only=True)
class VerifiedTenant:
    """A directory tenant whose Global Administrator has just signed in, with the facts the directory gave."""

    tenant_id: uuid.UUID
    display_name: str
    verified_domains: list[str] = field(default_factory=list)  # lower case, the default domain first
    country: str = ""  # ISO 3166-1 alpha-2, upper case; empty when the directory did not say
    source: DirectoryTenantSource
    admin: DirectoryAdmin

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for a session or a draft's JSON field; ``from_dict`` reads it back."""
        return {
            "tenant_id": str(self.tenant_id),
            "display_name": self.display_name,
            "verified_domains": list(self.verified_domains),
            "country": self.country,
            "source": str(self.source),
            "admin": {
                "object_id": str(self.admin.object_id),
                "user_principal_name": self.admin.user_principal_name,
                "email": self.admin.email,
                "display_name": self.admin.display_name,
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifiedTenant:
        admin = data["admin"]
        return cls(
            tenant_id=uuid.UUID(data["tenant_id"]),
            display_name=data["display_name"],
            verified_domains=list(data["verified_domains"]),
            country=data["country"],
            source=DirectoryTenantSource(data["source"]),
            admin=DirectoryAdmin(
                object_id=uuid.UUID(admin["object_id"]),
                user_principal_name=admin["user_principal_name"],
                email=admin["email"],
                display_name=admin["display_name"],
            ),
        )


class DirectoryError(DomainError):
    """The directory step said no. ``code`` is stable; ``message`` is for the person; ``reason`` for logs."""

    code: ClassVar[str] = "directory_error"
    default_message: ClassVar[Promise] = _("The directory tenant could not be verified. Start again.")

    def __init__(self, message: str | Promise | None = None, *, reason: str = "", field: str | None = None):
        super().__init__(
            message if message is not None else self.default_message, code=self.code, field=field
        )
        self.reason = reason or self.code


class NotConfigured(DirectoryError):
    code = "not_configured"
    default_message = _("Sign-in with Microsoft Entra ID is not available on this portal.")


class StateMismatch(DirectoryError):
    code = "state_mismatch"
    default_message = _(
        "This sign-in does not match the one you started here: it may have expired, or have been "
        "started in another browser or tab. Start the sign-in again."
    )


class ProviderError(DirectoryError):
    """The identity provider answered with an error (the person declined, consent missing, bad request)."""

    code = "provider_error"
    default_message = _(
        "Microsoft Entra ID could not complete the sign-in. Start the sign-in again; if it keeps "
        "failing, contact the program staff."
    )


class ProviderUnavailable(DirectoryError):
    code = "provider_unavailable"
    default_message = _("Microsoft Entra ID could not be reached. Wait a few minutes, then sign in again.")


class InvalidToken(DirectoryError):
    """The sign-in answer failed a check: audience, issuer, tenant, lifetime or nonce (see ``reason``)."""

    code = "invalid_token"
    default_message = _(
        "The answer from Microsoft Entra ID could not be verified, so it was not accepted. "
        "Start the sign-in again."
    )


class PersonalAccount(DirectoryError):
    code = "personal_account"
    default_message = _(
        "You signed in with a personal Microsoft account. Sign in with a work account of your "
        "company's Microsoft Entra ID tenant instead."
    )


class NotGlobalAdmin(DirectoryError):
    code = "not_global_admin"
    default_message = _(
        "The account you signed in with is not a Global Administrator of its tenant. Sign in with a "
        "Global Administrator of your company's tenant, or ask one to complete this step."
    )

    def __init__(self, message: str | Promise | None = None, *, account: str = "", reason: str = ""):
        if message is None and account:
            message = _(
                "The account %(account)s is not a Global Administrator of its tenant. Sign in with a "
                "Global Administrator of your company's tenant, or ask one to complete this step."
            ) % {"account": account}
        super().__init__(message, reason=reason)
        self.account = account


class InvalidCredentials(DirectoryError):
    """Built-in directory: unknown user, wrong password and disabled user alike (no enumeration)."""

    code = "invalid_credentials"
    default_message = _("The user name or password is incorrect.")


class TooManyAttempts(DirectoryError):
    code = "rate_limited"
    default_message = _("Too many sign-in attempts. Wait a few minutes and try again.")


class TenantNotCreated(DirectoryError):
    """Built-in directory: a value for the new tenant was refused; ``field`` names it, ``reason`` says why."""

    code = "tenant_not_created"
    default_message = _("The tenant could not be created. Check the details and try again.")


class TenantInUse(DirectoryError):
    """The tenant is already linked to an organization (or, later, held by an enrollment in progress)."""

    code = "tenant_in_use"
    default_message = _(
        "This tenant is already linked to an organization of the program, or is being enrolled by "
        "another application, so it cannot be used again. Use another tenant, or create a new one."
    )

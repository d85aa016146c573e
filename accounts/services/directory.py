"""The portal's built-in directory: tenants whose users sign in with a password kept (as a hash) here.

It is the default mode of enrollment's directory-tenant step (``enrollment/directory/builtin.py`` turns
what these services return into a ``VerifiedTenant``): a person creates a tenant and becomes its Global
Administrator, or signs in to an existing one. Later, partners and customers manage the users of their
built-in tenant with ``directory_user_create`` / ``_disable`` / ``_enable``.

Every write is one transaction with its audit row; changes to a tenant's users lock the tenant row first
(lock order: tenant, then its users), so that concurrent changes cannot leave it without an active Global
Administrator. Sign-in is rate-limited per client and per user principal name, and answers an unknown
name, a wrong password and a disabled user with the same error after the same work (one password hash).
A refused sign-in changes nothing, so it is a security log line, not an audit row.
"""

import logging
import re
import unicodedata
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.models import DirectoryTenant, DirectoryTenantSource, DirectoryUser, Organization, User
from accounts.services.people import name_check
from accounts.transitions import DIRECTORY_USER_STATUS
from portal.audit.services import audit_record
from portal.credentials import SignInRefused, credentials_sign_in
from portal.errors import DomainError
from portal.transitions import transition_apply

logger = logging.getLogger(__name__)

#: Sign-in attempts allowed per window, counted per client (the caller's key: the applicant, or the
#: address) and per user principal name (whoever tries it).
SIGN_IN_ATTEMPTS_PER_CLIENT = 20
SIGN_IN_ATTEMPTS_PER_USER = 10

#: The label a new tenant chooses for its initial domain, ``<label>.<BUILTIN_DIRECTORY_DOMAIN_SUFFIX>``:
#: a DNS label (RFC 1035: letters, digits, hyphens inside) in lower case, 3 to 40 characters. Two hyphens
#: in a row are refused too: "xn--" and the like are reserved for internationalised names.
DOMAIN_LABEL_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]")
#: The name before the "@" of a user principal name: what Microsoft Entra ID allows, less the symbols.
USER_NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
#: A new tenant's first user, its Global Administrator: ``admin@<initial domain>``.
ADMIN_USER_NAME = "admin"

INVALID_CREDENTIALS = _("The user name or password is incorrect.")
DOMAIN_LABEL_INVALID = _(
    "Use 3 to 40 lower-case letters (a to z), digits and single hyphens, starting and ending with a letter "
    "or a digit."
)
DOMAIN_TAKEN = _("The domain %(domain)s is already taken. Choose another name for it.")
COUNTRY_INVALID = _("Choose the tenant's country from the list.")
USER_NAME_INVALID = _(
    "Enter a user name such as taro.yamada@%(domain)s: up to 64 lower-case letters (a to z), digits, dots, "
    "hyphens and underscores before the @, starting and ending with a letter or a digit."
)
USER_DOMAIN_INVALID = _("The part after the @ must be one of the tenant's domains: %(domains)s.")
USER_NAME_TAKEN = _("The user name %(user_principal_name)s is already taken.")
TENANT_NOT_BUILTIN = _("Only a tenant of the portal's built-in directory has users here.")
LAST_GLOBAL_ADMIN = _(
    "A tenant always keeps at least one active Global Administrator. Add another Global Administrator first."
)


# --- Normalising and checking values ------------------------------------------------------------------


def _normalise(value: str) -> str:
    """Full-width letters and digits as ASCII (Japanese keyboards type them), no surrounding spaces,
    lower case: domains and user principal names compare case-insensitively."""
    return unicodedata.normalize("NFKC", value or "").strip().lower()


def _field_clean(model: type[models.Model], name: str, value: Any, *, field: str) -> Any:
    """The model field's own checks (blank, length, validators): the first message and its code, at
    ``field``."""
    try:
        return model._meta.get_field(name).clean(value, None)
    except ValidationError as error:
        first = error.error_list[0]
        raise DomainError(error.messages[0], code=first.code or "invalid", field=field) from error


def initial_domain(label: str) -> str:
    """The initial domain a tenant gets for this (already checked) label."""
    return f"{label}.{settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX}"


def domain_label_clean(label: str, *, field: str = "initial_domain_label") -> str:
    """The label in lower case, or DomainError ``domain_label_invalid``."""
    label = _normalise(label)
    if not DOMAIN_LABEL_PATTERN.fullmatch(label) or "--" in label:
        raise DomainError(DOMAIN_LABEL_INVALID, code="domain_label_invalid", field=field)
    return label


def domain_taken(domain: str) -> bool:
    """Whether a tenant already has this domain, or a user a name in it."""
    if DirectoryUser.objects.filter(user_principal_name__iendswith=f"@{domain}").exists():
        return True
    # The quoted name within the list's JSON text: one query that works on PostgreSQL and SQLite alike
    # (SQLite has no JSON containment); a domain holds no quote or backslash to escape.
    return DirectoryTenant.objects.filter(verified_domains__icontains=f'"{domain}"').exists()


def country_clean(country: str) -> str:
    code = (country or "").strip().upper()
    if code not in countries:
        raise DomainError(COUNTRY_INVALID, code="country_invalid", field="country")
    return code


def tenant_name_clean(name: str) -> str:
    name = _field_clean(DirectoryTenant, "name", (name or "").strip(), field="name")
    name_check(name, field="name")
    return name


def display_name_clean(display_name: str, *, field: str) -> str:
    return _field_clean(DirectoryUser, "display_name", (display_name or "").strip(), field=field)


def user_principal_name_clean(user_principal_name: str, *, tenant: DirectoryTenant, field: str) -> str:
    """``name@domain`` in lower case, the domain one of the tenant's verified domains."""
    upn = _normalise(user_principal_name)
    domains = [str(domain).lower() for domain in tenant.verified_domains]
    name, at, domain = upn.rpartition("@")
    if not at or not USER_NAME_PATTERN.fullmatch(name) or ".." in name:
        example_domain = domains[0] if domains else settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX
        raise DomainError(
            USER_NAME_INVALID % {"domain": example_domain}, code="user_name_invalid", field=field
        )
    if domain not in domains:
        raise DomainError(
            USER_DOMAIN_INVALID % {"domains": ", ".join(domains)}, code="user_domain_invalid", field=field
        )
    return upn


def new_password_check(password: str, *, user_principal_name: str, display_name: str, field: str) -> None:
    """The portal's password rules (length, common, numeric), and not like the user's own names."""
    candidate = DirectoryUser(user_principal_name=user_principal_name, display_name=display_name)
    validators = [
        *password_validation.get_default_password_validators(),
        password_validation.UserAttributeSimilarityValidator(
            user_attributes=("user_principal_name", "display_name")
        ),
    ]
    try:
        password_validation.validate_password(password or "", user=candidate, password_validators=validators)
    except ValidationError as error:
        raise DomainError(error.messages[0], code="password_invalid", field=field) from error


def directory_user_find(user_principal_name: str) -> DirectoryUser | None:
    """The built-in directory's user with this name in any case, through the case-insensitive index."""
    return (
        DirectoryUser.objects.select_related("tenant")
        .alias(upn_lower=Lower("user_principal_name"))
        .filter(upn_lower=_normalise(user_principal_name), tenant__source=DirectoryTenantSource.BUILTIN)
        .first()
    )


def _tenant_organization_id(tenant: DirectoryTenant) -> int | None:
    """The organization that owns the tenant, if any: its activity log shows changes to the users."""
    return Organization.objects.filter(directory_tenant=tenant).values_list("pk", flat=True).first()


def _tenant_lock(tenant: DirectoryTenant) -> DirectoryTenant:
    """Lock the tenant row (every change to its users is serialised here); only built-in tenants."""
    locked = DirectoryTenant.objects.select_for_update().get(pk=tenant.pk)
    if locked.source != DirectoryTenantSource.BUILTIN:
        raise DomainError(TENANT_NOT_BUILTIN, code="tenant_not_builtin")
    return locked


def _acting(partner: Organization | None) -> dict[str, str]:
    """The partner that acted in the customer's tenant (delegated admin), named in its audit rows."""
    return {"acting_partner": partner.legal_name} if partner is not None else {}


def directory_user_audit_values(directory_user: DirectoryUser) -> dict[str, Any]:
    """What the audit keeps of a user: never the password or its hash."""
    return {
        "tenant_id": str(directory_user.tenant.tenant_id),
        "user_principal_name": directory_user.user_principal_name,
        "display_name": directory_user.display_name,
        "is_global_admin": directory_user.is_global_admin,
        "status": directory_user.status,
    }


def _directory_user_insert(
    *,
    tenant: DirectoryTenant,
    user_principal_name: str,
    display_name: str,
    password: str,
    is_global_admin: bool,
    by_user: User | None,
    field: str,
) -> DirectoryUser:
    """Insert checked values in a savepoint (a name taken meanwhile, in any case, is a DomainError) and
    write the audit row."""
    directory_user = DirectoryUser(
        tenant=tenant,
        user_principal_name=user_principal_name,
        display_name=display_name,
        is_global_admin=is_global_admin,
    )
    directory_user.set_password(password)
    try:
        with transaction.atomic():
            directory_user.save()
    except IntegrityError as error:
        raise DomainError(
            USER_NAME_TAKEN % {"user_principal_name": user_principal_name},
            code="user_name_taken",
            field=field,
        ) from error
    audit_record(
        action="directory_user.created",
        actor=by_user,
        organization_id=_tenant_organization_id(tenant),
        target=directory_user,
        after=directory_user_audit_values(directory_user),
    )
    return directory_user


# --- Tenants --------------------------------------------------------------------------------------------


@transaction.atomic
def builtin_tenant_create(
    *,
    name: str,
    country: str,
    initial_domain_label: str,
    admin_display_name: str,
    admin_password: str,
    by_user: User | None,
) -> tuple[DirectoryTenant, DirectoryUser]:
    """Create a built-in tenant and its Global Administrator ``admin@<label>.<suffix>``; ``by_user`` is the
    portal user who asked (None: the system, e.g. the demo data). A bad value is a DomainError naming the
    argument it concerns; nothing is saved then."""
    name = tenant_name_clean(name)
    country = country_clean(country)
    label = domain_label_clean(initial_domain_label)
    domain = initial_domain(label)
    if domain_taken(domain):
        raise DomainError(
            DOMAIN_TAKEN % {"domain": domain}, code="domain_taken", field="initial_domain_label"
        )
    admin_display_name = display_name_clean(admin_display_name, field="admin_display_name")
    admin_user_principal_name = f"{ADMIN_USER_NAME}@{domain}"
    new_password_check(
        admin_password,
        user_principal_name=admin_user_principal_name,
        display_name=admin_display_name,
        field="admin_password",
    )

    tenant = DirectoryTenant.objects.create(
        tenant_id=uuid.uuid4(),
        name=name,
        verified_domains=[domain],
        country=country,
        source=DirectoryTenantSource.BUILTIN,
    )
    audit_record(
        action="directory_tenant.created",
        actor=by_user,
        target=tenant,
        after={
            "tenant_id": str(tenant.tenant_id),
            "name": tenant.name,
            "country": country,
            "verified_domains": [domain],
            "source": str(tenant.source),
        },
    )
    try:
        admin = _directory_user_insert(
            tenant=tenant,
            user_principal_name=admin_user_principal_name,
            display_name=admin_display_name,
            password=admin_password,
            is_global_admin=True,
            by_user=by_user,
            field="initial_domain_label",
        )
    except DomainError as error:
        # Another tenant took the same domain a moment ago: its admin@ name is the unique index that
        # tells (no check-then-act). Raising rolls the new tenant back with it.
        raise DomainError(
            DOMAIN_TAKEN % {"domain": domain}, code="domain_taken", field="initial_domain_label"
        ) from error
    return tenant, admin


# --- Users ----------------------------------------------------------------------------------------------


@transaction.atomic
def directory_user_create(
    *,
    tenant: DirectoryTenant,
    user_principal_name: str,
    display_name: str,
    password: str,
    is_global_admin: bool = False,
    by_user: User | None,
) -> DirectoryUser:
    """Add a user to a built-in tenant, with a name in one of its domains."""
    tenant = _tenant_lock(tenant)
    upn = user_principal_name_clean(user_principal_name, tenant=tenant, field="user_principal_name")
    display_name = display_name_clean(display_name, field="display_name")
    new_password_check(password, user_principal_name=upn, display_name=display_name, field="password")
    return _directory_user_insert(
        tenant=tenant,
        user_principal_name=upn,
        display_name=display_name,
        password=password,
        is_global_admin=is_global_admin,
        by_user=by_user,
        field="user_principal_name",
    )


@transaction.atomic
def directory_user_disable(
    *, directory_user: DirectoryUser, by_user: User | None, acting_partner: Organization | None = None
) -> DirectoryUser:
    """Disable a user: it can no longer sign in. A tenant's last active Global Administrator stays."""
    tenant = _tenant_lock(directory_user.tenant)
    current = DirectoryUser.objects.get(pk=directory_user.pk)
    if (
        current.is_global_admin
        and current.status == DirectoryUser.Status.ACTIVE
        and not DirectoryUser.objects.filter(
            tenant=tenant, is_global_admin=True, status=DirectoryUser.Status.ACTIVE
        )
        .exclude(pk=current.pk)
        .exists()
    ):
        raise DomainError(LAST_GLOBAL_ADMIN, code="last_global_admin")
    return transition_apply(
        current,
        DirectoryUser.Status.DISABLED,
        transitions=DIRECTORY_USER_STATUS,
        action="directory_user.disabled",
        actor=by_user,
        organization_id=_tenant_organization_id(tenant),
        # a set-up link not used yet dies with the account: enabling it again does not revive the link
        changes={"setup_token_hash": "", "setup_expires_at": None},
        audit_after=_acting(acting_partner),
    )


@transaction.atomic
def directory_user_enable(
    *, directory_user: DirectoryUser, by_user: User | None, acting_partner: Organization | None = None
) -> DirectoryUser:
    """Enable a disabled user again."""
    tenant = _tenant_lock(directory_user.tenant)
    return transition_apply(
        directory_user,
        DirectoryUser.Status.ACTIVE,
        transitions=DIRECTORY_USER_STATUS,
        action="directory_user.enabled",
        actor=by_user,
        organization_id=_tenant_organization_id(tenant),
        audit_after=_acting(acting_partner),
    )


# --- Sign-in --------------------------------------------------------------------------------------------


def directory_user_sign_in(*, user_principal_name: str, password: str, client_key: str) -> DirectoryUser:
    """The active user these credentials open (with its tenant), or DomainError ``invalid_credentials``
    (unknown name, wrong password and disabled user alike) or ``rate_limited``."""
    try:
        return credentials_sign_in(
            scope="directory_sign_in",
            name=_normalise(user_principal_name),
            password=password,
            client_key=client_key,
            find=directory_user_find,
            is_active=lambda directory_user: directory_user.status == DirectoryUser.Status.ACTIVE,
            attempts_per_client=SIGN_IN_ATTEMPTS_PER_CLIENT,
            attempts_per_name=SIGN_IN_ATTEMPTS_PER_USER,
            invalid_message=INVALID_CREDENTIALS,
        )
    except SignInRefused as refused:
        # The log says why (for whoever looks into an attack), never what was typed: a password typed
        # into the name field is not uncommon. A known user is named by its object ID.
        logger.warning(
            "Built-in directory sign-in refused: %s%s",
            refused.reason,
            f" (user {refused.holder.public_id})" if refused.holder is not None else "",
        )
        raise


# --- Users added by an administrator, who choose their own password ------------------------------------

#: How long a set-up link opens the page where the new user chooses a password.
SETUP_LINK_DAYS = 7
SETUP_LINK_INVALID = _(
    "This set-up link is not valid: it was already used, it expired, or a newer one replaced it. Ask your "
    "administrator to send a new one."
)


def _setup_link_issue(directory_user: DirectoryUser, *, by_user: User | None, partner_name: str) -> None:
    """A new set-up token on the user, and its email (the raw link sealed in the outbox) in the user's
    language. Inside the caller's transaction."""
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from portal.mail.services import email_enqueue
    from portal.tokens import token_new

    raw, hashed = token_new()
    directory_user.setup_token_hash = hashed
    directory_user.setup_expires_at = timezone.now() + timedelta(days=SETUP_LINK_DAYS)
    directory_user.save(update_fields=["setup_token_hash", "setup_expires_at"])
    email_enqueue(
        to=directory_user.contact_email,
        template="directory_user_setup",
        context={
            "display_name": directory_user.display_name,
            "user_principal_name": directory_user.user_principal_name,
            "tenant_name": directory_user.tenant.name,
            "added_by_partner": partner_name,
            "setup_url": settings.SITE_URL.rstrip("/") + reverse("accounts:directory_user_setup", args=[raw]),
            "days": SETUP_LINK_DAYS,
        },
        language=directory_user.language or settings.LANGUAGE_CODE,
        secrets=("setup_url",),
        organization_id=_tenant_organization_id(directory_user.tenant),
    )


@transaction.atomic
def directory_user_add(
    *,
    tenant: DirectoryTenant,
    user_principal_name: str,
    display_name: str,
    contact_email: str,
    language: str,
    by_user: User | None,
    acting_partner: Organization | None = None,
) -> DirectoryUser:
    """Add a user to a built-in tenant on an administrator's behalf (the customer's own, or a partner's
    with the User administrator role: ``acting_partner``, named in the audit row). The user gets a set-up
    email in ``language`` with a link to choose a password; until then no password opens the account."""
    import secrets

    tenant = _tenant_lock(tenant)
    upn = user_principal_name_clean(user_principal_name, tenant=tenant, field="user_principal_name")
    display_name = display_name_clean(display_name, field="display_name")
    contact_email = _field_clean(
        DirectoryUser, "contact_email", (contact_email or "").strip(), field="contact_email"
    )
    if not contact_email:
        raise DomainError(
            _("Enter the email address where the user receives the set-up link."),
            code="contact_email_required",
            field="contact_email",
        )
    if language not in dict(settings.LANGUAGES):
        raise DomainError(_("Choose a language from the list."), code="language_invalid", field="language")
    directory_user = DirectoryUser(
        tenant=tenant,
        user_principal_name=upn,
        display_name=display_name,
        is_global_admin=False,
        contact_email=contact_email,
        language=language,
    )
    # Nobody knows this password: the user chooses one through the set-up link.
    directory_user.set_password(secrets.token_urlsafe(32))
    try:
        with transaction.atomic():
            directory_user.save()
    except IntegrityError as error:
        raise DomainError(
            USER_NAME_TAKEN % {"user_principal_name": upn},
            code="user_name_taken",
            field="user_principal_name",
        ) from error
    audit_record(
        action="directory_user.created",
        actor=by_user,
        organization_id=_tenant_organization_id(tenant),
        target=directory_user,
        after={
            **directory_user_audit_values(directory_user),
            "contact_email": directory_user.contact_email,
            **_acting(acting_partner),
        },
    )
    _setup_link_issue(
        directory_user, by_user=by_user, partner_name=acting_partner.legal_name if acting_partner else ""
    )
    return directory_user


def directory_user_setup_find(raw_token: str = "", *, hashed: str = "") -> DirectoryUser | None:
    """The user this set-up link opens while it is valid, else None; by the raw token of the link, or by
    its hash (what a session keeps: the raw token is stored nowhere)."""
    from django.utils import timezone

    from portal.tokens import token_hash

    hashed = hashed or (token_hash(raw_token) if raw_token else "")
    if not hashed:
        return None
    return (
        DirectoryUser.objects.select_related("tenant")
        .filter(
            setup_token_hash=hashed, setup_expires_at__gt=timezone.now(), status=DirectoryUser.Status.ACTIVE
        )
        .first()
    )


@transaction.atomic
def directory_user_setup_complete(*, raw_token: str = "", hashed: str = "", password: str) -> DirectoryUser:
    """The new user chooses a password through the set-up link (its raw token, or its hash); the link is
    used up (a conditional UPDATE: two submissions of the same link set one password)."""
    from django.utils import timezone

    from portal.tokens import token_hash

    hashed = hashed or (token_hash(raw_token) if raw_token else "")
    directory_user = directory_user_setup_find(hashed=hashed)
    if directory_user is None:
        raise DomainError(SETUP_LINK_INVALID, code="setup_link_invalid")
    new_password_check(
        password,
        user_principal_name=directory_user.user_principal_name,
        display_name=directory_user.display_name,
        field="password",
    )
    directory_user.set_password(password)
    claimed = DirectoryUser.objects.filter(
        pk=directory_user.pk,
        setup_token_hash=hashed,
        setup_expires_at__gt=timezone.now(),
        status=DirectoryUser.Status.ACTIVE,
    ).update(password=directory_user.password, setup_token_hash="", setup_expires_at=None)
    if claimed != 1:
        raise DomainError(SETUP_LINK_INVALID, code="setup_link_invalid")
    audit_record(
        action="directory_user.setup_completed",
        actor=None,
        organization_id=_tenant_organization_id(directory_user.tenant),
        target=directory_user,
    )
    return directory_user


@transaction.atomic
def directory_user_setup_link_send(
    *, directory_user: DirectoryUser, by_user: User | None, acting_partner: Organization | None = None
) -> DirectoryUser:
    """A new set-up link for an active user with a contact address (the old link dies): the user chooses
    a new password through it. Audited in the tenant's organization, the partner named."""
    tenant = _tenant_lock(directory_user.tenant)
    current = DirectoryUser.objects.select_related("tenant").get(pk=directory_user.pk, tenant=tenant)
    if current.status != DirectoryUser.Status.ACTIVE:
        raise DomainError(_("Enable the user before sending a new set-up link."), code="user_disabled")
    if not current.contact_email:
        raise DomainError(
            _("This user has no contact email for a set-up link."), code="contact_email_required"
        )
    _setup_link_issue(
        current, by_user=by_user, partner_name=acting_partner.legal_name if acting_partner else ""
    )
    audit_record(
        action="directory_user.setup_sent",
        actor=by_user,
        organization_id=_tenant_organization_id(tenant),
        target=current,
        after={"contact_email": current.contact_email, **_acting(acting_partner)},
    )
    return current

"""People and organizations: users, tenants, memberships with roles, and invitations to join."""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.roles import Role, permissions_for
from portal.credentials import PasswordCredential, password_hashed_constraint
from portal.invitations.models import LinkInvitation, link_invitation_constraints
from portal.transitions import status_constraint
from portal.validators import no_control_characters


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(
        _("full name"), max_length=150, blank=True, validators=[no_control_characters]
    )
    preferred_language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("Pages and emails are shown in this language."),
    )
    is_staff = models.BooleanField(
        _("program staff"),
        default=False,
        help_text=_("Program staff (reviewers) may sign in to the review site."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(preferred_language__in=["en", "ja"]),
                name="user_preferred_language_known",
            )
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class DirectoryTenantSource(models.TextChoices):
    ENTRA = "entra", _("Microsoft Entra ID")
    BUILTIN = "builtin", _("Built-in directory")


class DirectoryTenant(models.Model):
    """A directory tenant (Microsoft Entra ID, or the portal's built-in directory) an organization owns."""

    Source = DirectoryTenantSource

    tenant_id = models.UUIDField(_("tenant ID"), unique=True)
    name = models.CharField(_("tenant name"), max_length=200)
    verified_domains = models.JSONField(_("verified domains"), default=list, blank=True)
    country = CountryField(_("country"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("directory tenant")
        verbose_name_plural = _("directory tenants")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=DirectoryTenantSource.values), name="tenant_source_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant_id})"


class DirectoryUserStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISABLED = "disabled", _("Disabled")


#: A user principal name as stored: lower-case ASCII ``name@domain``. The services check the rest (the
#: name's rules, the domain being one of the tenant's verified domains); this is the database's guard.
DIRECTORY_USER_PRINCIPAL_NAME_PATTERN = r"^[a-z0-9._-]+@[a-z0-9.-]+$"


class DirectoryUser(PasswordCredential):
    """A user of a tenant of the portal's built-in directory, with its own password (a hash, never the
    password). Written only by accounts/services/directory.py, which keeps it to built-in tenants."""

    Status = DirectoryUserStatus

    # What the directory calls the user's object ID (VerifiedTenant.admin.object_id).
    public_id = models.UUIDField(_("object ID"), default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(
        DirectoryTenant, verbose_name=_("directory tenant"), on_delete=models.CASCADE, related_name="users"
    )
    user_principal_name = models.CharField(_("user principal name"), max_length=254)
    display_name = models.CharField(_("display name"), max_length=256, validators=[no_control_characters])
    is_global_admin = models.BooleanField(
        _("Global Administrator"),
        default=False,
        help_text=_("A Global Administrator manages the tenant and may enroll it in the program."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: where the set-up email of a user added by an administrator goes (the directory has no mailboxes)
    contact_email = models.EmailField(_("contact email"), blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    #: the set-up link's token, as a SHA-256 hash; cleared when the user chooses a password
    setup_token_hash = models.CharField(_("set-up token hash"), max_length=64, blank=True, editable=False)
    setup_expires_at = models.DateTimeField(_("set-up link expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("directory user")
        verbose_name_plural = _("directory users")
        ordering = ["user_principal_name"]
        constraints = [
            # ASCII only (the pattern below), so PostgreSQL's lower() and Python's str.lower() agree and
            # sign-in looks up exactly this index.
            models.UniqueConstraint(Lower("user_principal_name"), name="directory_user_upn_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(user_principal_name__regex=DIRECTORY_USER_PRINCIPAL_NAME_PATTERN),
                name="directory_user_upn_format",
            ),
            models.CheckConstraint(
                condition=~models.Q(display_name=""), name="directory_user_display_name_set"
            ),
            password_hashed_constraint("directory_user"),
            status_constraint("directory_user", DirectoryUserStatus),
            models.UniqueConstraint(
                fields=["setup_token_hash"],
                condition=~models.Q(setup_token_hash=""),
                name="directory_user_setup_token_unique",
            ),
        ]
        indexes = [
            # a tenant's users page: a keyset list by name
            models.Index(fields=["tenant", "user_principal_name", "id"], name="directory_user_tenant_idx"),
        ]

    def __str__(self) -> str:
        return self.user_principal_name


#: The program's partner ID (the seed's MPN ID): exactly seven ASCII digits, kept as text so that a leading
#: zero survives. The registry of partner profiles (enrollment) and the organizations share it.
PARTNER_ID_PATTERN = r"^[0-9]{7}$"


class OrganizationKind(models.TextChoices):
    PROVIDER = "provider", _("Indirect provider")
    RESELLER = "reseller", _("Indirect reseller")
    CUSTOMER = "customer", _("Customer")


class OrganizationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class Organization(models.Model):
    """A tenant of the portal: a provider, a reseller or a customer."""

    Kind = OrganizationKind
    Status = OrganizationStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    legal_name = models.CharField(_("legal name"), max_length=200, validators=[no_control_characters])
    country = CountryField(_("country"))
    address_line1 = models.CharField(_("address line 1"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("state or prefecture"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    support_email = models.EmailField(_("customer support email"), blank=True)
    support_phone = models.CharField(_("customer support phone"), max_length=40, blank=True)
    support_website = models.URLField(_("customer support website"), blank=True)
    directory_tenant = models.OneToOneField(
        DirectoryTenant,
        verbose_name=_("directory tenant"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="organization",
    )
    # Linked when an approved enrollment provisions a reseller (enrollment.services.applications); one
    # organization per partner ID.
    partner_id = models.CharField(_("partner ID"), max_length=7, null=True, blank=True, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["legal_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=OrganizationKind.values), name="organization_kind_valid"
            ),
            status_constraint("organization", OrganizationStatus),
            models.CheckConstraint(
                condition=models.Q(partner_id__isnull=True) | models.Q(partner_id__regex=PARTNER_ID_PATTERN),
                name="organization_partner_id_format",
            ),
        ]
        # The review site lists organizations by legal name, a keyset list (accounts.admin): one index
        # for the whole list and one per filter, each ending in (legal_name, id), so that every page is a
        # seek. The search has trigram indexes of its own (migration 0009, PostgreSQL only).
        indexes = [
            models.Index(fields=["legal_name", "id"], name="organization_name_idx"),
            models.Index(fields=["kind", "legal_name", "id"], name="organization_kind_idx"),
            models.Index(fields=["status", "legal_name", "id"], name="organization_status_idx"),
            models.Index(fields=["country", "legal_name", "id"], name="organization_country_idx"),
        ]

    def __str__(self) -> str:
        return self.legal_name


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DEACTIVATED = "deactivated", _("Deactivated")


class Membership(models.Model):
    """A person in an organization, with a set of roles there."""

    Status = MembershipStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        # User management lists members by the membership's own columns, newest first: this index
        # serves every page of that keyset list at any size (see selectors.organization_members).
        indexes = [
            models.Index(fields=["organization", "created_at", "id"], name="membership_org_created_idx"),
            # the review site's list of every membership, newest first (a keyset list: accounts.admin)
            models.Index(fields=["created_at", "id"], name="membership_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_unique_per_organization"
            ),
            status_constraint("membership", MembershipStatus),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"

    @property
    def role_names(self) -> list[str]:
        """The roles, in catalogue order: from ``role_codes`` when the query brought them along
        (accounts.selectors.membership_active_for_user), else from the (prefetched) roles."""
        codes = self.__dict__.get("role_codes")
        if codes is not None:
            held = set(codes.split(",")) - {""}
        else:
            held = {membership_role.role for membership_role in self.roles.all()}
        return [role for role in Role.values if role in held]

    @property
    def role_labels(self) -> list[str]:
        return [Role(role).label for role in self.role_names]

    @cached_property
    def permissions(self) -> frozenset[str]:
        if self.status != self.Status.ACTIVE:
            return frozenset()
        return permissions_for(self.role_names)

    def can(self, permission: str) -> bool:
        return permission in self.permissions


class MembershipRole(models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [
            models.UniqueConstraint(fields=["membership", "role"], name="membership_role_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return self.get_role_display()


class MembershipInvitation(LinkInvitation):
    """An invitation to join an organization with a set of roles, bound to a verified email address."""

    PURPOSE = "membership"
    AUDIT_PREFIX = "membership_invitation"
    SCOPE_FIELDS = ("organization",)

    purpose = models.CharField(_("purpose"), max_length=40, default=PURPOSE, editable=False)
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="invitations"
    )
    roles = models.JSONField(_("roles"), default=list)

    class Meta:
        verbose_name = _("membership invitation")
        verbose_name_plural = _("membership invitations")
        ordering = ["-created_at"]
        # One live invitation per person and organization: resending replaces the old one.
        constraints = link_invitation_constraints(
            "membership_invitation", purpose="membership", scope=["organization"]
        )

    def __str__(self) -> str:
        return f"{self.email} → {self.organization}"

    def get_roles_display(self) -> list[str]:
        labels = dict(Role.choices)
        return [str(labels[role]) for role in Role.values if role in self.roles]

"""The partner-membership registry: the membership center's accounts and the organization profiles
(partner IDs) each account may link to an enrollment.

Program staff keep it (review site: CSV import); applicants only sign in to an account and choose one of
its profiles (enrollment step 3). Neither table belongs to a tenant: a profile becomes an organization's
only when an enrollment that chose it is approved.
"""

from django.conf import settings
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Cast, Lower
from django.db.models.lookups import Regex
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.models import PARTNER_ID_PATTERN
from portal.credentials import PasswordCredential, password_hashed_constraint
from portal.transitions import status_constraint
from portal.validators import no_control_characters

partner_id_validator = RegexValidator(
    PARTNER_ID_PATTERN,
    message=_("A partner ID is exactly seven digits, for example 1234567."),
    code="partner_id_format",
)


class MembershipAccount(PasswordCredential):
    """A sign-in of the partner membership center: a username and a password hash, never the password."""

    # ASCII only, so that PostgreSQL's lower() and Python's str.lower() agree on every username and the
    # case-insensitive unique index is exactly what sign-in looks up.
    username = models.CharField(_("username"), max_length=150, validators=[ASCIIUsernameValidator()])
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive account cannot be used to sign in.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("membership account")
        verbose_name_plural = _("membership accounts")
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="membership_account_username_ci_unique"),
            models.CheckConstraint(condition=~models.Q(username=""), name="membership_account_username_set"),
            password_hashed_constraint("membership_account"),
        ]

    def __str__(self) -> str:
        return self.username


class PartnerProfile(models.Model):
    """An organization profile of the membership center, identified by its partner ID, which an
    enrollment may link to the new reseller (the seed: "select the organization profile by MPN ID")."""

    account = models.ForeignKey(
        MembershipAccount,
        verbose_name=_("membership account"),
        on_delete=models.PROTECT,
        related_name="profiles",
    )
    partner_id = models.CharField(
        _("partner ID"), max_length=7, unique=True, validators=[partner_id_validator]
    )
    legal_name = models.CharField(_("legal name"), max_length=200, validators=[no_control_characters])
    country = CountryField(_("country"))
    location = models.CharField(
        _("location"),
        max_length=100,
        validators=[no_control_characters],
        help_text=_("The city or site of this profile, as the membership center shows it."),
    )
    already_authorised = models.BooleanField(
        _("already an authorised partner"),
        default=False,
        help_text=_("Already a CSP reseller: enrollment asks only for the customer-support contact."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("partner profile")
        verbose_name_plural = _("partner profiles")
        ordering = ["legal_name", "partner_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(partner_id__regex=PARTNER_ID_PATTERN), name="partner_profile_id_format"
            ),
            models.CheckConstraint(condition=~models.Q(legal_name=""), name="partner_profile_legal_name_set"),
            # Through a cast: django-countries turns a regex lookup on its field into one on country names.
            models.CheckConstraint(
                condition=Regex(Cast("country", models.CharField(max_length=2)), r"^[A-Z]{2}$"),
                name="partner_profile_country_code",
            ),
            models.CheckConstraint(condition=~models.Q(location=""), name="partner_profile_location_set"),
        ]

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.partner_id})"


#: A domain as the blocked-domain list stores it: the IDNA (ASCII, "xn--") form in lower case, two labels
#: at least. Forms and services normalise what staff type into this form first
#: (``enrollment.validation.email_domains.domain_normalise``); the database refuses anything else.
BLOCKED_DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


class BlockedEmailDomainKind(models.TextChoices):
    FREE = "free", _("Free email service")
    DISPOSABLE = "disposable", _("Disposable email service")
    OTHER = "other", _("Other")


class BlockedEmailDomain(models.Model):
    """A mail domain program staff refuse for an applicant's primary contact, on top of the maintained
    free-mail and disposable-mail lists the portal installs as packages. Its subdomains are refused too."""

    Kind = BlockedEmailDomainKind

    domain = models.CharField(
        _("domain"),
        max_length=253,
        validators=[
            RegexValidator(
                BLOCKED_DOMAIN_PATTERN,
                message=_("Enter a domain name such as example.com."),
                code="domain_format",
            )
        ],
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    note = models.CharField(
        _("note"),
        max_length=500,
        blank=True,
        validators=[no_control_characters],
        help_text=_("Why the domain is blocked, for the other reviewers."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("blocked email domain")
        verbose_name_plural = _("blocked email domains")
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(Lower("domain"), name="blocked_email_domain_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(domain__regex=BLOCKED_DOMAIN_PATTERN), name="blocked_email_domain_format"
            ),
            status_constraint("blocked_email_domain", BlockedEmailDomainKind, field_name="kind"),
        ]

    def __str__(self) -> str:
        return self.domain

"""Provider listings, partnership requests, partnership invitations and partnerships.

- ``ProviderListing``: an authorised provider's entry in the directory (Find a provider), edited by the
  provider, authorised by program staff; countries served and languages are rows of their own so that
  the directory filters by index.
- ``PartnershipRequest``: a reseller asks a provider to connect; the provider answers with an invitation
  or declines with a reason.
- ``PartnershipInvitation``: the provider's emailed link (the platform's link invitation), bound to the
  invited address or, when given, to the reseller's partner ID.
- ``Partnership``: provider and reseller, active until either side ends it; one live partnership per pair
  (a conditional unique constraint), and the ended ones stay as history.
- ``BulkInvitationRun`` and its rows: a CSV file of invitations sent by the worker, with a per-row report.
"""

import uuid

from django.conf import settings
from django.conf.global_settings import LANGUAGES as ALL_LANGUAGES
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.models import PARTNER_ID_PATTERN, Organization
from portal.invitations.binding import InvitationUnusable, RecipientBinding, VerifiedEmailBinding
from portal.invitations.models import LinkInvitation, link_invitation_constraints
from portal.transitions import Transitions, status_constraint

#: The languages a provider may say it supports: Django's own list (names translated by Django).
LANGUAGE_CHOICES = sorted(ALL_LANGUAGES, key=lambda item: item[0])


class ProviderListing(models.Model):
    """A provider's entry in the directory; one per provider organization."""

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.OneToOneField(
        Organization, verbose_name=_("provider"), on_delete=models.CASCADE, related_name="provider_listing"
    )
    #: the provider's name as the directory sorts it (the organization's legal name, kept in step by the
    #: services), so the directory's keyset pages read one table
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    website = models.URLField(_("website"), blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    # The seed's four kinds of help.
    offers_customer_support = models.BooleanField(_("support for resellers' customers"), default=False)
    offers_technical_support = models.BooleanField(_("technical support to resellers"), default=False)
    offers_marketing = models.BooleanField(_("marketing help"), default=False)
    offers_financing = models.BooleanField(_("financing and credit"), default=False)
    #: the provider may hide its listing; an unauthorised provider is never listed
    visible = models.BooleanField(_("shown in the directory"), default=True)
    authorized_at = models.DateTimeField(_("authorised at"), null=True, blank=True)
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("authorised by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("provider listing")
        verbose_name_plural = _("provider listings")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name", "id"], name="provider_listing_name_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_listed(self) -> bool:
        return self.visible and self.authorized_at is not None

    @property
    def help_kinds(self) -> list[str]:
        """The kinds of help offered, as labels, in the seed's order."""
        return [str(label) for field, label in HELP_KINDS if getattr(self, field)]


#: The listing's four kinds of help: (field, label), in the seed's order.
HELP_KINDS = [
    ("offers_customer_support", _("Support for resellers' customers")),
    ("offers_technical_support", _("Technical support to resellers")),
    ("offers_marketing", _("Marketing help")),
    ("offers_financing", _("Financing and credit")),
]


class ProviderCountry(models.Model):
    """A country a provider serves: resellers there may be its partners."""

    listing = models.ForeignKey(ProviderListing, on_delete=models.CASCADE, related_name="countries")
    country = CountryField(_("country"))

    class Meta:
        verbose_name = _("country served")
        verbose_name_plural = _("countries served")
        constraints = [models.UniqueConstraint(fields=["listing", "country"], name="provider_country_unique")]
        indexes = [models.Index(fields=["country", "listing"], name="provider_country_idx")]

    def __str__(self) -> str:
        return str(self.country.name)


class ProviderLanguage(models.Model):
    """A language the provider works in."""

    listing = models.ForeignKey(ProviderListing, on_delete=models.CASCADE, related_name="languages")
    language = models.CharField(_("language"), max_length=10, choices=LANGUAGE_CHOICES)

    class Meta:
        verbose_name = _("language")
        verbose_name_plural = _("languages")
        constraints = [
            models.UniqueConstraint(fields=["listing", "language"], name="provider_language_unique")
        ]
        indexes = [models.Index(fields=["language", "listing"], name="provider_language_idx")]

    def __str__(self) -> str:
        return self.get_language_display()


# --- Requests ---------------------------------------------------------------------------------------


class RequestStatus(models.TextChoices):
    OPEN = "open", _("Not answered yet")
    INVITED = "invited", _("Answered with an invitation")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


_R = RequestStatus
REQUEST_STATUS = Transitions(RequestStatus, {_R.OPEN: {_R.INVITED, _R.DECLINED, _R.WITHDRAWN}})


class PartnershipRequest(models.Model):
    """A reseller's request, from a provider's listing, to connect."""

    Status = RequestStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    reseller = models.ForeignKey(
        Organization,
        verbose_name=_("reseller"),
        on_delete=models.CASCADE,
        related_name="partnership_requests",
    )
    provider = models.ForeignKey(
        Organization,
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="received_partnership_requests",
    )
    message = models.TextField(_("message"), max_length=1000, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=RequestStatus.choices, default=_R.OPEN)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("reason"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("partnership request")
        verbose_name_plural = _("partnership requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            status_constraint("partnership_request", RequestStatus),
            models.UniqueConstraint(
                fields=["reseller", "provider"],
                condition=models.Q(status=RequestStatus.OPEN),
                name="partnership_request_one_open",
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "created_at", "id"], name="partnership_request_prov_idx"),
            models.Index(fields=["reseller", "created_at", "id"], name="partnership_request_res_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reseller} → {self.provider}"


# --- Invitations ------------------------------------------------------------------------------------


class PartnerIdOrEmailBinding(RecipientBinding):
    """Bound to the reseller's partner ID when the provider gave one (any Global admin or Admin agent of
    that reseller may accept), else to the invited address, verified."""

    def check(self, invitation, user) -> None:
        if not invitation.partner_id:
            VerifiedEmailBinding().check(invitation, user)
            return
        from providers.selectors import reseller_memberships_authorizing

        if not any(
            membership.organization.partner_id == invitation.partner_id
            for membership in reseller_memberships_authorizing(user)
        ):
            raise InvitationUnusable(
                _(
                    "This invitation is for the reseller with partner ID %(partner_id)s. Sign in as a "
                    "Global admin or Admin agent of that reseller to accept it."
                )
                % {"partner_id": invitation.partner_id},
                code="invitation_wrong_partner",
            )


class PartnershipInvitation(LinkInvitation):
    """A provider's invitation to a reseller to authorise it as indirect provider."""

    PURPOSE = "partnership"
    AUDIT_PREFIX = "partnership_invitation"
    SCOPE_FIELDS = ("organization",)
    binding = PartnerIdOrEmailBinding()

    purpose = models.CharField(_("purpose"), max_length=40, default=PURPOSE, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="partnership_invitations",
    )
    partner_id = models.CharField(_("partner ID"), max_length=7, blank=True)
    language = models.CharField(_("email language"), max_length=8, choices=settings.LANGUAGES, default="en")
    request = models.ForeignKey(
        PartnershipRequest,
        verbose_name=_("request"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
    )
    bulk_run = models.ForeignKey(
        "BulkInvitationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    #: when the portal sent the email (None: the provider sent the draft from its own mail app)
    emailed_at = models.DateTimeField(_("emailed by the portal at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("partnership invitation")
        verbose_name_plural = _("partnership invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            *link_invitation_constraints(
                "partnership_invitation", purpose="partnership", scope=["organization"]
            ),
            models.CheckConstraint(
                condition=models.Q(partner_id="") | models.Q(partner_id__regex=PARTNER_ID_PATTERN),
                name="partnership_invitation_partner_id_format",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "created_at", "id"], name="partnership_inv_org_idx"),
            models.Index(fields=["status", "expires_at"], name="partnership_inv_due_idx"),
            # the Invitations page's search: a partner ID (the email has a trigram index, migration 0003)
            models.Index(fields=["partner_id"], name="partnership_inv_partner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.email}"


# --- Partnerships -----------------------------------------------------------------------------------


class PartnershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")


PARTNERSHIP_STATUS = Transitions(PartnershipStatus, {PartnershipStatus.ACTIVE: {PartnershipStatus.ENDED}})


class PartnershipSide(models.TextChoices):
    PROVIDER = "provider", _("Provider")
    RESELLER = "reseller", _("Reseller")


class Partnership(models.Model):
    """The reseller authorised the provider: the provider may order for the reseller's customers and has
    administrative access to the reseller's tenant, until either side ends it."""

    Status = PartnershipStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(
        Organization,
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="reseller_partnerships",
    )
    reseller = models.ForeignKey(
        Organization,
        verbose_name=_("reseller"),
        on_delete=models.CASCADE,
        related_name="provider_partnerships",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=PartnershipStatus.choices, default=PartnershipStatus.ACTIVE
    )
    invitation = models.OneToOneField(
        PartnershipInvitation,
        verbose_name=_("invitation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="partnership",
    )
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("authorised by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField(_("since"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ended by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ended_by_side = models.CharField(
        _("ended by"), max_length=10, choices=PartnershipSide.choices, blank=True
    )
    end_reason = models.TextField(_("reason for ending"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("partnership")
        verbose_name_plural = _("partnerships")
        ordering = ["-started_at", "-id"]
        constraints = [
            status_constraint("partnership", PartnershipStatus),
            models.UniqueConstraint(
                fields=["provider", "reseller"],
                condition=models.Q(status=PartnershipStatus.ACTIVE),
                name="partnership_one_active_per_pair",
            ),
            models.CheckConstraint(
                condition=~models.Q(provider=models.F("reseller")), name="partnership_two_sides"
            ),
            models.CheckConstraint(
                condition=models.Q(status=PartnershipStatus.ACTIVE, ended_at__isnull=True)
                | models.Q(status=PartnershipStatus.ENDED, ended_at__isnull=False),
                name="partnership_ended_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "started_at", "id"], name="partnership_provider_idx"),
            models.Index(fields=["reseller", "started_at", "id"], name="partnership_reseller_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} ↔ {self.reseller}"

    def side_of(self, organization: Organization) -> str:
        return PartnershipSide.PROVIDER if organization.pk == self.provider_id else PartnershipSide.RESELLER

    def other_side(self, organization: Organization) -> Organization:
        return self.reseller if organization.pk == self.provider_id else self.provider


# --- Bulk invitations -------------------------------------------------------------------------------


class BulkRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Sending")
    DONE = "done", _("Done")


BULK_RUN_STATUS = Transitions(
    BulkRunStatus,
    {BulkRunStatus.QUEUED: {BulkRunStatus.RUNNING}, BulkRunStatus.RUNNING: {BulkRunStatus.DONE}},
)


class BulkInvitationRun(models.Model):
    """One uploaded CSV file of invitations; the worker sends its rows and records each one's outcome."""

    Status = BulkRunStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="bulk_invitation_runs",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    file_name = models.CharField(_("file"), max_length=200)
    language = models.CharField(_("email language"), max_length=8, choices=settings.LANGUAGES, default="en")
    status = models.CharField(
        _("status"), max_length=10, choices=BulkRunStatus.choices, default=BulkRunStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    #: the last time a worker finished a row: a run that stops progressing is resumed by the beat job
    progressed_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk invitation run")
        verbose_name_plural = _("bulk invitation runs")
        ordering = ["-created_at", "-id"]
        constraints = [status_constraint("bulk_invitation_run", BulkRunStatus)]
        indexes = [models.Index(fields=["organization", "created_at", "id"], name="bulk_run_org_idx")]

    def __str__(self) -> str:
        return self.file_name


class BulkRowOutcome(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped as duplicate")
    REFUSED = "refused", _("Refused")


class BulkInvitationRow(models.Model):
    """One row of an uploaded file: what it asked for and what happened to it."""

    Outcome = BulkRowOutcome

    run = models.ForeignKey(BulkInvitationRun, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField(_("line"))
    email = models.CharField(_("email address"), max_length=320, blank=True)
    partner_id = models.CharField(_("partner ID"), max_length=40, blank=True)
    outcome = models.CharField(
        _("result"), max_length=10, choices=BulkRowOutcome.choices, default=BulkRowOutcome.PENDING
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    invitation = models.ForeignKey(
        PartnershipInvitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("bulk invitation row")
        verbose_name_plural = _("bulk invitation rows")
        ordering = ["run", "line"]
        constraints = [
            models.UniqueConstraint(fields=["run", "line"], name="bulk_row_unique_line"),
            models.CheckConstraint(
                condition=models.Q(outcome__in=BulkRowOutcome.values), name="bulk_row_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run} #{self.line}"

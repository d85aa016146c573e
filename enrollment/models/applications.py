"""Enrollment applications: the applicant's draft, then the review; their checks, the primary contact's
confirmation link, the documents an applicant uploads, and the screening list reviewers keep.

An application belongs to its applicant (a user) until approval provisions the reseller organization;
no organization owns it before that, so every read starts from the applicant
(``enrollment.selectors.application_get``). Its status moves only through ``APPLICATION_STATUS``
(``enrollment/transitions.py``) in ``enrollment/services/``.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.models import PARTNER_ID_PATTERN, Organization
from portal.invitations.binding import LinkHolderBinding
from portal.invitations.models import LinkInvitation, link_invitation_constraints
from portal.transitions import status_constraint
from portal.validators import no_control_characters


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_CONFIRMATION = "awaiting_confirmation", _("Awaiting contact confirmation")
    CHECKS_RUNNING = "checks_running", _("Checks running")
    IN_REVIEW = "in_review", _("In review")
    MORE_INFORMATION = "more_information", _("More information requested")
    RESUBMITTED = "resubmitted", _("Resubmitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


_S = ApplicationStatus
#: The statuses in which an application holds its tenant and partner ID, and counts as the applicant's
#: one open application: everything but the exits that release them (approval hands them to the
#: organization, which holds them from then on).
APPLICATION_LIVE_STATUSES = (
    _S.DRAFT,
    _S.AWAITING_CONFIRMATION,
    _S.CHECKS_RUNNING,
    _S.IN_REVIEW,
    _S.MORE_INFORMATION,
    _S.RESUBMITTED,
)
_LIVE = models.Q(status__in=[str(status) for status in APPLICATION_LIVE_STATUSES])


class InformationItem(models.TextChoices):
    """What a reviewer may ask the applicant to fix or supply."""

    LEGAL_NAME = "legal_name", _("Legal name")
    ADDRESS = "address", _("Address")
    PRIMARY_CONTACT = "primary_contact", _("Primary contact")
    SUPPORT_CONTACT = "support_contact", _("Customer support contact")
    DOCUMENT = "document", _("A document (for example a certificate of registration)")


class RejectionReason(models.TextChoices):
    IDENTITY_NOT_VERIFIED = "identity_not_verified", _("The company's identity could not be verified")
    NOT_ELIGIBLE = "not_eligible", _("The company is not eligible for the program")
    DUPLICATE = "duplicate", _("The company is already enrolled or enrolling")
    SCREENING = "screening", _("The company did not pass screening")
    NO_RESPONSE = "no_response", _("Requested information was not provided")
    OTHER = "other", _("Other")


class EnrollmentApplication(models.Model):
    """One company's enrollment as an indirect reseller, from the first draft to the decision."""

    Status = ApplicationStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applicant"),
        on_delete=models.PROTECT,
        related_name="enrollment_applications",
    )
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.DRAFT)

    # Step 2: the directory tenant whose Global Administrator the applicant proved to be
    # (``VerifiedTenant.as_dict``); ``tenant_id`` is its key, held while the application is live.
    tenant_id = models.UUIDField(_("tenant ID"), null=True, blank=True)
    tenant = models.JSONField(_("directory tenant"), default=dict, blank=True)
    #: the tenant's country came from the applicant, not the directory (a Microsoft Entra ID tenant whose
    #: ``/organization`` has no country): reviewers see it was declared, not read
    tenant_country_declared = models.BooleanField(_("tenant country given by the applicant"), default=False)

    # Step 3: the partner profile chosen in the membership center; ``partner_id`` is held while live.
    partner_profile = models.ForeignKey(
        "enrollment.PartnerProfile",
        verbose_name=_("partner profile"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    partner_id = models.CharField(_("partner ID"), max_length=7, blank=True)
    already_authorised = models.BooleanField(_("already an authorised partner"), default=False)

    # Step 4: the legal business profile, primary contact and customer-support contact.
    legal_name = models.CharField(
        _("legal name"), max_length=200, blank=True, validators=[no_control_characters]
    )
    country = CountryField(_("country"), blank=True)
    address_line1 = models.CharField(_("address line 1"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("state or prefecture"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    contact_name = models.CharField(_("primary contact name"), max_length=150, blank=True)
    contact_email = models.EmailField(_("primary contact email"), blank=True)
    contact_phone = models.CharField(_("primary contact phone"), max_length=20, blank=True)  # E.164
    #: the language of the emails to the primary contact, who may have no portal account to say it
    contact_language = models.CharField(
        _("primary contact's language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    support_email = models.EmailField(_("customer support email"), blank=True)
    support_phone = models.CharField(_("customer support phone"), max_length=20, blank=True)  # E.164
    support_website = models.URLField(_("customer support website"), blank=True)

    # The review.
    created_at = models.DateTimeField(_("started at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("contact confirmed at"), null=True, blank=True)
    #: when the application last entered "in review": the SLA counts business days from here
    review_started_at = models.DateTimeField(_("in review since"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rejection_reason = models.CharField(
        _("rejection reason"), max_length=30, choices=RejectionReason.choices, blank=True
    )
    #: the reviewer's words to the applicant: why it was rejected, or what to supply
    reviewer_message = models.TextField(_("message to the applicant"), max_length=2000, blank=True)
    information_items = models.JSONField(_("information requested"), default=list, blank=True)
    sla_reminded_at = models.DateTimeField(_("reviewers reminded at"), null=True, blank=True)
    organization = models.OneToOneField(
        Organization,
        verbose_name=_("organization"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrollment_application",
    )

    class Meta:
        verbose_name = _("enrollment application")
        verbose_name_plural = _("enrollment applications")
        ordering = ["-created_at"]
        permissions = [("review_enrollmentapplication", _("Can decide enrollment applications"))]
        indexes = [
            # The review queue's SLA filters (time in review, by status and submission).
            models.Index(fields=["status", "submitted_at", "id"], name="enrollment_app_queue_idx"),
            # The review queue's keyset pages: oldest started first, with and without a status filter.
            models.Index(fields=["status", "created_at", "id"], name="enrollment_app_status_idx"),
            models.Index(fields=["created_at", "id"], name="enrollment_app_created_idx"),
            models.Index(fields=["applicant", "created_at"], name="enrollment_app_applicant_idx"),
            # The review queue's search by partner ID and by tenant ID, whatever the status (the unique
            # constraints below index the live applications only); its trigrams: migration 0008.
            models.Index(fields=["partner_id"], name="enrollment_app_partner_idx"),
            models.Index(fields=["tenant_id"], name="enrollment_app_tenant_idx"),
        ]
        constraints = [
            status_constraint("enrollment_application", ApplicationStatus),
            models.CheckConstraint(
                condition=models.Q(rejection_reason="")
                | models.Q(rejection_reason__in=RejectionReason.values),
                name="enrollment_application_rejection_reason_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(partner_id="") | models.Q(partner_id__regex=PARTNER_ID_PATTERN),
                name="enrollment_application_partner_id_format",
            ),
            # One open application per applicant: a draft, or one in review, at a time.
            models.UniqueConstraint(fields=["applicant"], condition=_LIVE, name="enrollment_app_one_open"),
            # A tenant and a partner ID are held by one live application at a time.
            models.UniqueConstraint(
                fields=["tenant_id"],
                condition=_LIVE & models.Q(tenant_id__isnull=False),
                name="enrollment_app_tenant_held",
            ),
            models.UniqueConstraint(
                fields=["partner_id"],
                condition=_LIVE & ~models.Q(partner_id=""),
                name="enrollment_app_partner_id_held",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=ApplicationStatus.APPROVED) | models.Q(organization__isnull=False),
                name="enrollment_application_approved_has_organization",
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name or self.tenant.get("display_name") or str(_("Draft enrollment"))

    @property
    def is_live(self) -> bool:
        return self.status in APPLICATION_LIVE_STATUSES

    @property
    def tenant_name(self) -> str:
        return self.tenant.get("display_name", "")

    @property
    def tenant_country(self) -> str:
        return self.tenant.get("country", "")

    @property
    def tenant_domains(self) -> list[str]:
        return list(self.tenant.get("verified_domains", []))

    @property
    def tenant_source(self) -> str:
        return self.tenant.get("source", "")

    def get_information_items_display(self) -> list[str]:
        labels = dict(InformationItem.choices)
        return [str(labels[item]) for item in InformationItem.values if item in self.information_items]


class CheckKind(models.TextChoices):
    EMAIL_OWNERSHIP = "email_ownership", _("Email ownership")
    EMPLOYMENT = "employment", _("Employment")
    COUNTRY_MATCH = "country_match", _("Country match")
    DUPLICATES = "duplicates", _("Duplicates")
    SCREENING = "screening", _("Screening")


class CheckStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Needs attention")


class EnrollmentCheck(models.Model):
    """The latest result of one automated check of an application (``enrollment/checks.py``)."""

    Kind = CheckKind
    Status = CheckStatus

    application = models.ForeignKey(
        EnrollmentApplication, verbose_name=_("application"), on_delete=models.CASCADE, related_name="checks"
    )
    kind = models.CharField(_("check"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    #: stable word from ``enrollment.checks.REASONS``, which gives the summary and the fix in both languages
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("automated check")
        verbose_name_plural = _("automated checks")
        ordering = ["application", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "kind"], name="enrollment_check_one_per_kind"),
            status_constraint("enrollment_check", CheckStatus),
            status_constraint("enrollment_check", CheckKind, field_name="kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_status_display()}"


class ContactConfirmation(LinkInvitation):
    """The link that asks the primary contact to confirm the application (who they are, whose address).

    Held by whoever has the link: opening it proves the mailbox, which is the email-ownership check; the
    contact needs no portal account, and the link signs nobody in."""

    PURPOSE = "enrollment-contact"
    AUDIT_PREFIX = "enrollment_contact_confirmation"
    SCOPE_FIELDS = ("application",)
    binding = LinkHolderBinding()

    purpose = models.CharField(_("purpose"), max_length=40, default=PURPOSE, editable=False)
    application = models.ForeignKey(
        EnrollmentApplication,
        verbose_name=_("application"),
        on_delete=models.CASCADE,
        related_name="contact_confirmations",
    )
    reminded = models.BooleanField(_("reminder"), default=False)

    class Meta:
        verbose_name = _("contact confirmation")
        verbose_name_plural = _("contact confirmations")
        ordering = ["-created_at"]
        constraints = link_invitation_constraints(
            "enrollment_contact_confirmation", purpose="enrollment-contact", scope=["application"]
        )

    def __str__(self) -> str:
        return f"{self.email} → {self.application}"

    @property
    def audit_organization_id(self) -> int | None:
        return None


def _document_path(document: "ApplicationDocument", filename: str) -> str:
    # Never the uploaded name: a random name under the application's folder.
    return f"enrollment/{document.application.public_id}/{uuid.uuid4().hex}"


class ApplicationDocument(models.Model):
    """A file an applicant supplied because a reviewer asked (PDF or image, type checked by content)."""

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    application = models.ForeignKey(
        EnrollmentApplication,
        verbose_name=_("application"),
        on_delete=models.CASCADE,
        related_name="documents",
    )
    file = models.FileField(_("file"), upload_to=_document_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200, validators=[no_control_characters])
    content_type = models.CharField(_("type"), max_length=50)
    size = models.PositiveIntegerField(_("size in bytes"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["application", "uploaded_at"]

    def __str__(self) -> str:
        return self.original_name


class ScreeningKind(models.TextChoices):
    LEGAL_NAME = "legal_name", _("Legal name")
    EMAIL_DOMAIN = "email_domain", _("Email domain")
    PARTNER_ID = "partner_id", _("Partner ID")


class ScreeningEntry(models.Model):
    """An entry of the deny list the screening check compares applications with, kept by reviewers."""

    Kind = ScreeningKind

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value = models.CharField(
        _("value"),
        max_length=200,
        validators=[no_control_characters],
        help_text=_(
            "A legal name matches when it contains this text (letter case, width and spacing ignored); "
            "an email domain matches itself and its subdomains; a partner ID matches exactly."
        ),
    )
    note = models.CharField(_("note"), max_length=500, blank=True, validators=[no_control_characters])
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("screening entry")
        verbose_name_plural = _("screening entries")
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint("kind", Lower("value"), name="screening_entry_unique"),
            status_constraint("screening_entry", ScreeningKind, field_name="kind"),
            models.CheckConstraint(condition=~models.Q(value=""), name="screening_entry_value_set"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"

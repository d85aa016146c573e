"""Customer invitations, customer relationships and delegated admin relationships.

- ``CustomerInvitation``: a reseller's emailed link (the platform's link invitation) asking a customer to
  accept it as reseller of record, and, for the kind ``with_provider``, one of the reseller's providers
  (a live partnership) too; it carries the delegated admin request (roles, duration, auto-extend). Bound
  to the invited address, verified.
- ``CustomerRelationship``: a customer and one partner, in a role: ``reseller`` (the reseller of record)
  or ``provider`` (may submit orders, through the reseller named in ``reseller``). Active until the
  customer (or the partner) ends it; one active row per customer, partner and role.
- ``DelegatedAdminRelationship``: granular, time-bound delegated admin (GDAP): the roles a partner holds
  in the customer's tenant, from ``starts_at`` to ``ends_at``, optionally auto-extended by 180 days.
  ``approval_pending`` (a later request the customer must approve) → ``active`` → ``expiring`` (30 days
  before the end) → ``expired``; ``terminated`` when the customer removes it or refuses it.

Who may see or do what to a customer is answered in one place: ``customers.selectors``.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from portal.invitations.binding import VerifiedEmailBinding
from portal.invitations.models import LinkInvitation, link_invitation_constraints
from portal.transitions import Transitions, status_constraint

# --- The catalogue of delegated admin roles ---------------------------------------------------------


class DelegatedRole(models.TextChoices):
    """Directory admin roles a partner may hold in a customer's tenant (Microsoft Entra ID's names)."""

    DIRECTORY_READER = "directory_reader", _("Directory readers")
    GLOBAL_READER = "global_reader", _("Global reader")
    HELPDESK_ADMIN = "helpdesk_admin", _("Helpdesk administrator")
    SERVICE_SUPPORT_ADMIN = "service_support_admin", _("Service support administrator")
    LICENSE_ADMIN = "license_admin", _("License administrator")
    USER_ADMIN = "user_admin", _("User administrator")
    BILLING_ADMIN = "billing_admin", _("Billing administrator")
    GLOBAL_ADMIN = "global_admin", _("Global administrator")


#: What each role lets the partner do, in plain words (shown to the customer before accepting).
DELEGATED_ROLE_DESCRIPTIONS = {
    DelegatedRole.DIRECTORY_READER: _("Read basic information about your users, groups and organization."),
    DelegatedRole.GLOBAL_READER: _(
        "Read everything in your tenant, including settings and reports, without changing anything."
    ),
    DelegatedRole.HELPDESK_ADMIN: _(
        "Reset passwords and sign-in methods of your users who are not administrators, and open support "
        "requests."
    ),
    DelegatedRole.SERVICE_SUPPORT_ADMIN: _(
        "Open and follow support requests with the cloud provider for you."
    ),
    DelegatedRole.LICENSE_ADMIN: _("Assign and remove licences of your subscriptions to your users."),
    DelegatedRole.USER_ADMIN: _(
        "Create, change and delete your users and groups, and reset passwords of users who are not "
        "administrators."
    ),
    DelegatedRole.BILLING_ADMIN: _("Buy, change and cancel subscriptions, and see invoices and payments."),
    DelegatedRole.GLOBAL_ADMIN: _(
        "Do anything in your tenant, including giving other people administrator rights. Give this role "
        "only when nothing less will do."
    ),
}

#: The default bundle: enough to support the customer's users and licences, nothing that can grant rights.
LEAST_PRIVILEGE_ROLES = (
    DelegatedRole.DIRECTORY_READER,
    DelegatedRole.HELPDESK_ADMIN,
    DelegatedRole.LICENSE_ADMIN,
)

#: Durations the partner may request: 1 day to 2 years (730 days); auto-extension adds 180 days.
DURATION_MIN_DAYS = 1
DURATION_MAX_DAYS = 730
DURATION_DEFAULT_DAYS = 365
AUTO_EXTEND_DAYS = 180
#: A relationship counts as "expiring" this many days before its end; reminders go out at these marks.
EXPIRING_DAYS = 30
REMINDER_DAYS = (30, 7, 1)


def roles_ordered(roles) -> list[str]:
    """The roles in catalogue order, each once; unknown values dropped (the services refuse them first)."""
    given = {str(role) for role in roles}
    return [role for role in DelegatedRole.values if role in given]


class PartnerRole(models.TextChoices):
    RESELLER = "reseller", _("Reseller of record")
    PROVIDER = "provider", _("Indirect provider")


class RelationshipSide(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    PARTNER = "partner", _("Partner")


# --- Invitations ------------------------------------------------------------------------------------


class InvitationKind(models.TextChoices):
    RESELLER_ONLY = "reseller", _("Reseller relationship")
    WITH_PROVIDER = "with_provider", _("Reseller and indirect provider")


class CustomerInvitation(LinkInvitation):
    """A reseller's invitation to a customer: reseller relationship (and provider), with delegated admin."""

    PURPOSE = "customer"
    AUDIT_PREFIX = "customer_invitation"
    SCOPE_FIELDS = ("organization",)
    binding = VerifiedEmailBinding()
    Kind = InvitationKind

    purpose = models.CharField(_("purpose"), max_length=40, default=PURPOSE, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("reseller"),
        on_delete=models.CASCADE,
        related_name="customer_invitations",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=InvitationKind.choices)
    provider = models.ForeignKey(
        Organization,
        verbose_name=_("indirect provider"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="customer_invitations_as_provider",
    )
    partnership = models.ForeignKey(
        "providers.Partnership",
        verbose_name=_("partnership"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer_invitations",
    )
    #: the name the reseller knows the customer by (shown in its list until the customer accepts)
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    roles = models.JSONField(_("delegated admin roles"), default=list, blank=True)
    duration_days = models.PositiveIntegerField(_("duration (days)"), default=DURATION_DEFAULT_DAYS)
    auto_extend = models.BooleanField(_("auto-extend"), default=False)
    language = models.CharField(_("email language"), max_length=8, choices=settings.LANGUAGES, default="en")
    customer = models.ForeignKey(
        Organization,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accepted_customer_invitations",
    )
    emailed_at = models.DateTimeField(_("emailed by the portal at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer invitation")
        verbose_name_plural = _("customer invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            *link_invitation_constraints("customer_invitation", purpose="customer", scope=["organization"]),
            models.CheckConstraint(
                condition=models.Q(kind__in=InvitationKind.values), name="customer_invitation_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind=InvitationKind.RESELLER_ONLY, provider__isnull=True)
                | models.Q(kind=InvitationKind.WITH_PROVIDER, provider__isnull=False),
                name="customer_invitation_provider_by_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    duration_days__gte=DURATION_MIN_DAYS, duration_days__lte=DURATION_MAX_DAYS
                ),
                name="customer_invitation_duration_range",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "created_at", "id"], name="customer_inv_org_idx"),
            models.Index(fields=["status", "expires_at"], name="customer_inv_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.email}"

    @property
    def with_provider(self) -> bool:
        return self.kind == InvitationKind.WITH_PROVIDER

    @property
    def role_labels(self) -> list[str]:
        return [DelegatedRole(role).label for role in roles_ordered(self.roles)]


# --- Customer relationships -------------------------------------------------------------------------


class RelationshipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")


RELATIONSHIP_STATUS = Transitions(RelationshipStatus, {RelationshipStatus.ACTIVE: {RelationshipStatus.ENDED}})


class CustomerRelationship(models.Model):
    """A customer and one partner: its reseller of record, or a provider that may submit orders through
    the reseller named in ``reseller``."""

    Status = RelationshipStatus
    Role = PartnerRole

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        Organization,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="partner_relationships",
    )
    partner = models.ForeignKey(
        Organization,
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="customer_relationships",
    )
    role = models.CharField(_("role"), max_length=10, choices=PartnerRole.choices)
    #: the reseller of record this relationship belongs to (the partner itself for a reseller row)
    reseller = models.ForeignKey(
        Organization,
        verbose_name=_("reseller"),
        on_delete=models.CASCADE,
        related_name="customer_relationships_as_reseller",
    )
    #: the customer's name as the partner lists it (kept in step with the organization's legal name)
    customer_name = models.CharField(_("customer name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=RelationshipStatus.choices, default=RelationshipStatus.ACTIVE
    )
    invitation = models.ForeignKey(
        CustomerInvitation,
        verbose_name=_("invitation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="relationships",
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accepted by"),
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
        _("ended by"), max_length=10, choices=RelationshipSide.choices, blank=True
    )
    end_reason = models.TextField(_("reason for ending"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("customer relationship")
        verbose_name_plural = _("customer relationships")
        ordering = ["customer_name", "id"]
        constraints = [
            status_constraint("customer_relationship", RelationshipStatus),
            models.CheckConstraint(
                condition=models.Q(role__in=PartnerRole.values), name="customer_relationship_role_valid"
            ),
            # one reseller of record per reseller; a provider once per reseller it serves the customer through
            models.UniqueConstraint(
                fields=["customer", "partner", "role", "reseller"],
                condition=models.Q(status=RelationshipStatus.ACTIVE),
                name="customer_relationship_one_active",
            ),
            models.CheckConstraint(
                condition=~models.Q(customer=models.F("partner")), name="customer_relationship_two_sides"
            ),
            models.CheckConstraint(
                condition=~models.Q(role=PartnerRole.RESELLER) | models.Q(reseller=models.F("partner")),
                name="customer_relationship_reseller_is_partner",
            ),
            models.CheckConstraint(
                condition=models.Q(status=RelationshipStatus.ACTIVE, ended_at__isnull=True)
                | models.Q(status=RelationshipStatus.ENDED, ended_at__isnull=False),
                name="customer_relationship_ended_has_date",
            ),
        ]
        indexes = [
            # the Customers page: a partner's active customers by name (keyset)
            models.Index(
                fields=["partner", "status", "customer_name", "id"], name="customer_rel_partner_idx"
            ),
            models.Index(fields=["customer", "status"], name="customer_rel_customer_idx"),
            models.Index(fields=["reseller", "partner", "status"], name="customer_rel_reseller_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} → {self.customer} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.status == RelationshipStatus.ACTIVE


# --- Delegated admin (GDAP) -------------------------------------------------------------------------


class DelegatedAdminStatus(models.TextChoices):
    APPROVAL_PENDING = "approval_pending", _("Approval pending")
    ACTIVE = "active", _("Active")
    EXPIRING = "expiring", _("Expiring")
    EXPIRED = "expired", _("Expired")
    TERMINATED = "terminated", _("Terminated")


_D = DelegatedAdminStatus
#: the statuses in which the partner holds its roles (and then only while ``ends_at`` is in the future)
DELEGATED_ADMIN_LIVE = [_D.ACTIVE, _D.EXPIRING]
DELEGATED_ADMIN_STATUS = Transitions(
    DelegatedAdminStatus,
    {
        _D.APPROVAL_PENDING: {_D.ACTIVE, _D.TERMINATED, _D.EXPIRED},
        _D.ACTIVE: {_D.EXPIRING, _D.EXPIRED, _D.TERMINATED},
        # an auto-extension (or a later approval) brings an expiring relationship back to active
        _D.EXPIRING: {_D.ACTIVE, _D.EXPIRED, _D.TERMINATED},
    },
)


class DelegatedAdminRelationship(models.Model):
    """The delegated admin roles a partner holds in a customer's tenant, for a limited time."""

    Status = DelegatedAdminStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        Organization, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="delegated_admins"
    )
    partner = models.ForeignKey(
        Organization,
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="delegated_admin_relationships",
    )
    roles = models.JSONField(_("roles"), default=list)
    duration_days = models.PositiveIntegerField(_("duration (days)"))
    auto_extend = models.BooleanField(_("auto-extend by 180 days"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=DelegatedAdminStatus.choices, default=_D.APPROVAL_PENDING
    )
    invitation = models.ForeignKey(
        CustomerInvitation,
        verbose_name=_("invitation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delegated_admins",
    )
    #: a request for new or changed roles replaces this relationship once the customer approves it
    replaces = models.ForeignKey(
        "self", verbose_name=_("replaces"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    #: the smallest reminder mark (days before the end) already sent; None: none yet
    reminded_days = models.PositiveSmallIntegerField(
        _("last reminder (days before the end)"), null=True, blank=True
    )
    extended_count = models.PositiveIntegerField(_("times extended"), default=0)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    close_reason = models.TextField(_("reason"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("delegated admin relationship")
        verbose_name_plural = _("delegated admin relationships")
        ordering = ["-requested_at", "-id"]
        constraints = [
            status_constraint("delegated_admin", DelegatedAdminStatus),
            models.CheckConstraint(
                condition=~models.Q(customer=models.F("partner")), name="delegated_admin_two_sides"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    duration_days__gte=DURATION_MIN_DAYS, duration_days__lte=DURATION_MAX_DAYS
                ),
                name="delegated_admin_duration_range",
            ),
            # live relationships have their dates; a pending one has none yet
            models.CheckConstraint(
                condition=~models.Q(status__in=DELEGATED_ADMIN_LIVE)
                | models.Q(starts_at__isnull=False, ends_at__isnull=False),
                name="delegated_admin_live_has_dates",
            ),
            # one live relationship and one pending request per pair: changes replace, never pile up
            models.UniqueConstraint(
                fields=["customer", "partner"],
                condition=models.Q(status__in=DELEGATED_ADMIN_LIVE),
                name="delegated_admin_one_live",
            ),
            models.UniqueConstraint(
                fields=["customer", "partner"],
                condition=models.Q(status=_D.APPROVAL_PENDING),
                name="delegated_admin_one_pending",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "status", "ends_at"], name="delegated_admin_partner_idx"),
            models.Index(fields=["customer", "status"], name="delegated_admin_customer_idx"),
            models.Index(fields=["status", "ends_at"], name="delegated_admin_due_idx"),
            # the expiry radar's keyset pages: a partner's live access by end date (its filter and order)
            models.Index(
                fields=["partner", "ends_at", "id"],
                condition=models.Q(status__in=DELEGATED_ADMIN_LIVE),
                name="delegated_admin_radar_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} → {self.customer}"  # no word in it: an audit row keeps it in every language

    @property
    def roles_in_order(self) -> list[str]:
        return roles_ordered(self.roles)

    @property
    def role_labels(self) -> list[str]:
        return [DelegatedRole(role).label for role in self.roles_in_order]

    @property
    def is_live(self) -> bool:
        return (
            self.status in DELEGATED_ADMIN_LIVE and self.ends_at is not None and self.ends_at > timezone.now()
        )

    def planned_end(self, start=None):
        return (start or timezone.now()) + timedelta(days=self.duration_days)

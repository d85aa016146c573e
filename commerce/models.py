"""The catalogue, orders, subscriptions and licence assignments of customers.

- ``Offer`` / ``OfferPrice``: the program's catalogue, kept by staff in the review site. An offer is
  available in a country while it has an available price there (in that country's currency).
- ``Order``: what a provider submits for a customer it shares with a reseller (new subscription, a new
  number of seats, a cancellation), or what the reseller of record asks its provider to submit (an order
  request: draft → requested → submitted | declined | withdrawn). A submitted order is provisioned by a
  Celery task: submitted → provisioned | failed. Submitting is idempotent: one order per idempotency key.
- ``Subscription``: the customer's service, with seats, term and renewal; its reseller of record and
  provider. A beat job reminds before the term ends, then renews (auto-renew) or ends it.
- ``LicenceAssignment``: one seat of a seat-based subscription given to one user of the customer's
  built-in directory tenant; never more assignments than seats (the subscription row is the lock).

Every write is a service of ``commerce.services``; who may do what to a customer is asked of
``customers.selectors`` (through ``commerce.access``).
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries.fields import CountryField

from accounts.models import DirectoryUser, Organization
from portal.transitions import Transitions, status_constraint

# --- The catalogue ----------------------------------------------------------------------------------


class BillingTerm(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    ANNUAL = "annual", _("Annual")


#: The length of a term, in months.
TERM_MONTHS = {BillingTerm.MONTHLY: 1, BillingTerm.ANNUAL: 12}


class Commitment(models.TextChoices):
    NONE = "none", _("No commitment")
    TERM = "term", _("Committed for the term")


#: A committed subscription may lose seats or be cancelled only this many days after its term started.
CANCELLATION_WINDOW_DAYS = 7
#: The renewal reminder goes out this many days before the end of a term.
RENEWAL_REMINDER_DAYS = 7

PRODUCT_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,39}$"


class Offer(models.Model):
    """A product the program sells: seat-based (licences for users) or not, monthly or annual."""

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    product_code = models.CharField(
        _("product code"),
        max_length=40,
        unique=True,
        validators=[
            RegexValidator(
                PRODUCT_CODE_PATTERN,
                _(
                    "Use 3 to 40 capital letters (A to Z), digits and hyphens, starting with a letter or "
                    "digit."
                ),
            )
        ],
    )
    description = models.TextField(_("description"), max_length=2000, blank=True)
    seat_based = models.BooleanField(
        _("seat-based"), default=True, help_text=_("Seats are licences assigned to the customer's users.")
    )
    billing_term = models.CharField(_("billing term"), max_length=10, choices=BillingTerm.choices)
    commitment = models.CharField(_("commitment"), max_length=10, choices=Commitment.choices)
    min_seats = models.PositiveIntegerField(_("minimum seats"), default=1, validators=[MinValueValidator(1)])
    max_seats = models.PositiveIntegerField(
        _("maximum seats"), default=300, validators=[MinValueValidator(1)]
    )
    is_active = models.BooleanField(
        _("on sale"), default=True, help_text=_("Only offers on sale can be ordered or get more seats.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(billing_term__in=BillingTerm.values), name="offer_billing_term_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(commitment__in=Commitment.values), name="offer_commitment_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(min_seats__gte=1, max_seats__gte=models.F("min_seats")),
                name="offer_seat_range_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(product_code__regex=PRODUCT_CODE_PATTERN), name="offer_product_code_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.product_code})"


class OfferPrice(models.Model):
    """An offer's price per seat (or per term, when not seat-based) in one country, in its currency."""

    offer = models.ForeignKey(Offer, verbose_name=_("offer"), on_delete=models.CASCADE, related_name="prices")
    country = CountryField(_("country"))
    currency = models.CharField(
        _("currency"), max_length=3, help_text=_("ISO 4217 code, such as JPY or USD.")
    )
    unit_price = models.DecimalField(
        _("price per seat and term"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    is_available = models.BooleanField(_("available"), default=True)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["country", "id"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "country"], name="offer_price_one_per_country"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="offer_price_not_negative"),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="offer_price_currency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer.product_code} {self.country.code} {self.currency} {self.unit_price}"

    def clean(self):
        from commerce.money import currency_check

        currency_check(self, "currency", "unit_price")


# --- Subscriptions ----------------------------------------------------------------------------------


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Ended at term")


SUBSCRIPTION_LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)
SUBSCRIPTION_STATUS = Transitions(
    SubscriptionStatus,
    {
        SubscriptionStatus.ACTIVE: {
            SubscriptionStatus.SUSPENDED,
            SubscriptionStatus.CANCELLED,
            SubscriptionStatus.EXPIRED,
        },
        SubscriptionStatus.SUSPENDED: {
            SubscriptionStatus.ACTIVE,
            SubscriptionStatus.CANCELLED,
            SubscriptionStatus.EXPIRED,
        },
    },
)


class Subscription(models.Model):
    """A customer's subscription to an offer, sold by its reseller of record through a provider."""

    Status = SubscriptionStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        Organization, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="subscriptions"
    )
    reseller = models.ForeignKey(
        Organization, verbose_name=_("reseller of record"), on_delete=models.PROTECT, related_name="+"
    )
    provider = models.ForeignKey(
        Organization, verbose_name=_("indirect provider"), on_delete=models.PROTECT, related_name="+"
    )
    offer = models.ForeignKey(Offer, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="+")
    #: what the customer sees the subscription as (the offer's name when it was bought)
    name = models.CharField(_("name"), max_length=200)
    seats = models.PositiveIntegerField(_("seats"))
    billing_term = models.CharField(_("billing term"), max_length=10, choices=BillingTerm.choices)
    commitment = models.CharField(_("commitment"), max_length=10, choices=Commitment.choices)
    currency = models.CharField(_("currency"), max_length=3)
    unit_price = models.DecimalField(_("price per seat and term"), max_digits=12, decimal_places=2)
    started_at = models.DateTimeField(_("start"), default=timezone.now)
    term_started_at = models.DateTimeField(_("current term started"), default=timezone.now)
    renews_at = models.DateTimeField(_("renewal date"))
    auto_renew = models.BooleanField(_("auto-renew"), default=True)
    status = models.CharField(
        _("status"), max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    renewal_reminded_at = models.DateTimeField(_("renewal reminder sent at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["name", "id"]
        constraints = [
            status_constraint("subscription", SubscriptionStatus),
            models.CheckConstraint(condition=models.Q(seats__gte=1), name="subscription_seats_positive"),
            models.CheckConstraint(
                condition=models.Q(renews_at__gt=models.F("term_started_at")), name="subscription_term_order"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "name", "id"], name="subscription_customer_idx"),
            models.Index(fields=["reseller", "name", "id"], name="subscription_reseller_idx"),
            models.Index(fields=["provider", "name", "id"], name="subscription_provider_idx"),
            models.Index(
                fields=["renews_at"],
                condition=models.Q(status__in=SUBSCRIPTION_LIVE),
                name="subscription_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        return self.status in SUBSCRIPTION_LIVE


# --- Orders -----------------------------------------------------------------------------------------


class OrderKind(models.TextChoices):
    NEW = "new", _("New subscription")
    SEATS = "seats", _("Change seats")
    CANCEL = "cancel", _("Cancel subscription")


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REQUESTED = "requested", pgettext_lazy("order status", "Requested")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    SUBMITTED = "submitted", _("Submitted")
    PROVISIONED = "provisioned", _("Provisioned")
    FAILED = "failed", _("Failed")


ORDER_STATUS = Transitions(
    OrderStatus,
    {
        OrderStatus.DRAFT: {OrderStatus.REQUESTED, OrderStatus.WITHDRAWN},
        OrderStatus.REQUESTED: {OrderStatus.SUBMITTED, OrderStatus.DECLINED, OrderStatus.WITHDRAWN},
        OrderStatus.SUBMITTED: {OrderStatus.PROVISIONED, OrderStatus.FAILED},
    },
)
#: Orders the reseller still holds (a draft) or that wait for the provider (requested).
ORDER_REQUEST_OPEN = (OrderStatus.DRAFT, OrderStatus.REQUESTED)


class Order(models.Model):
    """One order for a customer, submitted by the provider (the reseller is reseller of record), or an
    order request the reseller drafts and sends to the provider."""

    Kind = OrderKind
    Status = OrderStatus

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    #: the submitting form's key: a retried or double-clicked submission finds the order it created
    idempotency_key = models.UUIDField(_("idempotency key"), editable=False)
    customer = models.ForeignKey(
        Organization, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="orders"
    )
    reseller = models.ForeignKey(
        Organization, verbose_name=_("reseller of record"), on_delete=models.CASCADE, related_name="+"
    )
    provider = models.ForeignKey(
        Organization, verbose_name=_("indirect provider"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=OrderKind.choices)
    offer = models.ForeignKey(Offer, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    #: the seats asked for: of the new subscription, or the subscription's new total; 0 for a cancellation
    seats = models.PositiveIntegerField(_("seats"))
    currency = models.CharField(_("currency"), max_length=3)
    unit_price = models.DecimalField(_("price per seat and term"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=12, choices=OrderStatus.choices)
    #: True when the reseller asked for it (an order request); False when the provider ordered directly
    requested_by_reseller = models.BooleanField(_("requested by the reseller"), default=False)
    note = models.TextField(_("note to the provider"), max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    requested_at = models.DateTimeField(_("requested at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("declined or withdrawn at"), null=True, blank=True)
    decline_reason = models.TextField(_("reason"), max_length=1000, blank=True)
    completed_at = models.DateTimeField(_("provisioned or failed at"), null=True, blank=True)
    failure_code = models.CharField(_("failure"), max_length=40, blank=True)
    failure_reason = models.TextField(_("why provisioning failed"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            status_constraint("order", OrderStatus),
            models.CheckConstraint(condition=models.Q(kind__in=OrderKind.values), name="order_kind_valid"),
            # idempotent submission: one order per key, per provider and reseller
            models.UniqueConstraint(
                fields=["provider", "reseller", "idempotency_key"], name="order_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(kind=OrderKind.NEW, seats__gte=1)
                | models.Q(kind=OrderKind.SEATS, subscription__isnull=False, seats__gte=1)
                | models.Q(kind=OrderKind.CANCEL, subscription__isnull=False, seats=0),
                name="order_kind_fields",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=OrderStatus.DECLINED) | ~models.Q(decline_reason=""),
                name="order_declined_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "-created_at", "-id"], name="order_provider_idx"),
            models.Index(fields=["reseller", "-created_at", "-id"], name="order_reseller_idx"),
            models.Index(fields=["customer", "-created_at", "-id"], name="order_customer_idx"),
            models.Index(
                fields=["submitted_at"],
                condition=models.Q(status=OrderStatus.SUBMITTED),
                name="order_submitted_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.offer.name}"


# --- Licences ---------------------------------------------------------------------------------------


class LicenceAssignment(models.Model):
    """One seat of a subscription, assigned to one user of the customer's directory tenant."""

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        Organization, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="licence_assignments"
    )
    subscription = models.ForeignKey(
        Subscription, verbose_name=_("subscription"), on_delete=models.CASCADE, related_name="assignments"
    )
    directory_user = models.ForeignKey(
        DirectoryUser, verbose_name=_("user"), on_delete=models.CASCADE, related_name="licences"
    )
    #: the user's name, kept here so that a subscription's assignments are one keyset index
    user_principal_name = models.CharField(_("user principal name"), max_length=254)
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("licence assignment")
        verbose_name_plural = _("licence assignments")
        ordering = ["user_principal_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "directory_user"], name="licence_one_per_user"),
        ]
        indexes = [
            models.Index(
                fields=["subscription", "user_principal_name", "id"], name="licence_subscription_idx"
            ),
            models.Index(fields=["customer", "user_principal_name", "id"], name="licence_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription} → {self.directory_user}"

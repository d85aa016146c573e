"""The catalogue, subscriptions, orders and licence assignments on the review site (/review/).

Program staff keep the catalogue here: an offer with its price in each country (the currency and its
decimals are checked by ``OfferPrice.clean`` at the field, through the model validation the admin forms
run); every save writes an ``offer.created`` or ``offer.changed`` audit row with the offer and its prices
before and after. Offers are never deleted (orders and subscriptions point at them): take one off sale.

Subscriptions are read-only, with two actions through ``subscription_status_set`` (its audit rows, its
transition table): Suspend and Reactivate, for staff who hold the subscription's change permission.
Orders and licence assignments are read-only records. Like the rest of the review site, every page
needs active program staff with two-factor authentication (``accounts.middleware``) and the model's
permission.
"""

from django import forms
from django.contrib import admin
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django_countries import countries

from commerce.models import LicenceAssignment, Offer, OfferPrice, Order, Subscription, SubscriptionStatus
from commerce.money import money
from commerce.services.orders import failure_message
from commerce.services.subscriptions import subscription_status_set
from portal.admin import ViewOnlyAdminMixin, service_action, titled
from portal.audit.services import audit_record

SUBSCRIPTION_CHANGE_PERMISSION = "commerce.change_subscription"

# --- The catalogue -------------------------------------------------------------------------------------


def offer_audit_values(offer_id: int) -> dict:
    """The offer and its prices as stored now (what an audit row keeps before and after a save)."""
    offer = Offer.objects.get(pk=offer_id)
    prices = OfferPrice.objects.filter(offer_id=offer_id).order_by("country", "id")
    return {
        "name": offer.name,
        "product_code": offer.product_code,
        "seat_based": offer.seat_based,
        "billing_term": offer.billing_term,
        "commitment": offer.commitment,
        "min_seats": offer.min_seats,
        "max_seats": offer.max_seats,
        "is_active": offer.is_active,
        "prices": [
            {
                "country": price.country.code,
                "currency": price.currency,
                "unit_price": str(price.unit_price),
                "available": price.is_available,
            }
            for price in prices
        ],
    }


class OfferForm(forms.ModelForm):
    class Meta:
        model = Offer
        fields = [
            "name",
            "product_code",
            "description",
            "seat_based",
            "billing_term",
            "commitment",
            "min_seats",
            "max_seats",
            "is_active",
        ]

    def clean(self):
        # The database's check says the same; here it is said at the field, in the reader's language.
        cleaned = super().clean()
        low, high = cleaned.get("min_seats"), cleaned.get("max_seats")
        if low is not None and high is not None and high < low:
            self.add_error("max_seats", _("The maximum number of seats cannot be below the minimum."))
        return cleaned


class OfferPriceInline(admin.TabularInline):
    model = OfferPrice
    fields = ["country", "currency", "unit_price", "is_available"]
    extra = 1
    verbose_name = _("price in a country")
    verbose_name_plural = _("prices per country")


class PricedInFilter(admin.SimpleListFilter):
    """The countries some offer has a price in, by name."""

    title = _("priced in")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = OfferPrice.objects.order_by().values_list("country", flat=True).distinct()
        return sorted(((code, countries.name(code)) for code in codes if code), key=lambda item: item[1])

    def queryset(self, request, queryset):
        return queryset.filter(prices__country=self.value()).distinct() if self.value() else queryset


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    """Add and change offers with their prices; every save is validated by the models and audited."""

    form = OfferForm
    inlines = [OfferPriceInline]
    list_display = [
        "name",
        "product_code",
        "seat_based",
        "billing_term",
        "commitment",
        "seat_range",
        "price_list",
        "is_active",
    ]
    list_filter = ["is_active", "billing_term", "commitment", "seat_based", PricedInFilter]
    search_fields = ["name", "product_code"]
    ordering = ["name", "id"]
    show_full_result_count = False

    def get_queryset(self, request):
        prices = Prefetch("prices", queryset=OfferPrice.objects.order_by("country", "id"))
        return super().get_queryset(request).prefetch_related(prices)

    def has_delete_permission(self, request, obj=None):
        return False  # orders and subscriptions keep pointing at it: take it off sale instead

    @admin.display(description=_("seats"))
    def seat_range(self, obj: Offer) -> str:
        if not obj.seat_based:
            return "—"
        return _("%(min)d to %(max)d") % {"min": obj.min_seats, "max": obj.max_seats}

    @admin.display(description=_("prices"))
    def price_list(self, obj: Offer) -> str:
        parts = []
        for price in obj.prices.all():
            text = f"{price.country.code} {money(price.unit_price, price.currency)}"
            parts.append(text if price.is_available else f"{text} ({_('not available')})")
        return ", ".join(parts) or "—"

    def save_model(self, request, obj, form, change):
        # What the row and its prices were, read before anything is written (save_related audits).
        form.audit_before = offer_audit_values(obj.pk) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = getattr(form, "audit_before", None)
        after = offer_audit_values(form.instance.pk)
        if change and before == after:
            return  # saved without a change: nothing to record
        audit_record(
            action="offer.changed" if change else "offer.created",
            actor=request.user,
            target=form.instance,
            before=before,
            after=after,
        )


# --- Subscriptions -------------------------------------------------------------------------------------


def subscription_suspend(*, subscription: Subscription, by) -> Subscription:
    return subscription_status_set(subscription=subscription, status=SubscriptionStatus.SUSPENDED, by_user=by)


def subscription_reactivate(*, subscription: Subscription, by) -> Subscription:
    return subscription_status_set(subscription=subscription, status=SubscriptionStatus.ACTIVE, by_user=by)


@admin.register(Subscription)
class SubscriptionAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only; Suspend (a billing hold) and Reactivate through ``subscription_status_set``."""

    list_display = [
        "name",
        "customer",
        "reseller",
        "provider",
        "seats",
        "billing_term",
        "status",
        "renews_at",
        "auto_renew",
    ]
    list_filter = [
        "status",
        "billing_term",
        "commitment",
        "auto_renew",
        ("renews_at", titled(admin.DateFieldListFilter, _("renewal date"))),
    ]
    search_fields = ["name", "customer__legal_name", "reseller__legal_name", "provider__legal_name"]
    list_select_related = ["customer", "reseller", "provider"]
    show_full_result_count = False
    fields = [
        "public_id",
        "name",
        "offer",
        "customer",
        "reseller",
        "provider",
        "seats",
        "billing_term",
        "commitment",
        "unit_price_display",
        "status",
        "started_at",
        "term_started_at",
        "renews_at",
        "auto_renew",
        "renewal_reminded_at",
        "ended_at",
    ]
    readonly_fields = fields
    actions = ["suspend", "reactivate"]

    @admin.display(description=_("price per seat and term"))
    def unit_price_display(self, obj: Subscription) -> str:
        return money(obj.unit_price, obj.currency)

    def has_status_change_permission(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and user.has_perm(SUBSCRIPTION_CHANGE_PERMISSION)

    suspend = service_action(
        service=subscription_suspend,
        target="subscription",
        description=_("Suspend"),
        done_message=ngettext_lazy(
            "%(count)d subscription suspended.", "%(count)d subscriptions suspended.", "count"
        ),
        permission="status_change",
    )

    reactivate = service_action(
        service=subscription_reactivate,
        target="subscription",
        description=_("Reactivate"),
        done_message=ngettext_lazy(
            "%(count)d subscription reactivated.", "%(count)d subscriptions reactivated.", "count"
        ),
        permission="status_change",
    )


# --- Orders and licences -------------------------------------------------------------------------------


@admin.register(Order)
class OrderAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: orders change only through their services and the provisioning task."""

    list_display = [
        "created_at",
        "status",
        "kind",
        "customer",
        "reseller",
        "provider",
        "offer",
        "seats",
        "failure",
    ]
    list_filter = [
        "status",
        "kind",
        "requested_by_reseller",
        ("created_at", titled(admin.DateFieldListFilter, _("created at"))),
    ]
    search_fields = [
        "customer__legal_name",
        "reseller__legal_name",
        "provider__legal_name",
        "offer__name",
        "offer__product_code",
    ]
    list_select_related = ["customer", "reseller", "provider", "offer"]
    show_full_result_count = False
    # Never the idempotency key: it is the submitting form's, not something staff read.
    fields = [
        "public_id",
        "status",
        "kind",
        "customer",
        "reseller",
        "provider",
        "offer",
        "subscription",
        "seats",
        "unit_price_display",
        "requested_by_reseller",
        "note",
        "created_by",
        "created_at",
        "requested_at",
        "submitted_by",
        "submitted_at",
        "decided_at",
        "decline_reason",
        "completed_at",
        "failure",
        "failure_reason",
    ]
    readonly_fields = fields

    @admin.display(description=_("price per seat and term"))
    def unit_price_display(self, obj: Order) -> str:
        return money(obj.unit_price, obj.currency)

    @admin.display(description=_("failure"), ordering="failure_code")
    def failure(self, obj: Order) -> str:
        return failure_message(obj.failure_code) if obj.failure_code else "—"


@admin.register(LicenceAssignment)
class LicenceAssignmentAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: licences are assigned and removed by the customer or its reseller."""

    list_display = ["user_principal_name", "subscription", "customer", "assigned_at", "assigned_by"]
    search_fields = ["user_principal_name", "customer__legal_name", "subscription__name"]
    list_select_related = ["subscription", "customer", "assigned_by"]
    show_full_result_count = False
    fields = ["public_id", "user_principal_name", "subscription", "customer", "assigned_at", "assigned_by"]
    readonly_fields = fields

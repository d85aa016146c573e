"""Providers, partnerships, partnership invitations, requests and bulk invitation runs on the review site.

Program staff create and authorise providers here: **Add provider** (Provider listings > Add provider)
creates the organization, its listing with the countries it serves, and the invitation of its first
Global admin, through ``provider_create``; **Change countries served** (on a listing's page) calls
``provider_countries_set``. Both need the listing's add or change permission (superusers hold every
permission). Everything else is read-only: providers edit their own listing, partnerships and invitations
change only through their services, and an invitation's token hash is never shown.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from portal.admin import ViewOnlyAdminMixin, titled
from portal.errors import DomainError, form_add_domain_error
from providers.models import (
    LANGUAGE_CHOICES,
    BulkInvitationRow,
    BulkInvitationRun,
    Partnership,
    PartnershipInvitation,
    PartnershipRequest,
    ProviderCountry,
    ProviderListing,
)
from providers.services.listings import provider_countries_set, provider_create

ADD_PERMISSION = "providers.add_providerlisting"
CHANGE_PERMISSION = "providers.change_providerlisting"
FORM_TEMPLATE = "admin/providers/providerlisting/provider_form.html"


def staff_with(request, permission: str) -> bool:
    """Active program staff holding the permission (superusers hold every permission)."""
    user = request.user
    return user.is_active and user.is_staff and user.has_perm(permission)


def _country_choices():
    return list(countries)


def _countries_field(**kwargs) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=capfirst(_("countries served")),
        choices=_country_choices,
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text=_(
            "Resellers in these countries may become the provider's partners. Hold Ctrl (⌘ on a Mac) to "
            "choose several."
        ),
        **kwargs,
    )


class ProviderCreateForm(forms.Form):
    """What staff know when they authorise a provider; the service checks the rest."""

    legal_name = forms.CharField(label=_("Legal name"), max_length=200)
    country = forms.ChoiceField(
        label=_("Country"),
        choices=_country_choices,
        help_text=_("Where the provider is registered."),
    )
    address_line1 = forms.CharField(label=capfirst(_("address line 1")), max_length=200, required=False)
    address_line2 = forms.CharField(label=capfirst(_("address line 2")), max_length=200, required=False)
    city = forms.CharField(label=capfirst(_("city")), max_length=100, required=False)
    region = forms.CharField(label=capfirst(_("state or prefecture")), max_length=100, required=False)
    postal_code = forms.CharField(label=capfirst(_("postal code")), max_length=20, required=False)
    support_email = forms.EmailField(label=capfirst(_("customer support email")), required=False)
    support_phone = forms.CharField(
        label=capfirst(_("customer support phone")), max_length=40, required=False
    )
    support_website = forms.URLField(
        label=capfirst(_("customer support website")), required=False, assume_scheme="https"
    )
    countries_served = _countries_field()
    languages = forms.MultipleChoiceField(
        label=capfirst(_("languages")),
        choices=LANGUAGE_CHOICES,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("The languages the provider works in, shown in the directory."),
    )
    admin_email = forms.EmailField(
        label=_("First administrator's email address"),
        help_text=_(
            "This person is invited by email to become the provider's Global admin; the link works once and "
            "expires."
        ),
    )
    admin_language = forms.ChoiceField(
        label=_("Language of the invitation email"), choices=settings.LANGUAGES, initial="ja"
    )

    #: the fieldsets of the page: (title, field names)
    sections = [
        (_("Legal business profile"), ["legal_name", "country", "address_line1", "address_line2", "city"]),
        (None, ["region", "postal_code"]),
        (_("Customer support contact"), ["support_email", "support_phone", "support_website"]),
        (_("In the program"), ["countries_served", "languages"]),
        (_("First administrator"), ["admin_email", "admin_language"]),
    ]


class CountriesServedForm(forms.Form):
    countries_served = _countries_field()
    sections = [(None, ["countries_served"])]


class CountryServedFilter(admin.SimpleListFilter):
    """The countries some provider serves, by name."""

    title = _("country served")
    parameter_name = "serves"

    def lookups(self, request, model_admin):
        codes = ProviderCountry.objects.order_by().values_list("country", flat=True).distinct()
        return sorted(((code, countries.name(code)) for code in codes), key=lambda item: item[1])

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(countries__country=self.value())


class AuthorisedFilter(admin.SimpleListFilter):
    title = _("authorised")
    parameter_name = "authorised"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(authorized_at__isnull=self.value() == "no")
        return queryset


@admin.register(ProviderListing)
class ProviderListingAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The providers in the program: each listing, with Add provider and Change countries served."""

    list_display = ["name", "countries_served", "authorised", "visible", "active_partners", "updated_at"]
    list_filter = [AuthorisedFilter, "visible", CountryServedFilter]
    search_fields = ["name", "organization__legal_name", "contact_email"]
    show_full_result_count = False
    fields = [
        "organization_link",
        "name",
        "countries_served",
        "languages_spoken",
        "kinds_of_help",
        "description",
        "website",
        "contact_email",
        "contact_phone",
        "visible",
        "authorized_at",
        "authorized_by",
        "active_partners",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # One query for the page's partner counts: a correlated count, not one COUNT per row.
        active = (
            Partnership.objects.filter(provider=OuterRef("organization_id"), status=Partnership.Status.ACTIVE)
            .order_by()
            .values("provider")
            .annotate(total=Count("pk"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("organization", "authorized_by")
            .prefetch_related("countries", "languages")
            .annotate(active_partner_total=Coalesce(Subquery(active, output_field=IntegerField()), 0))
        )

    def may_add_provider(self, request) -> bool:
        return staff_with(request, ADD_PERMISSION)

    def may_change_countries(self, request) -> bool:
        return staff_with(request, CHANGE_PERMISSION)

    # -- Columns and fields

    @admin.display(description=_("countries served"))
    def countries_served(self, obj: ProviderListing) -> str:
        return ", ".join(sorted(str(row.country.name) for row in obj.countries.all()))

    @admin.display(description=_("languages"))
    def languages_spoken(self, obj: ProviderListing) -> str:
        return ", ".join(sorted(row.get_language_display() for row in obj.languages.all()))

    @admin.display(description=_("kinds of help"))
    def kinds_of_help(self, obj: ProviderListing) -> str:
        return ", ".join(obj.help_kinds) or "—"

    @admin.display(description=_("authorised"), boolean=True, ordering="authorized_at")
    def authorised(self, obj: ProviderListing) -> bool:
        return obj.authorized_at is not None

    @admin.display(description=_("active partners"), ordering="active_partner_total")
    def active_partners(self, obj: ProviderListing) -> int:
        return obj.active_partner_total

    @admin.display(description=_("organization"))
    def organization_link(self, obj: ProviderListing):
        url = reverse("admin:accounts_organization_change", args=[obj.organization_id])
        return format_html('<a href="{}">{}</a>', url, obj.organization.legal_name)

    # -- Add provider, Change countries served

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "create/",
                self.admin_site.admin_view(self.create_view),
                name=f"{opts.app_label}_{opts.model_name}_create",
            ),
            path(
                "<path:object_id>/countries/",
                self.admin_site.admin_view(self.countries_view),
                name=f"{opts.app_label}_{opts.model_name}_countries",
            ),
            *super().get_urls(),
        ]

    def _form_page(self, request, *, form, title, submit, cancel_url, listing=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "sections": [
                (section_title, [form[name] for name in names]) for section_title, names in form.sections
            ],
            "submit": submit,
            "cancel_url": cancel_url,
            "listing": listing,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_add_provider": self.may_add_provider(request)}
        return super().changelist_view(request, extra_context)

    def create_view(self, request):
        """Add provider: the organization, its listing and its first administrator's invitation, through
        ``provider_create`` (one transaction: a refusal saves nothing). The model's own add page stays
        closed: a listing never exists without its provider."""
        if not self.may_add_provider(request):
            raise PermissionDenied
        form = ProviderCreateForm(request.POST) if request.method == "POST" else ProviderCreateForm()
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                organization = provider_create(
                    legal_name=data["legal_name"],
                    country=data["country"],
                    countries_served=data["countries_served"],
                    languages=data["languages"],
                    admin_email=data["admin_email"],
                    admin_language=data["admin_language"],
                    by=request.user,
                    **{
                        name: data[name]
                        for name in (
                            "address_line1",
                            "address_line2",
                            "city",
                            "region",
                            "postal_code",
                            "support_email",
                            "support_phone",
                            "support_website",
                        )
                    },
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                self.message_user(
                    request,
                    _(
                        "%(name)s is authorised as a provider. %(email)s is invited to become its "
                        "Global admin."
                    )
                    % {"name": organization.legal_name, "email": data["admin_email"]},
                    messages.SUCCESS,
                )
                listing = ProviderListing.objects.get(organization=organization)
                return redirect(reverse("admin:providers_providerlisting_change", args=[listing.pk]))
        return self._form_page(
            request,
            form=form,
            title=_("Add provider"),
            submit=_("Add provider"),
            cancel_url=reverse("admin:providers_providerlisting_changelist"),
        )

    def countries_view(self, request, object_id):
        """Change countries served, through ``provider_countries_set`` (existing partnerships stay)."""
        listing = self.get_object(request, unquote(object_id))
        if listing is None:
            raise Http404
        if not (self.has_view_permission(request, listing) and self.may_change_countries(request)):
            raise PermissionDenied
        change_url = reverse("admin:providers_providerlisting_change", args=[listing.pk])
        initial = {"countries_served": [str(row.country) for row in listing.countries.all()]}
        form = CountriesServedForm(request.POST if request.method == "POST" else None, initial=initial)
        if form.is_bound and form.is_valid():
            try:
                provider_countries_set(
                    listing=listing, countries=form.cleaned_data["countries_served"], by=request.user
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                self.message_user(
                    request,
                    _("The countries %(name)s serves are changed.") % {"name": listing.name},
                    messages.SUCCESS,
                )
                return redirect(change_url)
        return self._form_page(
            request,
            form=form,
            title=_("Change countries served"),
            submit=_("Save"),
            cancel_url=change_url,
            listing=listing,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.may_change_countries(request):
            context["countries_url"] = reverse("admin:providers_providerlisting_countries", args=[obj.pk])
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )


# --- Read-only records -------------------------------------------------------------------------------


@admin.register(Partnership)
class PartnershipAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["provider", "reseller", "status", "started_at", "ended_at", "ended_by_side"]
    list_filter = ["status", "ended_by_side", ("started_at", titled(admin.DateFieldListFilter, _("since")))]
    search_fields = ["provider__legal_name", "reseller__legal_name", "reseller__partner_id"]
    list_select_related = ["provider", "reseller"]
    show_full_result_count = False
    fields = [
        "public_id",
        "provider",
        "reseller",
        "status",
        "invitation",
        "authorized_by",
        "started_at",
        "ended_at",
        "ended_by",
        "ended_by_side",
        "end_reason",
    ]
    readonly_fields = fields


@admin.register(PartnershipInvitation)
class PartnershipInvitationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Never the token hash: it identifies the link."""

    list_display = ["email", "organization", "partner_id", "status", "created_at", "expires_at", "emailed_at"]
    list_filter = ["status", "language", ("created_at", titled(admin.DateFieldListFilter, _("sent at")))]
    search_fields = ["email", "partner_id", "organization__legal_name"]
    list_select_related = ["organization"]
    show_full_result_count = False
    exclude = ["token_hash"]
    fields = [
        "public_id",
        "organization",
        "email",
        "partner_id",
        "language",
        "status",
        "invited_by",
        "request",
        "bulk_run",
        "created_at",
        "emailed_at",
        "reminded_at",
        "expires_at",
        "decided_by",
        "decided_at",
        "reason",
    ]
    readonly_fields = fields


@admin.register(PartnershipRequest)
class PartnershipRequestAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reseller", "provider", "status", "created_at", "decided_at"]
    list_filter = ["status", ("created_at", titled(admin.DateFieldListFilter, _("requested at")))]
    search_fields = ["reseller__legal_name", "reseller__partner_id", "provider__legal_name"]
    list_select_related = ["reseller", "provider"]
    show_full_result_count = False
    fields = [
        "public_id",
        "reseller",
        "provider",
        "status",
        "message",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "reason",
    ]
    readonly_fields = fields


@admin.register(BulkInvitationRun)
class BulkInvitationRunAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "file_name",
        "organization",
        "status",
        "total_rows",
        "processed_rows",
        "sent",
        "skipped",
        "refused",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", ("created_at", titled(admin.DateFieldListFilter, _("uploaded at")))]
    search_fields = ["file_name", "organization__legal_name"]
    list_select_related = ["organization"]
    show_full_result_count = False
    fields = [
        "public_id",
        "organization",
        "file_name",
        "language",
        "status",
        "created_by",
        "total_rows",
        "processed_rows",
        "sent",
        "skipped",
        "refused",
        "created_at",
        "finished_at",
        "rows_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("rows"))
    def rows_link(self, obj: BulkInvitationRun):
        url = reverse("admin:providers_bulkinvitationrow_changelist") + f"?run__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("See each row's result"))


@admin.register(BulkInvitationRow)
class BulkInvitationRowAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["run", "line", "email", "partner_id", "outcome", "reason"]
    list_filter = ["outcome"]
    search_fields = ["email", "partner_id", "run__file_name"]
    list_select_related = ["run"]
    show_full_result_count = False
    fields = ["run", "line", "email", "partner_id", "outcome", "reason", "invitation"]
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request):
        # The run's page links here filtered to its rows; the list offers no filter of every run.
        return lookup == "run__id__exact" or super().lookup_allowed(lookup, value, request)

"""The partner-membership registry on the review site.

Membership accounts and partner profiles are read-only here: staff list and search them, and add or
correct them only through **Import CSV** (Membership accounts > Import CSV), which calls
``membership_accounts_import_csv`` and shows what happened to every row. A password hash is never shown.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin import CountryListFilter
from enrollment.models import MembershipAccount, PartnerProfile
from enrollment.services.membership_import import (
    IMPORT_COLUMNS,
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ROWS,
    membership_accounts_import_csv,
)
from portal.admin import ViewOnlyAdminMixin
from portal.errors import DomainError, form_add_domain_error

IMPORT_PERMISSION = "enrollment.add_membershipaccount"


def import_allowed(request) -> bool:
    """Program staff holding the registry's add permission (superusers hold every permission)."""
    return request.user.is_active and request.user.is_staff and request.user.has_perm(IMPORT_PERMISSION)


class MembershipImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s. Split it into smaller files.")
                % {"size": filesizeformat(IMPORT_MAX_BYTES)},
                code="file_too_large",
            )
        return file


class ImportLinkMixin:
    """Offers Import CSV above the list to those allowed to import."""

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": import_allowed(request)}
        return super().changelist_view(request, extra_context)


@admin.register(MembershipAccount)
class MembershipAccountAdmin(ImportLinkMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["username", "profile_count", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["username", "profiles__partner_id", "profiles__legal_name"]
    # Never the password hash: it is all an attacker needs to guess offline.
    fields = ["username", "is_active", "created_at", "profile_list"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(profile_total=Count("profiles"))

    @admin.display(description=_("profiles"), ordering="profile_total")
    def profile_count(self, obj: MembershipAccount) -> int:
        return obj.profile_total

    @admin.display(description=_("partner profiles"))
    def profile_list(self, obj: MembershipAccount):
        profiles = obj.profiles.order_by("legal_name", "partner_id")
        if not profiles:
            return _("No partner profiles")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a>: {}, {} ({})</li>',
                (
                    (
                        reverse("admin:enrollment_partnerprofile_change", args=[profile.pk]),
                        profile.partner_id,
                        profile.legal_name,
                        profile.location,
                        profile.country.name,
                    )
                    for profile in profiles
                ),
            ),
        )

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name=f"{opts.app_label}_{opts.model_name}_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Upload a CSV file (format: enrollment/services/membership_import.py) and read the per-row
        report. The report answers the POST itself: importing the same file again skips what is there."""
        if not import_allowed(request):
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = MembershipImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    report = membership_accounts_import_csv(file=form.cleaned_data["file"], by=request.user)
                except DomainError as error:
                    form_add_domain_error(form, error)
        else:
            form = MembershipImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import membership accounts"),
            "form": form,
            "report": report,
            "columns": IMPORT_COLUMNS,
            "max_rows": IMPORT_MAX_ROWS,
            "max_size": IMPORT_MAX_BYTES,
        }
        return TemplateResponse(request, "admin/enrollment/membershipaccount/import.html", context)


@admin.register(PartnerProfile)
class PartnerProfileAdmin(ImportLinkMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["partner_id", "legal_name", "country", "location", "already_authorised", "account"]
    list_filter = ["already_authorised", CountryListFilter]
    search_fields = ["partner_id", "legal_name", "account__username"]
    list_select_related = ["account"]
    fields = [
        "partner_id",
        "legal_name",
        "country",
        "location",
        "already_authorised",
        "account_link",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("membership account"))
    def account_link(self, obj: PartnerProfile):
        url = reverse("admin:enrollment_membershipaccount_change", args=[obj.account_id])
        return format_html('<a href="{}">{}</a>', url, obj.account.username)

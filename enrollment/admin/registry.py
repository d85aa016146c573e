"""The partner-membership registry and the blocked email domains on the review site.

Membership accounts and partner profiles are read-only here: staff list and search them, and add or
correct them only through **Import CSV** (Membership accounts > Import CSV), which calls
``membership_accounts_import_csv`` and shows what happened to every row. A password hash is never shown.

Blocked email domains are added and removed here, each through its service (with its audit row); an
entry is never edited.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin import CountryListFilter
from enrollment.models import BlockedEmailDomain, MembershipAccount, PartnerProfile
from enrollment.services.email_domains import (
    DOMAIN_ALREADY_BLOCKED,
    blocked_email_domain_add,
    blocked_email_domain_remove,
)
from enrollment.services.membership_import import (
    IMPORT_COLUMNS,
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ROWS,
    membership_accounts_import_csv,
)
from enrollment.validation.email_domains import domain_display, domain_normalise
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


# --- Blocked email domains ------------------------------------------------------------------------------


class BlockedEmailDomainForm(forms.ModelForm):
    class Meta:
        model = BlockedEmailDomain
        fields = ["domain", "kind", "note"]
        help_texts = {
            "domain": _(
                "Addresses at this domain and at its subdomains cannot be the primary contact of an "
                "enrollment. For example example.com or 例え.jp."
            )
        }

    def clean_domain(self):
        """The form the list stores (lower-case IDNA ASCII); a domain already listed is said here, and the
        service's unique index still decides between two reviewers adding it at once."""
        domain = domain_normalise(self.cleaned_data["domain"])
        if BlockedEmailDomain.objects.filter(domain=domain).exists():
            raise ValidationError(
                DOMAIN_ALREADY_BLOCKED,
                code="domain_already_blocked",
                params={"domain": domain_display(domain)},
            )
        return domain


@admin.register(BlockedEmailDomain)
class BlockedEmailDomainAdmin(admin.ModelAdmin):
    """Added through ``blocked_email_domain_add``, removed through ``blocked_email_domain_remove``."""

    form = BlockedEmailDomainForm
    list_display = ["domain", "domain_unicode", "kind", "note", "created_at", "created_by"]
    list_filter = ["kind"]
    search_fields = ["domain", "note"]
    list_select_related = ["created_by"]
    readonly_fields = ["domain_unicode", "created_at", "created_by"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["domain", "kind", "note"]
        return ["domain", "domain_unicode", "kind", "note", "created_at", "created_by"]

    def has_change_permission(self, request, obj=None):
        return False  # remove the entry and add it again: the history then shows both

    @admin.display(description=_("domain as written"))
    def domain_unicode(self, obj: BlockedEmailDomain) -> str:
        return domain_display(obj.domain)

    def save_model(self, request, obj, form, change):
        try:
            blocked = blocked_email_domain_add(
                domain=obj.domain, kind=obj.kind, note=obj.note, by=request.user
            )
        except DomainError as error:
            if error.code != "domain_already_blocked":
                raise
            # Another reviewer added it since the form was checked: the domain is blocked, as asked.
            blocked = BlockedEmailDomain.objects.get(domain=obj.domain)
            self.message_user(request, error.message, messages.WARNING)
        obj.pk, obj.created_at, obj.created_by = blocked.pk, blocked.created_at, blocked.created_by

    def delete_model(self, request, obj):
        try:
            blocked_email_domain_remove(blocked_domain=obj, by=request.user)
        except DomainError as error:  # already removed by someone else: the outcome asked for
            self.message_user(request, error.message, messages.WARNING)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

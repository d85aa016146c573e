"""The partner-membership registry and the blocked email domains on the review site.

Membership accounts and partner profiles are read-only here: staff list and search them, and add or
correct them only through **Import CSV** (Membership accounts > Import CSV), which calls
``membership_accounts_import_csv`` and shows what happened to every row. A password hash is never shown.

Blocked email domains and the screening list are added to and removed from here, each through its
service (with its audit row); an entry is never edited.

Enrollment applications: the review queue (oldest submitted first, drafts only when asked for) and each
application's page, both read-only; the decisions (Approve, Reject, Request more information) have pages
of their own that call ``enrollment.services.review``. Reviewers are program staff in the "Enrollment
reviewers" group (migration 0004) or superusers.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries import countries

from accounts.admin import CountryListFilter
from accounts.models import DirectoryTenantSource
from enrollment.checks import REASONS
from enrollment.models import (
    ApplicationStatus,
    BlockedEmailDomain,
    CheckStatus,
    EnrollmentApplication,
    InformationItem,
    MembershipAccount,
    PartnerProfile,
    RejectionReason,
    ScreeningEntry,
    ScreeningKind,
)
from enrollment.selectors import application_checks, application_document_get, application_history
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
from enrollment.services.review import (
    ITEMS_REQUIRED,
    MESSAGE_REQUIRED,
    NOT_A_REVIEWER,
    REASON_REQUIRED,
    application_approve,
    application_information_request,
    application_reject,
    reviewer_may_decide,
    sla_business_days,
)
from enrollment.services.screening import (
    ENTRY_ALREADY_LISTED,
    screening_entry_add,
    screening_entry_remove,
    screening_value_normalise,
)
from enrollment.transitions import APPLICATION_STATUS
from enrollment.validation.address import region_label
from enrollment.validation.email_domains import domain_display, domain_normalise
from enrollment.validation.phone import phone_number_display
from portal.admin import ViewOnlyAdminMixin
from portal.business_days import is_business_day
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


# --- Enrollment applications: the review queue, the application page and the decisions -----------------

#: the statuses whose time in review counts towards the SLA (as ``sla_business_days`` counts it)
SLA_STATUSES = (ApplicationStatus.IN_REVIEW, ApplicationStatus.RESUBMITTED)
DOCUMENT_VIEW_PERMISSION = "enrollment.view_applicationdocument"
DECISION_NOT_POSSIBLE = _("%(action)s is not possible: the application is %(status)s. Nothing was changed.")


def sla_days() -> int:
    return settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS


def sla_past_lookup(now: datetime) -> Q:
    """The applications in review for more than the SLA's business days at ``now``: exactly those for
    which ``sla_business_days`` says more than ``ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS`` (its rules, counted
    backwards from ``now`` in the program's calendar), as one condition on ``review_started_at``."""
    country, tz = settings.PROGRAM_COUNTRY, ZoneInfo(settings.PROGRAM_TIME_ZONE)
    local = now.astimezone(tz)
    day = local.date()
    in_business_day = is_business_day(day, country=country)
    if not in_business_day:  # the whole of the last business day has passed
        day -= timedelta(days=1)
        while not is_business_day(day, country=country):
            day -= timedelta(days=1)
    # A start on ``day`` minus (SLA + 1) business days reaches SLA + 1 business days on ``day`` at its own
    # time of day; a start outside business days counts from 00:00 of the next business day.
    remaining = sla_days() + 1
    while remaining:
        day -= timedelta(days=1)
        if is_business_day(day, country=country):
            remaining -= 1
    if in_business_day:
        return Q(review_started_at__lte=datetime.combine(day, local.time(), tzinfo=tz))
    return Q(review_started_at__lt=datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))


def time_in_review_display(application: EnrollmentApplication, *, now: datetime | None = None):
    """Business days in review, and a visible "Over SLA" badge past the SLA (None outside review)."""
    days = sla_business_days(application, now=now)
    if days is None:
        return None
    text = ngettext("%(count)d business day", "%(count)d business days", days) % {"count": days}
    if days > sla_days():
        return format_html('{} <span class="sla-badge sla-badge-over">{}</span>', text, _("Over SLA"))
    return text


class ApplicationStatusFilter(admin.SimpleListFilter):
    """By status; drafts only when asked for. A draft is the applicant's unfinished work, not yet sent to
    the program: nothing there to review, and counting them would bury the applications that wait."""

    title = _("status")
    parameter_name = "status"
    EVERY_STATUS = "all"

    def lookups(self, request, model_admin):
        return ApplicationStatus.choices

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All but drafts"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == str(value),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }
        yield {
            "selected": self.value() == self.EVERY_STATUS,
            "query_string": changelist.get_query_string({self.parameter_name: self.EVERY_STATUS}),
            "display": _("All, drafts included"),
        }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.exclude(status=ApplicationStatus.DRAFT)
        if value == self.EVERY_STATUS:
            return queryset
        return queryset.filter(status=value)


class TimeInReviewFilter(admin.SimpleListFilter):
    """Applications in review within the SLA, or past it (business days of the program's calendar)."""

    title = _("time in review")
    parameter_name = "sla"
    WITHIN, PAST = "within", "past"

    def lookups(self, request, model_admin):
        days = sla_days()
        within = ngettext(
            "Within the SLA (up to %(count)d business day)",
            "Within the SLA (up to %(count)d business days)",
            days,
        )
        past = ngettext(
            "Past the SLA (more than %(count)d business day)",
            "Past the SLA (more than %(count)d business days)",
            days,
        )
        return [(self.WITHIN, within % {"count": days}), (self.PAST, past % {"count": days})]

    def queryset(self, request, queryset):
        if self.value() not in (self.WITHIN, self.PAST):
            return queryset
        past = sla_past_lookup(timezone.now())
        in_review = queryset.filter(status__in=SLA_STATUSES, review_started_at__isnull=False)
        return in_review.filter(past) if self.value() == self.PAST else in_review.exclude(past)


class DecisionForm(forms.Form):
    required_css_class = "required"


def _message_to_applicant(help_text) -> forms.CharField:
    """The reviewer's words to the applicant, which reject and request-information both ask for."""
    return forms.CharField(
        label=_("Message to the applicant"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": MESSAGE_REQUIRED},
        help_text=help_text,
    )


class ApproveForm(DecisionForm):
    """Approval asks nothing more: the page says what it does, the button confirms it."""


class RejectForm(DecisionForm):
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=RejectionReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": REASON_REQUIRED, "invalid_choice": REASON_REQUIRED},
    )
    message = _message_to_applicant(
        _(
            "The applicant reads it on their status page, and it is emailed to them and to the primary "
            "contact. At most 2,000 characters."
        )
    )


class InformationRequestForm(DecisionForm):
    items = forms.MultipleChoiceField(
        label=_("What the applicant must fix or supply"),
        choices=InformationItem.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": ITEMS_REQUIRED, "invalid_choice": ITEMS_REQUIRED},
    )
    message = _message_to_applicant(
        _(
            "Say what is wrong or missing. The applicant reads it on their status page, and it is emailed "
            "to them and to the primary contact. At most 2,000 characters."
        )
    )


@dataclass(frozen=True)
class Decision:
    """One of the reviewer's decisions: its page (``name``), the status it moves to, its form and service
    (called as ``service(application=..., by=..., **form.cleaned_data)``)."""

    name: str
    status: str
    title: Any
    button: Any
    form_class: type[forms.Form]
    service: Callable
    done: Any  # a message with %(name)s


DECISIONS = (
    Decision(
        name="approve",
        status=ApplicationStatus.APPROVED,
        title=_("Approve"),
        button=_("Approve"),
        form_class=ApproveForm,
        service=application_approve,
        done=_(
            "%(name)s is approved: the reseller organization exists and the applicant is its Global admin."
        ),
    ),
    Decision(
        name="reject",
        status=ApplicationStatus.REJECTED,
        title=_("Reject"),
        button=_("Reject"),
        form_class=RejectForm,
        service=application_reject,
        done=_("%(name)s is rejected. The applicant and the primary contact are told why."),
    ),
    Decision(
        name="request_information",
        status=ApplicationStatus.MORE_INFORMATION,
        title=_("Request more information"),
        button=_("Send the request"),
        form_class=InformationRequestForm,
        service=application_information_request,
        done=_("More information is requested from the applicant of %(name)s."),
    ),
)


def _changes(event) -> list[tuple[str, str, str]]:
    """An audit event's before/after as (name, before, after) rows, in the order they were written; a
    mapping (the checks' results) gives a row per key."""
    before, after = _flat(event.before or {}), _flat(event.after or {})
    names = list(dict.fromkeys([*before, *after]))
    return [(name, _value_text(name, before.get(name)), _value_text(name, after.get(name))) for name in names]


def _flat(values: dict) -> dict:
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{key}": inner for key, inner in value.items()})
        else:
            flat[name] = value
    return flat


def _value_text(name: str, value) -> str:
    if value is None:
        return "—"
    if name == "status":
        return APPLICATION_STATUS.label(value)
    if isinstance(value, dict):
        return ", ".join(str(inner) for inner in value.values())
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


@admin.register(EnrollmentApplication)
class EnrollmentApplicationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The review queue and each application's page, read-only; the decisions have pages of their own
    (Approve, Reject, Request more information), each calling its service."""

    list_display = ["name", "partner_id", "country", "status", "submitted_at", "time_in_review"]
    list_filter = [ApplicationStatusFilter, CountryListFilter, TimeInReviewFilter]
    search_fields = ["legal_name", "partner_id", "tenant_id", "contact_email", "applicant__email"]
    # Oldest submitted first: the queue is worked in the order applicants are waiting.
    ordering = [F("submitted_at").asc(nulls_last=True), "pk"]
    list_select_related = ["applicant"]
    # The paginator's COUNT(*) of the filtered queue only; never a second one over every application.
    show_full_result_count = False
    list_per_page = 50
    change_form_template = "admin/enrollment/enrollmentapplication/change_form.html"
    decision_template = "admin/enrollment/enrollmentapplication/decision.html"

    # The status, the time in review and the decision are at the top of the page (its Decision panel).
    fieldsets = [
        (
            None,
            {"fields": ["public_id", "applicant_link", "created_at", "submitted_at", "review_started_at"]},
        ),
        (
            _("Directory tenant"),
            {"fields": ["tenant_name", "tenant_id", "tenant_source", "tenant_country", "tenant_domains"]},
        ),
        (_("Partner profile"), {"fields": ["partner_id", "partner_profile_link", "already_authorised"]}),
        (
            _("Legal business profile"),
            {
                "fields": [
                    "legal_name",
                    "country",
                    "address_line1",
                    "address_line2",
                    "city",
                    "region_name",
                    "postal_code",
                ]
            },
        ),
        (
            _("Primary contact"),
            {
                "fields": [
                    "contact_name",
                    "contact_email",
                    "contact_phone_display",
                    "contact_language",
                    "confirmed_at",
                ]
            },
        ),
        (
            _("Customer support contact"),
            {"fields": ["support_email", "support_phone_display", "support_website"]},
        ),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("applicant", "partner_profile", "decided_by", "organization")
        )

    # -- Columns and read-only fields

    @admin.display(description=_("legal name"), ordering="legal_name")
    def name(self, obj: EnrollmentApplication) -> str:
        return str(obj)

    @admin.display(description=_("time in review"), ordering="-review_started_at")
    def time_in_review(self, obj: EnrollmentApplication):
        return time_in_review_display(obj)

    @admin.display(description=_("applicant"))
    def applicant_link(self, obj: EnrollmentApplication):
        url = reverse("admin:accounts_user_change", args=[obj.applicant_id])
        return format_html('<a href="{}">{}</a>', url, obj.applicant.email)

    @admin.display(description=_("name"))
    def tenant_name(self, obj: EnrollmentApplication) -> str:
        return obj.tenant.get("display_name", "")

    @admin.display(description=_("source"))
    def tenant_source(self, obj: EnrollmentApplication) -> str:
        return dict(DirectoryTenantSource.choices).get(obj.tenant_source, obj.tenant_source)

    @admin.display(description=_("country"))
    def tenant_country(self, obj: EnrollmentApplication) -> str:
        return countries.name(obj.tenant_country) if obj.tenant_country else ""

    @admin.display(description=_("verified domains"))
    def tenant_domains(self, obj: EnrollmentApplication):
        if not obj.tenant_domains:
            return ""
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((domain,) for domain in obj.tenant_domains))
        )

    @admin.display(description=_("partner profile"))
    def partner_profile_link(self, obj: EnrollmentApplication):
        profile = obj.partner_profile
        if profile is None:
            return ""
        url = reverse("admin:enrollment_partnerprofile_change", args=[profile.pk])
        return format_html('<a href="{}">{}</a> ({})', url, profile.legal_name, profile.location)

    @admin.display(description=_("state or prefecture"))
    def region_name(self, obj: EnrollmentApplication) -> str:
        return str(region_label(obj.region, country=obj.country.code)) if obj.region else ""

    @admin.display(description=_("primary contact phone"))
    def contact_phone_display(self, obj: EnrollmentApplication) -> str:
        return phone_number_display(obj.contact_phone, country=obj.country.code) if obj.contact_phone else ""

    @admin.display(description=_("customer support phone"))
    def support_phone_display(self, obj: EnrollmentApplication) -> str:
        return phone_number_display(obj.support_phone, country=obj.country.code) if obj.support_phone else ""

    # -- The application's page

    def decisions_for(self, request, application: EnrollmentApplication) -> list[Decision]:
        """The decisions this reviewer may take on the application as it is now."""
        if not reviewer_may_decide(request.user):
            return []
        return [
            decision
            for decision in DECISIONS
            if APPLICATION_STATUS.allows(application.status, decision.status)
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            opts = self.opts
            checks = [
                {
                    "check": check,
                    "summary": REASONS[check.reason_code].summary if check.reason_code in REASONS else "",
                    "fix": REASONS[check.reason_code].fix if check.reason_code in REASONS else "",
                }
                for check in application_checks(obj)
            ]
            history = [{"event": event, "changes": _changes(event)} for event in application_history(obj)]
            context.update(
                {
                    "application": obj,
                    "decisions": [
                        {
                            "decision": decision,
                            "url": reverse(
                                f"admin:{opts.app_label}_{opts.model_name}_{decision.name}", args=[obj.pk]
                            ),
                        }
                        for decision in self.decisions_for(request, obj)
                    ],
                    "decidable_now": any(
                        APPLICATION_STATUS.allows(obj.status, decision.status) for decision in DECISIONS
                    ),
                    "not_a_reviewer": NOT_A_REVIEWER,
                    "checks": checks,
                    "documents": obj.documents.select_related("uploaded_by").order_by("uploaded_at", "pk"),
                    "may_download": self._may_download(request, obj),
                    "history": history,
                    "time_in_review": time_in_review_display(obj),
                    "sla_days": sla_days(),
                }
            )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def get_urls(self):
        opts = self.model._meta
        prefix = f"{opts.app_label}_{opts.model_name}"
        decisions = [
            path(
                f"<path:object_id>/{decision.name}/",
                self.admin_site.admin_view(partial(self.decision_view, decision=decision)),
                name=f"{prefix}_{decision.name}",
            )
            for decision in DECISIONS
        ]
        return [
            *decisions,
            path(
                "<path:object_id>/documents/<uuid:document_id>/",
                self.admin_site.admin_view(self.document_view),
                name=f"{prefix}_document",
            ),
            *super().get_urls(),
        ]

    def _application_or_404(self, request, object_id) -> EnrollmentApplication:
        application = self.get_object(request, unquote(object_id))
        if application is None:
            raise Http404
        return application

    def _may_download(self, request, application) -> bool:
        return self.has_view_permission(request, application) and request.user.has_perm(
            DOCUMENT_VIEW_PERMISSION
        )

    def document_view(self, request, object_id, document_id):
        """A document the applicant uploaded, as a download (never inline: it is the applicant's file)."""
        application = self._application_or_404(request, object_id)
        if not self._may_download(request, application):
            raise PermissionDenied
        document = application_document_get(application=application, public_id=document_id)
        try:
            file = document.file.open("rb")
        except OSError:
            raise Http404 from None
        response = FileResponse(
            file, as_attachment=True, filename=document.original_name, content_type=document.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def decision_view(self, request, object_id, *, decision: Decision):
        """GET: the decision's form; POST (with CSRF): the decision, through its service."""
        application = self._application_or_404(request, object_id)
        if not (self.has_view_permission(request, application) and reviewer_may_decide(request.user)):
            raise PermissionDenied
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[application.pk]
        )
        if not APPLICATION_STATUS.allows(application.status, decision.status):
            message = DECISION_NOT_POSSIBLE % {
                "action": decision.title,
                "status": application.get_status_display(),
            }
            self.message_user(request, message, messages.ERROR)
            return redirect(change_url)
        if request.method == "POST":
            form = decision.form_class(request.POST)
            if form.is_valid():
                try:
                    decision.service(application=application, by=request.user, **form.cleaned_data)
                except DomainError as error:
                    if error.field not in form.fields:  # e.g. another reviewer decided first
                        self.message_user(request, error.message, messages.ERROR)
                        return redirect(change_url)
                    form_add_domain_error(form, error)
                else:
                    self.message_user(request, decision.done % {"name": application}, messages.SUCCESS)
                    return redirect(change_url)
        else:
            form = decision.form_class()
        failed_checks = [
            check for check in application_checks(application) if check.status == CheckStatus.FAILED
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": decision.title,
            "subtitle": str(application),
            "application": application,
            "original": application,
            "decision": decision,
            "form": form,
            "failed_checks": failed_checks,
            "change_url": change_url,
            "time_in_review": time_in_review_display(application),
        }
        return TemplateResponse(request, self.decision_template, context)


# --- The screening list ----------------------------------------------------------------------------------


class ScreeningEntryForm(forms.ModelForm):
    class Meta:
        model = ScreeningEntry
        fields = ["kind", "value", "note"]

    def clean(self):
        """The value as the list stores it; an entry already listed is said here, and the service's unique
        index still decides between two reviewers adding it at once."""
        cleaned = super().clean()
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if not (kind and value):
            return cleaned
        try:
            value = screening_value_normalise(kind=kind, value=value)
        except ValidationError as error:
            self.add_error("value", error)
            return cleaned
        if ScreeningEntry.objects.filter(kind=kind, value__iexact=value).exists():
            self.add_error(
                "value",
                ValidationError(ENTRY_ALREADY_LISTED, code="entry_already_listed", params={"value": value}),
            )
            return cleaned
        cleaned["value"] = value
        return cleaned


@admin.register(ScreeningEntry)
class ScreeningEntryAdmin(admin.ModelAdmin):
    """Added through ``screening_entry_add``, removed through ``screening_entry_remove``; never edited."""

    form = ScreeningEntryForm
    list_display = ["entry_value", "kind", "note", "created_at"]
    list_filter = ["kind"]
    search_fields = ["value", "note"]
    ordering = ["kind", "value"]
    readonly_fields = ["created_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["kind", "value", "note"]
        return ["kind", "entry_value", "note", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["kind", "entry_value", "note", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # remove the entry and add it again: the history then shows both

    @admin.display(description=_("value"), ordering="value")
    def entry_value(self, obj: ScreeningEntry) -> str:
        if obj.kind == ScreeningKind.EMAIL_DOMAIN:
            written = domain_display(obj.value)
            return obj.value if written == obj.value else f"{written} ({obj.value})"
        return obj.value

    def save_model(self, request, obj, form, change):
        try:
            entry = screening_entry_add(kind=obj.kind, value=obj.value, note=obj.note, by=request.user)
        except DomainError as error:
            if error.code != "entry_already_listed":
                raise
            # Another reviewer added it since the form was checked: it is listed, as asked.
            entry = ScreeningEntry.objects.get(kind=obj.kind, value__iexact=obj.value)
            self.message_user(request, error.message, messages.WARNING)
        obj.pk, obj.value, obj.created_at = entry.pk, entry.value, entry.created_at

    def delete_model(self, request, obj):
        try:
            screening_entry_remove(entry=obj, by=request.user)
        except DomainError as error:  # already removed by someone else: the outcome asked for
            self.message_user(request, error.message, messages.WARNING)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

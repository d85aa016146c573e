"""Enrollment applications on the review site: the review queue (``queue.py``), each application's page
(its facts, checks, documents and history) and the decisions (``decisions.py``), which have pages of their
own that call ``enrollment.services.review``. All of it is read-only but for the decisions. Reviewers are
program staff in the "Enrollment reviewers" group (migration 0004) or superusers.
"""

from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.admin import CountryListFilter
from accounts.models import DirectoryTenantSource
from enrollment.admin.decisions import DECISION_NOT_POSSIBLE, DECISIONS, Decision
from enrollment.admin.history import audit_changes
from enrollment.admin.queue import (
    QUEUE_ORDERING,
    ApplicationStatusFilter,
    ReviewQueueChangeList,
    TimeInReviewFilter,
    queue_search,
    sla_days,
    time_in_review_display,
)
from enrollment.checks import REASONS
from enrollment.models import CheckStatus, EnrollmentApplication
from enrollment.selectors import application_checks, application_document_get, application_history
from enrollment.services.review import NOT_A_REVIEWER, reviewer_may_decide
from enrollment.transitions import APPLICATION_STATUS
from enrollment.validation.address import region_label
from enrollment.validation.phone import phone_number_display
from portal.admin import ViewOnlyAdminMixin
from portal.errors import DomainError, form_add_domain_error

DOCUMENT_VIEW_PERMISSION = "enrollment.view_applicationdocument"


@admin.register(EnrollmentApplication)
class EnrollmentApplicationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The review queue and each application's page, read-only; the decisions have pages of their own
    (Approve, Reject, Request more information), each calling its service."""

    list_display = ["name", "partner_id", "country_name", "status", "submitted_at", "time_in_review"]
    list_filter = [ApplicationStatusFilter, CountryListFilter, TimeInReviewFilter]
    search_fields = ["legal_name"]  # the search itself: get_search_results (queue.queue_search)
    search_help_text = _(
        "Search by legal name, primary contact or applicant email address (or part of them), partner ID "
        "or tenant ID."
    )
    list_select_related = ["applicant"]
    # A keyset list (queue.ReviewQueueChangeList) in the queue's own order (queue.QUEUE_ORDERING): never
    # counted, neither its rows nor the filters' choices, and not sortable by column.
    sortable_by = ()
    keyset_ordering = QUEUE_ORDERING
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
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

    def get_changelist(self, request, **kwargs):
        return ReviewQueueChangeList

    def get_search_results(self, request, queryset, search_term):
        return queue_search(queryset, search_term), False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("applicant", "partner_profile", "decided_by", "organization")
        )

    # -- Columns and read-only fields

    @admin.display(description=_("legal name"))
    def name(self, obj: EnrollmentApplication) -> str:
        return str(obj)

    @admin.display(description=_("country"))
    def country_name(self, obj: EnrollmentApplication) -> str:
        # Not the field itself: the admin shows a field with choices through a dict of its ~250
        # choices, built again for every row (most of the queue's time at 50 rows).
        return obj.country.name

    @admin.display(description=_("time in review"))
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
        name = countries.name(obj.tenant_country) if obj.tenant_country else ""
        if name and obj.tenant_country_declared:
            # Microsoft Entra ID did not say it: the applicant did, and the reviewer should know.
            return _("%(country)s (given by the applicant: the directory did not say it)") % {"country": name}
        return name

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
            history = [
                {"event": event, "changes": audit_changes(event)} for event in application_history(obj)
            ]
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

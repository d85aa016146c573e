"""Invitations from a CSV file: upload, follow the run, read and download the per-row report.

The upload is ``bulk_run_create`` (the file's rows stored, the worker started after commit); the run's
page shows its progress, polled by static/js/bulk-progress.js through the page's JSON variant
(``?format=json``) while it runs, with a Refresh button without JavaScript; once done, the rows
(a keyset list) and the report to download.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.scoping import OrganizationView
from portal.csv_export import csv_response
from portal.errors import DomainError, form_add_domain_error
from portal.lists import keyset_page
from providers.models import BulkInvitationRun
from providers.selectors import bulk_run_get, bulk_run_rows
from providers.services.bulk import COLUMNS, MAX_BYTES, bulk_run_create

#: The run list's and the rows' keyset orderings (the last field unique).
RUN_ORDERING = ("-created_at", "-id")
ROW_ORDERING = ("line", "id")
ROWS_PAGE_SIZE = 200
RUNS_PAGE_SIZE = 20
#: How often the run's page asks for its progress while the run is not done (milliseconds).
POLL_INTERVAL_MS = 2000


class BulkUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        # an empty file is the service's to refuse, with its own words
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"required": gettext_lazy("Choose a CSV file.")},
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Email language"),
        choices=settings.LANGUAGES,
        help_text=gettext_lazy("Every invitation in the file is written in this language."),
    )


class BulkUploadView(OrganizationView):
    def get(self, request):
        form = BulkUploadForm(initial={"language": request.user.preferred_language or settings.LANGUAGE_CODE})
        return self._render(form)

    def post(self, request):
        form = BulkUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = bulk_run_create(
                    provider=self.organization,
                    by=self.membership,
                    file_name=upload.name,
                    # one byte more than allowed is enough for the service to say the file is too large
                    data=upload.read(MAX_BYTES + 1),
                    language=form.cleaned_data["language"],
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("%(file)s was uploaded with %(count)s rows. The invitations are being sent.")
                    % {"file": run.file_name, "count": run.total_rows},
                )
                return redirect(
                    "providers:bulk_run",
                    organization_public_id=self.organization.public_id,
                    run_id=run.public_id,
                )
        return self._render(form, status=400)

    def _render(self, form, status=200):
        runs = keyset_page(
            self.scoped(BulkInvitationRun.objects.all()),
            ordering=RUN_ORDERING,
            query=self.request.GET,
            size=RUNS_PAGE_SIZE,
        )
        context = self.get_context_data(
            form=form,
            runs=runs,
            columns=",".join(COLUMNS),
            max_rows=settings.PARTNERSHIP_BULK_MAX_ROWS,
            max_megabytes=MAX_BYTES // (1024 * 1024),
            hourly_limit=settings.INVITATIONS_PER_HOUR,
        )
        return render(self.request, "providers/bulk.html", context, status=status)


def run_progress(run: BulkInvitationRun) -> dict:
    """The run's progress, as the page's JSON variant answers it."""
    return {
        "status": run.status,
        "status_label": run.get_status_display(),
        "done": run.status == BulkInvitationRun.Status.DONE,
        "total": run.total_rows,
        "processed": run.processed_rows,
        "sent": run.sent,
        "skipped": run.skipped,
        "refused": run.refused,
    }


class _RunMixin:
    def run(self, run_id) -> BulkInvitationRun:
        run = bulk_run_get(self.organization, run_id)
        if run is None:
            raise Http404
        return run


class BulkRunView(_RunMixin, OrganizationView):
    def get(self, request, run_id):
        run = self.run(run_id)
        progress = run_progress(run)
        if request.GET.get("format") == "json":
            response = JsonResponse(progress)
            response["Cache-Control"] = "no-store"
            return response
        rows = None
        if progress["done"]:
            rows = keyset_page(
                bulk_run_rows(run), ordering=ROW_ORDERING, query=request.GET, size=ROWS_PAGE_SIZE
            )
        context = self.get_context_data(
            run=run,
            progress=progress,
            rows=rows,
            poll_interval=POLL_INTERVAL_MS,
        )
        return render(request, "providers/bulk_run.html", context)


class BulkReportView(_RunMixin, OrganizationView):
    """The per-row report as a CSV file (every row, streamed; cells neutralised for spreadsheets)."""

    header = ["line", "email", "partner_id", "result", "reason"]

    def get(self, request, run_id):
        run = self.run(run_id)
        columns = bulk_run_rows(run).values_list("line", "email", "partner_id", "outcome", "reason")
        return csv_response(f"invitations-report-{run.public_id}.csv", self.header, columns)

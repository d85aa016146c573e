"""The applicant's pages after **Enroll now** — the status tracker, resending the contact's email,
withdrawing, answering a reviewer, downloading a document — and the primary contact's confirmation link.

Every application page reads the application through its applicant (``application_get``: anyone else's is
a 404) and calls one service; the services decide what is allowed, these views show it.
"""

from __future__ import annotations

import functools

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from enrollment import selectors
from enrollment.checks import REASONS
from enrollment.forms import DetailsForm
from enrollment.forms_tracking import ContactConfirmForm, ContactDeclineForm, DocumentUploadForm
from enrollment.models import ApplicationStatus, ContactConfirmation, EnrollmentApplication, InformationItem
from enrollment.services.applications import application_withdraw as withdraw_service
from enrollment.services.confirmation import (
    contact_confirm,
    contact_confirmation_resend,
    contact_decline,
    resend_available_in,
)
from enrollment.services.review import (
    answer_fields,
    application_document_add,
    application_resubmit,
    sla_business_days,
)
from enrollment.transitions import WITHDRAWABLE
from portal.errors import DomainError, form_add_domain_error
from portal.invitations.binding import InvitationUnusable
from portal.invitations.services import link_invitation_check
from portal.invitations.views import InvitationFlow

Status = ApplicationStatus


def applicant_page(*methods: str):
    """Resolve the applicant's own application from the URL (anyone else's is a 404, whatever the
    method: the lookup comes before the method check), then allow only ``methods``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, application_id, **kwargs):
            application = selectors.application_get(applicant=request.user, public_id=application_id)
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            return view(request, application, **kwargs)

        return wrapper

    return decorator


def _tracker(application: EnrollmentApplication):
    return redirect("enrollment:application", application_id=application.public_id)


# --- The status tracker ------------------------------------------------------------------------------


STEP_STATE_LABELS = {
    "done": gettext_lazy("Done"),
    "current": gettext_lazy("In progress"),
    "attention": gettext_lazy("Waiting for you"),
    "upcoming": gettext_lazy("Not started"),
    "stopped": gettext_lazy("Stopped"),
    "approved": gettext_lazy("Approved"),
    "rejected": gettext_lazy("Not approved"),
}

#: the step each status is at (an index of ``_timeline``'s steps) and how that step looks
_STATUS_STEP = {
    Status.AWAITING_CONFIRMATION: (1, "current"),
    Status.CHECKS_RUNNING: (2, "current"),
    Status.RESUBMITTED: (2, "current"),
    Status.IN_REVIEW: (3, "current"),
    Status.MORE_INFORMATION: (3, "attention"),
    Status.APPROVED: (4, "approved"),
    Status.REJECTED: (4, "rejected"),
}


def _timeline(application: EnrollmentApplication) -> list[dict]:
    """The five steps of an application, each done, under way or still to come, with the time it was
    done (or, for the step under way, since when). How it looks only: the status machine is
    ``enrollment.transitions``."""
    # Resubmitted, the checks run again since the answer; asked for more, the applicant holds the review.
    checks_began = (
        application.updated_at if application.status == Status.RESUBMITTED else application.confirmed_at
    )
    review_began = (
        application.updated_at
        if application.status == Status.MORE_INFORMATION
        else application.review_started_at
    )
    # (label, when the step was done, when it began)
    steps = [
        (_("Submitted"), application.submitted_at, None),
        (_("Confirmation by the primary contact"), application.confirmed_at, application.submitted_at),
        (_("Automated checks"), application.review_started_at, checks_began),
        (_("Review"), application.decided_at, review_began),
        (_("Decision"), application.decided_at, None),
    ]
    if application.status in _STATUS_STEP:
        reached, state = _STATUS_STEP[application.status]
    else:  # withdrawn or expired: stopped at the first step it never completed
        reached = next((index for index, step in enumerate(steps) if step[1] is None), len(steps) - 1)
        state = "stopped"
    timeline = []
    for index, (label, done_at, began_at) in enumerate(steps):
        step = {"label": label, "at": None, "since": None}
        if index < reached:
            step.update(state="done", at=done_at)
        elif index == reached:
            step.update(state=state)
            if state in ("approved", "rejected"):
                step["at"] = done_at
            elif state in ("current", "attention"):
                step["since"] = began_at
        else:
            step.update(state="upcoming")
        step["state_label"] = STEP_STATE_LABELS[step["state"]]
        timeline.append(step)
    return timeline


def _check_rows(application: EnrollmentApplication) -> list[dict]:
    rows = []
    for check in selectors.application_checks(application):
        reason = REASONS.get(check.reason_code)
        rows.append(
            {
                "kind": check.get_kind_display(),
                "status": check.status,
                "status_label": check.get_status_display(),
                "summary": reason.summary if reason else "",
                "fix": reason.fix if reason and check.status == check.Status.FAILED else "",
            }
        )
    return rows


#: the actions the primary contact takes (whoever holds the link, signed in or not)
_CONTACT_ACTIONS = ("enrollment_application.contact_confirmed", "enrollment_application.contact_declined")


def _history_rows(application: EnrollmentApplication) -> list[dict]:
    """The application's history as the applicant reads it: reviewers by role, never by address."""
    rows = []
    for event in selectors.application_history(application):
        if event.actor_id is not None and event.actor_id == application.applicant_id:
            who = _("You")
        elif event.action in _CONTACT_ACTIONS:
            who = _("Primary contact")
        elif event.actor_id is None:
            who = ""
        else:
            who = _("Program reviewer")
        rows.append({"at": event.occurred_at, "label": event.action_label, "who": who})
    return rows


@applicant_page("GET")
def application_status(request, application):
    """The tracker: where the application is, each check, what to do next, and its history."""
    if application.status == Status.DRAFT:
        return redirect("enrollment:review", application_id=application.public_id)
    sla_days = sla_business_days(application)
    context = {
        "application": application,
        "timeline": _timeline(application),
        "checks": _check_rows(application),
        "history": _history_rows(application),
        "sla_days": sla_days,
        "sla_target": settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS,
        "sla_exceeded": sla_days is not None and sla_days > settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS,
        "information_items": application.get_information_items_display(),
        "can_withdraw": application.status in WITHDRAWABLE,
        "resend_wait": (
            resend_available_in(application) if application.status == Status.AWAITING_CONFIRMATION else 0
        ),
        "checks_running": application.status in (Status.CHECKS_RUNNING, Status.RESUBMITTED),
    }
    return render(request, "enrollment/application.html", context)


@applicant_page("POST")
def confirmation_resend(request, application):
    """A new link to the primary contact (the old one stops working), after the cool-down."""
    try:
        contact_confirmation_resend(application=application, applicant=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("A new confirmation email is on its way to %(email)s; the earlier link no longer works.")
            % {"email": application.contact_email},
        )
    return _tracker(application)


@applicant_page("GET", "POST")
def application_withdraw(request, application):
    """GET: what withdrawing means; POST: withdraw."""
    if request.method == "POST":
        try:
            withdraw_service(application=application, applicant=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your enrollment was withdrawn."))
        return _tracker(application)
    context = {"application": application, "can_withdraw": application.status in WITHDRAWABLE}
    return render(request, "enrollment/withdraw.html", context)


# --- Answering a reviewer ----------------------------------------------------------------------------


def _answer_form(application: EnrollmentApplication, fields: tuple[str, ...], data=None) -> forms.Form:
    """The fields the reviewer asked about (``DetailsForm``), or, when only a document was asked for,
    an empty form that carries the page's errors."""
    if not fields:
        return forms.Form(data)
    return DetailsForm(data, application=application, only_fields=fields)


def _answer_error_show(error: DomainError, *, answer_form, upload_form) -> None:
    """A service's refusal at the field it concerns: every field of an ``invalid_details`` error at its
    own field, a document problem at the upload field, anything else above the form."""
    validation_error = getattr(error, "validation_error", None)
    if error.code == "invalid_details" and validation_error is not None:
        for name, field_errors in validation_error.error_dict.items():
            answer_form.add_error(name if name in answer_form.fields else None, field_errors)
    elif error.field == "document":
        upload_form.add_error("document", error.message)
    else:
        form_add_domain_error(answer_form, error)


@applicant_page("GET", "POST")
def information_respond(request, application):
    """What the reviewer asked for: upload a document (action "upload"), correct the fields asked about
    and resubmit (action "resubmit"). Nothing is stored when something is wrong."""
    if application.status != Status.MORE_INFORMATION:
        messages.info(request, _("This enrollment is not waiting for more information from you."))
        return _tracker(application)
    fields = answer_fields(application)
    document_requested = InformationItem.DOCUMENT in application.information_items
    action = request.POST.get("action") if request.method == "POST" else None
    if request.method == "POST" and action not in ("upload", "resubmit"):
        return redirect("enrollment:respond", application_id=application.public_id)

    answer_form = _answer_form(application, fields, data=request.POST if action == "resubmit" else None)
    if action == "upload":
        upload_form = DocumentUploadForm(request.POST, request.FILES)
    elif action == "resubmit":
        upload_form = DocumentUploadForm(request.POST, request.FILES, required=False)
    else:
        upload_form = DocumentUploadForm()

    if action == "upload" and upload_form.is_valid():
        document = upload_form.cleaned_data["document"]
        try:
            application_document_add(application=application, applicant=request.user, file=document)
        except DomainError as error:
            form_add_domain_error(upload_form, error)
        else:
            messages.success(
                request,
                _("%(name)s was uploaded. Upload another file if needed, then resubmit.")
                % {"name": document.name},
            )
            return redirect("enrollment:respond", application_id=application.public_id)
    elif action == "resubmit" and answer_form.is_valid() and upload_form.is_valid():
        values = answer_form.details_values() if fields else {}
        try:
            application_resubmit(application=application, applicant=request.user, values=values)
        except DomainError as error:
            _answer_error_show(error, answer_form=answer_form, upload_form=upload_form)
        else:
            messages.success(
                request,
                _("Your answer was sent. The automated checks run again, then a reviewer looks at it."),
            )
            return _tracker(application)

    context = {
        "application": application,
        "information_items": application.get_information_items_display(),
        "answer_form": answer_form,
        "asks_fields": bool(fields),
        "upload_form": upload_form,
        "document_requested": document_requested,
        "documents": application.documents.order_by("uploaded_at", "id"),
    }
    return render(
        request, "enrollment/respond.html", context, status=400 if request.method == "POST" else 200
    )


@never_cache
@applicant_page("GET")
def document_download(request, application, document_id):
    """One of the applicant's documents, always as a download, with the type it was checked to have."""
    document = selectors.application_document_get(application=application, public_id=document_id)
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- The primary contact's confirmation link --------------------------------------------------------


class ContactConfirmationFlow(InvitationFlow):
    """The link in the primary contact's email: who asks, for which company, and two statements to
    confirm — or "This is not right". No sign-in needed (the link is held by whoever has it) and none
    given; the page shows only what the contact must see."""

    model = ContactConfirmation
    template_name = "enrollment/confirmation.html"
    namespace = "enrollment"
    name_prefix = "confirmation"
    login_required_to_act = False

    def queryset(self):
        return ContactConfirmation.objects.select_related("application", "application__applicant")

    def check(self, invitation, user, *, to_accept: bool = True) -> None:
        try:
            link_invitation_check(invitation, user)
        except InvitationUnusable as error:
            if error.code == "invitation_expired":
                raise InvitationUnusable(
                    _(
                        "This confirmation link has expired. The person who registered the enrollment "
                        "can send you a new one from its status page."
                    ),
                    code=error.code,
                ) from None
            raise InvitationUnusable(
                _("This confirmation link was already used, or a newer email replaced it."), code=error.code
            ) from None
        application = invitation.application
        if (
            application.status != Status.AWAITING_CONFIRMATION
            or invitation.email.lower() != application.contact_email.lower()
        ):
            raise InvitationUnusable(
                _("This enrollment no longer needs your confirmation."), code="invitation_closed"
            )

    def context(self, request, invitation) -> dict:
        if invitation is None:
            # Said in this flow's words (the shared flow speaks of invitations).
            return {"problem": _("This confirmation link is not valid.")}
        # A refused link (this flow's ``check``, run by the shared page for everyone) shows only why.
        return {
            "application": invitation.application,
            "confirm_form": self._confirm_form(invitation),
            "decline_form": ContactDeclineForm(),
        }

    @staticmethod
    def _confirm_form(invitation, data=None) -> ContactConfirmForm:
        return ContactConfirmForm(data, legal_name=invitation.application.legal_name, email=invitation.email)

    def _page(self, request, invitation, **forms_given):
        """The confirmation page again, with the form that has errors (a 400: the link stays usable)."""
        context = {
            "invitation": invitation,
            "application": invitation.application,
            "accept_url": reverse(self.url_name("accept")),
            "decline_url": reverse(self.url_name("decline")),
            "confirm_form": self._confirm_form(invitation),
            "decline_form": ContactDeclineForm(),
            **forms_given,
        }
        return render(request, self.template_name, context, status=400)

    def _thanks(self, request, invitation, done: str):
        """After the answer: a page of its own (the contact may have no account to be sent anywhere)."""
        return render(request, self.template_name, {"application": invitation.application, "done": done})

    def accept(self, request, invitation):
        self.check(invitation, request.user)
        form = self._confirm_form(invitation, data=request.POST)
        if not form.is_valid():
            return self._page(request, invitation, confirm_form=form)
        try:
            contact_confirm(
                confirmation=invitation,
                user=request.user,
                is_the_contact=form.cleaned_data["is_the_contact"],
                address_is_the_company=form.cleaned_data["address_is_the_company"],
            )
        except InvitationUnusable:
            raise
        except DomainError as error:
            form_add_domain_error(form, error)
            return self._page(request, invitation, confirm_form=form)
        return self._thanks(request, invitation, "confirmed")

    def decline(self, request, invitation):
        self.check(invitation, request.user, to_accept=False)
        form = ContactDeclineForm(request.POST)
        if not form.is_valid():
            return self._page(request, invitation, decline_form=form)
        contact_decline(confirmation=invitation, user=request.user, reason=form.cleaned_data["reason"])
        return self._thanks(request, invitation, "declined")


contact_confirmation_flow = ContactConfirmationFlow()

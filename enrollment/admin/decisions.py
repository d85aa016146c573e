"""The reviewer's decisions on an application: Approve, Reject and Request more information, each with its
form (shape only) and its service in ``enrollment.services.review``, which decides."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from enrollment.models import ApplicationStatus, InformationItem, RejectionReason
from enrollment.services.review import (
    ITEMS_REQUIRED,
    MESSAGE_REQUIRED,
    REASON_REQUIRED,
    application_approve,
    application_information_request,
    application_reject,
)

DECISION_NOT_POSSIBLE = _("%(action)s is not possible: the application is %(status)s. Nothing was changed.")


class DecisionForm(forms.Form):
    required_css_class = "required"


class ApplicantMessageForm(DecisionForm):
    """A decision the applicant is told in the reviewer's own words: what the decision names (a reason,
    the items to supply), then the message, which the applicant reads on their status page."""

    #: what this decision's message is for, under the field
    message_help_text: Any = ""

    message = forms.CharField(
        label=_("Message to the applicant"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": MESSAGE_REQUIRED},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["message"].help_text = self.message_help_text
        self.order_fields([*(name for name in self.fields if name != "message"), "message"])


def _choice_errors(message) -> dict:
    """Nothing chosen and a value that is no choice (a forged form) get the same words."""
    return {"required": message, "invalid_choice": message}


class ApproveForm(DecisionForm):
    """Approval asks nothing more: the page says what it does, the button confirms it."""


class RejectForm(ApplicantMessageForm):
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=RejectionReason.choices,
        widget=forms.RadioSelect,
        error_messages=_choice_errors(REASON_REQUIRED),
    )
    message_help_text = _(
        "The applicant reads it on their status page, and it is emailed to them and to the primary "
        "contact. At most 2,000 characters."
    )


class InformationRequestForm(ApplicantMessageForm):
    items = forms.MultipleChoiceField(
        label=_("What the applicant must fix or supply"),
        choices=InformationItem.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages=_choice_errors(ITEMS_REQUIRED),
    )
    message_help_text = _(
        "Say what is wrong or missing. The applicant reads it on their status page, and it is emailed "
        "to them and to the primary contact. At most 2,000 characters."
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

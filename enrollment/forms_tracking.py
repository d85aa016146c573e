"""Forms of the pages after **Enroll now**: a document for the reviewer, and the primary contact's answer.

They check shape only; the services decide (``enrollment/services/``).
"""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from enrollment.validation.documents import ACCEPTED_TYPES, document_content_type


class DocumentUploadForm(forms.Form):
    """One document a reviewer asked for: PDF, PNG or JPEG by content, within the size limit.

    ``required=False`` binds the form on the page's other action (resubmitting), where no file is
    sent, so that the service's "upload the document first" can still be shown at this field."""

    document = forms.FileField(label=_("Document"), max_length=200)

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["document"]
        field.required = required
        field.help_text = _("A PDF, PNG or JPEG file of at most %(limit)s.") % {
            "limit": filesizeformat(settings.ENROLLMENT_DOCUMENT_MAX_BYTES)
        }
        extensions = sorted({f".{extension}" for extension in ACCEPTED_TYPES.values()} | {".jpeg"})
        field.widget.attrs["accept"] = ",".join([*extensions, *ACCEPTED_TYPES])

    def clean_document(self):
        document = self.cleaned_data.get("document")
        if document:
            document_content_type(document)  # ValidationError: shown at the field
        return document


class ContactConfirmForm(forms.Form):
    """The two statements the primary contact confirms; both are needed."""

    is_the_contact = forms.BooleanField(
        label=_("I am the person who registered this enrollment, or I authorised it."),
        error_messages={"required": _("Tick this box to confirm, or choose “This is not right” below.")},
    )
    address_is_the_company = forms.BooleanField(
        error_messages={"required": _("Tick this box to confirm, or choose “This is not right” below.")},
    )

    def __init__(self, *args, legal_name: str, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["address_is_the_company"].label = _(
            "The email address %(email)s belongs to %(company)s."
        ) % {
            "email": email,
            "company": legal_name,
        }


class ContactDeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("What is not right? (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: I do not know this company, or this is not my email address."),
    )

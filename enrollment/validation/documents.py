"""Documents an applicant uploads: PDF, PNG or JPEG, recognised by their content (the ``filetype``
package reads the magic numbers), never by the file's name or the browser's Content-Type header, and no
larger than ``ENROLLMENT_DOCUMENT_MAX_BYTES``."""

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from portal.errors import DomainError

#: what is accepted, as ``filetype`` names it by content
ACCEPTED_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}

TYPE_REFUSED = _("Upload a PDF, PNG or JPEG file. This file is not one of those, whatever its name says.")
TOO_LARGE = _("The file is %(size)s; upload a file of at most %(limit)s.")
EMPTY = _("The file is empty.")


def document_content_type(file) -> str:
    """The accepted content type of ``file`` read from its first bytes, or ValidationError."""
    if not file or not getattr(file, "size", 0):
        raise ValidationError(EMPTY, code="document_empty")
    limit = settings.ENROLLMENT_DOCUMENT_MAX_BYTES
    if file.size > limit:
        raise ValidationError(
            TOO_LARGE % {"size": filesizeformat(file.size), "limit": filesizeformat(limit)},
            code="document_too_large",
        )
    file.seek(0)
    head = file.read(261)  # what filetype needs to recognise every type it knows
    file.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ACCEPTED_TYPES:
        raise ValidationError(TYPE_REFUSED, code="document_type")
    return kind.mime


def document_check(file) -> str:
    """The service's form of ``document_content_type``: a DomainError on the ``document`` field."""
    try:
        return document_content_type(file)
    except ValidationError as error:
        raise DomainError(error.messages[0], code=error.code, field="document") from None

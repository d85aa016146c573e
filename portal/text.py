"""Free text a person writes (a message, a reason, an email draft), checked the same way everywhere."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.errors import DomainError
from portal.validators import no_control_characters


def text_clean(
    value: str, *, field: str, required: bool, max_length: int = 1000, required_message=None
) -> str:
    """A short free text (a message, a reason): trimmed, bounded, no control characters but line breaks."""
    value = (value or "").strip()
    if required and not value:
        raise DomainError(required_message or _("This field is required."), code="required", field=field)
    if len(value) > max_length:
        raise DomainError(
            _("Write at most %(count)d characters.") % {"count": max_length}, code="too_long", field=field
        )
    for line in value.splitlines():
        try:
            no_control_characters(line)
        except ValidationError as error:
            raise DomainError(error.messages[0], code="control_characters", field=field) from None
    return value

"""The organization-details step, checked as a whole: the form shows these errors at their fields, and the
service runs the same function again on what it stores, so no path saves a value the rules refuse.

``details_clean(values, country=…, short_path=…)`` returns the values to store or raises one
``ValidationError`` keyed by field name. The short path (a profile already authorised) asks only for the
customer-support contact.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, MaxLengthValidator, URLValidator
from django.utils.translation import gettext_lazy as _

from enrollment.validation.address import ADDRESS_FIELDS, address_clean
from enrollment.validation.email_domains import work_email_validate
from enrollment.validation.phone import phone_number_parse
from portal.validators import no_control_characters, visible_text

LEGAL_FIELDS = ("legal_name", *ADDRESS_FIELDS)
CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone")
SUPPORT_FIELDS = ("support_email", "support_phone", "support_website")
DETAIL_FIELDS = (*LEGAL_FIELDS, *CONTACT_FIELDS, *SUPPORT_FIELDS)
SHORT_PATH_FIELDS = SUPPORT_FIELDS

MISSING = {
    "legal_name": _("Enter the company's exact legal name, as registered."),
    "contact_name": _("Enter the primary contact's name."),
    "contact_email": _("Enter the primary contact's work email address."),
    "contact_phone": _("Enter the primary contact's phone number."),
    "support_email": _("Enter the email address customers write to for support."),
    "support_phone": _("Enter the phone number customers call for support."),
    "support_website": _("Enter the website customers visit for support."),
}
WEBSITE_INVALID = _("Enter a full web address starting with https://, for example https://www.example.com.")
EMAIL_INVALID = _("Enter a valid email address, for example name@example.com.")

_email = EmailValidator(message=EMAIL_INVALID)
_website = URLValidator(schemes=["https", "http"], message=WEBSITE_INVALID)


def _text(values: Mapping[str, Any], name: str) -> str:
    return str(values.get(name) or "").strip()


def details_clean(values: Mapping[str, Any], *, country: str, short_path: bool = False) -> dict[str, str]:
    """The details to store, normalised (phones as E.164, emails in lower case after the @), or one
    ValidationError keyed by field listing every field at fault."""
    cleaned: dict[str, str] = {}
    errors: dict[str, list] = {}

    def check(name: str, *validators, transform=None, max_length: int = 200) -> None:
        text = _text(values, name)
        try:
            if not text:
                raise ValidationError(MISSING[name], code="required")
            MaxLengthValidator(max_length)(text)
            for validator in validators:
                validator(text)
            cleaned[name] = transform(text) if transform else text
        except ValidationError as error:
            errors[name] = error.error_list

    if not short_path:
        check("legal_name", visible_text)
        try:
            cleaned.update(address_clean(values, country=country))
        except ValidationError as error:
            errors.update(error.error_dict)
        check("contact_name", no_control_characters, max_length=150)
        check("contact_email", _email, work_email_validate, transform=_email_normalise, max_length=254)
        check(
            "contact_phone",
            transform=lambda text: phone_number_parse(text, country=country).e164,
            max_length=40,
        )
    check("support_email", _email, transform=_email_normalise, max_length=254)
    check(
        "support_phone", transform=lambda text: phone_number_parse(text, country=country).e164, max_length=40
    )
    check("support_website", _website)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _email_normalise(address: str) -> str:
    local, _at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"

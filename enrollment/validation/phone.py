"""Phone numbers, per country, with Google's libphonenumber data (the ``phonenumbers`` package).

A number is read in the organization's country (a national number such as ``03-1234-5678``, also in
full-width digits, or an international one such as ``+81 90 1234 5678``), must be a valid number
of that country, and is stored in E.164 (``+819012345678``). People see it in their country's national
format (``090-1234-5678``), and in international format when it belongs to another country.

Refusals carry these codes: ``required``, ``phone_not_a_number``, ``phone_country_code``,
``phone_too_short``, ``phone_too_long``, ``phone_area_code`` (a local number without its area code),
``phone_invalid`` (not a number of the country), ``phone_wrong_country`` and ``phone_extension``.
"""

from dataclasses import dataclass

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django_countries.fields import Country
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

#: Longer input is not a phone number; it is refused before the parser reads it.
PHONE_INPUT_MAX_LENGTH = 40

MESSAGES = {
    "required": _("Enter a phone number."),
    "phone_not_a_number": _("Enter a phone number using digits."),
    "phone_country_code": _("The country code after “+” does not exist. Check the number."),
    "phone_too_short": _("This phone number is too short. Enter the full number, with its area code."),
    "phone_too_long": _("This phone number is too long. Check the number."),
    "phone_area_code": _("Include the area code in the phone number."),
    "phone_invalid": _("This is not a valid phone number in %(country)s. Check the number."),
    "phone_wrong_country": _(
        "This phone number is in %(number_country)s. Enter a phone number in %(country)s."
    ),
    "phone_extension": _("Enter the phone number without an extension."),
}

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "phone_country_code",
    NumberParseException.NOT_A_NUMBER: "phone_not_a_number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone_too_short",
    NumberParseException.TOO_SHORT_NSN: "phone_too_short",
    NumberParseException.TOO_LONG: "phone_too_long",
}

_LENGTH_ERRORS = {
    ValidationResult.INVALID_COUNTRY_CODE: "phone_country_code",
    ValidationResult.TOO_SHORT: "phone_too_short",
    ValidationResult.TOO_LONG: "phone_too_long",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "phone_area_code",
    ValidationResult.INVALID_LENGTH: "phone_invalid",
}


@dataclass(frozen=True)
class PhoneNumber:
    """A valid phone number: ``e164`` is what is stored."""

    e164: str
    #: the ISO 3166 code of the number's country
    country: str
    national: str
    international: str

    def __str__(self) -> str:
        return self.e164


def _country_name_text(code: str) -> str:
    return str(Country(code=code).name or code)


# Lazy, like the messages: an error raised in one language reads right when shown in another.
_country_name = lazy(_country_name_text, str)


def _refusal(code: str, country: str, **params) -> ValidationError:
    return ValidationError(MESSAGES[code], code=code, params={"country": _country_name(country), **params})


def phone_number_parse(value: str, *, country: str) -> PhoneNumber:
    """The number ``value`` in ``country`` (ISO 3166 code), or ``ValidationError`` saying what is wrong."""
    country = str(country or "").upper()
    text = str(value or "").strip()
    if not text:
        raise _refusal("required", country)
    if len(text) > PHONE_INPUT_MAX_LENGTH:
        raise _refusal("phone_too_long", country)
    try:
        number = phonenumbers.parse(text, country)
    except NumberParseException as error:
        raise _refusal(_PARSE_ERRORS.get(error.error_type, "phone_not_a_number"), country) from error
    if number.extension:
        raise _refusal("phone_extension", country)
    own_calling_code = phonenumbers.country_code_for_region(country)
    if own_calling_code and number.country_code != own_calling_code:
        other = phonenumbers.region_code_for_country_code(number.country_code)
        if other not in ("ZZ", "001"):
            raise _refusal("phone_wrong_country", country, number_country=_country_name(other))
    length = phonenumbers.is_possible_number_with_reason(number)
    if length != ValidationResult.IS_POSSIBLE:
        raise _refusal(_LENGTH_ERRORS.get(length, "phone_invalid"), country)
    if not phonenumbers.is_valid_number(number):
        raise _refusal("phone_invalid", country)
    number_country = phonenumbers.region_code_for_number(number)
    if number_country != country:  # the same calling code, another country (+1: the US or Canada)
        raise _refusal("phone_wrong_country", country, number_country=_country_name(number_country))
    return PhoneNumber(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        country=number_country,
        national=phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
        international=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
    )


def phone_number_display(e164: str, *, country: str) -> str:
    """A stored number as people of ``country`` read it: national format for a number of that country,
    international otherwise; text that does not parse is shown as it is."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    same_country = phonenumbers.region_code_for_number(number) == str(country or "").upper()
    return phonenumbers.format_number(
        number, PhoneNumberFormat.NATIONAL if same_country else PhoneNumberFormat.INTERNATIONAL
    )


def phone_number_example(country: str) -> str:
    """A landline number of ``country`` in national format, for a hint ("" when the data has none)."""
    number = phonenumbers.example_number_for_type(
        str(country or "").upper(), phonenumbers.PhoneNumberType.FIXED_LINE
    )
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL) if number else ""


class PhoneNumberField(forms.CharField):
    """A phone number of one country: cleans to its E.164 form, shows a stored one in national format."""

    widget = forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"})

    def __init__(self, *, country: str, **kwargs):
        self.country = str(country or "").upper()
        kwargs.setdefault("max_length", PHONE_INPUT_MAX_LENGTH)
        example = phone_number_example(self.country)
        if example:
            kwargs.setdefault("help_text", _("For example %(example)s.") % {"example": example})
        super().__init__(**kwargs)
        self.error_messages["required"] = MESSAGES["required"]

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return ""
        return phone_number_parse(text, country=self.country).e164

    def prepare_value(self, value):
        if isinstance(value, str) and value.startswith("+"):
            return phone_number_display(value, country=self.country)
        return value

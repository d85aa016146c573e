"""A legal business address, with the rules of its country.

Japan and the United States use django-localflavor: the 47 prefectures (``localflavor.jp``) and the
50 states and the District of Columbia (``localflavor.us``) as region choices, and its postal-code fields
(``JPPostalCodeField``: seven digits; ``USZipCodeField``: ZIP or ZIP+4) with our own messages. Every
other country gets the generic rule: street address and city required, region and postal code optional,
each one line of text within the column's length.

What is stored (the columns of ``accounts.Organization``)
    ``region``: for Japan and the United States the ISO 3166-2 subdivision code without its country
    prefix (``13`` for Tokyo, ``CA`` for California), else the text as typed;
    ``postal_code``: ``100-0001`` in Japan (``1000001``, ``〒100-0001``, full-width digits and the dashes
    people type for a hyphen are read as that), ``12345`` or ``12345-6789`` in the United States, else
    the text as typed.

Region names in both languages
    localflavor ships the prefecture and state names with a Japanese translation (東京都, カリフォルニア州)
    in its own catalogue, which Django loads only for an installed app. Rather than installing it, which
    would merge its two thousand other messages into the portal's, ``region_label`` reads the names from
    that catalogue for the active language (the English name for English).

``address_clean`` returns the normalised values or raises one ``ValidationError`` keyed by field name;
``AddressFormMixin`` adds the fields for a country to a form and applies it.
"""

import functools
import gettext
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import localflavor
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import translation
from django.utils.functional import Promise, lazy
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from localflavor.jp.forms import JPPostalCodeField
from localflavor.jp.jp_prefectures import JP_PREFECTURE_CODES, JP_PREFECTURES
from localflavor.us.forms import USZipCodeField
from localflavor.us.us_states import STATES_NORMALIZED, US_STATES

from accounts.models import Organization
from portal.validators import no_control_characters

#: The address fields, named as the columns of ``accounts.Organization``.
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "region", "postal_code")

#: Where localflavor keeps its translations, and the message context it gives the names of US states
#: that are also something else (Georgia).
_LOCALFLAVOR_LOCALE_DIR = Path(localflavor.__file__).resolve().parent / "locale"
_US_STATE_CONTEXT = "US state"

STREET_ADDRESS_MISSING = _("Enter the street address.")
CITY_MISSING = _("Enter the city.")
POSTAL_CODE_INVALID_JP = _("Enter a postal code of seven digits, such as 100-0001.")
POSTAL_CODE_INVALID_US = _(
    "Enter a ZIP code of five digits, such as 94105, or a ZIP+4 code, such as 94105-1234."
)

# What people type for the hyphen of a postal code, besides "-": hyphens, dashes, the minus sign and the
# katakana long-vowel mark (NFKC already turns the full-width hyphen-minus into "-").
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc", "-"))


# --- Region names in the active language ------------------------------------------------------------------


@functools.cache
def _localflavor_catalogue(language: str) -> gettext.NullTranslations:
    return gettext.translation(
        "django",
        localedir=_LOCALFLAVOR_LOCALE_DIR,
        languages=[translation.to_locale(language)],
        fallback=True,
    )


def _localflavor_text(msgid: str, context: str = "") -> str:
    catalogue = _localflavor_catalogue(translation.get_language() or "en")
    if context:
        text = catalogue.pgettext(context, msgid)
        if text != msgid:
            return text
    return catalogue.gettext(msgid)


_localflavor_lazy = lazy(_localflavor_text, str)


def _english(label) -> str:
    with translation.override(None):
        return str(label)


def _choices(pairs, context: str = "") -> tuple[tuple[str, Promise], ...]:
    return tuple((code, _localflavor_lazy(_english(label), context)) for code, label in pairs)


#: (ISO 3166-2 code, name in the active language), north to south as Japan lists them.
JP_PREFECTURE_CHOICES = _choices(JP_PREFECTURE_CODES)
#: (USPS code, name in the active language): the 50 states and the District of Columbia, by English name.
US_STATE_CHOICES = _choices(US_STATES[:], context=_US_STATE_CONTEXT)


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


@functools.cache
def _region_aliases(country: str) -> dict[str, str]:
    """What a person may type for each region of ``country`` → its code: the code, the name in each of
    the portal's languages, and the other spellings ``AddressRules.region_spellings`` lists."""
    rules = address_rules(country)
    aliases = {_key(spelling): code for spelling, code in rules.region_spellings.items()}
    for code, label in rules.region_choices:
        aliases[_key(code)] = code
        aliases[_key(_english(label))] = code
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                aliases[_key(label)] = code
    return aliases


# --- The rules --------------------------------------------------------------------------------------------


def _postal_code_read(field_class, value: str, message) -> str:
    """localflavor's field checks the format; ours are the messages (its Japanese for Japan's postal code
    describes the US format). Its pattern's ``\\d`` also matches other scripts' digits: only ASCII
    digits pass."""
    text = unicodedata.normalize("NFKC", value).translate(_DASHES).replace(" ", "")
    text = text.removeprefix("\u3012")  # the postal mark
    cleaned = field_class(error_messages={"invalid": message, "required": message}).clean(text)
    if not cleaned.isascii():
        raise ValidationError(message, code="invalid")
    return cleaned


def _postal_code_jp(value: str) -> str:
    digits = _postal_code_read(JPPostalCodeField, value, POSTAL_CODE_INVALID_JP)
    return f"{digits[:3]}-{digits[3:]}"


def _postal_code_us(value: str) -> str:
    return _postal_code_read(USZipCodeField, value, POSTAL_CODE_INVALID_US)


@dataclass(frozen=True)
class AddressRules:
    """How one country's addresses are asked for and checked."""

    country: str
    region_label: Promise
    postal_code_label: Promise
    city_label: Promise = field(default_factory=lambda: capfirst(_("city")))
    #: (code, label) when the region is chosen from a list; empty when it is typed
    region_choices: tuple[tuple[str, Promise], ...] = ()
    #: other spellings of listed regions → code (codes and names in both languages are always read)
    region_spellings: Mapping[str, str] = field(default_factory=dict)
    region_required: bool = False
    region_missing: Promise | None = None
    region_invalid: Promise | None = None
    postal_code_required: bool = False
    postal_code_missing: Promise | None = None
    #: checks a non-empty postal code and returns its stored form (raises ValidationError)
    postal_code_clean: Any = None
    postal_code_example: str = ""
    #: the order in which a form asks for the fields (as the country writes an address)
    field_order: tuple[str, ...] = ("address_line1", "address_line2", "city", "region", "postal_code")

    def missing_message(self, name: str) -> Promise | None:
        """What a person reads when the required field ``name`` is empty."""
        return {
            "address_line1": STREET_ADDRESS_MISSING,
            "city": CITY_MISSING,
            "region": self.region_missing,
            "postal_code": self.postal_code_missing,
        }.get(name)

    def required(self, name: str) -> bool:
        return name in ("address_line1", "city") or (
            (name == "region" and self.region_required)
            or (name == "postal_code" and self.postal_code_required)
        )

    def label(self, name: str) -> Promise:
        return {
            "address_line1": capfirst(_("address line 1")),
            "address_line2": capfirst(_("address line 2")),
            "city": self.city_label,
            "region": self.region_label,
            "postal_code": self.postal_code_label,
        }[name]


JAPAN = AddressRules(
    country="JP",
    region_label=capfirst(_("prefecture")),
    postal_code_label=capfirst(_("postal code")),
    city_label=_("City, ward, town or village"),
    region_choices=JP_PREFECTURE_CHOICES,
    # localflavor's other key for each prefecture ("tokyo"), in the same order as the codes
    region_spellings=dict(
        zip(
            [slug for slug, _name in JP_PREFECTURES],
            [code for code, _name in JP_PREFECTURE_CODES],
            strict=True,
        )
    ),
    region_required=True,
    region_missing=_("Choose the prefecture."),
    region_invalid=_("Choose one of the 47 prefectures."),
    postal_code_required=True,
    postal_code_missing=_("Enter the postal code."),
    postal_code_clean=_postal_code_jp,
    postal_code_example="100-0001",
    field_order=("postal_code", "region", "city", "address_line1", "address_line2"),
)

_US_CODES = {code for code, _label in US_STATE_CHOICES}

UNITED_STATES = AddressRules(
    country="US",
    region_label=capfirst(_("state")),
    postal_code_label=_("ZIP code"),
    region_choices=US_STATE_CHOICES,
    # localflavor's table of names, abbreviations and common misspellings, less the territories and
    # military "states" (a company there enrolls under its own country code, such as PR or GU).
    region_spellings={name: code for name, code in STATES_NORMALIZED.items() if code in _US_CODES},
    region_required=True,
    region_missing=_("Choose the state."),
    region_invalid=_("Choose one of the 50 states or the District of Columbia."),
    postal_code_required=True,
    postal_code_missing=_("Enter the ZIP code."),
    postal_code_clean=_postal_code_us,
    postal_code_example="94105-1234",
)

_RULES = {rules.country: rules for rules in (JAPAN, UNITED_STATES)}


def address_rules(country: str) -> AddressRules:
    """The rules of ``country`` (ISO 3166 code): Japan's, the United States', or the generic ones."""
    code = str(country or "").upper()
    return _RULES.get(code) or AddressRules(
        country=code,
        region_label=_("State, province or region"),
        postal_code_label=capfirst(_("postal code")),
    )


def _max_length(name: str) -> int:
    return Organization._meta.get_field(name).max_length


def region_clean(value: str, *, country: str) -> str:
    """The stored form of a region: the code of a listed prefecture or state (given as its code or its
    name in English or Japanese), or the text for other countries. Raises ``ValidationError``."""
    rules = address_rules(country)
    text = str(value or "").strip()
    if not rules.region_choices:
        return text
    try:
        return _region_aliases(rules.country)[_key(text)]
    except KeyError:
        raise ValidationError(rules.region_invalid, code="region_invalid") from None


def region_label(code: str, *, country: str):
    """A stored region as people read it, in the active language (the text itself when not listed)."""
    return dict(address_rules(country).region_choices).get(code, code)


def address_clean(values: Mapping[str, Any], *, country: str) -> dict[str, str]:
    """The address fields of ``values`` (``ADDRESS_FIELDS``; missing ones count as empty), checked and
    normalised for ``country``. Raises one ``ValidationError`` keyed by field name, listing every field
    at fault."""
    rules = address_rules(country)
    cleaned: dict[str, str] = {}
    errors: dict[str, list[ValidationError]] = {}
    for name in ADDRESS_FIELDS:
        text = str(values.get(name) or "").strip()
        try:
            if not text:
                if rules.required(name):
                    raise ValidationError(rules.missing_message(name), code="required")
                cleaned[name] = ""
                continue
            no_control_characters(text)
            if name == "region":
                text = region_clean(text, country=country)
            elif name == "postal_code" and rules.postal_code_clean is not None:
                text = rules.postal_code_clean(text)
            MaxLengthValidator(_max_length(name))(text)
        except ValidationError as error:
            errors[name] = error.error_list
        else:
            cleaned[name] = text
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- Forms ------------------------------------------------------------------------------------------------

_AUTOCOMPLETE = {
    "address_line1": "address-line1",
    "address_line2": "address-line2",
    "city": "address-level2",
    "region": "address-level1",
    "postal_code": "postal-code",
}


def address_form_fields(country: str) -> dict[str, forms.Field]:
    """The form fields of an address in ``country``, in the order the country writes them."""
    rules = address_rules(country)
    fields: dict[str, forms.Field] = {}
    for name in rules.field_order:
        attrs = {"autocomplete": _AUTOCOMPLETE[name]}
        widget: forms.Widget = forms.TextInput(attrs=attrs)
        if name == "region" and rules.region_choices:
            widget = forms.Select(attrs=attrs, choices=[("", "---------"), *rules.region_choices])
        help_text = ""
        if name == "postal_code" and rules.postal_code_example:
            help_text = _("For example %(example)s.") % {"example": rules.postal_code_example}
        fields[name] = forms.CharField(
            label=rules.label(name),
            required=rules.required(name),
            max_length=_max_length(name),
            widget=widget,
            help_text=help_text,
        )
        if fields[name].required:
            fields[name].error_messages["required"] = rules.missing_message(name)
    return fields


class AddressFormMixin:
    """Adds the address fields of ``country`` (a keyword argument of the form) and checks them with
    ``address_clean``: each message shows at its field, and ``cleaned_data`` holds the stored forms."""

    def __init__(self, *args, country: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.address_country = str(country or "").upper()
        self.fields.update(address_form_fields(self.address_country))

    def clean(self):
        cleaned_data = super().clean()
        values = {name: cleaned_data.get(name) or "" for name in ADDRESS_FIELDS}
        try:
            cleaned_data.update(address_clean(values, country=self.address_country))
        except ValidationError as error:
            for name, messages in error.error_dict.items():
                if name not in self.errors:  # a field's own check already said what is wrong
                    self.add_error(name, messages)
        return cleaned_data

"""The rules of the enrollment's organization-details step: addresses per country (django-localflavor),
phone numbers per country (phonenumbers), the primary contact's work email (maintained free-mail and
disposable-mail lists plus the staff's list of blocked domains, kept on the review site).

Every refusal is a ``ValidationError`` keyed by field (or raised by one field's rule), with a lazy message
and a code. Messages are checked in English; the Japanese of the new messages comes with the catalogue,
so here they are only shown to be lazy (an error raised in one language reads in the other when shown).
"""

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from enrollment.models import BlockedEmailDomain
from enrollment.services.email_domains import blocked_email_domain_add, blocked_email_domain_remove
from enrollment.validation.address import (
    ADDRESS_FIELDS,
    JP_PREFECTURE_CHOICES,
    US_STATE_CHOICES,
    AddressFormMixin,
    address_clean,
    address_form_fields,
    region_label,
)
from enrollment.validation.email_domains import (
    SOURCE_DISPOSABLE_PACKAGE,
    SOURCE_FREE_PACKAGE,
    SOURCE_STAFF_LIST,
    WorkEmailField,
    domain_normalise,
    email_domain_block_find,
    work_email_validate,
)
from enrollment.validation.phone import (
    PhoneNumberField,
    phone_number_display,
    phone_number_example,
    phone_number_parse,
)
from portal.audit.catalogue import action_label, is_declared
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from tests.factories.accounts import StaffFactory, UserFactory
from tests.support.races import TRIALS, race

TOKYO_ADDRESS = {
    "postal_code": "100-0001",
    "region": "13",
    "city": "Chiyoda-ku",
    "address_line1": "1-1 Chiyoda",
    "address_line2": "",
}
SAN_FRANCISCO_ADDRESS = {
    "address_line1": "1 Market Street",
    "address_line2": "Suite 300",
    "city": "San Francisco",
    "region": "CA",
    "postal_code": "94105",
}
FULL_WIDTH_POSTAL_CODE = "\uff11\uff10\uff10\uff0d\uff10\uff10\uff10\uff11"  # 100-0001, full width
FULL_WIDTH_MOBILE = "\uff10\uff19\uff10\uff0d\uff11\uff12\uff13\uff14\uff0d\uff15\uff16\uff17\uff18"
ARABIC_INDIC_DIGITS = "\u0661\u0660\u0660\u0660\u0660\u0660\u0661"  # 1000001 in another script


def errors_of(call) -> dict[str, list[tuple[str, str]]]:
    """The field-keyed errors ``call`` raises: field → [(code, English message)]."""
    with pytest.raises(ValidationError) as raised:
        call()
    error = raised.value
    assert hasattr(error, "error_dict"), "errors are keyed by field"
    with translation.override("en"):
        return {
            field: [(item.code, next(iter(item))) for item in items]
            for field, items in error.error_dict.items()
        }


def refusal(call) -> tuple[str, str]:
    """(code, English message) of the single-field error ``call`` raises; its message is lazy."""
    with pytest.raises(ValidationError) as raised:
        call()
    error = raised.value
    assert isinstance(error.message, Promise), "the message is translated when shown, not when raised"
    with translation.override("en"):
        return error.code, next(iter(error))


# --- Addresses: Japan -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "100-0001",
        "1000001",
        "〒100-0001",
        " 100 0001 ",
        FULL_WIDTH_POSTAL_CODE,
        "100\u30fc0001",
        "100\u22120001",
    ],
)
def test_a_japanese_postal_code_is_stored_as_three_digits_a_hyphen_and_four(typed):
    cleaned = address_clean({**TOKYO_ADDRESS, "postal_code": typed}, country="JP")
    assert cleaned["postal_code"] == "100-0001"


@pytest.mark.parametrize(
    "typed", ["100-00011", "10000", "100-000", "abc-defg", "1000-001", ARABIC_INDIC_DIGITS]
)
def test_a_malformed_japanese_postal_code_is_refused_at_its_field(typed):
    assert errors_of(lambda: address_clean({**TOKYO_ADDRESS, "postal_code": typed}, country="jp")) == {
        "postal_code": [("invalid", "Enter a postal code of seven digits, such as 100-0001.")]
    }


@pytest.mark.parametrize("typed", ["13", "Tokyo", "tokyo", " TOKYO ", "東京都"])
def test_a_prefecture_is_read_by_code_slug_or_name_in_either_language_and_stored_as_its_code(typed):
    assert address_clean({**TOKYO_ADDRESS, "region": typed}, country="JP")["region"] == "13"


@pytest.mark.parametrize("typed", ["48", "Tokio", "California", "CA", "東京"])
def test_anything_but_one_of_the_47_prefectures_is_refused(typed):
    assert errors_of(lambda: address_clean({**TOKYO_ADDRESS, "region": typed}, country="JP")) == {
        "region": [("region_invalid", "Choose one of the 47 prefectures.")]
    }


def test_japan_requires_postal_code_prefecture_city_and_street_and_says_so_at_each_field():
    assert errors_of(lambda: address_clean({}, country="JP")) == {
        "postal_code": [("required", "Enter the postal code.")],
        "region": [("required", "Choose the prefecture.")],
        "city": [("required", "Enter the city.")],
        "address_line1": [("required", "Enter the street address.")],
    }


def test_a_good_japanese_address_is_returned_normalised_and_complete():
    typed = {**TOKYO_ADDRESS, "postal_code": "1000001", "region": "東京都", "city": "  Chiyoda-ku "}
    assert address_clean(typed, country="JP") == {**TOKYO_ADDRESS, "city": "Chiyoda-ku"}


# --- Addresses: the United States -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"), [("94105", "94105"), ("94105-1234", "94105-1234"), (" 94105 ", "94105")]
)
def test_a_zip_or_zip_plus_4_code_is_accepted(typed, stored):
    assert (
        address_clean({**SAN_FRANCISCO_ADDRESS, "postal_code": typed}, country="US")["postal_code"] == stored
    )


@pytest.mark.parametrize("typed", ["9410", "941051", "94105-12", "941051234", "ABCDE", "100-0001"])
def test_a_malformed_zip_code_is_refused_at_its_field(typed):
    assert errors_of(
        lambda: address_clean({**SAN_FRANCISCO_ADDRESS, "postal_code": typed}, country="US")
    ) == {
        "postal_code": [
            (
                "invalid",
                "Enter a ZIP code of five digits, such as 94105, or a ZIP+4 code, such as 94105-1234.",
            )
        ]
    }


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("CA", "CA"), ("california", "CA"), ("Calif", "CA"), ("District of Columbia", "DC"), ("ny", "NY")],
)
def test_a_state_is_read_by_code_name_or_common_abbreviation_and_stored_as_its_code(typed, stored):
    assert address_clean({**SAN_FRANCISCO_ADDRESS, "region": typed}, country="US")["region"] == stored


@pytest.mark.parametrize("typed", ["Guam", "PR", "AE", "Tokyo", "XX"])
def test_territories_military_regions_and_other_text_are_not_states(typed):
    assert errors_of(lambda: address_clean({**SAN_FRANCISCO_ADDRESS, "region": typed}, country="US")) == {
        "region": [("region_invalid", "Choose one of the 50 states or the District of Columbia.")]
    }


def test_the_united_states_requires_a_state_and_a_zip_code():
    address = {**SAN_FRANCISCO_ADDRESS, "region": "", "postal_code": ""}
    assert errors_of(lambda: address_clean(address, country="US")) == {
        "region": [("required", "Choose the state.")],
        "postal_code": [("required", "Enter the ZIP code.")],
    }


# --- Addresses: every other country -----------------------------------------------------------------------


def test_other_countries_need_a_street_and_a_city_and_keep_region_and_postal_code_as_typed():
    typed = {"address_line1": "10 Downing Street", "city": "London", "region": "", "postal_code": "SW1A 2AA"}
    assert address_clean(typed, country="GB") == {**typed, "address_line2": ""}
    assert errors_of(lambda: address_clean({"region": "Bavaria"}, country="DE")) == {
        "address_line1": [("required", "Enter the street address.")],
        "city": [("required", "Enter the city.")],
    }


@pytest.mark.parametrize("country", ["JP", "US", "FR"])
def test_every_field_refuses_control_characters_and_text_longer_than_its_column(country):
    base = TOKYO_ADDRESS if country == "JP" else SAN_FRANCISCO_ADDRESS
    address = {**base, "address_line1": "1 Main\nStreet", "address_line2": "x" * 201, "city": "Paris\u202e"}
    errors = errors_of(lambda: address_clean(address, country=country))
    assert errors == {
        "address_line1": [
            (
                "control_characters",
                "Use one line of ordinary text: line breaks and control characters are not allowed.",
            )
        ],
        "address_line2": [("max_length", "Ensure this value has at most 200 characters (it has 201).")],
        "city": [
            (
                "control_characters",
                "Use one line of ordinary text: line breaks and control characters are not allowed.",
            )
        ],
    }


def test_address_errors_are_lazy_and_read_in_japanese_where_the_catalogue_has_them():
    with translation.override("en"), pytest.raises(ValidationError) as raised:
        address_clean({**TOKYO_ADDRESS, "city": "a\nb", "postal_code": "1"}, country="JP")
    errors = raised.value.error_dict
    assert all(isinstance(item.message, Promise) for items in errors.values() for item in items)
    with translation.override("ja"):
        city = next(iter(errors["city"][0]))
        postal_code = next(iter(errors["postal_code"][0]))
    # A message the catalogue already has reads in Japanese; a new one reads in English until it has it.
    assert city == "1 行の通常のテキストで入力してください。改行や制御文字は使用できません。"
    english = "Enter a postal code of seven digits, such as 100-0001."
    assert postal_code == english or not postal_code.isascii()


# --- Region names in both languages -----------------------------------------------------------------------


def test_the_47_prefectures_and_51_states_are_offered_in_english_and_in_japanese():
    assert len(JP_PREFECTURE_CHOICES) == 47 and len(US_STATE_CHOICES) == 51
    assert JP_PREFECTURE_CHOICES[0][0] == "01" and JP_PREFECTURE_CHOICES[-1][0] == "47"
    for code, label in (*JP_PREFECTURE_CHOICES, *US_STATE_CHOICES):
        with translation.override("en"):
            english = str(label)
        with translation.override("ja"):
            japanese = str(label)
        assert english.isascii() and english, code
        assert japanese != english and not japanese.isascii(), code


@pytest.mark.parametrize(
    ("code", "country", "english", "japanese"),
    [
        ("13", "JP", "Tokyo", "東京都"),
        ("27", "JP", "Osaka", "大阪府"),
        ("01", "JP", "Hokkaido", "北海道"),
        ("CA", "US", "California", "カリフォルニア州"),
        ("GA", "US", "Georgia", "ジョージア州"),  # the state, not the country
        ("Bavaria", "DE", "Bavaria", "Bavaria"),  # typed text is shown as typed
    ],
)
def test_a_stored_region_reads_in_the_active_language(code, country, english, japanese):
    label = region_label(code, country=country)
    with translation.override("en"):
        assert str(label) == english
    with translation.override("ja"):
        assert str(label) == japanese


# --- The address form mixin -------------------------------------------------------------------------------


class DetailsForm(AddressFormMixin, forms.Form):
    legal_name = forms.CharField()


def test_the_form_asks_for_a_japanese_address_in_japanese_order_with_a_prefecture_list():
    form = DetailsForm(country="JP")
    assert list(form.fields) == [
        "legal_name",
        "postal_code",
        "region",
        "city",
        "address_line1",
        "address_line2",
    ]
    region = form.fields["region"]
    assert isinstance(region.widget, forms.Select)
    assert [value for value, _label in region.widget.choices] == [
        "",
        *(code for code, _ in JP_PREFECTURE_CHOICES),
    ]
    assert [name for name, field in form.fields.items() if field.required] == [
        "legal_name",
        "postal_code",
        "region",
        "city",
        "address_line1",
    ]
    assert form.fields["postal_code"].widget.attrs["autocomplete"] == "postal-code"
    with translation.override("en"):
        assert str(form.fields["postal_code"].help_text) == "For example 100-0001."
        assert str(form.fields["region"].label) == "Prefecture"
    with translation.override("ja"):
        assert "東京都" in DetailsForm(country="JP").as_div()


def test_the_form_cleans_to_the_stored_forms_and_puts_each_error_at_its_field():
    good = DetailsForm({**TOKYO_ADDRESS, "legal_name": "Contoso KK", "postal_code": "1000001"}, country="JP")
    assert good.is_valid(), good.errors
    assert {name: good.cleaned_data[name] for name in ADDRESS_FIELDS} == TOKYO_ADDRESS

    bad = DetailsForm(
        {**SAN_FRANCISCO_ADDRESS, "legal_name": "Contoso Inc.", "region": "Tokyo", "postal_code": "1"},
        country="US",
    )
    assert not bad.is_valid()
    with translation.override("en"):
        assert bad.errors == {
            "region": ["Choose one of the 50 states or the District of Columbia."],
            "postal_code": [
                "Enter a ZIP code of five digits, such as 94105, or a ZIP+4 code, such as 94105-1234."
            ],
        }


def test_a_field_that_fails_its_own_check_shows_one_message_only():
    form = DetailsForm(
        {**TOKYO_ADDRESS, "legal_name": "Contoso KK", "city": "", "address_line1": "x" * 201}, country="JP"
    )
    assert not form.is_valid()
    with translation.override("en"):
        assert form.errors == {
            "city": ["Enter the city."],
            "address_line1": ["Ensure this value has at most 200 characters (it has 201)."],
        }


def test_the_generic_form_has_optional_region_and_postal_code():
    fields = address_form_fields("FR")
    assert list(fields) == list(ADDRESS_FIELDS)
    assert not fields["region"].required and not fields["postal_code"].required
    assert isinstance(fields["region"].widget, forms.TextInput)


# --- Phone numbers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "country", "e164", "national"),
    [
        ("03-1234-5678", "JP", "+81312345678", "03-1234-5678"),  # Tokyo landline
        ("06 1234 5678", "JP", "+81612345678", "06-1234-5678"),  # Osaka landline
        ("090-1234-5678", "JP", "+819012345678", "090-1234-5678"),  # mobile
        ("+81 90 1234 5678", "JP", "+819012345678", "090-1234-5678"),
        (FULL_WIDTH_MOBILE, "JP", "+819012345678", "090-1234-5678"),
        ("0120-123-456", "JP", "+81120123456", "0120-123-456"),  # toll free
        ("(650) 253-0000", "US", "+16502530000", "(650) 253-0000"),
        ("+1 650-253-0000", "us", "+16502530000", "(650) 253-0000"),
        ("650.253.0000", "US", "+16502530000", "(650) 253-0000"),
    ],
)
def test_a_valid_number_is_stored_in_e164_and_shown_in_national_format(typed, country, e164, national):
    number = phone_number_parse(typed, country=country)
    assert (number.e164, number.national, number.country) == (e164, national, country.upper())
    assert phone_number_display(number.e164, country=country) == national


@pytest.mark.parametrize(
    ("typed", "country", "code", "message"),
    [
        ("", "JP", "required", "Enter a phone number."),
        ("call me", "JP", "phone_not_a_number", "Enter a phone number using digits."),
        (
            "03-1234",
            "JP",
            "phone_too_short",
            "This phone number is too short. Enter the full number, with its area code.",
        ),
        (
            "12",
            "US",
            "phone_too_short",
            "This phone number is too short. Enter the full number, with its area code.",
        ),
        (
            "03-1234-5678-9012-3456-78",
            "JP",
            "phone_too_long",
            "This phone number is too long. Check the number.",
        ),
        ("1" * 41, "JP", "phone_too_long", "This phone number is too long. Check the number."),
        ("555-1234", "US", "phone_area_code", "Include the area code in the phone number."),
        (
            "99-9999-9999",
            "JP",
            "phone_invalid",
            "This is not a valid phone number in Japan. Check the number.",
        ),
        (
            "090-1234-567",
            "JP",
            "phone_invalid",
            "This is not a valid phone number in Japan. Check the number.",
        ),
        (
            "+999 1234 5678",
            "JP",
            "phone_country_code",
            "The country code after “+” does not exist. Check the number.",
        ),
        (
            "+1 650 253 0000",
            "JP",
            "phone_wrong_country",
            "This phone number is in United States of America. Enter a phone number in Japan.",
        ),
        (
            "+1 416 555 0123",
            "US",
            "phone_wrong_country",
            "This phone number is in Canada. Enter a phone number in United States of America.",
        ),
        (
            "03-1234-5678",
            "US",
            "phone_invalid",
            "This is not a valid phone number in United States of America. Check the number.",
        ),
        ("650-253-0000 ext. 12", "US", "phone_extension", "Enter the phone number without an extension."),
    ],
)
def test_a_bad_number_gets_a_message_that_says_what_is_wrong(typed, country, code, message):
    assert refusal(lambda: phone_number_parse(typed, country=country)) == (code, message)


def test_a_phone_error_raised_in_english_reads_in_japanese_when_shown_in_japanese():
    with translation.override("en"), pytest.raises(ValidationError) as raised:
        phone_number_parse("+1 650 253 0000", country="JP")
    with translation.override("ja"):
        shown = next(iter(raised.value))
    assert "日本" in shown and "アメリカ合衆国" in shown  # the country names follow the language shown


def test_a_number_of_another_country_is_shown_in_international_format():
    assert phone_number_display("+819012345678", country="US") == "+81 90-1234-5678"
    assert phone_number_display("not a number", country="JP") == "not a number"


def test_the_phone_field_cleans_to_e164_shows_national_format_and_offers_an_example():
    class ContactForm(forms.Form):
        def __init__(self, *args, country, **kwargs):
            super().__init__(*args, **kwargs)
            self.fields["phone"] = PhoneNumberField(country=country, label="Phone")

    form = ContactForm({"phone": "090 1234 5678"}, country="JP")
    assert form.is_valid() and form.cleaned_data == {"phone": "+819012345678"}
    shown = ContactForm(initial={"phone": "+819012345678"}, country="JP")
    assert 'value="090-1234-5678"' in str(shown["phone"])
    assert 'type="tel"' in str(shown["phone"])
    with translation.override("en"):
        assert str(shown.fields["phone"].help_text) == "For example 03-1234-5678."
    assert phone_number_example("US") == "(201) 555-0123"

    bad = ContactForm({"phone": "03-1234"}, country="JP")
    assert not bad.is_valid()
    with translation.override("en"):
        assert bad.errors == {
            "phone": ["This phone number is too short. Enter the full number, with its area code."]
        }
    empty = ContactForm({"phone": ""}, country="US")
    assert not empty.is_valid()
    with translation.override("en"):
        assert empty.errors == {"phone": ["Enter a phone number."]}


# --- Work email: the package lists ------------------------------------------------------------------------

FREE = (
    "free_email_domain",
    "Use your work email address: {} is a free email service, which cannot be used to enroll.",
)
DISPOSABLE = (
    "disposable_email_domain",
    "Use your work email address: {} is a disposable email service, which cannot be used to enroll.",
)
BLOCKED = ("blocked_email_domain", "Use your work email address: addresses at {} cannot be used to enroll.")


def refused_as(kind: tuple[str, str], domain: str) -> tuple[str, str]:
    return kind[0], kind[1].format(domain)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("taro@gmail.com", refused_as(FREE, "gmail.com")),
        ("taro@yahoo.co.jp", refused_as(FREE, "yahoo.co.jp")),
        ("jane@outlook.com", refused_as(FREE, "outlook.com")),
        ("taro@GMail.COM", refused_as(FREE, "gmail.com")),
        ("taro@gmail.com.", refused_as(FREE, "gmail.com")),
        (
            "taro@\uff47\uff4d\uff41\uff49\uff4c\uff0e\uff43\uff4f\uff4d",
            refused_as(FREE, "gmail.com"),
        ),  # full width
        ("taro@mail.gmail.com", refused_as(FREE, "gmail.com")),  # a subdomain
        ("temp@mailinator.com", refused_as(DISPOSABLE, "mailinator.com")),  # also on the free list
        ("temp@yopmail.com", refused_as(DISPOSABLE, "yopmail.com")),
        ("temp@inbox.eu.mailinator.com", refused_as(DISPOSABLE, "mailinator.com")),
    ],
)
def test_free_and_disposable_mail_domains_are_refused(email, expected):
    assert refusal(lambda: work_email_validate(email)) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email", ["taro@contoso.co.jp", "jane@fabrikam.com", "taro@gmail.com.contoso.co.jp", "a@例え.jp"]
)
def test_a_company_domain_passes(email):
    assert work_email_validate(email) is None


@pytest.mark.django_db
def test_the_block_says_which_list_and_which_listed_domain():
    free = email_domain_block_find("Mail.GMAIL.com")
    assert (free.domain, free.kind, free.source) == ("gmail.com", "free", SOURCE_FREE_PACKAGE)
    disposable = email_domain_block_find("mailinator.com")
    assert (disposable.kind, disposable.source) == ("disposable", SOURCE_DISPOSABLE_PACKAGE)
    assert email_domain_block_find("contoso.co.jp") is None


@pytest.mark.django_db
def test_checking_a_domain_costs_one_query_however_deep_the_subdomain(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert email_domain_block_find("a.b.c.d.contoso.co.jp") is None


@pytest.mark.parametrize(
    ("typed", "ascii_domain"),
    [
        ("Example.COM", "example.com"),
        (" example.com. ", "example.com"),
        ("例え.JP", "xn--r8jz45g.jp"),
        ("xn--r8jz45g.jp", "xn--r8jz45g.jp"),
        ("bücher.example", "xn--bcher-kva.example"),
        (
            "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\u3002com",
            "example.com",
        ),  # full width, ideographic stop
    ],
)
def test_domains_are_compared_in_their_lower_case_idna_form(typed, ascii_domain):
    assert domain_normalise(typed) == ascii_domain


@pytest.mark.parametrize(
    "typed", ["", "localhost", "exa mple.com", "gmail..com", "-bad.com", "a_b.com", "x" * 64 + ".com"]
)
def test_what_is_not_a_domain_is_refused(typed):
    assert refusal(lambda: domain_normalise(typed)) == (
        "domain_format",
        "Enter a domain name such as example.com.",
    )


@pytest.mark.django_db
def test_the_work_email_field_reports_a_malformed_address_once_and_a_free_one_at_the_field():
    class ContactForm(forms.Form):
        email = WorkEmailField()

    with translation.override("en"):
        malformed = ContactForm({"email": "taro@"})
        assert not malformed.is_valid()
        assert malformed.errors == {"email": ["Enter a valid email address."]}
        free = ContactForm({"email": "taro@gmail.com"})
        assert not free.is_valid()
        assert free.errors == {"email": [refused_as(FREE, "gmail.com")[1]]}
        assert ContactForm({"email": "taro@contoso.co.jp"}).is_valid()


# --- Work email: the staff's list --------------------------------------------------------------------------


@pytest.fixture
def reviewer():
    return StaffFactory(is_superuser=True, email="reviewer@program.example")


@pytest.mark.django_db
def test_a_domain_staff_add_is_refused_with_its_subdomains_in_any_case_and_spelling(reviewer):
    assert work_email_validate("taro@例え.jp") is None
    blocked = blocked_email_domain_add(domain="例え.JP", kind="other", note="Not a company", by=reviewer)
    assert (blocked.domain, blocked.kind, blocked.note, blocked.created_by) == (
        "xn--r8jz45g.jp",
        "other",
        "Not a company",
        reviewer,
    )
    for email in ("taro@例え.jp", "taro@XN--R8JZ45G.JP", "taro@mail.例え.jp"):
        assert refusal(lambda email=email: work_email_validate(email)) == refused_as(BLOCKED, "例え.jp")
    block = email_domain_block_find("sub.例え.jp")
    assert (block.domain, block.source, block.domain_display) == (
        "xn--r8jz45g.jp",
        SOURCE_STAFF_LIST,
        "例え.jp",
    )


@pytest.mark.django_db
def test_the_staff_list_names_the_kind_of_what_the_packages_miss(reviewer):
    blocked_email_domain_add(domain="carrier-mail.example", kind="free", by=reviewer)
    blocked_email_domain_add(domain="burner.example", kind="disposable", by=reviewer)
    assert refusal(lambda: work_email_validate("a@i.carrier-mail.example")) == refused_as(
        FREE, "carrier-mail.example"
    )
    assert refusal(lambda: work_email_validate("a@burner.example")) == refused_as(
        DISPOSABLE, "burner.example"
    )


@pytest.mark.django_db
def test_adding_writes_one_audit_row_and_removing_another(reviewer):
    blocked = blocked_email_domain_add(
        domain="Burner.Example", kind="disposable", note="Seen in spam", by=reviewer
    )
    added = AuditEvent.objects.get()
    assert (added.action, added.actor_id, added.target_type, added.target_id, added.before, added.after) == (
        "blocked_email_domain.added",
        reviewer.pk,
        "enrollment.blockedemaildomain",
        str(blocked.pk),
        None,
        {"domain": "burner.example", "kind": "disposable", "note": "Seen in spam"},
    )

    blocked_email_domain_remove(blocked_domain=blocked, by=reviewer)

    assert not BlockedEmailDomain.objects.exists()
    removed = AuditEvent.objects.exclude(pk=added.pk).get()
    assert (removed.action, removed.target_id, removed.before, removed.after) == (
        "blocked_email_domain.removed",
        str(blocked.pk),
        {"domain": "burner.example", "kind": "disposable", "note": "Seen in spam"},
        None,
    )
    assert work_email_validate("a@burner.example") is None
    with pytest.raises(DomainError) as again:
        blocked_email_domain_remove(blocked_domain=blocked, by=reviewer)
    assert again.value.code == "domain_not_blocked"
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"domain": "BURNER.example."}, "domain", "domain_already_blocked"),
        ({"domain": "not a domain"}, "domain", "domain_format"),
        ({"kind": "spam"}, "kind", "kind_unknown"),
        ({"note": "line\nbreak"}, "note", "control_characters"),
        ({"note": "x" * 501}, "note", "max_length"),
    ],
)
def test_a_refused_addition_names_its_field_and_saves_nothing(reviewer, values, field, code):
    blocked_email_domain_add(domain="burner.example", kind="disposable", by=reviewer)
    before = (
        list(BlockedEmailDomain.objects.values_list("domain", "kind", "note")),
        AuditEvent.objects.count(),
    )
    with pytest.raises(DomainError) as refused:
        blocked_email_domain_add(
            **{"domain": "other.example", "kind": "free", "note": "", **values}, by=reviewer
        )
    assert (refused.value.field, refused.value.code) == (field, code)
    assert (
        list(BlockedEmailDomain.objects.values_list("domain", "kind", "note")),
        AuditEvent.objects.count(),
    ) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "values",
    [
        {"domain": "Upper.example", "kind": "free"},  # not in its stored form
        {"domain": "burner.example", "kind": "spam"},
        {"domain": "nodot", "kind": "free"},
    ],
)
def test_the_database_refuses_a_row_the_services_would_not_write(values):
    with pytest.raises(IntegrityError), transaction.atomic():
        BlockedEmailDomain.objects.create(**values)


@pytest.mark.django_db
def test_the_database_keeps_a_domain_once_whatever_its_case():
    BlockedEmailDomain.objects.create(domain="burner.example", kind="free")
    with pytest.raises(IntegrityError), transaction.atomic():
        BlockedEmailDomain.objects.bulk_create([BlockedEmailDomain(domain="burner.example", kind="other")])


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_adding_one_domain_at_once_make_one_entry():
    assert connection.vendor == "postgresql", "race tests need real transactions: run them through bin/test"
    first, second = StaffFactory(is_superuser=True), StaffFactory(is_superuser=True)
    for trial in range(TRIALS):
        domain = f"burner{trial}.example"

        outcomes = race(
            lambda d=domain: blocked_email_domain_add(domain=d, kind="disposable", by=first).pk,
            lambda d=domain: blocked_email_domain_add(domain=d.upper(), kind="free", by=second).pk,
        )

        assert sorted(kind for kind, _detail in outcomes) == ["ok", "refused"], outcomes
        assert [detail for kind, detail in outcomes if kind == "refused"] == ["domain_already_blocked"]
        assert BlockedEmailDomain.objects.filter(domain=domain).count() == 1
        assert (
            AuditEvent.objects.filter(action="blocked_email_domain.added", after__domain=domain).count() == 1
        )


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_removing_one_domain_at_once_make_one_removal():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"
    first, second = StaffFactory(is_superuser=True), StaffFactory(is_superuser=True)
    for trial in range(TRIALS):
        blocked = blocked_email_domain_add(domain=f"burner{trial}.example", kind="disposable", by=first)

        outcomes = race(
            lambda b=blocked: blocked_email_domain_remove(blocked_domain=b, by=first),
            lambda b=blocked: blocked_email_domain_remove(blocked_domain=b, by=second),
        )

        assert sorted(kind for kind, _detail in outcomes) == ["ok", "refused"], outcomes
        assert [detail for kind, detail in outcomes if kind == "refused"] == ["domain_not_blocked"]
        assert not BlockedEmailDomain.objects.filter(pk=blocked.pk).exists()
        removals = AuditEvent.objects.filter(action="blocked_email_domain.removed", target_id=str(blocked.pk))
        assert removals.count() == 1


def test_the_audit_actions_are_declared():
    assert is_declared("blocked_email_domain.added") and is_declared("blocked_email_domain.removed")
    with translation.override("en"):
        assert action_label("blocked_email_domain.added") == "Blocked email domain added"


# --- Work email: the staff's list on the review site --------------------------------------------------------

CHANGELIST = "/review/enrollment/blockedemaildomain/"
ADD_URL = "/review/enrollment/blockedemaildomain/add/"


def test_the_review_site_urls_are_the_ones_these_tests_use():
    assert reverse("admin:enrollment_blockedemaildomain_changelist") == CHANGELIST
    assert reverse("admin:enrollment_blockedemaildomain_add") == ADD_URL


@pytest.mark.django_db
def test_staff_add_a_domain_on_the_review_site_and_it_is_blocked_at_once(client, reviewer):
    client.force_login(reviewer)
    assert client.get(ADD_URL).status_code == 200

    response = client.post(
        ADD_URL, {"domain": "Burner.EXAMPLE", "kind": "disposable", "note": "Seen in spam"}
    )

    assert response.status_code == 302
    blocked = BlockedEmailDomain.objects.get()
    assert (blocked.domain, blocked.kind, blocked.note, blocked.created_by) == (
        "burner.example",
        "disposable",
        "Seen in spam",
        reviewer,
    )
    assert list(AuditEvent.objects.values_list("action", "actor_id")) == [
        ("blocked_email_domain.added", reviewer.pk)
    ]
    assert refusal(lambda: work_email_validate("a@burner.example")) == refused_as(
        DISPOSABLE, "burner.example"
    )
    page = client.get(CHANGELIST).content.decode()
    assert "burner.example" in page and "Seen in spam" in page


@pytest.mark.django_db
def test_adding_a_listed_domain_again_is_refused_at_the_field(client, reviewer):
    blocked_email_domain_add(domain="burner.example", kind="disposable", by=reviewer)
    client.force_login(reviewer)
    with translation.override("en"):
        response = client.post(ADD_URL, {"domain": "BURNER.example.", "kind": "free", "note": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "domain": ["burner.example is already on the list of blocked domains."]
    }
    assert BlockedEmailDomain.objects.get().kind == "disposable"
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_staff_remove_a_domain_through_the_service(client, reviewer):
    first = blocked_email_domain_add(domain="one.example", kind="free", by=reviewer)
    second = blocked_email_domain_add(domain="two.example", kind="free", by=reviewer)
    third = blocked_email_domain_add(domain="three.example", kind="free", by=reviewer)
    client.force_login(reviewer)

    delete_url = reverse("admin:enrollment_blockedemaildomain_delete", args=[first.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    bulk = {"action": "delete_selected", "_selected_action": [second.pk, third.pk], "post": "yes"}
    assert client.post(CHANGELIST, bulk).status_code == 302

    assert not BlockedEmailDomain.objects.exists()
    assert sorted(
        AuditEvent.objects.filter(action="blocked_email_domain.removed").values_list("target_id", flat=True)
    ) == sorted(str(obj.pk) for obj in (first, second, third))


@pytest.mark.django_db
def test_an_entry_is_never_edited_on_the_review_site(client, reviewer):
    blocked = blocked_email_domain_add(
        domain="burner.example", kind="disposable", note="Seen in spam", by=reviewer
    )
    client.force_login(reviewer)
    change_url = reverse("admin:enrollment_blockedemaildomain_change", args=[blocked.pk])
    assert client.get(change_url).status_code == 200  # read-only view
    response = client.post(change_url, {"domain": "other.example", "kind": "free", "note": ""})
    assert response.status_code == 403
    assert BlockedEmailDomain.objects.values_list("domain", "kind", "note").get() == (
        "burner.example",
        "disposable",
        "Seen in spam",
    )
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_only_permitted_staff_may_add_and_nothing_changes_for_anyone_else(client):
    post = {"domain": "burner.example", "kind": "disposable", "note": ""}
    # Anonymous, and a portal user who is not program staff: to the review site's sign-in.
    response = client.post(ADD_URL, post)
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(UserFactory())
    response = client.post(ADD_URL, post)
    assert response.status_code == 302 and "/login/" in response["Location"]
    # Program staff without the add permission: 403.
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_blockedemaildomain"))
    client.force_login(staff)
    assert client.get(CHANGELIST).status_code == 200
    assert client.post(ADD_URL, post).status_code == 403
    assert not BlockedEmailDomain.objects.exists()
    assert AuditEvent.objects.count() == 0

    staff.user_permissions.add(Permission.objects.get(codename="add_blockedemaildomain"))
    staff = type(staff).objects.get(pk=staff.pk)  # a fresh permission cache
    client.force_login(staff)
    assert client.post(ADD_URL, post).status_code == 302
    assert BlockedEmailDomain.objects.get().created_by == staff

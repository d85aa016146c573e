"""The enrollment wizard's forms. They check the shape of what people type; the services decide.

``DetailsForm`` is the public form of the organization details: the wizard's details step uses it whole,
and the answer to a reviewer uses it with ``only_fields=answer_fields(application)``. It runs the same
rules as the service (``details_clean``), so each message shows at its field before anything is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.services.directory import COUNTRY_INVALID, domain_label_clean
from enrollment.models import EnrollmentApplication, PartnerProfile
from enrollment.services.applications import details_fields_for
from enrollment.validation.address import ADDRESS_FIELDS, AddressFormMixin, address_rules
from enrollment.validation.details import (
    CONTACT_FIELDS,
    DETAIL_FIELDS,
    EMAIL_INVALID,
    MISSING,
    SUPPORT_FIELDS,
    details_clean,
)
from enrollment.validation.email_domains import WorkEmailField
from enrollment.validation.phone import PhoneNumberField
from portal.errors import DomainError, form_add_domain_error

#: Countries offered first when creating a tenant: the program's two main markets.
FIRST_COUNTRIES = ("JP", "US")


# --- Sign-ins (the directory's global administrator, the membership center) ------------------------------

#: a sign-in name: no autocapitalisation or spelling fixes on phones
SIGN_IN_NAME_ATTRS = {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}


def current_password_field() -> forms.CharField:
    return forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


# --- Step 2: the directory tenant ------------------------------------------------------------------------


class TenantSignInForm(forms.Form):
    """A global administrator's sign-in to an existing tenant of the built-in directory."""

    user_principal_name = forms.CharField(
        label=_("User name"),
        max_length=254,
        widget=forms.TextInput(attrs=SIGN_IN_NAME_ATTRS),
    )
    password = current_password_field()

    def __init__(self, *args, domain_suffix: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_principal_name"].help_text = _(
            "Your global administrator's sign-in name, such as admin@contoso.%(suffix)s."
        ) % {"suffix": domain_suffix}


def country_choices() -> list[tuple[str, str]]:
    """Every country in the active language, Japan and the United States first."""
    first = [(code, str(countries.name(code))) for code in FIRST_COUNTRIES]
    rest = [(country.code, str(country.name)) for country in countries if country.code not in FIRST_COUNTRIES]
    return [("", "---------"), *first, *rest]


class TenantCreateForm(forms.Form):
    """**Create a new tenant**: the field names are the arguments of ``application_tenant_create``, so that
    the service's ``TenantNotCreated.field`` names the field at fault."""

    name = forms.CharField(
        label=_("Tenant name"),
        max_length=200,
        help_text=_("Usually your company's name, for example Contoso Japan."),
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    country = forms.ChoiceField(
        label=_("Country"),
        help_text=_(
            "Your company's country. The partner profile you link later must be in the same country."
        ),
    )
    initial_domain_label = forms.CharField(
        label=_("Initial domain"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}
        ),
    )
    admin_display_name = forms.CharField(
        label=_("Your name"),
        max_length=150,
        help_text=_("Shown as the name of the tenant's global administrator: you."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    admin_password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    admin_password_confirmation = forms.CharField(
        label=_("Password again"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, domain_suffix: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.domain_suffix = domain_suffix
        self.fields["country"].choices = country_choices()
        self.fields["initial_domain_label"].help_text = _(
            "3 to 40 lower-case letters (a to z), digits and hyphens. For example, contoso gives your tenant "
            "the domain contoso.%(suffix)s, and you sign in as admin@contoso.%(suffix)s."
        ) % {"suffix": domain_suffix}
        self.fields["admin_password"].help_text = " ".join(
            password_validation.password_validators_help_texts()
        )

    def clean_initial_domain_label(self) -> str:
        # The built-in directory's own rule, so that a bad label shows with every other field's error;
        # whether the domain is still free only the service can say.
        try:
            return domain_label_clean(self.cleaned_data["initial_domain_label"])
        except DomainError as error:
            raise ValidationError(error.message, code=error.code) from None

    def clean(self):
        cleaned_data = super().clean()
        password = cleaned_data.get("admin_password")
        confirmation = cleaned_data.get("admin_password_confirmation")
        if password and confirmation and password != confirmation:
            self.add_error(
                "admin_password_confirmation",
                _("The two passwords are different. Type the same password twice."),
            )
        return cleaned_data

    def tenant_values(self) -> dict[str, str]:
        """The keyword arguments of ``application_tenant_create`` (the confirmation is the form's own)."""
        return {
            name: self.cleaned_data[name]
            for name in ("name", "country", "initial_domain_label", "admin_display_name", "admin_password")
        }


class TenantCountryForm(forms.Form):
    """The country of a Microsoft Entra ID tenant whose directory did not say it, as the applicant gives it
    (``application_tenant_country_set``): the same countries as **Create a new tenant**."""

    country = forms.ChoiceField(
        label=_("Your tenant's country"),
        help_text=_("Your company's country. Reviewers see that you gave it, not the directory."),
        error_messages={"required": COUNTRY_INVALID, "invalid_choice": COUNTRY_INVALID},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = country_choices()


# --- Step 3: the partner-membership center ---------------------------------------------------------------


class MembershipSignInForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs=SIGN_IN_NAME_ATTRS),
    )
    password = current_password_field()


class ProfileChoiceForm(forms.Form):
    """One of the organization profiles of the signed-in membership account, by partner ID."""

    partner_id = forms.ChoiceField(
        label=_("Organization profile"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose an organization profile."),
            "invalid_choice": _("Choose one of the organization profiles listed."),
        },
    )

    def __init__(self, *args, profiles: list[PartnerProfile], **kwargs):
        super().__init__(*args, **kwargs)
        self.profiles = profiles
        self.fields["partner_id"].choices = [(profile.partner_id, str(profile)) for profile in profiles]


# --- Step 4: the organization details --------------------------------------------------------------------


@dataclass
class DetailsSection:
    """A fieldset of the details form: its anchor, its heading, what it asks, and its fields."""

    key: str
    title: Any
    intro: Any
    fields: list = field(default_factory=list)
    #: the legal business profile shows the country (the tenant's), which is not asked
    shows_country: bool = False


def _language_choices() -> list[tuple[str, str]]:
    # Each language in its own name, as the language switcher shows them.
    return [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES]


class DetailsForm(AddressFormMixin, forms.Form):
    """The legal business profile, the primary contact and the customer support contact of an application.

    ``only_fields`` limits the form to those detail fields (the answer to a reviewer); by default it asks
    what ``details_fields_for(application)`` asks (everything, or the support contact on the short path),
    plus the primary contact's language when it asks for the primary contact. ``cleaned_data`` holds the
    values as they are stored (phones in E.164, the region's code, the postal code normalised).
    """

    def __init__(
        self, *args, application: EnrollmentApplication, only_fields: tuple[str, ...] | None = None, **kwargs
    ):
        self.application = application
        asked = details_fields_for(application)
        if only_fields is not None:
            asked = tuple(name for name in asked if name in only_fields)
        self.detail_fields = asked
        self.asks_address = any(name in ADDRESS_FIELDS for name in asked)
        self.asks_language = (
            "contact_language" in only_fields if only_fields is not None else "contact_name" in asked
        )
        kwargs.setdefault("initial", self._initial(application))
        super().__init__(*args, country=application.tenant_country, **kwargs)
        country = self.address_country
        own: dict[str, forms.Field] = {
            "legal_name": forms.CharField(
                label=_("Legal name"),
                max_length=200,
                help_text=_(
                    "Your company's exact registered name, as it appears on its certificate of registration, "
                    "including its legal form (for example KK or Inc.)."
                ),
                widget=forms.TextInput(attrs={"autocomplete": "organization"}),
            ),
            "contact_name": forms.CharField(
                label=_("Full name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
            ),
            "contact_email": WorkEmailField(
                label=_("Work email address"),
                max_length=254,
                help_text=_(
                    "An address at your company's own domain: free and disposable email services are not "
                    "accepted. We email this person to confirm the application."
                ),
                widget=forms.EmailInput(attrs={"autocomplete": "email"}),
            ),
            "contact_phone": PhoneNumberField(country=country, label=_("Phone number")),
            "contact_language": forms.ChoiceField(
                label=_("Language of the emails to the primary contact"),
                choices=_language_choices(),
                widget=forms.RadioSelect,
            ),
            "support_email": forms.EmailField(
                label=_("Support email address"),
                max_length=254,
                widget=forms.EmailInput(attrs={"autocomplete": "off"}),
            ),
            "support_phone": PhoneNumberField(
                country=country,
                label=_("Support phone number"),
                widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
            ),
            "support_website": forms.CharField(
                label=_("Support website"),
                max_length=200,
                help_text=_("A full web address, for example https://www.example.com/support."),
                widget=forms.URLInput(attrs={"autocomplete": "url"}),
            ),
        }
        for name, form_field in own.items():
            if name in MISSING:
                form_field.error_messages["required"] = MISSING[name]
            if isinstance(form_field, forms.EmailField):
                form_field.error_messages["invalid"] = EMAIL_INVALID
        address = {name: self.fields[name] for name in address_rules(country).field_order}
        wanted = [*self.detail_fields, *(["contact_language"] if self.asks_language else [])]
        ordered = {
            "legal_name": own["legal_name"],
            **address,
            **{name: own[name] for name in own if name != "legal_name"},
        }
        self.fields = {name: form_field for name, form_field in ordered.items() if name in wanted}

    @staticmethod
    def _initial(application: EnrollmentApplication) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(application, name) for name in DETAIL_FIELDS}
        initial["contact_language"] = application.contact_language or application.applicant.preferred_language
        return initial

    def sections(self) -> list[DetailsSection]:
        """The fieldsets to show, each with the fields of this form that belong to it."""
        sections = [
            DetailsSection(
                key="legal",
                title=_("Legal business profile"),
                intro=_("Your company as it is registered: we check these details against public records."),
                shows_country=self.asks_address,
            ),
            DetailsSection(
                key="contact",
                title=_("Primary contact"),
                intro=_(
                    "The person at your company we contact about this application: you or a colleague. "
                    "They confirm by email that they registered it, or are authorised to."
                ),
            ),
            DetailsSection(
                key="support",
                title=_("Customer support contact"),
                intro=_("Where your customers get help with the products you sell them."),
            ),
        ]
        members = {
            "legal": ("legal_name", *ADDRESS_FIELDS),
            "contact": (*CONTACT_FIELDS, "contact_language"),
            "support": SUPPORT_FIELDS,
        }
        for section in sections:
            section.fields = [self[name] for name in self.fields if name in members[section.key]]
        return [section for section in sections if section.fields]

    @property
    def country_name(self) -> str:
        return str(countries.name(self.address_country)) if self.address_country else "—"

    def clean(self):
        # The address rules need every address field: without them (the short path, or an answer about
        # something else) only the form's own checks run here.
        cleaned_data = super().clean() if self.asks_address else forms.Form.clean(self)
        # Then the service's rules on the whole, with the stored values for what this form does not ask.
        values: dict[str, Any] = {name: getattr(self.application, name) for name in DETAIL_FIELDS}
        values.update({name: cleaned_data[name] for name in self.detail_fields if name in cleaned_data})
        try:
            stored = details_clean(
                values, country=self.address_country, short_path=self.application.already_authorised
            )
        except ValidationError as error:
            for name, messages in error.error_dict.items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, messages)
            stored = {}
        for name in self.detail_fields:
            if name in stored and name in cleaned_data:
                cleaned_data[name] = stored[name]
        return cleaned_data

    def details_values(self) -> dict[str, str]:
        """The detail values for the service (the language goes on its own)."""
        return {name: self.cleaned_data[name] for name in self.detail_fields if name in self.cleaned_data}

    def add_domain_error(self, error: DomainError) -> None:
        """A service's refusal at the fields it names: every field's messages for ``invalid_details``."""
        validation_error = getattr(error, "validation_error", None)
        if error.code == "invalid_details" and validation_error is not None:
            for name, messages in validation_error.error_dict.items():
                self.add_error(name if name in self.fields else None, messages)
            return
        form_add_domain_error(self, error)

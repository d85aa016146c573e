"""The customer's forms: answering an invitation, creating the customer organization, and answering or
ending a partner's rights. They check shape only; the services decide (consent included)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from enrollment.forms import country_choices
from enrollment.validation.address import ADDRESS_FIELDS, AddressFormMixin


class AcceptForm(forms.Form):
    """Which of the user's customer organizations accepts (one: a hidden field), and the consent. The
    consent is not required here: the service refuses without it, so that every path keeps the rule."""

    customer = forms.ChoiceField(
        label=_("Your organization"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose the organization that accepts this invitation."),
            "invalid_choice": _("Choose one of your organizations from the list."),
        },
    )
    consent = forms.BooleanField(required=False)

    def __init__(self, *args, customers: list[Organization], **kwargs):
        super().__init__(*args, **kwargs)
        self.customers = {str(organization.public_id): organization for organization in customers}
        field = self.fields["customer"]
        field.choices = [
            (public_id, organization.legal_name) for public_id, organization in self.customers.items()
        ]
        if len(customers) == 1:
            field.widget = forms.HiddenInput()
            field.initial = next(iter(self.customers))
        self.fields["consent"].label = _(
            "I accept these partners and grant them the rights listed above, for my organization."
        )

    def clean_customer(self) -> Organization:
        return self.customers[self.cleaned_data["customer"]]


def reason_field(*, help_text, max_length: int = 500) -> forms.CharField:
    return forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=help_text,
    )


class InvitationDeclineForm(forms.Form):
    reason = reason_field(help_text=_("The reseller sees this reason."))


class DelegatedAdminDeclineForm(forms.Form):
    reason = reason_field(help_text=_("The partner sees this reason in the email it gets."))


class DelegatedAdminRemoveForm(forms.Form):
    reason = reason_field(help_text=_("The partner sees this reason in the email it gets."))


class RelationshipEndForm(forms.Form):
    reason = reason_field(
        help_text=_("The partners concerned see this reason in the email they get."), max_length=1000
    )


class CustomerOrganizationForm(AddressFormMixin, forms.Form):
    """The customer organization: legal name, country, and the address fields of the country they were
    built for (``address_country``, carried in a hidden field: when the person picks another country, the
    view shows that country's fields before anything is created)."""

    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=200,
        help_text=_(
            "Your company's exact registered name, including its legal form (for example KK or Inc.). "
            "Your partners see this name."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
        error_messages={"required": _("Enter the legal name.")},
    )
    country = forms.ChoiceField(
        label=_("Country"),
        error_messages={
            "required": _("Choose the country from the list."),
            "invalid_choice": _("Choose the country from the list."),
        },
    )
    address_country = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, country: str, tenant_country: str = "", **kwargs):
        super().__init__(*args, country=country, **kwargs)
        self.fields["country"].choices = country_choices()
        self.fields["country"].widget.attrs["autocomplete"] = "country"
        self.fields["address_country"].initial = self.address_country
        if tenant_country:
            self.fields["country"].help_text = _(
                "The country your organization is registered in: the country of your tenant."
            )

    def country_changed(self) -> bool:
        """Whether the person chose another country than the one the address fields were made for."""
        chosen = str(self.data.get("country") or "").upper()
        return bool(chosen) and chosen in dict(country_choices()) and chosen != self.address_country

    def address_values(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name) or "" for name in ADDRESS_FIELDS}

"""The forms of the pages of a customer's tenant users and their licences. They check shape only; the
services decide (the tenant's domains, the seats, who may)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

#: what the status form of a row may ask
USER_STATUS_ACTIONS = (
    ("disable", _("Disable")),
    ("enable", _("Enable")),
    ("setup_link", _("Send a new set-up link")),
)

_NAME_WIDGET_ATTRS = {"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}


class TenantUserFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        help_text=_("Part of a user principal name or a display name."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class TenantUserAddForm(forms.Form):
    user_principal_name = forms.CharField(
        label=_("User principal name"),
        max_length=254,
        widget=forms.TextInput(attrs={**_NAME_WIDGET_ATTRS, "inputmode": "email"}),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=256)
    contact_email = forms.EmailField(
        label=_("Contact email for the set-up link"),
        max_length=254,
        help_text=_(
            "The user's current mailbox, outside this tenant: the email with the link to choose a password "
            "goes there."
        ),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    language = forms.ChoiceField(
        label=_("Language of the set-up email"),
        choices=settings.LANGUAGES,
    )

    def __init__(self, *args, domains: list[str], language: str, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["user_principal_name"]
        if domains:
            field.help_text = _(
                "The name the user signs in with: a name, @, and one of the tenant's domains (%(domains)s)."
            ) % {"domains": ", ".join(domains)}
            field.widget.attrs["placeholder"] = f"name@{domains[0]}"
        if language in dict(settings.LANGUAGES):
            self.fields["language"].initial = language


class TenantUserStatusForm(forms.Form):
    action = forms.ChoiceField(choices=USER_STATUS_ACTIONS)


class SubscriptionFindForm(forms.Form):
    """The Licences page's search for a subscription, shown when the customer has more seat-based
    subscriptions than the page lists."""

    #: fewer characters would match nearly every subscription: no help in finding one
    MIN_LENGTH = 2

    q = forms.CharField(
        label=_("Find a subscription"),
        required=False,
        max_length=100,
        help_text=_("Part of the subscription's name, or of its offer's name or product code."),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )

    def clean_q(self) -> str:
        term = self.cleaned_data["q"].strip()
        if term and len(term) < self.MIN_LENGTH:
            message = ngettext(
                "Type at least %(count)d character of the name.",
                "Type at least %(count)d characters of the name.",
                self.MIN_LENGTH,
            )
            raise forms.ValidationError(message % {"count": self.MIN_LENGTH}, code="min_length")
        return term


class LicenceAssignForm(forms.Form):
    subscription = forms.UUIDField(widget=forms.HiddenInput)
    user_principal_name = forms.CharField(
        label=_("User principal name"),
        max_length=254,
        help_text=_("The user who gets one seat of this subscription, for example ann@contoso.example."),
        widget=forms.TextInput(attrs={**_NAME_WIDGET_ATTRS, "inputmode": "email"}),
    )

"""The forms of a partner's customer pages (customers/views/partner_side.py). Shape only: the services
decide (``delegated_terms_clean`` the roles, the duration and auto-extend; ``partnership_for_invitation``
the provider), and their errors come back at these fields."""

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from customers.models import (
    AUTO_EXTEND_DAYS,
    DELEGATED_ROLE_DESCRIPTIONS,
    DURATION_DEFAULT_DAYS,
    DURATION_MAX_DAYS,
    DURATION_MIN_DAYS,
    LEAST_PRIVILEGE_ROLES,
    DelegatedRole,
)
from portal.invitations.models import LinkInvitationStatus

#: The value of a status filter that shows every status.
ALL = "all"
#: Durations offered as quick choices next to the number of days.
DURATION_CHOICES = (30, 90, 180, 365, 730)


def _formatted(message, **values) -> str:
    return message % values


#: ``message % values``, translated when shown rather than when the module is imported
formatted_lazy = lazy(_formatted, str)


class CustomerFilterForm(forms.Form):
    """The Customers page's search, and the partnership whose shared customers it shows."""

    q = forms.CharField(
        label=_("Search"), required=False, max_length=200, help_text=_("Customer name, or part of it")
    )
    partnership = forms.UUIDField(required=False, widget=forms.HiddenInput)
    #: the earlier name of ``partnership`` in links of the Indirect providers page
    provider = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def partnership_id(self):
        data = self.cleaned_data if self.is_bound else {}
        return data.get("partnership") or data.get("provider")


class InvitationFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"), required=False, max_length=200, help_text=_("Email address or customer name")
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[(ALL, _("All statuses")), *LinkInvitationStatus.choices],
    )

    def filters(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_bound else {}
        status = data.get("status") or ALL
        return {"status": "" if status == ALL else status, "search": data.get("q", "")}


class DelegatedTermsForm(forms.Form):
    """The delegated admin request: roles, duration, auto-extend (the invitation's and a later one's)."""

    roles = forms.MultipleChoiceField(
        label=_("Delegated admin roles"),
        required=False,
        choices=DelegatedRole.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Ask for the least you need: the customer sees each role, in plain words, before accepting."
        ),
    )
    duration_days = forms.IntegerField(
        label=_("Duration (days)"),
        required=False,
        help_text=formatted_lazy(
            _("From %(min)d day to %(max)d days (2 years)."), min=DURATION_MIN_DAYS, max=DURATION_MAX_DAYS
        ),
        widget=forms.NumberInput(
            attrs={
                "min": DURATION_MIN_DAYS,
                "max": DURATION_MAX_DAYS,
                "step": 1,
                "inputmode": "numeric",
                "list": "duration-choices",
            }
        ),
        error_messages={"invalid": _("Enter the duration as a whole number of days.")},
    )
    auto_extend = forms.BooleanField(
        label=formatted_lazy(_("Extend automatically by %(days)d days at the end"), days=AUTO_EXTEND_DAYS),
        required=False,
        help_text=_(
            "Not available with Global administrator: that role must be requested again when it ends."
        ),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("roles", [str(role) for role in LEAST_PRIVILEGE_ROLES])
        kwargs["initial"].setdefault("duration_days", DURATION_DEFAULT_DAYS)
        super().__init__(*args, **kwargs)

    def role_options(self) -> list[dict]:
        """Each role of the catalogue with its plain-words description and whether it is ticked."""
        chosen = {str(role) for role in (self["roles"].value() or [])}
        return [
            {
                "code": code,
                "label": label,
                "description": DELEGATED_ROLE_DESCRIPTIONS[code],
                "checked": code in chosen,
                "highest": code == DelegatedRole.GLOBAL_ADMIN,
                "id": f"{self['roles'].auto_id}_{index}",
            }
            for index, (code, label) in enumerate(DelegatedRole.choices)
        ]

    def clean_duration_days(self):
        # An empty box is the service's "enter a whole number" error, at this field.
        value = self.cleaned_data.get("duration_days")
        return "" if value is None else value


class InviteForm(DelegatedTermsForm):
    """A reseller's invitation to a customer; ``kind`` and (with a provider) ``partnership`` say which."""

    field_order = ["kind", "partnership", "email", "customer_name", "language"]

    kind = forms.CharField(widget=forms.HiddenInput)
    partnership = forms.UUIDField(
        label=_("Indirect provider"),
        required=False,
        widget=forms.Select,
        help_text=_("Only your indirect providers with a live partnership can be chosen."),
        error_messages={"invalid": _("Choose one of your indirect providers.")},
    )
    email = forms.EmailField(
        label=_("Customer's email address"),
        max_length=254,
        help_text=_("The customer's administrator: only this address can accept."),
        error_messages={"required": _("Enter the customer's email address.")},
    )
    customer_name = forms.CharField(
        label=_("Customer name"),
        required=False,
        max_length=200,
        help_text=_("Optional: how the invitation is listed until the customer accepts."),
    )
    language = forms.ChoiceField(label=_("Email language"), choices=settings.LANGUAGES)

    def __init__(self, *args, partnerships=(), with_provider: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if with_provider:
            self.fields["partnership"].widget.choices = [
                ("", _("Choose an indirect provider")),
                *((str(p.public_id), p.provider.legal_name) for p in partnerships),
            ]
        else:
            del self.fields["partnership"]

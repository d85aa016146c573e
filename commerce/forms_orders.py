"""The forms of the order pages (commerce/views/orders.py). Shape only: the services decide
(``commerce.services.orders``: the links, the offer's availability, the seats, the cancellation window),
and their errors come back at these fields.

A form is built for one kind of order (new subscription, seats, cancellation). The reseller, provider and
offer fields show what the page offers; they also accept the other choices a form shown a moment ago may
post (an offer no longer sold in the customer's country, a provider whose partnership just ended), so that
the service answers with its reason instead of "select a valid choice"."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from commerce.models import BillingTerm, Offer, OrderKind
from commerce.money import money

#: The longest note or reason the services accept.
TEXT_MAX = 1000


def offer_price_label(offer: Offer) -> str:
    """``Cloud Suite — ￥1,200 per seat per month`` (the price of ``offer.local_prices[0]``)."""
    price = offer.local_prices[0]
    values = {"price": money(price.unit_price, price.currency)}
    if offer.seat_based:
        if offer.billing_term == BillingTerm.ANNUAL:
            text = _("%(price)s per seat per year") % values
        else:
            text = _("%(price)s per seat per month") % values
    elif offer.billing_term == BillingTerm.ANNUAL:
        text = _("%(price)s per year") % values
    else:
        text = _("%(price)s per month") % values
    return f"{offer.name} — {text}"


class _AcceptingChoiceField(forms.ChoiceField):
    """A choice among those shown, or any value ``lookup`` (public ID → object or None) finds: cleaned
    to the object."""

    def __init__(self, *, lookup: Callable[[str], object | None], **kwargs):
        self.lookup = lookup
        self.found: dict[str, object | None] = {}
        super().__init__(**kwargs)

    def _find(self, value) -> object | None:
        key = str(value)
        if key not in self.found:
            self.found[key] = self.lookup(key)
        return self.found[key]

    def valid_value(self, value) -> bool:
        return self._find(value) is not None

    def clean(self, value):
        value = super().clean(value)
        return self._find(value) if value else None


def _by_public_id(objects) -> Callable[[str], object | None]:
    table = {str(item.public_id): item for item in objects}
    return table.get


def _offer_lookup(shown) -> Callable[[str], object | None]:
    """An offer shown, or any offer of the catalogue (the service says why it cannot be ordered)."""

    def lookup(key: str):
        if key in shown:
            return shown[key]
        try:
            public_id = uuid.UUID(key)
        except ValueError:
            return None
        return Offer.objects.filter(public_id=public_id).first()

    return lookup


def _organization_choices(organizations) -> list[tuple[str, str]]:
    return [(str(organization.public_id), organization.legal_name) for organization in organizations]


class _OrderTermsForm(forms.Form):
    """What every order form has: the key of this submission, and the fields of its kind."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, kind: str, offers=(), seat_based: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if not self.is_bound and "idempotency_key" not in self.initial:
            self.initial["idempotency_key"] = uuid.uuid4()
        if kind == OrderKind.NEW:
            shown = {str(offer.public_id): offer for offer in offers}
            self.fields["offer"] = _AcceptingChoiceField(
                label=gettext_lazy("Offer"),
                lookup=_offer_lookup(shown),
                choices=[(key, offer_price_label(offer)) for key, offer in shown.items()],
                widget=forms.RadioSelect,
                error_messages={
                    "required": gettext_lazy("Choose an offer."),
                    "invalid_choice": gettext_lazy("Choose an offer from the list."),
                },
                help_text=gettext_lazy("Offers on sale in the customer's country, at its price per seat."),
            )
        if kind in (OrderKind.NEW, OrderKind.SEATS):
            self.fields["seats"] = forms.IntegerField(
                label=gettext_lazy("Seats") if kind == OrderKind.NEW else gettext_lazy("New number of seats"),
                min_value=0,
                max_value=1_000_000,
                error_messages={"required": gettext_lazy("Enter the number of seats.")},
                help_text=gettext_lazy("For an offer not sold by the seat, enter 1.")
                if kind == OrderKind.NEW or not seat_based
                else None,
            )
            self.fields["seats"].widget.attrs.update({"inputmode": "numeric", "class": "input--short"})
        if kind == OrderKind.CANCEL:
            self.fields["confirm"] = forms.BooleanField(
                label=gettext_lazy("I understand that the subscription ends once the order is provisioned."),
                error_messages={"required": gettext_lazy("Confirm the cancellation.")},
            )


class OrderForm(_OrderTermsForm):
    """The provider's order. A new subscription names the reseller of record among the resellers that
    share the customer with the provider (``resellers``)."""

    def __init__(self, *args, kind: str, resellers=(), accepted_resellers=(), **kwargs):
        super().__init__(*args, kind=kind, **kwargs)
        if kind == OrderKind.NEW:
            self.fields["reseller"] = _AcceptingChoiceField(
                label=gettext_lazy("Reseller of record"),
                lookup=_by_public_id([*accepted_resellers, *resellers]),
                choices=_organization_choices(resellers),
                error_messages={
                    "required": gettext_lazy("Choose the reseller of record."),
                    "invalid_choice": gettext_lazy("Choose one of the resellers listed."),
                },
                help_text=gettext_lazy(
                    "The reseller that shares this customer with you and sells the order."
                ),
            )
        self.order_fields(["reseller", "offer", "seats", "confirm"])


class OrderRequestForm(_OrderTermsForm):
    """The reseller's order request: for a new subscription, the provider to send it to (``sharing``:
    the providers the customer accepted through this reseller; ``others``: its other providers, which
    the service refuses with the reason); a note."""

    note = forms.CharField(
        label=gettext_lazy("Note to the provider"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Optional. What the provider should know, such as a start date."),
    )

    def __init__(self, *args, kind: str, sharing=(), others=(), **kwargs):
        super().__init__(*args, kind=kind, **kwargs)
        if kind == OrderKind.NEW:
            choices = []
            if sharing:
                choices.append(
                    (
                        gettext_lazy("Providers that share this customer with you"),
                        _organization_choices(sharing),
                    )
                )
            if others:
                choices.append(
                    (
                        gettext_lazy("Providers that do not share this customer with you"),
                        _organization_choices(others),
                    )
                )
            self.fields["provider"] = _AcceptingChoiceField(
                label=gettext_lazy("Indirect provider"),
                lookup=_by_public_id([*sharing, *others]),
                choices=choices,
                error_messages={
                    "required": gettext_lazy("Choose one of your indirect providers."),
                    "invalid_choice": gettext_lazy("Choose one of your indirect providers."),
                },
                help_text=gettext_lazy(
                    "The provider submits the order. It needs the customer's acceptance through you."
                ),
            )
        self.order_fields(["provider", "offer", "seats", "confirm", "note"])


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": gettext_lazy("Tell the reseller why you decline.")},
        help_text=gettext_lazy("The reseller reads it on the order request and in its email."),
    )

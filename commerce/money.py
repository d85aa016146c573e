"""Money in the catalogue: ISO 4217 currencies, their minor units and their display (Babel's data)."""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, is_currency
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext_lazy as _

CURRENCY_UNKNOWN = _("Enter an ISO 4217 currency code, such as JPY or USD.")
PRICE_PRECISION = _("Prices in %(currency)s have at most %(places)d decimal places.")


def currency_check(instance, currency_field: str, amount_field: str) -> None:
    """Model ``clean``: a known currency, and an amount with no more decimals than the currency has."""
    currency = (getattr(instance, currency_field) or "").upper()
    setattr(instance, currency_field, currency)
    if not is_currency(currency):
        raise ValidationError({currency_field: CURRENCY_UNKNOWN})
    amount = getattr(instance, amount_field)
    if amount is None:
        return
    places = get_currency_precision(currency)
    if Decimal(amount) != Decimal(amount).quantize(Decimal(1).scaleb(-places)):
        raise ValidationError({amount_field: PRICE_PRECISION % {"currency": currency, "places": places}})


def money(amount, currency: str, *, language: str | None = None) -> str:
    """``amount`` in ``currency`` as a reader of ``language`` (default: the active one) writes it."""
    language = (language or translation.get_language() or "en").split("-")[0]
    return format_currency(Decimal(amount), currency, locale=language)

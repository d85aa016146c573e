"""Template filters for commerce pages and emails, in the reader's (the active) language.

``{{ order.failure_code|order_failure }}`` says why an order could not be provisioned;
``{{ amount|money:currency }}`` writes an amount as a reader of the active language does ("￥1,200").

``{{ moment|datetime_minute }}`` is ``{{ moment|date:"Y-m-d H:i" }}`` (which parses its format at each
call) for a fraction of its cost (``portal.rows``). List rows get their labels and dates as plain values
from their views (``portal.rows``), not from filters.
"""

from django import template

from commerce.money import money as money_format
from commerce.services.orders import failure_message
from portal import rows

register = template.Library()


@register.filter
def order_failure(code) -> str:
    """The reason a failure code stands for, translated (a generic reason for an unknown code)."""
    return failure_message(str(code or ""))


@register.filter
def money(amount, currency) -> str:
    """``amount`` in ``currency``; nothing when either is missing."""
    if amount is None or amount == "" or not currency:
        return ""
    return money_format(amount, str(currency))


@register.filter
def datetime_minute(value) -> str:
    """``value`` as ``|date:"Y-m-d H:i"`` writes it (in the current time zone); nothing when missing."""
    return rows.minute(value)

"""Template filters for commerce pages and emails, in the reader's (the active) language.

``{{ order.failure_code|order_failure }}`` says why an order could not be provisioned;
``{{ amount|money:currency }}`` writes an amount as a reader of the active language does ("￥1,200").

For the rows of a list, what a general tag would print for a fraction of its cost (``portal.rows``):
``{{ order|choice_label:"status" }}`` is ``{{ order.get_status_display }}`` (which translates every choice
of the field at each call), ``{{ moment|datetime_minute }}`` is ``{{ moment|date:"Y-m-d H:i" }}`` and
``{{ moment|date_day }}`` is ``{{ moment|date:"Y-m-d" }}`` (which parse their format at each call).
"""

from django import template
from django.utils.translation import get_language

from commerce.money import money as money_format
from commerce.services.orders import failure_message
from portal import rows

register = template.Library()

#: (model, field name, language) -> a field's choices, each label translated once per process
_choice_labels: dict[tuple, dict] = {}


@register.filter
def order_failure(code) -> str:
    """The reason a failure code stands for, translated (a generic reason for an unknown code)."""
    return failure_message(str(code or ""))


@register.filter
def choice_label(instance, field_name: str) -> str:
    """What ``instance.get_<field_name>_display()`` says: the label of the value's choice in the active
    language, or the value itself when it is no choice."""
    key = (type(instance), field_name, get_language())
    labels = _choice_labels.get(key)
    if labels is None:
        labels = _choice_labels[key] = rows.choice_labels(type(instance), field_name)
    value = getattr(instance, field_name)
    return labels.get(value, value)


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


@register.filter
def date_day(value) -> str:
    """``value`` as ``|date:"Y-m-d"`` writes it (in the current time zone); nothing when missing."""
    return rows.day(value)

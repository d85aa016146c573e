"""A long list's rows, ready to print: their links and their text worked out in Python once per page
instead of by a template tag in every row, and exactly what the tags would print.

``{% url %}`` walks the URL resolver on every call (20-40 microseconds); a ``RowLink`` reverses its route
once for the page and puts each row's id in its place.

A ``{% blocktranslate %}`` re-reads its message on every render (tens of microseconds), a ``|date`` parses
its format on every value, and ``get_<field>_display`` translates every choice of the field to find one
label: in each of fifty rows (and each row's subscriptions) they cost a list page more than the rest of
its rows. A view gives its rows these values and the template prints them; the messages stay the ones
the template had (``gettext`` / ``ngettext`` with the same msgid), so the catalogues do not change.
"""

import uuid

from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime


def sentence(message: str, **values) -> SafeString:
    """An already translated ``message`` with its values escaped: what ``{% blocktranslate %}`` prints."""
    escaped = {name: conditional_escape(value) for name, value in values.items()}
    return mark_safe(message % escaped)  # noqa: S308 - our own catalogue's message, every value escaped


def day(value) -> str:
    """``{{ value|date:"Y-m-d" }}``."""
    value = template_localtime(value)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}" if value else ""


def minute(value) -> str:
    """``{{ value|date:"Y-m-d H:i" }}``."""
    value = template_localtime(value)
    if not value:
        return ""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"


def choice_labels(model, field: str) -> dict:
    """``{value: label}`` of a field's choices, translated once: ``labels.get(value, value)`` is what
    ``get_<field>_display()`` returns."""
    return {value: str(label) for value, label in model._meta.get_field(field).flatchoices}


#: The id a ``RowLink`` reverses its route with, to put each row's own in its place.
_ANY_ROW = str(uuid.UUID(int=0))


class RowLink:
    """``RowLink(route, "customer_id", organization_public_id=...)(row_id)`` is ``reverse(route,
    kwargs={..., "customer_id": row_id})``, the route reversed once."""

    def __init__(self, route: str, row_argument: str, **kwargs):
        url = reverse(route, kwargs={**kwargs, row_argument: _ANY_ROW})
        self.before, self.after = url.split(_ANY_ROW)

    def __call__(self, row_id) -> str:
        return f"{self.before}{row_id}{self.after}"

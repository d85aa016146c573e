"""``{{ address|address_breaks }}``: a long address wraps where a reader expects it to."""

import re

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()

_BREAK_BEFORE = re.compile(r"([@.])")


@register.filter(is_safe=True)
def address_breaks(value) -> str:
    """An address (a user principal name, an email address), escaped, with a line-break opportunity
    (``<wbr>``) before each "@" and ".": in a column narrower than the address it then breaks between its
    parts ("onportal." / "example") rather than before its last letter. Copying it copies the address."""
    return mark_safe(_BREAK_BEFORE.sub(r"<wbr>\1", str(conditional_escape(value))))  # noqa: S308 - escaped above

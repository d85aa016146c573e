"""Django's form renderer, with ``<select>`` written in Python.

Django renders a select through a template that includes another template for every option, and each
include costs tens of microseconds: a list of every audit action or every country made the activity log
and the enrollment pages several times dearer than the rest of the page. The HTML is the same as the
templates' (``django/forms/widgets/select.html``, ``select_option.html``, ``attrs.html``), escaped the
same way; a widget with its own option template still goes through the templates.

Every other widget (a text input, a checkbox...) prints what its context holds and nothing else: its
HTML is kept in the fragment memo (``portal.memo``), keyed by the template, the language (a widget
template may translate a word) and the frozen context, so a page that shows the same search box on
every request renders it once per process. A context that cannot be frozen (a file field's current
file, say) renders through the template each time.
"""

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from portal.memo import Key, Unfreezable, freeze, memo

WIDGETS = "django/forms/widgets/"
SELECT = "django/forms/widgets/select.html"

#: A widget's memo keys start with this (no ``{% memo %}`` tag's key does).
_WIDGET = "widget"
OPTION = "django/forms/widgets/select_option.html"


def _attrs(attrs: dict) -> str:
    # attrs.html: False leaves the attribute out, True writes its name alone, anything else is a string.
    return "".join(
        f" {conditional_escape(name)}" if value is True else f' {conditional_escape(name)}="{escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def select_html(widget: dict) -> str | None:
    """The select of this widget context, or None when an option has a template of its own."""
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in group_choices:
            if option["template_name"] != OPTION:
                return None
            parts.append(
                f'\n  <option value="{escape(option["value"])}"{_attrs(option["attrs"])}>'
                f"{conditional_escape(option['label'])}</option>\n"  # the option template's last line
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


class PortalFormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        if template_name == SELECT:
            html = select_html(context["widget"])
            if html is not None:
                return html
        if template_name.startswith(WIDGETS) and request is None:
            try:
                key = Key((_WIDGET, template_name, get_language(), freeze(context)))
            except Unfreezable:
                return super().render(template_name, context, request=request)
            html = memo.get(key)
            if html is None:
                html = super().render(template_name, context, request=request)
                memo.put(key, html)
            return html
        return super().render(template_name, context, request=request)

"""``{% memo name=value ... %}...{% endmemo %}``: the fragment's HTML kept per process for each set of
values (``portal.memo`` says how it is keyed and why it cannot print anything else)::

    {% load memo %}
    {% for row in rows %}{% memo row=row is_provider=is_provider %}<tr>...</tr>{% endmemo %}{% endfor %}

The body sees the named values only; ``{% csrf_token %}`` or ``{% block %}`` in it is refused when the
template compiles.
"""

from django import template
from django.conf import settings
from django.template.base import Variable, VariableDoesNotExist, token_kwargs
from django.template.defaulttags import CsrfTokenNode
from django.template.loader_tags import BlockNode
from django.urls import get_script_prefix, get_urlconf
from django.utils import timezone
from django.utils.translation import get_language

from portal.memo import Key, Unfreezable, fragment_id, freeze, memo, unfreezable

register = template.Library()


#: Tags that change the language or the time zone for part of a template.
_SWITCHING = frozenset({"language", "timezone", "localtime", "localize"})

#: The render context's key of what a template's memos share: language, time zone, URL prefix, URLconf.
_SETTING = object()


def _setting(context, per_tag: bool) -> tuple:
    """What besides its values changes what a fragment prints. Read once per template render (50 rows'
    tags would read the same four thread-local values 50 times), or by the tag itself when it is inside a
    ``{% language %}`` or ``{% timezone %}`` block, which changes them for a part of the template."""
    setting = None if per_tag else context.render_context.get(_SETTING)
    if setting is None:
        setting = (
            get_language(),
            timezone.get_current_timezone_name(),
            get_script_prefix(),
            get_urlconf(),
            context.autoescape,
        )
        if not per_tag:
            context.render_context[_SETTING] = setting
    return setting


class MemoNode(template.Node):
    def __init__(self, values: dict, nodelist, where: str, per_tag: bool = False):
        self.values = values
        self.nodelist = nodelist
        self.where = where
        self.per_tag = per_tag
        self.fragment = fragment_id()

    def render(self, context):
        if _strict():
            self._check_names(context)
        values = {name: expression.resolve(context) for name, expression in self.values.items()}
        try:
            frozen = tuple((name, freeze(value)) for name, value in values.items())
        except Unfreezable as error:
            unfreezable(self.fragment, self.where, error)
            return self.nodelist.render(context.new(values))  # the same HTML, without the memo
        key = Key((self.fragment, _setting(context, self.per_tag), frozen))
        html = memo.get(key)
        if html is None:
            html = self.nodelist.render(context.new(values))
            memo.put(key, html)
        return html

    def _check_names(self, context) -> None:
        """Under ``TEMPLATE_MEMO_STRICT`` (the tests), a value that names nothing is an error, not an empty
        string: a memo inside another sees only the outer one's names, and a name the outer one did not
        pass would silently print nothing. A value that may be missing says so with a filter
        (``|default:""``)."""
        for name, expression in self.values.items():
            if expression.filters or not isinstance(expression.var, Variable):
                continue
            try:
                expression.var.resolve(context)
            except VariableDoesNotExist:
                raise template.TemplateSyntaxError(
                    f"memo at {self.where}: {name}={expression.token} names nothing here"
                ) from None


def _strict() -> bool:
    return getattr(settings, "TEMPLATE_MEMO_STRICT", False)


@register.tag("memo")
def do_memo(parser, token):
    bits = token.split_contents()
    tag = bits.pop(0)
    values = token_kwargs(bits, parser)
    if bits:
        raise template.TemplateSyntaxError(f"{tag} takes name=value pairs only, not {bits[0]!r}")
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    if nodelist.get_nodes_by_type(CsrfTokenNode):
        raise template.TemplateSyntaxError(
            f"{tag}: a CSRF token changes on every response, it cannot be in a memo"
        )
    if nodelist.get_nodes_by_type(BlockNode):  # a child template fills it: the key would not say which
        raise template.TemplateSyntaxError(f"{tag}: a {{% block %}} cannot be in a memo")
    origin = getattr(parser, "origin", None)
    where = f"{getattr(origin, 'template_name', None) or '?'}:{token.lineno}"
    # parse() has not closed the blocks this tag is in: a {% language %} around it switches the language
    per_tag = any(command in _SWITCHING for command, *_rest in parser.command_stack)
    return MemoNode(values, nodelist, where, per_tag=per_tag)

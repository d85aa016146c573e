"""``{% memo name=value ... %}...{% endmemo %}``: the fragment's HTML kept per process for each set of
values (``portal.memo`` says how it is keyed and why it cannot print anything else)::

    {% load memo %}
    {% for row in rows %}{% memo row=row is_provider=is_provider %}<tr>...</tr>{% endmemo %}{% endfor %}

The body sees the named values only; ``{% csrf_token %}`` or ``{% block %}`` in it is refused when the
template compiles, unless it is in a hole.

``{% hole %}...{% endhole %}``: a part of a memo's body that is never kept, rendered on every request in
the context around the memo (a CSRF token, the request's path, a block a child template fills)::

    {% memo urls=shell_urls %}<form method="post" action="{{ urls.logout }}">
    {% hole %}{% csrf_token %}{% endhole %}...</form>{% endmemo %}

The memo keeps the HTML around its holes and prints each hole anew between the pieces. A hole may be in
a template the body includes; outside any memo it renders as if it were not there. A hole sees the
context around the outermost memo that is being filled, not the memo's values.
"""

import contextvars
import re
import secrets

from django import template
from django.conf import settings
from django.template.base import Variable, VariableDoesNotExist, token_kwargs
from django.template.defaulttags import CsrfTokenNode
from django.template.loader_tags import BlockNode
from django.urls import get_script_prefix, get_urlconf
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
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


#: Where a hole stands in a memo's HTML while the memo is filled: a prefix no printed value holds (a NUL
#: and a random word), then the hole's number.
_HOLE = f"\x00hole-{secrets.token_hex(6)}-"
_HOLE_AT = re.compile(re.escape(_HOLE) + r"(\d+)\x00")


class _Filling:
    """The holes met while a memo's body renders, in order."""

    def __init__(self):
        self.holes: list = []

    def add(self, hole) -> str:
        self.holes.append(hole)
        return f"{_HOLE}{len(self.holes) - 1}\x00"


#: The memos being filled in this thread, innermost last.
_filling: contextvars.ContextVar[tuple[_Filling, ...]] = contextvars.ContextVar("memo_filling", default=())


class _Holed:
    """A memo's HTML around its holes: ``pieces[0]``, hole 0, ``pieces[1]``, ..., ``pieces[-1]``."""

    __slots__ = ("holes", "pieces", "size")

    def __init__(self, pieces: tuple[str, ...], holes: tuple):
        self.pieces = pieces
        self.holes = holes
        self.size = sum(map(len, pieces))

    def __len__(self) -> int:
        return self.size


def _hole(hole, context) -> str:
    """A hole where it stands: a place kept for it when a memo is being filled, else its HTML."""
    filling = _filling.get()
    if filling:
        return filling[-1].add(hole)
    return hole.nodelist.render(context)


class HoleNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        return _hole(self, context)


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
            return self._printed(self._filled(context, values), context)  # the same HTML, not kept
        key = Key((self.fragment, _setting(context, self.per_tag), frozen))
        html = memo.get(key)
        if html is None:
            html = self._filled(context, values)
            memo.put(key, html)
        return self._printed(html, context)

    def _filled(self, context, values) -> SafeString | _Holed:
        """The body's HTML, with its holes' places kept apart."""
        filling = _Filling()
        token = _filling.set((*_filling.get(), filling))
        try:
            html = self.nodelist.render(context.new(values))
        finally:
            _filling.reset(token)
        if not filling.holes:
            return html
        parts = _HOLE_AT.split(html)  # text, hole number, text, ...
        holes = tuple(filling.holes[int(number)] for number in parts[1::2])
        return _Holed(tuple(parts[0::2]), holes)

    @staticmethod
    def _printed(html, context) -> SafeString:
        if not isinstance(html, _Holed):
            return html
        out = [html.pieces[0]]
        for hole, piece in zip(html.holes, html.pieces[1:], strict=True):
            out.append(_hole(hole, context))
            out.append(piece)
        return mark_safe("".join(out))  # noqa: S308 - pieces and holes are rendered template output

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
    if _outside_holes(nodelist, CsrfTokenNode):
        raise template.TemplateSyntaxError(
            f"{tag}: a CSRF token changes on every response, it cannot be in a memo (only in a hole)"
        )
    if _outside_holes(nodelist, BlockNode):  # a child template fills it: the key would not say which
        raise template.TemplateSyntaxError(f"{tag}: a {{% block %}} cannot be in a memo (only in a hole)")
    origin = getattr(parser, "origin", None)
    where = f"{getattr(origin, 'template_name', None) or '?'}:{token.lineno}"
    # parse() has not closed the blocks this tag is in: a {% language %} around it switches the language
    per_tag = any(command in _SWITCHING for command, *_rest in parser.command_stack)
    return MemoNode(values, nodelist, where, per_tag=per_tag)


def _outside_holes(nodelist, kind) -> bool:
    """Whether a node of ``kind`` is in ``nodelist`` other than inside a hole."""
    for node in nodelist:
        if isinstance(node, HoleNode):
            continue
        if isinstance(node, kind):
            return True
        for attribute in node.child_nodelists:
            child = getattr(node, attribute, None)
            if child and _outside_holes(child, kind):
                return True
    return False


@register.tag("hole")
def do_hole(parser, token):
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("hole takes no arguments")
    nodelist = parser.parse(("endhole",))
    parser.delete_first_token()
    return HoleNode(nodelist)

"""Keyset pagination: the one list mechanism of every organization list page, flat at any size.

A list is a queryset and an ordering such as ``("-occurred_at", "-id")``: every field goes the same way
and the last one is unique, so that the ordering is total. A page is the next ``size`` rows after (or
before) the row a cursor names, read with ``WHERE (occurred_at, id) < (%s, %s) ORDER BY ... LIMIT size+1``:
one row comparison that a B-tree index on ``(organization, occurred_at, id)`` answers by a seek, whatever
page it is. The extra row tells whether there is more; there is no ``COUNT(*)`` and no ``OFFSET``, so
the last page costs what the first one does. Pages have no numbers for the same reason.

The cursor, ``?after=`` (or ``?before=`` for the previous page), carries the ordering values of one
row, as JSON signed with the secret key and bound to the model and ordering: a forged, truncated or
stale cursor is ignored and the first page is shown, never an error. It holds no time of signing: the
link to the page after a row is the same on every response (a list's memo keeps it, and two responses of
the same page are the same page). Signed, not encrypted: anyone can
read the boundary row's values in it (a time and an internal id), nobody can change them. Every
other query parameter (the filters, another list's cursor on the same page) is carried over to the links.

Views call ``keyset_page`` and templates include ``_keyset_pagination.html``::

    page = keyset_page(events, ordering=("-occurred_at", "-id"), query=request.GET)
    {% include "_keyset_pagination.html" with page=page %}
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Func, Model, QuerySet, Value
from django.db.models.lookups import GreaterThan, LessThan
from django.http import QueryDict

DEFAULT_PAGE_SIZE = 50


class _Row(Func):
    """A SQL row value ``(a, b)``: ``(a, b) < (x, y)`` is one condition an index can seek to."""

    function = ""
    output_field = Field()


@dataclass(frozen=True)
class KeysetPage:
    """One page of a keyset list, and the query strings of the links around it (None: no such link)."""

    object_list: list
    next_query: str | None
    previous_query: str | None
    first_query: str | None

    @property
    def has_next(self) -> bool:
        return self.next_query is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_query is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def __iter__(self) -> Iterator:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def keyset_page(
    queryset: QuerySet,
    *,
    ordering: Sequence[str],
    query: QueryDict,
    size: int = DEFAULT_PAGE_SIZE,
    prefix: str = "",
    nulls_excluded: bool = False,
) -> KeysetPage:
    """The page that ``query``'s cursor asks for (the first page without a valid one).

    ``prefix`` names this list's parameters (``<prefix>after``, ``<prefix>before``) when a page shows
    more than one list. ``nulls_excluded``: the ordering may name a nullable column, because
    ``queryset``'s own filter leaves its NULLs out (a row comparison with a NULL matches nothing).
    """
    fields = _ordering_fields(queryset.model, ordering, nulls_excluded=nulls_excluded)
    descending = ordering[0].startswith("-")
    after_param, before_param = f"{prefix}after", f"{prefix}before"
    after = _cursor_values(queryset.model, ordering, fields, query.get(after_param))
    before = _cursor_values(queryset.model, ordering, fields, query.get(before_param))
    if after is not None and before is not None:
        after = before = None  # a hand-made URL: start again from the top

    backwards = before is not None
    cursor = before if backwards else after
    if cursor is not None:
        # Rows after the cursor in the list's order; rows before it when going back.
        comparison = GreaterThan if descending == backwards else LessThan
        columns = _Row(*(field.attname for field in fields))
        values = _Row(
            *(Value(value, output_field=field) for value, field in zip(cursor, fields, strict=True))
        )
        queryset = queryset.filter(comparison(columns, values))
    names = [field.attname for field in fields]  # a foreign key's own column, not its model's ordering
    if backwards:
        names = [name if descending else f"-{name}" for name in names]
    else:
        names = [f"-{name}" if descending else name for name in names]
    rows = list(queryset.order_by(*names)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def link(param: str = "", row: Model | None = None) -> str:
        """This page's query string with ``param`` set to ``row``'s cursor (no cursor: the first page)."""
        linked = query.copy()
        linked.pop(after_param, None)
        linked.pop(before_param, None)
        if row is not None:
            linked[param] = cursor_for(row, ordering=ordering, nulls_excluded=nulls_excluded)
        return linked.urlencode()

    # Going back, the cursor's own row follows this page; going forward, the extra row says so.
    has_next = bool(rows) and (backwards or more)
    # Going back and finding fewer rows than asked: this is the start of the list.
    at_start = cursor is None or (backwards and not more and bool(rows))
    return KeysetPage(
        object_list=rows,
        next_query=link(after_param, rows[-1]) if has_next else None,
        previous_query=link(before_param, rows[0]) if rows and not at_start else None,
        first_query=None if at_start else link(),
    )


def cursor_for(row: Model, *, ordering: Sequence[str], nulls_excluded: bool = False) -> str:
    """The cursor of the page that starts right after ``row`` in ``ordering`` (``nulls_excluded``: as
    for ``keyset_page``)."""
    fields = _ordering_fields(type(row), ordering, nulls_excluded=nulls_excluded)
    values = [_jsonable(getattr(row, field.attname)) for field in fields]
    return signing.Signer(salt=_salt(type(row), ordering)).sign_object(values)


def _cursor_values(
    model: type[Model], ordering: Sequence[str], fields: list[Field], token: str | None
) -> list[Any] | None:
    if not token:
        return None
    try:
        values = signing.Signer(salt=_salt(model, ordering)).unsign_object(token)
        if not isinstance(values, list) or len(values) != len(fields):
            return None
        return [field.to_python(value) for field, value in zip(fields, values, strict=True)]
    except (signing.BadSignature, ValidationError, TypeError, ValueError):
        return None


def _ordering_fields(
    model: type[Model], ordering: Sequence[str], *, nulls_excluded: bool = False
) -> list[Field]:
    if not ordering:
        raise ValueError("A keyset list needs an ordering")
    if len({name.startswith("-") for name in ordering}) != 1:
        raise ValueError(f"{ordering}: a row comparison needs every field in the same direction")
    try:
        fields = [model._meta.get_field(name.lstrip("-")) for name in ordering]
    except FieldDoesNotExist as error:
        raise ValueError(f"{ordering}: only the model's own columns can be keyset columns") from error
    if any(not field.concrete or (field.null and not nulls_excluded) for field in fields):
        raise ValueError(f"{ordering}: keyset columns must be concrete and NOT NULL")
    if not fields[-1].unique:
        raise ValueError(f"{ordering}: the last field must be unique, to break ties")
    return fields


def _salt(model: type[Model], ordering: Sequence[str]) -> str:
    # A cursor only opens the list it was made for.
    return f"portal.lists:{model._meta.label_lower}:{','.join(ordering)}"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()  # full microseconds: DjangoJSONEncoder would cut them to milliseconds
    return str(value)


def keyset_first_page(
    rows: list, *, ordering, query, size: int = DEFAULT_PAGE_SIZE, prefix: str = ""
) -> KeysetPage:
    """The first page of a keyset list from its first ``size + 1`` rows in ``ordering``, read by the caller
    (a prepared query, say): what ``keyset_page`` returns when ``query`` names no cursor (a test compares
    the two, tests/commerce/test_subscriptions_page_memo.py). ``prefix``: as for ``keyset_page``."""
    more = len(rows) > size
    rows = rows[:size]
    next_query = None
    if rows and more:
        after_param = f"{prefix}after"
        linked = query.copy()
        linked.pop(after_param, None)
        linked.pop(f"{prefix}before", None)
        linked[after_param] = cursor_for(rows[-1], ordering=ordering)
        next_query = linked.urlencode()
    return KeysetPage(object_list=rows, next_query=next_query, previous_query=None, first_query=None)

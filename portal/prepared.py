"""Querysets compiled once per process, run again with new parameters: for the few queries every page
runs (the member's membership, the organization switcher).

Building a queryset and compiling it to SQL costs Django about as much as PostgreSQL takes to answer
these small indexed queries (0.3 ms + 0.3 ms, then 0.3 ms for the query itself). ``PreparedQuery``
builds and compiles the queryset once per database alias with placeholder values, remembers where each
placeholder landed among the SQL's parameters, and then only executes: the same SQL, the same column
converters and the same way of making model instances as the queryset itself (Django's ``ModelIterable``
and ``ValuesIterable``), so the result is exactly what the queryset would have returned. A test compares
the two for every case of each query.

On PostgreSQL with ``DATABASE_PREPARED_STATEMENTS`` (the default, parameters bound on the server) the
statement is also prepared on the connection (psycopg's ``prepare=True``): PostgreSQL then plans it once
per connection instead of on every request, which was most of its time. The execution still goes through
Django's cursor: its execute wrappers and, in debug, its query log see it like any other query.

The queryset must be a function of the named parameters only (no ``now()`` or settings read at build
time), and each parameter must reach the SQL as parameters prepared by the model field named for it
(a parameter may appear more than once: each place gets the value).

A list of values (``Many(field)``: the ids of a page's rows, say) reaches the SQL as one array parameter
through ``portal.queries.InValues`` (``column = ANY(%s)``), so the SQL stays the same whatever the
number of values. On another database than PostgreSQL ``InValues`` is a plain ``IN`` with one
parameter per value, so a query with a ``Many`` is built and run anew each time there, like any queryset.

A generic plan knows no parameter's value: the Customers page's providers (``customers.partner_selectors``)
once read a big reseller's hundred thousand relationships to find a page's fifty customers (75 ms
instead of 0.2, bench/scale.py), until the reseller's own column became a condition no index serves
(``portal.queries.CheckedOnly``). ``planned_each_time=True`` remains for a query whose best plan truly
depends on its values: compiled once, but not prepared on the connection, so PostgreSQL plans it with
the values in hand each time. ``bench/scale.py`` measures every prepared list query at production size.
"""

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.utils import CursorDebugWrapper
from django.db.models import QuerySet
from django.db.models.query import get_related_populators


@dataclass(frozen=True)
class Many:
    """A parameter that is a list of values of ``field`` (given to ``portal.queries.InValues``)."""

    field: Any


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    positions: dict[str, tuple[int, ...]]  # parameter name -> its indexes in params
    converters: dict
    compiler: Any  # only for its converters and select metadata, never to execute
    values: tuple[str, ...] | None  # the names of a .values() queryset's columns, else None


class PreparedQuery:
    """``PreparedQuery(build, user_id=User.pk field, ...)``: ``build(**parameters)`` returns the queryset;
    each keyword names a parameter and the model field whose database preparation it goes through."""

    def __init__(self, build: Callable[..., QuerySet], *, planned_each_time: bool = False, **fields):
        self._build = build
        self._fields = fields
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()
        self._prepared_on_connection = not planned_each_time

    def _placeholder(self, name: str, field) -> Any:
        if isinstance(field, Many):
            return [self._placeholder(name, field.field)]
        internal = field.target_field.get_internal_type() if field.is_relation else field.get_internal_type()
        if internal == "UUIDField":
            return uuid.uuid5(uuid.NAMESPACE_URL, f"portal.prepared/{name}")
        if internal in {"AutoField", "BigAutoField", "IntegerField", "BigIntegerField"}:
            return -(10**12) - len(name) * 7919 - sum(map(ord, name))
        raise TypeError(f"PreparedQuery has no placeholder for a {internal} ({name})")

    def _compile(self, alias: str) -> _Compiled:
        connection = connections[alias]
        placeholders = {name: self._placeholder(name, field) for name, field in self._fields.items()}
        queryset = self._build(**placeholders)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        positions = {}
        for name, field in self._fields.items():
            prepared = _prepared(field, placeholders[name], connection)
            found = tuple(index for index, value in enumerate(params) if value == prepared)
            if not found:
                raise ValueError(f"PreparedQuery: parameter {name} is not in the SQL")
            positions[name] = found
        select = [column for column, _sql, _alias in compiler.select]
        values = None
        if queryset._fields is not None:  # .values() or .values_list(): the columns by name, in the
            # order they are selected (Django's ``ValuesIterable``: the order the queryset named them)
            query = queryset.query
            values = tuple(
                query.selected or (*query.extra_select, *query.values_select, *query.annotation_select)
            )
        return _Compiled(
            sql=sql,
            params=tuple(params),
            positions=positions,
            converters=compiler.get_converters(select),
            compiler=compiler,
            values=values,
        )

    def compiled(self, alias: str = "default") -> _Compiled:
        compiled = self._compiled.get(alias)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(alias) or self._compile(alias)
                self._compiled[alias] = compiled
        return compiled

    def _rows(self, alias: str, parameters: dict) -> tuple[_Compiled, list]:
        compiled = self.compiled(alias)
        connection = connections[alias]
        params = list(compiled.params)
        for name, found in compiled.positions.items():
            value = _prepared(self._fields[name], parameters[name], connection)
            for position in found:
                params[position] = value
        with connection.cursor() as cursor:
            if self._prepared_on_connection and _prepares(connection, cursor):
                _execute_prepared(cursor, compiled.sql, params)
            else:
                cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        return compiled, rows

    def _built_anew(self, alias: str) -> bool:
        """Whether this query is built and run as a plain queryset on ``alias``: a list parameter where
        ``InValues`` is a plain ``IN`` (not PostgreSQL)."""
        return connections[alias].vendor != "postgresql" and any(
            isinstance(field, Many) for field in self._fields.values()
        )

    def objects(self, alias: str = "default", **parameters) -> list:
        """The model instances, as the queryset's ``ModelIterable`` makes them (select_related and
        annotations included)."""
        if self._built_anew(alias):
            return list(self._build(**parameters).using(alias))
        compiled, rows = self._rows(alias, parameters)
        compiler = compiled.compiler
        klass_info, select = compiler.klass_info, compiler.select
        model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        related_populators = get_related_populators(klass_info, select, alias)
        annotations = compiler.annotation_col_map.items()
        result = []
        for row in rows:
            instance = model.from_db(alias, init_list, row[start:end])
            for populator in related_populators:
                populator.populate(row, instance)
            for name, position in annotations:
                setattr(instance, name, row[position])
            result.append(instance)
        return result

    def values(self, alias: str = "default", **parameters) -> list[dict]:
        """The rows of a ``.values(...)`` queryset, as dictionaries."""
        if self._built_anew(alias):
            return list(self._build(**parameters).using(alias))
        compiled, rows = self._rows(alias, parameters)
        return [dict(zip(compiled.values, row, strict=True)) for row in rows]

    def tuples(self, alias: str = "default", **parameters) -> list[tuple]:
        """The rows of a ``.values_list(...)`` queryset, as its tuples (its columns in the order it
        names them)."""
        if self._built_anew(alias):
            return list(self._build(**parameters).using(alias))
        _compiled, rows = self._rows(alias, parameters)
        return [tuple(row) for row in rows]


def _prepared(field, value, connection):
    """A parameter's value as the SQL gets it: a ``Many``'s as one list."""
    if isinstance(field, Many):
        return [field.field.get_db_prep_value(item, connection, prepared=False) for item in value]
    return field.get_db_prep_value(value, connection, prepared=False)


def _prepares(connection, cursor) -> bool:
    """Whether this connection prepares: PostgreSQL, the setting on, parameters bound on the server (a
    client-side cursor inlines them, so there is nothing to prepare)."""
    if connection.vendor != "postgresql" or not getattr(settings, "DATABASE_PREPARED_STATEMENTS", False):
        return False
    return connection.settings_dict["OPTIONS"].get("server_side_binding") is True


def _execute_prepared(cursor, sql: str, params: list) -> None:
    """``cursor.execute(sql, params)`` with psycopg's ``prepare=True``, through Django's execute wrappers
    and (in debug) its query log, as ``CursorWrapper.execute`` and ``CursorDebugWrapper.execute`` do."""

    def executor(sql, params, many, context):
        cursor.db.validate_no_broken_transaction()
        with cursor.db.wrap_database_errors:
            return cursor.cursor.execute(sql, params, prepare=True)

    if isinstance(cursor, CursorDebugWrapper):
        with cursor.debug_sql(sql, params, use_last_executed_query=True):
            cursor._execute_with_wrappers(sql, params, many=False, executor=executor)
    else:
        cursor._execute_with_wrappers(sql, params, many=False, executor=executor)

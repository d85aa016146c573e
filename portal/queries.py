"""Query expressions that the ORM has no word for, shared by the apps' selectors and review pages."""

from __future__ import annotations

from django.db.models import BooleanField, Expression, F, QuerySet, Subquery


class InSubquery(Expression):
    """``column IN (subquery)``, given to PostgreSQL as ``column = ANY(ARRAY(subquery))``: the subquery
    runs once, first (an InitPlan), and the outer query sees its rows as one array parameter. Two things
    follow that an ``IN`` (a semi-join) or an ``EXISTS`` does not give:

    - the planner cannot turn it into a join driven by the subquery's rows, so a small and very selective
      list beside it (``customer_id IN (50 ids)``) keeps leading the plan, whatever the planner believes
      about the correlation of the other columns (``customers.partner_selectors.providers_by_customer``);
    - it is an index condition of the outer table, so an OR of it with the table's own indexed columns
      is one BitmapOr (``enrollment.admin.queue.queue_search``).

    Other databases get the plain ``IN``. Use it in ``filter()`` (alone or in a ``Q``):
    ``InSubquery("partner_id", Partnership.objects.filter(...).values("provider_id"))``.
    """

    conditional = True

    def __init__(self, column: str, queryset: QuerySet):
        super().__init__(output_field=BooleanField())
        self.column = F(column)
        self.subquery = Subquery(queryset)

    def get_source_expressions(self):
        return [self.column, self.subquery]

    def set_source_expressions(self, expressions):
        self.column, self.subquery = expressions

    def _compiled(self, compiler) -> tuple[str, str, tuple]:
        column_sql, column_params = compiler.compile(self.column)
        subquery_sql, subquery_params = compiler.compile(self.subquery)
        return column_sql, subquery_sql, (*column_params, *subquery_params)

    def as_sql(self, compiler, connection):
        column_sql, subquery_sql, params = self._compiled(compiler)
        return f"{column_sql} IN {subquery_sql}", params

    def as_postgresql(self, compiler, connection):
        column_sql, subquery_sql, params = self._compiled(compiler)
        return f"{column_sql} = ANY(ARRAY{subquery_sql})", params


class InValues(Expression):
    """``column IN (values)``, given to PostgreSQL as ``column = ANY(%s)`` with the values as one array
    parameter: the SQL is the same whatever the number of values, so a query compiled and prepared once
    (``portal.prepared.Many``) serves every page. Other databases get the plain ``IN`` (one parameter a
    value; nothing at all when there are none). Use it in ``filter()``:
    ``InValues("customer_id", [1, 2, 3])``."""

    conditional = True

    def __init__(self, column: str, values):
        super().__init__(output_field=BooleanField())
        self.column = F(column)
        self.values = list(values)

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, expressions):
        (self.column,) = expressions

    def _column(self, compiler, connection):
        column_sql, column_params = compiler.compile(self.column)
        field = self.column.output_field
        values = [field.get_db_prep_value(value, connection, prepared=False) for value in self.values]
        return column_sql, list(column_params), field, values

    def as_sql(self, compiler, connection):
        column_sql, params, _field, values = self._column(compiler, connection)
        if not values:
            return "1 = 0", params  # IN () is not SQL
        return f"{column_sql} IN ({', '.join(['%s'] * len(values))})", [*params, *values]

    def as_postgresql(self, compiler, connection):
        column_sql, params, field, values = self._column(compiler, connection)
        # the array's type from the column's: the same statement whatever sizes of numbers the values are
        return f"{column_sql} = ANY(%s::{field.db_type(connection)}[])", [*params, values]


class CheckedOnly(Expression):
    """``column = value``, given to PostgreSQL as ``(column = %s) IS TRUE``: the same rows (the column is
    NOT NULL), estimated alike, but no index can serve it, so it is checked on the rows the query's other
    conditions found and never leads the plan. For a condition that is selective on average and not for
    the tenant at hand: a big reseller's own column beside a page's 50 customer ids. A plan prepared once
    (``portal.prepared``) knows no parameter's value, and with ``reseller_id = $1`` it read a reseller's
    100,000 relationships to find the page's 50 (``customers.partner_selectors._provider_rows``). Other
    databases get the plain ``column = %s``. Use it in ``filter()``: ``CheckedOnly("reseller_id", 7)``."""

    conditional = True

    def __init__(self, column: str, value):
        super().__init__(output_field=BooleanField())
        self.column = F(column)
        self.value = value

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, expressions):
        (self.column,) = expressions

    def as_sql(self, compiler, connection):
        column_sql, params = compiler.compile(self.column)
        value = self.column.output_field.get_db_prep_value(self.value, connection, prepared=False)
        return f"{column_sql} = %s", [*params, value]

    def as_postgresql(self, compiler, connection):
        sql, params = self.as_sql(compiler, connection)
        return f"({sql}) IS TRUE", params

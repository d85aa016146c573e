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

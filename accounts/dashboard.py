"""The figures of the dashboard's cards (members, pending invitations, the latest event, the delegated
admin access that ends next...), read in one query.

Read card by card, each figure cost a query, and building and compiling those querysets cost Django more
than PostgreSQL took to answer them: most of the time of the page every member opens first. Instead each
card's context function asks the view's ``DashboardFigures`` for what it shows and gets back a lazy
value; the view then reads every figure the shown cards asked for in one SELECT. A figure is a scalar
subquery of the organization, ``OuterRef("organization")``, and "now" in it is ``Now()`` (the
statement's time). The SELECT reads them on the member's own membership row, named by its id and its
organization's: a read of a tenant table scoped like any other (tests/platform/test_isolation_meta.py).
Its SQL is compiled once per process for each set of figures (``portal.prepared.PreparedQuery``); nothing
else is kept between requests: the figures are those of the moment of the request.

A figure of several columns (an event's time and action) is one subquery returning a JSON object, not
one subquery per column: PostgreSQL plans the statement anew on every request, and planning the same
subquery three times cost more than running it; ``json_datetime`` reads a time back from it.
"""

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db.models import Expression, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import SimpleLazyObject

from accounts.models import Membership
from portal.prepared import PreparedQuery

#: A figure: a function without arguments that returns an expression of ``OuterRef("organization")``.
Figure = Callable[[], Expression]


class DashboardFigures:
    """The figures one member's dashboard shows, asked for by its cards and read together."""

    def __init__(self, membership: Membership):
        self._membership_id = membership.pk
        self._organization_id = membership.organization_id
        self._asked: dict[str, Figure] = {}
        self._values: list[SimpleLazyObject] = []
        self._row: dict[str, Any] | None = None

    def ask(self, shape: Callable[..., Any], **figures: Figure) -> Any:
        """What ``shape(**figures' values)`` returns, worked out once the row is read (a lazy object
        that a template reads like the value itself: ``{% if card.x %}``, ``{{ card.x.y }}``)."""
        if self._row is not None:
            raise RuntimeError("A figure was asked for after the dashboard's figures were read")
        for name, figure in figures.items():
            if self._asked.setdefault(name, figure) is not figure:
                raise ValueError(f"Two different dashboard figures are named {name!r}")
        names = tuple(figures)
        value = SimpleLazyObject(lambda: shape(**{name: self.row[name] for name in names}))
        self._values.append(value)
        return value

    @property
    def row(self) -> dict[str, Any]:
        """Every figure asked for, by name: one query (none when no card asked for any)."""
        if self._row is None:
            figures = tuple(sorted(self._asked.items(), key=lambda item: item[0]))
            if not figures:
                self._row = {}
            else:
                rows = _query(figures).values(
                    membership_id=self._membership_id, organization_id=self._organization_id
                )
                if not rows:  # the membership ended since the page resolved it
                    raise Http404
                self._row = rows[0]
        return self._row

    def read(self) -> None:
        """Read the row and work out every value now, before the page renders: a mistake in a card's
        shape then fails the request instead of being taken by the template for a missing value."""
        for value in self._values:
            bool(value)  # any use of a lazy object works it out


def dashboard_figures(view) -> DashboardFigures:
    """The figures of this view's dashboard (one set per view, that is per request)."""
    figures = view.__dict__.get("_dashboard_figures")
    if figures is None:
        figures = view.__dict__["_dashboard_figures"] = DashboardFigures(view.membership)
    return figures


def json_datetime(value: str) -> datetime:
    """A time from a figure's JSON object (ISO 8601 text; SQLite's has no offset: it is UTC)."""
    moment = parse_datetime(value)
    return timezone.make_aware(moment, UTC) if timezone.is_naive(moment) else moment


@functools.cache
def _query(figures: tuple[tuple[str, Figure], ...]) -> PreparedQuery:
    """The prepared query of one set of figures; a handful of sets exist (the cards a kind of organization
    and a member's permissions show), each compiled on its first use."""

    def build(membership_id, organization_id) -> QuerySet:
        return (
            Membership.objects.filter(pk=membership_id, organization_id=organization_id)
            .order_by()
            .values(**{name: figure() for name, figure in figures})
        )

    return PreparedQuery(
        build, membership_id=Membership._meta.pk, organization_id=Membership._meta.get_field("organization")
    )

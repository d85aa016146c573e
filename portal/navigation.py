"""The one registry of organization pages that menus, links and dashboard cards come from.

Each app registers its pages in its ``AppConfig.ready()``::

    page_register(OrganizationPageEntry("customers", "customers:list", nav_label=_("Customers"), ...))

A page is offered (in the side navigation, as ``{{ links.<key> }}`` in templates, as a dashboard card)
exactly when the access policy lets this member of this kind of organization open it, so a menu never
shows a page that would answer 403 or 404.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portal.access_policy import organization_may_open
from portal.links import organization_url


@dataclass(frozen=True)
class DashboardCard:
    """A card on the organization dashboard: its template (a partial) and, optionally, a function of
    the dashboard view that returns what the template shows (counted only when the card is shown)."""

    template: str
    order: int
    #: printed through a ``{% memo %}`` (organization_dashboard.html): the card's template sees ``card``
    #: (its context, plain values) and ``links`` only; a form's CSRF token goes in a ``{% hole %}``.
    context: Callable[[Any], dict] | None = None


@dataclass(frozen=True)
class OrganizationPageEntry:
    key: str
    route: str
    nav_label: Any = None
    nav_order: int = 0
    #: the item is active on its own URL only (the dashboard), not on every URL below it
    nav_exact: bool = False
    #: other paths, below the organization's own (``"partnerships/"``), whose pages belong to this item
    nav_also: tuple[str, ...] = ()
    cards: tuple[DashboardCard, ...] = ()


_PAGES: dict[str, OrganizationPageEntry] = {}


def page_register(*entries: OrganizationPageEntry) -> None:
    for entry in entries:
        if entry.key in _PAGES and _PAGES[entry.key] != entry:
            raise ValueError(f"Organization page {entry.key!r} is registered twice")
        _PAGES[entry.key] = entry


def registered_pages() -> list[OrganizationPageEntry]:
    return list(_PAGES.values())


def _url(entry: OrganizationPageEntry, organization) -> str | None:
    return organization_url(entry.route, organization.public_id)


def pages_open_to(membership) -> list[tuple[OrganizationPageEntry, str]]:
    """The registered pages this member may open, with their URLs (worked out once per membership
    object, that is once per request: the links, the side navigation and the dashboard cards ask)."""
    found = membership.__dict__.get("_pages_open_to")
    if found is None:
        found = membership.__dict__["_pages_open_to"] = _pages_open_to(membership)
    return found


def _pages_open_to(membership) -> list[tuple[OrganizationPageEntry, str]]:
    organization = membership.organization
    permissions = membership.permissions
    found = []
    for entry in _PAGES.values():
        if organization_may_open(entry.route, kind=organization.kind, permissions=permissions):
            url = _url(entry, organization)
            if url is not None:
                found.append((entry, url))
    return found


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def _active(entry: OrganizationPageEntry, url: str, path: str) -> bool:
    if path == url or (not entry.nav_exact and path.startswith(url)):
        return True
    root = "/".join(url.split("/")[:3]) + "/"  # /o/<organization public id>/
    return any(path.startswith(root + also) for also in entry.nav_also)


def navigation_items(membership, path: str) -> list[NavItem]:
    items = [
        (entry.nav_order, NavItem(str(entry.nav_label), url, _active(entry, url, path)))
        for entry, url in pages_open_to(membership)
        if entry.nav_label is not None
    ]
    return [item for _order, item in sorted(items, key=lambda pair: pair[0])]


def dashboard_cards(view) -> list[dict]:
    """The cards of the dashboard for the view's member: ``{"template", "url", **context}``, in order."""
    cards = []
    for entry, url in pages_open_to(view.membership):
        for card in entry.cards:
            data = card.context(view) if card.context else {}
            cards.append((card.order, {"template": card.template, "url": url, **data}))
    return [card for _order, card in sorted(cards, key=lambda pair: pair[0])]

"""The page shell's navigation and links, from the registry of organization pages (portal.navigation),
for the organization the page resolved."""

from dataclasses import dataclass

from django.utils.functional import SimpleLazyObject

from accounts.selectors import membership_switcher, organizations_switcher
from portal.links import organization_url
from portal.navigation import navigation_items, pages_open_to


def navigation(request):
    """Navigation, links and organization switcher; the organization is the one the page resolved.

    ``{{ links.users }}`` is the URL of User management when the member may open it, else missing (so
    ``{% if links.users %}``): the permission and kind come from the access policy, exactly as the page
    itself checks them, so a link is never offered to someone who would get a 403 or 404."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Read only when a template shows it (not on redirects, CSV exports or error pages without a shell).
    membership = getattr(request, "membership", None)
    context = {"switcher": SimpleLazyObject(lambda: _switcher(user, membership))}
    if membership is None:
        return context
    context["links"] = {entry.key: url for entry, url in pages_open_to(membership)}
    context["nav_items"] = navigation_items(membership, request.path)
    context["active_organization"] = membership.organization
    return context


@dataclass(frozen=True)
class _Switcher:
    """The switcher's organizations (dictionaries of plain values) and whether there are more: frozen,
    so the top bar's memo (templates/_topbar.html) keys it by what it holds."""

    organizations: tuple[dict, ...]
    more: bool


def _switcher(user, membership) -> _Switcher:
    # an organization page's membership query brought the switcher's rows along (PostgreSQL)
    shown = membership_switcher(membership) if membership is not None else None
    organizations, more = shown if shown is not None else organizations_switcher(user=user)
    for organization in organizations:
        organization["url"] = organization_url("accounts:organization_dashboard", organization["public_id"])
    return _Switcher(tuple(organizations), more)

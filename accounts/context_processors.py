"""The Dashboard navigation of the page shell, shaped by the active organization's kind, and the links to
organization pages that the member may open."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.selectors import memberships_for_user
from portal.access_policy import policy_for

#: Organization pages a template may link to, by the name the template uses: ``{{ links.users }}`` is
#: the URL of User management when the member may open it, else missing (so ``{% if links.users %}``).
LINKABLE_ROUTES = {
    "dashboard": "accounts:organization_dashboard",
    "settings": "accounts:settings",
    "users": "accounts:users",
    "user_invite": "accounts:user_invite",
    "activity": "accounts:activity",
    "activity_export": "accounts:activity_export",
    "leave": "accounts:organization_leave",
    "customers": "customers:list",
    "providers": "providers:providers",
    "resellers": "providers:resellers",
}

#: Routes that exist only for one kind of organization.
ROUTE_KINDS = {"providers:providers": "reseller", "providers:resellers": "provider"}


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def link_for(request, url_name: str) -> str | None:
    """The URL of an organization page if the member may open it, else None.

    The permission comes from the access policy table, exactly as the page itself checks it, so a link is
    never offered to someone who would get a 403."""
    membership = getattr(request, "membership", None)
    organization = getattr(request, "organization", None)
    if membership is None or organization is None or not membership.can(policy_for(url_name)):
        return None
    if ROUTE_KINDS.get(url_name, organization.kind) != organization.kind:
        return None
    try:
        return reverse(url_name, kwargs={"organization_public_id": organization.public_id})
    except NoReverseMatch:
        return None


def organization_links(request) -> dict[str, str]:
    links = {}
    for name, url_name in LINKABLE_ROUTES.items():
        url = link_for(request, url_name)
        if url is not None:
            links[name] = url
    return links


def _item(request, links, label, name: str, *, exact: bool = False) -> NavItem | None:
    url = links.get(name)
    if url is None:
        return None
    active = request.path == url or (not exact and request.path.startswith(url))
    return NavItem(label=str(label), url=url, active=active)


def navigation(request):
    """Navigation and organization switcher; the organization is the one the page resolved."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = {"user_memberships": lambda: list(memberships_for_user(user=user))}
    organization = getattr(request, "organization", None)
    if organization is None:
        return context
    links = organization_links(request)
    entries = [
        _item(request, links, _("Dashboard"), "dashboard", exact=True),
        _item(request, links, _("Customers"), "customers"),
        _item(request, links, _("Indirect resellers"), "resellers"),
        _item(request, links, _("Indirect providers"), "providers"),
        _item(request, links, _("Account settings"), "settings"),
        _item(request, links, _("Activity log"), "activity"),
    ]
    context["nav_items"] = [entry for entry in entries if entry is not None]
    context["active_organization"] = organization
    context["links"] = links
    return context

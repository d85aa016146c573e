"""The page shell's navigation and links, from the registry of organization pages (portal.navigation),
for the organization the page resolved."""

from django.utils.functional import SimpleLazyObject

from accounts.selectors import organizations_switcher
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
    context = {"switcher": SimpleLazyObject(lambda: _Switcher(*organizations_switcher(user=user)))}
    membership = getattr(request, "membership", None)
    if membership is None:
        return context
    context["links"] = {entry.key: url for entry, url in pages_open_to(membership)}
    context["nav_items"] = navigation_items(membership, request.path)
    context["active_organization"] = membership.organization
    return context


class _Switcher:
    def __init__(self, organizations: list[dict], more: bool):
        for organization in organizations:
            public_id = organization["public_id"]
            organization["url"] = organization_url("accounts:organization_dashboard", public_id)
        self.organizations = organizations
        self.more = more

"""The Dashboard navigation of the page shell, shaped by the active organization's kind."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.selectors import memberships_for_user
from portal.access_policy import policy_for


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def _item(request, label, url_name: str, kwargs, *, exact: bool = False) -> NavItem | None:
    """A link to a page the member may open; None when they may not, or the page does not exist yet."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.can(policy_for(url_name)):
        return None
    try:
        url = reverse(url_name, kwargs=kwargs)
    except NoReverseMatch:
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
    kwargs = {"organization_id": organization.public_id}
    entries = [
        _item(request, _("Dashboard"), "accounts:organization_dashboard", kwargs, exact=True),
        _item(request, _("Customers"), "customers:list", kwargs),
    ]
    if organization.kind == "provider":
        entries.append(_item(request, _("Indirect resellers"), "providers:resellers", kwargs))
    elif organization.kind == "reseller":
        entries.append(_item(request, _("Indirect providers"), "providers:providers", kwargs))
    entries.append(_item(request, _("Account settings"), "accounts:settings", kwargs))
    entries.append(_item(request, _("Activity log"), "accounts:activity", kwargs))
    context["nav_items"] = [entry for entry in entries if entry is not None]
    context["active_organization"] = organization
    return context

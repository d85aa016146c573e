"""The Dashboard navigation of the page shell, shaped by the active organization's kind."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


def _item(request, label, url_name: str, *, prefix: str | None = None) -> NavItem | None:
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return None
    path = request.path
    active = path == url or (prefix is not None and path.startswith(prefix))
    return NavItem(label=str(label), url=url, active=active)


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    entries = [_item(request, _("Dashboard"), "dashboard")]
    organization = getattr(request, "organization", None)
    if organization is not None:
        entries.append(_item(request, _("Customers"), "customers:list", prefix="/customers/"))
        if organization.kind == "provider":
            entries.append(
                _item(request, _("Indirect resellers"), "providers:resellers", prefix="/resellers/")
            )
        elif organization.kind == "reseller":
            entries.append(
                _item(request, _("Indirect providers"), "providers:providers", prefix="/providers/")
            )
        entries.append(_item(request, _("Account settings"), "accounts:settings", prefix="/settings/"))
        entries.append(_item(request, _("Activity log"), "audit:activity", prefix="/activity/"))
    else:
        entries.append(_item(request, _("Account settings"), "profile", prefix="/settings/"))
    return {"nav_items": [entry for entry in entries if entry is not None]}

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from portal.links import organization_url


def _urls(view, *routes: str) -> dict[str, str]:
    """The card's links, ``{route name: URL}`` (portal.links: each route reversed once per process)."""
    return {route: organization_url(f"providers:{route}", view.organization.public_id) for route in routes}


def _resellers_card(view) -> dict:
    from accounts.roles import Permission

    return {
        "urls": _urls(view, "invite", "invitations", "requests"),
        "can_invite": view.membership.can(Permission.PARTNERS_MANAGE),
    }


def _providers_card(view) -> dict:
    return {"urls": _urls(view, "directory")}


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = _("Providers")

    def ready(self):
        from accounts.signals import organization_renamed
        from portal.audit.catalogue import register
        from portal.navigation import DashboardCard, OrganizationPageEntry, page_register
        from providers.audit_actions import PROVIDER_ACTION_LABELS
        from providers.services.listings import listing_rename

        register(PROVIDER_ACTION_LABELS)
        organization_renamed.connect(listing_rename, dispatch_uid="providers.listing_rename")

        page_register(
            OrganizationPageEntry(
                "resellers",
                "providers:resellers",
                nav_label=_("Indirect resellers"),
                nav_order=20,
                nav_also=("partnerships/", "listing/"),
                cards=(DashboardCard("providers/_resellers_card.html", order=30, context=_resellers_card),),
            ),
            OrganizationPageEntry(
                "providers",
                "providers:providers",
                nav_label=_("Indirect providers"),
                nav_order=30,
                nav_also=("partnerships/",),
                cards=(DashboardCard("providers/_providers_card.html", order=40, context=_providers_card),),
            ),
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = _("Providers")

    def ready(self):
        from portal.navigation import DashboardCard, OrganizationPageEntry, page_register

        page_register(
            OrganizationPageEntry(
                "resellers",
                "providers:resellers",
                nav_label=_("Indirect resellers"),
                nav_order=20,
                cards=(DashboardCard("providers/_resellers_card.html", order=30),),
            ),
            OrganizationPageEntry(
                "providers",
                "providers:providers",
                nav_label=_("Indirect providers"),
                nav_order=30,
                cards=(DashboardCard("providers/_providers_card.html", order=40),),
            ),
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self):
        from portal.navigation import DashboardCard, OrganizationPageEntry, page_register

        page_register(
            OrganizationPageEntry(
                "customers",
                "customers:list",
                nav_label=_("Customers"),
                nav_order=10,
                cards=(DashboardCard("customers/_card.html", order=20),),
            )
        )

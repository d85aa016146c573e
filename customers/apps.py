from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self):
        from accounts.signals import organization_renamed
        from customers.audit_actions import (
            CUSTOMER_ACTION_LABELS,
            delegated_admin_target_label,
            relationship_target_label,
        )
        from customers.services.relationships import provider_relationships_end_for_partnership
        from customers.signals import customer_rename
        from customers.views.customer_side import partners_card
        from customers.views.partner_side import dashboard_card
        from portal.audit.catalogue import register, register_target_labels
        from portal.navigation import DashboardCard, OrganizationPageEntry, page_register
        from providers.signals import partnership_ended

        page_register(
            OrganizationPageEntry(
                "customers",
                "customers:list",
                nav_label=_("Customers"),
                nav_order=10,
                cards=(DashboardCard("customers/_card.html", order=20, context=dashboard_card),),
            )
        )
        page_register(
            # a customer's Partner relationships (Account settings): no menu item of its own, a card
            OrganizationPageEntry(
                "partners",
                "customers:partners",
                cards=(DashboardCard("customers/_partners_card.html", order=25, context=partners_card),),
            )
        )
        register(CUSTOMER_ACTION_LABELS)
        register_target_labels(
            {
                "customers.customerrelationship": relationship_target_label,
                "customers.delegatedadminrelationship": delegated_admin_target_label,
            }
        )
        organization_renamed.connect(customer_rename, dispatch_uid="customers.customer_rename")
        partnership_ended.connect(
            provider_relationships_end_for_partnership, dispatch_uid="customers.provider_relationships_end"
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = _("Subscriptions and orders")

    def ready(self):
        from commerce.audit_actions import COMMERCE_ACTION_LABELS, order_target_label
        from portal.audit.catalogue import register, register_target_labels
        from portal.navigation import OrganizationPageEntry, page_register

        page_register(
            # a partner: orders and order requests
            OrganizationPageEntry("orders", "commerce:orders", nav_label=_("Orders"), nav_order=12),
            # a customer: its subscriptions, the users of its tenant, their licences
            OrganizationPageEntry(
                "subscriptions", "commerce:subscriptions", nav_label=_("Subscriptions"), nav_order=11
            ),
            OrganizationPageEntry(
                "tenant_users", "commerce:users", nav_label=_("Tenant users"), nav_order=13
            ),
            OrganizationPageEntry("licences", "commerce:licences", nav_label=_("Licences"), nav_order=14),
        )
        register(COMMERCE_ACTION_LABELS)
        register_target_labels({"commerce.order": order_target_label})

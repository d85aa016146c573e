"""The audit actions the commerce app writes, each with the label the activity log shows. Steps that
concern several organizations (the customer, its reseller, the provider) are written once for each; a
partner acting in the customer's organization is named in the row (``acting_partner``)."""

from django.utils.translation import gettext_lazy as _

COMMERCE_ACTION_LABELS = {
    "order.drafted": _("Order request drafted"),
    "order.requested": _("Order request sent to the provider"),
    "order.withdrawn": _("Order request withdrawn"),
    "order.declined": _("Order request declined"),
    "order.submitted": _("Order submitted"),
    "order.provisioned": _("Order provisioned"),
    "order.failed": _("Order failed to provision"),
    "subscription.created": _("Subscription created"),
    "subscription.seats_changed": _("Subscription seats changed"),
    "subscription.cancelled": _("Subscription cancelled"),
    "subscription.auto_renew_changed": _("Subscription auto-renew changed"),
    "subscription.renewal_reminded": _("Subscription renewal reminder sent"),
    "subscription.renewed": _("Subscription renewed"),
    "subscription.expired": _("Subscription ended at term"),
    "subscription.suspended": _("Subscription suspended"),
    "subscription.reactivated": _("Subscription reactivated"),
    "licence.assigned": _("Licence assigned"),
    "licence.removed": _("Licence removed"),
    "offer.created": _("Offer created"),
    "offer.changed": _("Offer changed"),
}

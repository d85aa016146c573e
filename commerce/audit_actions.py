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


def order_target_label(label: str) -> str:
    """An order's stored target label (``Order.__str__``: "<kind>: <offer>", the kind in the words of the
    language it was written in) with its kind in the active language."""
    from commerce.models import OrderKind
    from portal.audit.catalogue import labels_in_every_language

    kind_label, separator, offer = label.partition(": ")
    kind = labels_in_every_language(OrderKind).get(kind_label) if separator else None
    return label if kind is None else f"{kind.label}: {offer}"

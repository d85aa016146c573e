"""The audit actions the customers app writes, each with the label the activity log shows.

Relationship and delegated admin steps are written once for each organization involved (the customer, the
reseller, the provider), so each organization's Activity log shows its own."""

from django.utils.translation import gettext_lazy as _

from portal.invitations.audit import link_invitation_action_labels

CUSTOMER_ACTION_LABELS = {
    **link_invitation_action_labels(
        "customer_invitation",
        sent=_("Customer invitation created"),
        accepted=_("Customer invitation accepted"),
        declined=_("Customer invitation declined"),
        revoked=_("Customer invitation revoked"),
        superseded=_("Customer invitation replaced by a new one"),
        expired=_("Customer invitation expired"),
    ),
    "customer_invitation.emailed": _("Customer invitation emailed by the portal"),
    "customer_invitation.reminded": _("Customer invitation reminder sent"),
    "customer_relationship.created": _("Customer relationship started"),
    "customer_relationship.ended": _("Customer relationship ended"),
    "delegated_admin.requested": _("Delegated admin roles requested"),
    "delegated_admin.activated": _("Delegated admin roles granted"),
    "delegated_admin.approved": _("Delegated admin roles approved"),
    "delegated_admin.terminated": _("Delegated admin access ended"),
    "delegated_admin.expiring": _("Delegated admin access ends soon"),
    "delegated_admin.reminded": _("Delegated admin end reminder sent"),
    "delegated_admin.extended": _("Delegated admin access extended automatically"),
    "delegated_admin.expired": _("Delegated admin access expired"),
}


def relationship_target_label(label: str) -> str:
    """A customer relationship's stored target label (``CustomerRelationship.__str__``: "<partner> →
    <customer> (<role code>)") with its role named in the active language."""
    from customers.models import PartnerRole

    for role in PartnerRole:
        code = f" ({role.value})"
        if label.endswith(code):
            return f"{label[: -len(code)]} ({role.label})"
    return label


def delegated_admin_target_label(label: str) -> str:
    """A delegated admin relationship's stored target label: "<partner> → <customer>" (no word in it), or
    as rows written before said it, "<partner> in <customer>", shown with the arrow when "in" can only be
    the one between the names."""
    partner, separator, customer = label.partition(" in ")
    if separator and " in " not in customer:
        return f"{partner} → {customer}"
    return label

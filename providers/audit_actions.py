"""The audit actions the providers app writes, each with the label the activity log shows.

Partnership steps are written once for each side, so each organization's Activity log shows its own."""

from django.utils.translation import gettext_lazy as _

from portal.invitations.audit import link_invitation_action_labels

PROVIDER_ACTION_LABELS = {
    "provider.authorized": _("Provider authorised in the program"),
    "provider.countries_changed": _("Countries served changed"),
    "provider_listing.updated": _("Provider listing updated"),
    "provider_listing.shown": _("Provider listing shown in the directory"),
    "provider_listing.hidden": _("Provider listing hidden from the directory"),
    "partnership_request.created": _("Partnership requested"),
    "partnership_request.invited": _("Partnership request answered with an invitation"),
    "partnership_request.declined": _("Partnership request declined"),
    "partnership_request.withdrawn": _("Partnership request withdrawn"),
    **link_invitation_action_labels(
        "partnership_invitation",
        sent=_("Partnership invitation created"),
        accepted=_("Partnership invitation accepted"),
        declined=_("Partnership invitation declined"),
        revoked=_("Partnership invitation revoked"),
        superseded=_("Partnership invitation replaced by a new one"),
        expired=_("Partnership invitation expired"),
    ),
    "partnership_invitation.emailed": _("Partnership invitation emailed by the portal"),
    "partnership_invitation.reminded": _("Partnership invitation reminder sent"),
    "partnership_invitation.bulk_uploaded": _("Partnership invitations uploaded from a file"),
    "partnership_invitation.bulk_finished": _("Partnership invitations from a file sent"),
    "partnership.created": _("Indirect provider authorised"),
    "partnership.ended": _("Partnership ended"),
}

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "user.profile_updated": _("Profile updated"),
    "organization.created": _("Organization created"),
    "membership.created": _("Member added"),
    "membership.updated": _("Member rejoined"),
    "membership.roles_changed": _("Roles changed"),
    "membership.deactivated": _("Member deactivated"),
    "membership.reactivated": _("Member reactivated"),
    "membership.removed": _("Member removed"),
    "membership.left": _("Member left"),
    "membership_invitation.sent": _("Invitation sent"),
    "membership_invitation.superseded": _("Invitation replaced by a new one"),
    "membership_invitation.revoked": _("Invitation revoked"),
    "membership_invitation.accepted": _("Invitation accepted"),
    "membership_invitation.declined": _("Invitation declined"),
    "membership_invitation.expired": _("Invitation expired"),
}

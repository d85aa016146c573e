"""The audit actions accounts writes, each with the label the activity log and the review site show.

Registered in AccountsConfig.ready; ``audit_record`` refuses an action nobody declared.
"""

from django.utils.translation import gettext_lazy as _

from portal.invitations.audit import link_invitation_action_labels

ACTION_LABELS = {
    "user.profile_updated": _("Profile updated"),
    "organization.created": _("Organization created"),
    "membership.created": _("Member added"),
    # Written before invitations stopped reviving memberships; kept so that old rows keep their label.
    "membership.updated": _("Member rejoined"),
    "membership.roles_changed": _("Roles changed"),
    "membership.deactivated": _("Member deactivated"),
    "membership.reactivated": _("Member reactivated"),
    "membership.removed": _("Member removed"),
    "membership.left": _("Member left"),
    **link_invitation_action_labels("membership_invitation"),
    # The built-in directory (accounts/services/directory.py).
    "directory_tenant.created": _("Directory tenant created"),
    "directory_user.created": _("Directory user created"),
    "directory_user.disabled": _("Directory user disabled"),
    "directory_user.enabled": _("Directory user enabled"),
    "directory_user.setup_completed": _("Directory user chose a password"),
    "directory_user.setup_sent": _("Directory user set-up link sent"),
}

#: What program staff do on the review site (accounts/services/review.py).
REVIEW_ACTION_LABELS = {
    "organization.suspended": _("Organization suspended"),
    "organization.reactivated": _("Organization reactivated"),
    "organization.details_updated": _("Organization details updated"),
    "user.deactivated": _("Account deactivated"),
    "user.reactivated": _("Account reactivated"),
    "user.staff_granted": _("Program staff access granted"),
    "user.staff_revoked": _("Program staff access revoked"),
    "user.reviewer_granted": _("Added to enrollment reviewers"),
    "user.reviewer_revoked": _("Removed from enrollment reviewers"),
}

"""The audit actions enrollment writes, each with the label the activity log and the review site show.

Registered in EnrollmentConfig.ready; ``audit_record`` refuses an action nobody declared.
"""

from django.utils.translation import gettext_lazy as _

from portal.invitations.audit import link_invitation_action_labels

#: The blocked email domains, kept by program staff (enrollment/services/email_domains.py).
BLOCKED_EMAIL_DOMAIN_ACTION_LABELS = {
    "blocked_email_domain.added": _("Blocked email domain added"),
    "blocked_email_domain.removed": _("Blocked email domain removed"),
}

#: The partner-membership registry, kept by program staff (enrollment/services/membership_*.py).
MEMBERSHIP_REGISTRY_ACTION_LABELS = {
    "membership_account.created": _("Membership account created"),
    "partner_profile.created": _("Partner profile created"),
    "membership_accounts.imported": _("Membership accounts imported"),
}

#: Applications, from the first draft to the decision (enrollment/services/applications.py, review.py…).
APPLICATION_ACTION_LABELS = {
    "enrollment_application.started": _("Enrollment started"),
    "enrollment_application.tenant_verified": _("Directory tenant verified"),
    "enrollment_application.tenant_country_set": _("Tenant country given by the applicant"),
    "enrollment_application.profile_chosen": _("Partner profile chosen"),
    "enrollment_application.details_saved": _("Organization details saved"),
    "enrollment_application.submitted": _("Enrollment submitted"),
    "enrollment_application.contact_confirmed": _("Primary contact confirmed"),
    "enrollment_application.contact_declined": _("Primary contact declined"),
    "enrollment_application.checks_completed": _("Automated checks completed"),
    "enrollment_application.in_review": _("Enrollment in review"),
    "enrollment_application.information_requested": _("More information requested"),
    "enrollment_application.document_uploaded": _("Document uploaded"),
    "enrollment_application.resubmitted": _("Enrollment resubmitted"),
    "enrollment_application.approved": _("Enrollment approved"),
    "enrollment_application.rejected": _("Enrollment rejected"),
    "enrollment_application.withdrawn": _("Enrollment withdrawn"),
    "enrollment_application.expired": _("Enrollment expired"),
    "screening_entry.added": _("Screening entry added"),
    "screening_entry.removed": _("Screening entry removed"),
    **link_invitation_action_labels(
        "enrollment_contact_confirmation",
        sent=_("Confirmation sent to the primary contact"),
        accepted=_("Primary contact confirmation used"),
        declined=_("Primary contact confirmation declined"),
        revoked=_("Primary contact confirmation withdrawn"),
        superseded=_("Primary contact confirmation replaced by a new one"),
        expired=_("Primary contact confirmation expired"),
    ),
}

ENROLLMENT_ACTION_LABELS = {
    **BLOCKED_EMAIL_DOMAIN_ACTION_LABELS,
    **MEMBERSHIP_REGISTRY_ACTION_LABELS,
    **APPLICATION_ACTION_LABELS,
}

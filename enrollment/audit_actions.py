"""The audit actions enrollment writes, each with the label the activity log and the review site show.

Registered in EnrollmentConfig.ready; ``audit_record`` refuses an action nobody declared.
"""

from django.utils.translation import gettext_lazy as _

#: The partner-membership registry, kept by program staff (enrollment/services/membership_*.py).
MEMBERSHIP_REGISTRY_ACTION_LABELS = {
    "membership_account.created": _("Membership account created"),
    "partner_profile.created": _("Partner profile created"),
    "membership_accounts.imported": _("Membership accounts imported"),
}

"""The audit actions enrollment writes, each with the label the activity log and the review site show.

Registered in EnrollmentConfig.ready; ``audit_record`` refuses an action nobody declared.
"""

from django.utils.translation import gettext_lazy as _

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
    # Registered with these (EnrollmentConfig.ready) until it registers the blocked-domain list itself.
    **BLOCKED_EMAIL_DOMAIN_ACTION_LABELS,
}

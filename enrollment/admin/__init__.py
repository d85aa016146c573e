"""Enrollment on the review site (Django admin, at /review/), one module per area; importing them here
registers their admins.

- ``registry``: the partner-membership registry (membership accounts and partner profiles, read-only,
  corrected through **Import CSV**) and the blocked email domains.
- ``applications``: an application's page and the decisions' pages; ``queue`` is the review queue (its
  filters, the SLA, its keyset pages), ``decisions`` the decisions' forms, ``history`` how an
  application's history reads.
- ``screening``: the screening list.

Every write goes through a service in ``enrollment.services`` (with its audit row); nothing is edited.
"""

from enrollment.admin import applications, registry, screening
from enrollment.admin.applications import EnrollmentApplicationAdmin
from enrollment.admin.queue import sla_past_lookup, time_in_review_display
from enrollment.admin.registry import (
    BlockedEmailDomainAdmin,
    MembershipAccountAdmin,
    PartnerProfileAdmin,
    import_allowed,
)
from enrollment.admin.screening import ScreeningEntryAdmin

__all__ = [
    "BlockedEmailDomainAdmin",
    "EnrollmentApplicationAdmin",
    "MembershipAccountAdmin",
    "PartnerProfileAdmin",
    "ScreeningEntryAdmin",
    "applications",
    "import_allowed",
    "registry",
    "screening",
    "sla_past_lookup",
    "time_in_review_display",
]

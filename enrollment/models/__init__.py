"""Enrollment's tables: the partner-membership registry (``registry.py``) and the applications with their
checks, contact confirmations and documents (``applications.py``)."""

from enrollment.models.applications import (
    APPLICATION_LIVE_STATUSES,
    ApplicationDocument,
    ApplicationStatus,
    CheckKind,
    CheckStatus,
    ContactConfirmation,
    EnrollmentApplication,
    EnrollmentCheck,
    InformationItem,
    RejectionReason,
    ScreeningEntry,
    ScreeningKind,
)
from enrollment.models.registry import (
    BLOCKED_DOMAIN_PATTERN,
    PARTNER_ID_PATTERN,
    BlockedEmailDomain,
    BlockedEmailDomainKind,
    MembershipAccount,
    PartnerProfile,
    partner_id_validator,
)

__all__ = [
    "APPLICATION_LIVE_STATUSES",
    "BLOCKED_DOMAIN_PATTERN",
    "PARTNER_ID_PATTERN",
    "ApplicationDocument",
    "ApplicationStatus",
    "BlockedEmailDomain",
    "BlockedEmailDomainKind",
    "CheckKind",
    "CheckStatus",
    "ContactConfirmation",
    "EnrollmentApplication",
    "EnrollmentCheck",
    "InformationItem",
    "MembershipAccount",
    "PartnerProfile",
    "RejectionReason",
    "ScreeningEntry",
    "ScreeningKind",
    "partner_id_validator",
]

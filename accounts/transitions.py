"""The state machines of accounts: which status moves each table allows (portal.transitions applies them).

Membership invitations use the platform's ``LINK_INVITATION_STATUS``.
"""

from accounts.models import DirectoryUserStatus, MembershipStatus, OrganizationStatus
from portal.transitions import Transitions

ORGANIZATION_STATUS = Transitions(
    OrganizationStatus,
    {
        OrganizationStatus.ACTIVE: {OrganizationStatus.SUSPENDED},
        OrganizationStatus.SUSPENDED: {OrganizationStatus.ACTIVE},
    },
)

MEMBERSHIP_STATUS = Transitions(
    MembershipStatus,
    {
        MembershipStatus.ACTIVE: {MembershipStatus.DEACTIVATED},
        MembershipStatus.DEACTIVATED: {MembershipStatus.ACTIVE},
    },
)

DIRECTORY_USER_STATUS = Transitions(
    DirectoryUserStatus,
    {
        DirectoryUserStatus.ACTIVE: {DirectoryUserStatus.DISABLED},
        DirectoryUserStatus.DISABLED: {DirectoryUserStatus.ACTIVE},
    },
)

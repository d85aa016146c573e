"""Every write to people, organizations, memberships and invitations.

Each service is one transaction: the change, its audit event and its outbox emails commit together.
"""

from accounts.services.directory import (
    builtin_tenant_create,
    directory_user_create,
    directory_user_disable,
    directory_user_enable,
    directory_user_sign_in,
)
from accounts.services.invitations import (
    INVITATION_LIFETIME,
    InvitationUnusable,
    invitation_link,
    membership_invitation_accept,
    membership_invitation_check,
    membership_invitation_create,
    membership_invitation_decline,
    membership_invitation_lookup,
    membership_invitation_revoke,
    membership_invitations_expire_due,
)
from accounts.services.memberships import (
    membership_admin_agent_join,
    membership_deactivate,
    membership_leave,
    membership_reactivate,
    membership_remove,
    membership_roles_change,
    organization_create,
)
from accounts.services.people import canonical_email, user_profile_update

__all__ = [
    "INVITATION_LIFETIME",
    "InvitationUnusable",
    "builtin_tenant_create",
    "canonical_email",
    "directory_user_create",
    "directory_user_disable",
    "directory_user_enable",
    "directory_user_sign_in",
    "invitation_link",
    "membership_admin_agent_join",
    "membership_deactivate",
    "membership_invitation_accept",
    "membership_invitation_check",
    "membership_invitation_create",
    "membership_invitation_decline",
    "membership_invitation_lookup",
    "membership_invitation_revoke",
    "membership_invitations_expire_due",
    "membership_leave",
    "membership_reactivate",
    "membership_remove",
    "membership_roles_change",
    "organization_create",
    "user_profile_update",
]

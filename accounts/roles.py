"""The role catalogue and the one table that maps each role to its permissions.

Code never asks "is this user a Global admin?"; it asks ``membership.can("users.manage")``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    GLOBAL_ADMIN = "global_admin", _("Global admin")
    USER_MANAGEMENT_ADMIN = "user_management_admin", _("User management admin")
    BILLING_ADMIN = "billing_admin", _("Billing admin")
    ADMIN_AGENT = "admin_agent", _("Admin agent")
    SALES_AGENT = "sales_agent", _("Sales agent")
    HELPDESK_AGENT = "helpdesk_agent", _("Helpdesk agent")
    ACCOUNT_ADMIN = "account_admin", _("Account admin")


class Permission:
    ORGANIZATION_VIEW = "organization.view"
    ORGANIZATION_MANAGE = "organization.manage"
    USERS_VIEW = "users.view"
    USERS_MANAGE = "users.manage"
    GLOBAL_ADMIN_ASSIGN = "users.assign_global_admin"
    ACTIVITY_VIEW = "activity.view"
    ACTIVITY_EXPORT = "activity.export"
    CUSTOMERS_VIEW = "customers.view"
    CUSTOMERS_INVITE = "customers.invite"
    CUSTOMERS_MANAGE = "customers.manage"
    PARTNERS_VIEW = "partners.view"
    PARTNERS_MANAGE = "partners.manage"
    #: accept a provider's partnership invitation for the reseller (the seed: Global admin or Admin agent)
    PARTNERS_AUTHORIZE = "partners.authorize"
    BILLING_VIEW = "billing.view"
    BILLING_MANAGE = "billing.manage"


ALL_PERMISSIONS = frozenset(value for name, value in vars(Permission).items() if not name.startswith("_"))

P = Permission
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.GLOBAL_ADMIN: ALL_PERMISSIONS,
    Role.USER_MANAGEMENT_ADMIN: frozenset(
        {P.ORGANIZATION_VIEW, P.USERS_VIEW, P.USERS_MANAGE, P.ACTIVITY_VIEW}
    ),
    Role.BILLING_ADMIN: frozenset({P.ORGANIZATION_VIEW, P.BILLING_VIEW, P.BILLING_MANAGE, P.ACTIVITY_VIEW}),
    Role.ADMIN_AGENT: frozenset(
        {
            P.ORGANIZATION_VIEW,
            P.CUSTOMERS_VIEW,
            P.CUSTOMERS_INVITE,
            P.CUSTOMERS_MANAGE,
            P.PARTNERS_VIEW,
            P.PARTNERS_AUTHORIZE,
            P.ACTIVITY_VIEW,
        }
    ),
    Role.SALES_AGENT: frozenset({P.ORGANIZATION_VIEW, P.CUSTOMERS_VIEW, P.CUSTOMERS_INVITE, P.PARTNERS_VIEW}),
    Role.HELPDESK_AGENT: frozenset({P.ORGANIZATION_VIEW, P.CUSTOMERS_VIEW}),
    Role.ACCOUNT_ADMIN: frozenset(
        {
            P.ORGANIZATION_VIEW,
            P.ORGANIZATION_MANAGE,
            P.PARTNERS_VIEW,
            P.PARTNERS_MANAGE,
            P.CUSTOMERS_VIEW,
            P.ACTIVITY_VIEW,
            P.ACTIVITY_EXPORT,
        }
    ),
}


def permissions_for(roles) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


#: The roles offered to each kind of organization. Agents act for a partner's customers, and the
#: Account admin keeps a partner's program profile: a customer organization has neither.
ROLES_BY_KIND: dict[str, tuple[str, ...]] = {
    "provider": tuple(Role.values),
    "reseller": tuple(Role.values),
    "customer": (Role.GLOBAL_ADMIN, Role.USER_MANAGEMENT_ADMIN, Role.BILLING_ADMIN),
}


def roles_for_kind(kind: str) -> tuple[str, ...]:
    """The roles an organization of this kind may give its members, in catalogue order."""
    return ROLES_BY_KIND[kind]

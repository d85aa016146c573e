"""The organization pages of accounts, registered in AccountsConfig.ready (see portal.navigation)."""

from django.utils.translation import gettext_lazy as _

from accounts import selectors
from accounts.dashboard import dashboard_figures, json_datetime
from accounts.roles import Role
from portal.audit.catalogue import action_label
from portal.navigation import DashboardCard, OrganizationPageEntry


def _users_card(view) -> dict:
    counts = dashboard_figures(view).ask(
        lambda members, pending_invitations: {"members": members, "pending_invitations": pending_invitations},
        members=selectors.members_active_figure,
        pending_invitations=selectors.invitations_pending_figure,
    )
    return {"counts": counts}


def _last_event(activity_newest: dict | None) -> dict | None:
    if activity_newest is None:
        return None
    return {
        "occurred_at": json_datetime(activity_newest["occurred_at"]),
        "action_label": action_label(activity_newest["action"]),
    }


def _activity_card(view) -> dict:
    last_event = dashboard_figures(view).ask(_last_event, activity_newest=selectors.activity_newest_figure)
    return {"last_event": last_event}


def _admin_agent_card(view) -> dict:
    held = set(view.membership.role_names)
    return {"is_global_admin": Role.GLOBAL_ADMIN in held, "in_admin_agent": Role.ADMIN_AGENT in held}


def _roles_card(view) -> dict:
    return {"role_labels": tuple(str(label) for label in view.membership.role_labels)}


PAGES = [
    OrganizationPageEntry(
        "dashboard",
        "accounts:organization_dashboard",
        nav_label=_("Dashboard"),
        nav_order=0,
        nav_exact=True,
        cards=(
            # Every member sees how many people the organization has, and their own roles.
            DashboardCard("accounts/cards/_users.html", order=10, context=_users_card),
            DashboardCard("accounts/cards/_roles.html", order=90, context=_roles_card),
        ),
    ),
    OrganizationPageEntry(
        "settings",
        "accounts:settings",
        nav_label=_("Account settings"),
        nav_order=80,
        # a customer's Partner relationships is a page of its Account settings
        nav_also=("partners/",),
    ),
    OrganizationPageEntry("users", "accounts:users"),
    OrganizationPageEntry("user_invite", "accounts:user_invite"),
    OrganizationPageEntry(
        "activity",
        "accounts:activity",
        nav_label=_("Activity log"),
        nav_order=90,
        cards=(DashboardCard("accounts/cards/_activity.html", order=80, context=_activity_card),),
    ),
    OrganizationPageEntry("activity_export", "accounts:activity_export"),
    OrganizationPageEntry("leave", "accounts:organization_leave"),
    # The seed's last enrollment step: is the Global admin in the Admin agent group? One click fixes it.
    OrganizationPageEntry(
        "admin_agent_join",
        "accounts:admin_agent_join",
        cards=(
            # a form: its CSRF token changes on every response, so no memo
            DashboardCard("accounts/cards/_admin_agent.html", order=5, context=_admin_agent_card),
        ),
    ),
]

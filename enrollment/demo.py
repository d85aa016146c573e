"""Demo membership accounts for enrollment's partner-membership step: one in Japan, one in the United
States (already an authorised partner: the short path). Passwords are for a local demo only: the command
refuses to run in production."""

from enrollment.models import PartnerProfile
from enrollment.services.membership_accounts import (
    membership_account_create,
    membership_account_find,
    partner_profile_create,
)

MEMBERSHIP_DEMO_PASSWORD = "demo-membership-2026"  # noqa: S105 - printed for the local demo on purpose

MEMBERSHIP_ACCOUNTS = [
    {
        "username": "tailspin.jp",
        "profiles": [
            {
                "partner_id": "4100001",
                "legal_name": "Tailspin Toys Japan KK",
                "country": "JP",
                "location": "Tokyo",
                "already_authorised": False,
            },
        ],
    },
    {
        "username": "wingtip.us",
        "profiles": [
            {
                "partner_id": "4100002",
                "legal_name": "Wingtip Toys Inc.",
                "country": "US",
                "location": "Seattle",
                "already_authorised": True,
            },
        ],
    },
]


def load_membership_accounts() -> list[tuple[str, str, str]]:
    """Create the demo accounts and profiles that are missing, through the services (audited as the
    system; idempotent); return their logins as (username, password, what it is), as load_demo prints
    them."""
    logins = []
    for entry in MEMBERSHIP_ACCOUNTS:
        account = membership_account_find(entry["username"])
        if account is None:
            account = membership_account_create(
                username=entry["username"], password=MEMBERSHIP_DEMO_PASSWORD, by=None
            )
        for profile in entry["profiles"]:
            if not PartnerProfile.objects.filter(partner_id=profile["partner_id"]).exists():
                partner_profile_create(account=account, **profile, by=None)
        countries = ", ".join(str(profile["country"]) for profile in entry["profiles"])
        short_path = any(profile["already_authorised"] for profile in entry["profiles"])
        logins.append(
            (
                entry["username"],
                MEMBERSHIP_DEMO_PASSWORD,
                f"partner membership ({countries}{', already authorised' if short_path else ''})",
            )
        )
    return logins


def load() -> list[tuple[str, str, str]]:
    """What ``manage.py load_demo`` finds in this module (it imports every app's ``demo.load``): the
    membership-center accounts and the built-in directory's tenants that enrollment signs in to, and
    enrollments in every review state."""
    from enrollment.demo_applications import load_applications
    from enrollment.demo_directory import load_builtin_tenants

    return [*load_membership_accounts(), *load_builtin_tenants(), *load_applications()]

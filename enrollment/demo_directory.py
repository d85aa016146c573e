"""Demo tenants of the built-in directory for enrollment's directory-tenant step: one in Japan, one in the
United States (the countries of the demo membership accounts in ``enrollment/demo.py``), each with its
Global Administrator and one ordinary user (whose sign-in the step refuses, as it should). Passwords are
for a local demo only: the command refuses to run in production."""

from accounts.services.directory import (
    builtin_tenant_create,
    directory_user_create,
    directory_user_find,
    initial_domain,
)

DIRECTORY_DEMO_PASSWORD = "demo-directory-2026"  # noqa: S105 - printed for the local demo on purpose

BUILTIN_TENANTS = [
    {
        "name": "Tailspin Toys Japan",
        "country": "JP",
        "initial_domain_label": "tailspinjp",
        "admin_display_name": "Taro Yamada",
        "users": [{"user_name": "hanako.sato", "display_name": "Hanako Sato"}],
    },
    {
        "name": "Wingtip Toys",
        "country": "US",
        "initial_domain_label": "wingtiptoys",
        "admin_display_name": "Alex Johnson",
        "users": [{"user_name": "sam.miller", "display_name": "Sam Miller"}],
    },
]


def load_builtin_tenants() -> list[tuple[str, str, str]]:
    """Create the demo tenants and users that are missing, through the services (audited as the system;
    idempotent); return their logins as (user principal name, password, what it is), as load_demo prints
    them."""
    logins = []
    for entry in BUILTIN_TENANTS:
        domain = initial_domain(entry["initial_domain_label"])
        admin = directory_user_find(f"admin@{domain}")
        if admin is None:
            _tenant, admin = builtin_tenant_create(
                name=entry["name"],
                country=entry["country"],
                initial_domain_label=entry["initial_domain_label"],
                admin_display_name=entry["admin_display_name"],
                admin_password=DIRECTORY_DEMO_PASSWORD,
                by_user=None,
            )
        tenant = admin.tenant
        logins.append(
            (
                admin.user_principal_name,
                DIRECTORY_DEMO_PASSWORD,
                f"built-in tenant {tenant.name} ({entry['country']}): Global Administrator",
            )
        )
        for user in entry["users"]:
            user_principal_name = f"{user['user_name']}@{domain}"
            member = directory_user_find(user_principal_name)
            if member is None:
                member = directory_user_create(
                    tenant=tenant,
                    user_principal_name=user_principal_name,
                    display_name=user["display_name"],
                    password=DIRECTORY_DEMO_PASSWORD,
                    by_user=None,
                )
            logins.append(
                (
                    member.user_principal_name,
                    DIRECTORY_DEMO_PASSWORD,
                    f"built-in tenant {tenant.name} ({entry['country']}): user, not an administrator",
                )
            )
    return logins

"""Demo organizations of each kind with members in several roles; one person in two organizations.
Passwords are for a local demo only: the command refuses to run in production."""

import uuid

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP

from accounts import services
from accounts.models import DirectoryTenant, Membership, MembershipRole, Organization, User
from accounts.roles import Role

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - printed for the local demo on purpose
# A fixed TOTP secret so the demo reviewer can add it to an authenticator app (printed below).
REVIEWER_TOTP_SECRET = "JBSWY3DPEHPK3PXPDEMOREVIEWERABCD"  # noqa: S105


def _user(email: str, *, full_name: str, language: str = "en", staff: bool = False) -> User:
    user, created = User.objects.get_or_create(
        email=email, defaults={"full_name": full_name, "preferred_language": language, "is_staff": staff}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _organization(
    *, name: str, kind: str, country: str, tenant: str, domain: str, admin: User
) -> Organization:
    existing = Organization.objects.filter(legal_name=name, kind=kind).first()
    if existing:
        return existing
    directory = DirectoryTenant.objects.create(
        tenant_id=uuid.uuid5(uuid.NAMESPACE_DNS, domain),
        name=tenant,
        verified_domains=[domain],
        country=country,
        source=DirectoryTenant.Source.BUILTIN,
    )
    return services.organization_create(
        kind=kind,
        legal_name=name,
        country=country,
        global_admin=admin,
        directory_tenant=directory,
        address_line1="1-2-3 Marunouchi",
        city="Chiyoda-ku",
        region="Tokyo",
        postal_code="100-0005",
        support_email=f"support@{domain}",
        support_phone="+81 3-1234-5678",
        support_website=f"https://{domain}/support",
    )


def _member(organization: Organization, user: User, roles: list[str]) -> None:
    membership, _ = Membership.objects.get_or_create(organization=organization, user=user)
    for role in roles:
        MembershipRole.objects.get_or_create(membership=membership, role=role)


def load() -> list[tuple[str, str, str]]:
    reviewer = _user("reviewer@demo.example", full_name="Riko Reviewer", language="ja", staff=True)
    if not reviewer.is_superuser:
        reviewer.is_superuser = True
        reviewer.save(update_fields=["is_superuser"])
    if not Authenticator.objects.filter(user=reviewer, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(reviewer, REVIEWER_TOTP_SECRET)

    provider_admin = _user("provider.admin@demo.example", full_name="Kenji Provider", language="ja")
    provider_sales = _user("provider.sales@demo.example", full_name="Sara Sales")
    reseller_admin = _user("reseller.admin@demo.example", full_name="Rei Reseller", language="ja")
    reseller_helpdesk = _user("reseller.helpdesk@demo.example", full_name="Hana Helpdesk")
    customer_admin = _user("customer.admin@demo.example", full_name="Chris Customer")
    consultant = _user("consultant@demo.example", full_name="Casey Consultant")

    provider = _organization(
        name="Contoso Distribution KK",
        kind=Organization.Kind.PROVIDER,
        country="JP",
        tenant="contoso-distribution",
        domain="contoso-distribution.example",
        admin=provider_admin,
    )
    reseller = _organization(
        name="Fabrikam Cloud Solutions",
        kind=Organization.Kind.RESELLER,
        country="JP",
        tenant="fabrikam-cloud",
        domain="fabrikam-cloud.example",
        admin=reseller_admin,
    )
    customer = _organization(
        name="Northwind Traders",
        kind=Organization.Kind.CUSTOMER,
        country="JP",
        tenant="northwind",
        domain="northwind.example",
        admin=customer_admin,
    )
    _member(provider, provider_sales, [Role.SALES_AGENT])
    _member(reseller, reseller_admin, [Role.ADMIN_AGENT])
    _member(reseller, reseller_helpdesk, [Role.HELPDESK_AGENT])
    _member(reseller, consultant, [Role.SALES_AGENT, Role.BILLING_ADMIN])
    _member(customer, consultant, [Role.USER_MANAGEMENT_ADMIN])

    return [
        (reviewer.email, DEMO_PASSWORD, f"program reviewer, /review/ (TOTP secret {REVIEWER_TOTP_SECRET})"),
        (provider_admin.email, DEMO_PASSWORD, f"{provider}: Global admin"),
        (provider_sales.email, DEMO_PASSWORD, f"{provider}: Sales agent"),
        (reseller_admin.email, DEMO_PASSWORD, f"{reseller}: Global admin, Admin agent"),
        (reseller_helpdesk.email, DEMO_PASSWORD, f"{reseller}: Helpdesk agent"),
        (customer_admin.email, DEMO_PASSWORD, f"{customer}: Global admin"),
        (
            consultant.email,
            DEMO_PASSWORD,
            f"{reseller}: Sales agent, Billing admin; {customer}: User management admin",
        ),
    ]

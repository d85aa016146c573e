"""The customers' demo: Fabrikam's customers (one shared with Contoso), delegated admin relationships in
every state, invitations out and declined; loading it twice changes nothing."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import DirectoryTenant, Membership, Organization, User
from accounts.roles import Role
from customers.models import (
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedRole,
    InvitationKind,
)
from customers.selectors import (
    customer_invitations_of,
    customer_relationships_visible_to,
    delegated_admins_expiring,
    partner_may,
    pending_approvals_of,
)
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail

pytestmark = pytest.mark.django_db

CUSTOMERS = {
    "Sakura Logistics KK": ("customer1.admin@demo.example", "JP"),
    "Blue Yonder Airlines Inc.": ("customer2.admin@demo.example", "US"),
    "Hokuto Precision Manufacturing KK": ("customer3.admin@demo.example", "JP"),
    "Humongous Insurance Co.": ("customer4.admin@demo.example", "US"),
}


def counts() -> dict[str, int]:
    return {
        "organizations": Organization.objects.count(),
        "tenants": DirectoryTenant.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "invitations": CustomerInvitation.objects.count(),
        "relationships": CustomerRelationship.objects.count(),
        "delegated_admins": DelegatedAdminRelationship.objects.count(),
        "audit": AuditEvent.objects.count(),
        "emails": OutboxEmail.objects.count(),
    }


def organization(name: str, kind: str = Organization.Kind.CUSTOMER) -> Organization:
    return Organization.objects.get(kind=kind, legal_name=name)


def test_the_demo_has_customers_in_every_state_and_loads_twice(capsys):
    call_command("load_demo")
    printed = capsys.readouterr().out
    fabrikam = organization("Fabrikam Cloud Solutions", Organization.Kind.RESELLER)
    contoso = organization("Contoso Distribution KK", Organization.Kind.PROVIDER)

    # Four customer organizations, each with its own built-in tenant and a Global admin who signs in.
    for name, (email, country) in CUSTOMERS.items():
        customer = organization(name)
        assert (customer.country.code, customer.directory_tenant.source) == (country, "builtin")
        admin = Membership.objects.get(organization=customer)
        assert (admin.user.email, admin.role_names) == (email, [Role.GLOBAL_ADMIN])
        assert admin.user.check_password("demo-portal-2026")
        assert email in printed

    # The reseller's Customers page lists the four; Contoso sees exactly the one shared with it.
    assert sorted(row.customer.legal_name for row in customer_relationships_visible_to(fabrikam)) == sorted(
        CUSTOMERS
    )
    shared = customer_relationships_visible_to(contoso)
    assert [(row.customer.legal_name, row.reseller_id) for row in shared] == [
        ("Sakura Logistics KK", fabrikam.pk)
    ]
    assert partner_may(contoso, organization("Sakura Logistics KK"), "order") is True
    assert partner_may(contoso, organization("Blue Yonder Airlines Inc."), "view") is False

    # Delegated admin relationships in every state.
    states = {
        name: sorted(
            DelegatedAdminRelationship.objects.filter(
                customer__legal_name=name, partner=fabrikam
            ).values_list("status", flat=True)
        )
        for name in CUSTOMERS
    }
    assert states == {
        "Sakura Logistics KK": ["active"],
        "Blue Yonder Airlines Inc.": ["active", "approval_pending"],
        "Hokuto Precision Manufacturing KK": ["expiring"],
        "Humongous Insurance Co.": ["expired", "terminated"],
    }
    now = timezone.now()
    long_one = DelegatedAdminRelationship.objects.get(customer__legal_name="Sakura Logistics KK")
    assert (long_one.duration_days, long_one.auto_extend) == (730, True)
    assert long_one.ends_at > now + timedelta(days=600)
    assert partner_may(fabrikam, long_one.customer, DelegatedRole.USER_ADMIN) is True

    # One ends within 7 days (the expiry radar's first row), and it is the only one.
    [expiring] = delegated_admins_expiring(fabrikam, days=7)
    assert expiring.customer.legal_name == "Hokuto Precision Manufacturing KK"
    assert now + timedelta(days=4) < expiring.ends_at <= now + timedelta(days=5)
    assert expiring.reminded_days == 7

    # The role request waits for Blue Yonder Airlines' Global admin.
    [pending] = pending_approvals_of(organization("Blue Yonder Airlines Inc."))
    assert pending.roles_in_order == [
        "directory_reader",
        "helpdesk_admin",
        "license_admin",
        "billing_admin",
    ]
    assert pending.replaces.status == "active"

    # Humongous Insurance: the old grant (with Global administrator) expired, the later one removed.
    humongous = {
        row.status: row
        for row in DelegatedAdminRelationship.objects.filter(customer__legal_name="Humongous Insurance Co.")
    }
    assert (humongous["expired"].roles, humongous["expired"].close_reason) == (["global_admin"], "ended")
    assert humongous["expired"].ends_at < now - timedelta(days=19)
    assert humongous["terminated"].close_reason == "Our own IT team manages users and licences now."
    assert partner_may(fabrikam, humongous["terminated"].customer, DelegatedRole.LICENSE_ADMIN) is False

    # Invitations: four accepted, two pending (one of each kind), one declined.
    invitations = {row.email: row for row in customer_invitations_of(fabrikam)}
    assert sorted((row.status, row.kind) for row in invitations.values()) == [
        ("accepted", "reseller"),
        ("accepted", "reseller"),
        ("accepted", "reseller"),
        ("accepted", "with_provider"),
        ("declined", "reseller"),
        ("pending", "reseller"),
        ("pending", "with_provider"),
    ]
    reseller_only = invitations["it@woodgrovebank.example"]
    assert (reseller_only.status, reseller_only.emailed_at is not None) == ("pending", True)
    with_provider = invitations["soumu@minato-pharma.example"]
    assert (with_provider.status, with_provider.kind, with_provider.provider, with_provider.emailed_at) == (
        "pending",
        InvitationKind.WITH_PROVIDER,
        contoso,
        None,
    )
    declined = invitations["it@tokai-foods.example"]
    assert (declined.status, declined.customer_name) == ("declined", "Tokai Foods KK")
    assert declined.reason.startswith("We signed with another reseller")

    # Made through the services: the acceptances are in each side's activity log.
    accepted = AuditEvent.objects.filter(action="customer_relationship.created")
    assert accepted.filter(organization_id=fabrikam.pk).count() == 4
    assert accepted.filter(organization_id=contoso.pk).count() == 1
    assert AuditEvent.objects.filter(action="customer_invitation.accepted").count() == 4
    first = counts()

    call_command("load_demo")

    assert counts() == first
    assert capsys.readouterr().out.count("customer1.admin@demo.example") == 1

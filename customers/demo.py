"""Demo customers of Fabrikam Cloud Solutions (accounts' demo reseller), made through the services a
person's clicks call, with the dates moved back where a state needs time to pass.

Four customer organizations, each with its built-in directory tenant and a Global admin with a demo login
(``customer1.admin@demo.example`` to ``customer4.admin@demo.example``), each brought in by an invitation
from Fabrikam that its admin accepted:

- Sakura Logistics KK (Japan): invited with Contoso Distribution KK (the live Contoso ↔ Fabrikam
  partnership), so Contoso sees it too; delegated admin active for two years, with auto-extend.
- Blue Yonder Airlines Inc. (United States): delegated admin active, and a request from Fabrikam for
  changed roles waiting for the customer's approval.
- Hokuto Precision Manufacturing KK (Japan): delegated admin expiring in 5 days (reminded at 30 and 7).
- Humongous Insurance Co. (United States): its first delegated admin (with Global administrator)
  expired; a later one, approved, was removed by the customer (terminated).

Fabrikam also has two pending invitations out (reseller only, emailed by the portal; with Contoso, sent
from Fabrikam's own mail app) and one the recipient declined. Idempotent: a customer or an invitation
that exists is left alone. Passwords are for a local demo only.
"""

from datetime import timedelta

from django.utils import timezone

from accounts.demo import DEMO_PASSWORD, _user
from accounts.models import Membership, Organization, User
from customers.models import (
    DELEGATED_ADMIN_STATUS,
    LEAST_PRIVILEGE_ROLES,
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    InvitationKind,
)
from customers.services import acceptance, delegated, invitations
from enrollment.demo_directory import DIRECTORY_DEMO_PASSWORD
from enrollment.directory.builtin import builtin_tenant_create_verified
from portal.transitions import transition_apply
from providers.models import Partnership

RESELLER = "Fabrikam Cloud Solutions"
PROVIDER = "Contoso Distribution KK"
LEAST_PRIVILEGE = [str(role) for role in LEAST_PRIVILEGE_ROLES]

#: Each customer: its organization, its tenant, its admin, and the invitation it accepted (how long ago).
CUSTOMERS = [
    {
        "legal_name": "Sakura Logistics KK",
        "country": "JP",
        "address": {
            "address_line1": "2-4-1 Shibakoen",
            "city": "Minato-ku",
            "region": "13",
            "postal_code": "105-0011",
        },
        "tenant": "Sakura Logistics",
        "domain_label": "sakuralogistics",
        "admin": ("customer1.admin@demo.example", "Haruto Sato", "ja"),
        "with_provider": True,
        "roles": [*LEAST_PRIVILEGE, str(DelegatedRole.USER_ADMIN)],
        "duration_days": 730,
        "auto_extend": True,
        "accepted_days_ago": 40,
        "then": None,
    },
    {
        "legal_name": "Blue Yonder Airlines Inc.",
        "country": "US",
        "address": {
            "address_line1": "500 Pine Street",
            "city": "Seattle",
            "region": "WA",
            "postal_code": "98101",
        },
        "tenant": "Blue Yonder Airlines",
        "domain_label": "blueyonderair",
        "admin": ("customer2.admin@demo.example", "Jordan Miller", "en"),
        "with_provider": False,
        "roles": LEAST_PRIVILEGE,
        "duration_days": 365,
        "auto_extend": False,
        "accepted_days_ago": 120,
        "then": "role_request_pending",
    },
    {
        "legal_name": "Hokuto Precision Manufacturing KK",
        "country": "JP",
        "address": {
            "address_line1": "3-6-1 Nakanoshima",
            "city": "Kita-ku, Osaka",
            "region": "27",
            "postal_code": "530-0005",
        },
        "tenant": "Hokuto Precision",
        "domain_label": "hokutoprecision",
        "admin": ("customer3.admin@demo.example", "Yui Takahashi", "ja"),
        "with_provider": False,
        "roles": [str(DelegatedRole.GLOBAL_READER), str(DelegatedRole.HELPDESK_ADMIN)],
        "duration_days": 365,
        "auto_extend": False,
        "accepted_days_ago": 360,  # so the relationship ends 5 days from now
        "then": "expiring",
    },
    {
        "legal_name": "Humongous Insurance Co.",
        "country": "US",
        "address": {
            "address_line1": "100 Pine Street",
            "city": "San Francisco",
            "region": "CA",
            "postal_code": "94111",
        },
        "tenant": "Humongous Insurance",
        "domain_label": "humongousins",
        "admin": ("customer4.admin@demo.example", "Morgan Lee", "en"),
        "with_provider": False,
        "roles": [str(DelegatedRole.GLOBAL_ADMIN)],
        "duration_days": 380,
        "auto_extend": False,
        "accepted_days_ago": 400,
        "then": "expired_then_removed",
    },
]

#: Invitations still out, and one declined: (address, customer name, language[, the recipient's name]).
PENDING_RESELLER_ONLY = ("it@woodgrovebank.example", "Woodgrove Bank Inc.", "en")
PENDING_WITH_PROVIDER = ("soumu@minato-pharma.example", "Minato Pharma KK", "ja")
DECLINED = ("it@tokai-foods.example", "Tokai Foods KK", "ja", "Kaito Ito")
DECLINE_REASON = "We signed with another reseller for this year. Please ask us again next spring."


def _member(organization: Organization, email: str) -> Membership:
    return Membership.objects.select_related("user", "organization").get(
        organization=organization, user__email=email, status=Membership.Status.ACTIVE
    )


def _backdate_invitation(invitation: CustomerInvitation, *, sent, decided=None) -> None:
    changes = {"created_at": sent, "expires_at": sent + invitations.invitation_lifetime()}
    if decided is not None:
        changes["decided_at"] = decided
    CustomerInvitation.objects.filter(pk=invitation.pk).update(**changes)


def _customer(entry: dict, *, fabrikam_admin: Membership, partnership: Partnership) -> Organization:
    """The customer's admin signs up from Fabrikam's invitation, creates the organization with a new
    built-in tenant and accepts; the dates are then moved back to ``accepted_days_ago``."""
    email, full_name, language = entry["admin"]
    admin = _user(email, full_name=full_name, language=language)
    invitation, _raw = invitations.customer_invitation_create(
        reseller=fabrikam_admin.organization,
        by=fabrikam_admin,
        email=email,
        kind=InvitationKind.WITH_PROVIDER if entry["with_provider"] else InvitationKind.RESELLER_ONLY,
        roles=entry["roles"],
        duration_days=entry["duration_days"],
        auto_extend=entry["auto_extend"],
        partnership_public_id=partnership.public_id if entry["with_provider"] else None,
        customer_name=entry["legal_name"],
        language=language,
    )
    verified = builtin_tenant_create_verified(
        name=entry["tenant"],
        country=entry["country"],
        initial_domain_label=entry["domain_label"],
        admin_display_name=full_name,
        admin_password=DIRECTORY_DEMO_PASSWORD,
        by_user=admin,
    )
    customer = acceptance.customer_organization_create(
        user=admin,
        legal_name=entry["legal_name"],
        country=entry["country"],
        address=entry["address"],
        verified=verified,
    )
    acceptance.customer_invitation_accept(invitation=invitation, user=admin, customer=customer, consent=True)

    accepted = timezone.now() - timedelta(days=entry["accepted_days_ago"])
    _backdate_invitation(invitation, sent=accepted - timedelta(days=2), decided=accepted)
    CustomerRelationship.objects.filter(customer=customer).update(started_at=accepted)
    DelegatedAdminRelationship.objects.filter(customer=customer, invitation=invitation).update(
        requested_at=accepted - timedelta(days=2),
        starts_at=accepted,
        ends_at=accepted + timedelta(days=entry["duration_days"]),
    )
    return customer


def _delegated(customer: Organization) -> DelegatedAdminRelationship:
    return DelegatedAdminRelationship.objects.select_related("customer", "partner").get(
        customer=customer, status__in=[DelegatedAdminStatus.ACTIVE, DelegatedAdminStatus.EXPIRING]
    )


def _role_request_pending(customer: Organization, fabrikam_admin: Membership) -> None:
    """Blue Yonder Airlines: Fabrikam asks to add Billing administrator; the customer has not answered yet."""
    request = delegated.delegated_admin_request(
        partner=fabrikam_admin.organization,
        by=fabrikam_admin,
        customer=customer,
        roles=[*LEAST_PRIVILEGE, str(DelegatedRole.BILLING_ADMIN)],
        duration_days=365,
        auto_extend=False,
    )
    DelegatedAdminRelationship.objects.filter(pk=request.pk).update(
        requested_at=timezone.now() - timedelta(days=2)
    )


def _expiring(customer: Organization) -> None:
    """Hokuto: the beat job's step 30 days before the end, and the reminders at 30 and 7 days sent."""
    relationship = _delegated(customer)
    transition_apply(
        relationship,
        DelegatedAdminStatus.EXPIRING,
        transitions=DELEGATED_ADMIN_STATUS,
        action="delegated_admin.expiring",
        actor=None,
        organization_id=relationship.customer_id,
        changes={"reminded_days": 7},
    )


def _expired_then_removed(customer: Organization, fabrikam_admin: Membership, customer_admin: User) -> None:
    """Humongous Insurance: the first relationship (with Global administrator) ran out 20 days ago;
    Fabrikam asked for least-privilege roles, the customer approved, then removed that access again."""
    first = _delegated(customer)
    ended = timezone.now() - timedelta(days=20)
    DelegatedAdminRelationship.objects.filter(pk=first.pk).update(ends_at=ended)
    first.refresh_from_db()
    # as the beat job does at the end (the emails of that day are long gone)
    delegated.delegated_admin_close(first, DelegatedAdminStatus.EXPIRED, actor=None, reason="ended")
    DelegatedAdminRelationship.objects.filter(pk=first.pk).update(closed_at=ended)

    request = delegated.delegated_admin_request(
        partner=fabrikam_admin.organization,
        by=fabrikam_admin,
        customer=customer,
        roles=LEAST_PRIVILEGE,
        duration_days=180,
        auto_extend=False,
    )
    admin = _member(customer, customer_admin.email)
    delegated.delegated_admin_approve(relationship=request, by=admin)
    delegated.delegated_admin_remove(
        relationship=request, by=admin, reason="Our own IT team manages users and licences now."
    )


def _pending_invitations(fabrikam_admin: Membership, partnership: Partnership) -> None:
    reseller = fabrikam_admin.organization
    email, name, language = PENDING_RESELLER_ONLY
    if not CustomerInvitation.objects.filter(organization=reseller, email=email).exists():
        invitation, raw = invitations.customer_invitation_create(
            reseller=reseller,
            by=fabrikam_admin,
            email=email,
            kind=InvitationKind.RESELLER_ONLY,
            roles=LEAST_PRIVILEGE,
            duration_days=365,
            customer_name=name,
            language=language,
        )
        draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)
        invitations.customer_invitation_email(
            invitation=invitation, raw_token=raw, subject=draft.subject, body=draft.body, by=fabrikam_admin
        )
    email, name, language = PENDING_WITH_PROVIDER
    if not CustomerInvitation.objects.filter(organization=reseller, email=email).exists():
        # sent from Fabrikam's own mail app (the draft copied): the portal did not email it
        invitation, _raw = invitations.customer_invitation_create(
            reseller=reseller,
            by=fabrikam_admin,
            email=email,
            kind=InvitationKind.WITH_PROVIDER,
            roles=[*LEAST_PRIVILEGE, str(DelegatedRole.USER_ADMIN)],
            duration_days=730,
            auto_extend=True,
            partnership_public_id=partnership.public_id,
            customer_name=name,
            language=language,
        )
        _backdate_invitation(invitation, sent=timezone.now() - timedelta(days=3))
    email, name, language, full_name = DECLINED
    if not CustomerInvitation.objects.filter(organization=reseller, email=email).exists():
        invitation, _raw = invitations.customer_invitation_create(
            reseller=reseller,
            by=fabrikam_admin,
            email=email,
            kind=InvitationKind.RESELLER_ONLY,
            roles=LEAST_PRIVILEGE,
            duration_days=365,
            customer_name=name,
            language=language,
        )
        recipient = _user(email, full_name=full_name, language=language)
        acceptance.customer_invitation_decline(invitation=invitation, user=recipient, reason=DECLINE_REASON)
        now = timezone.now()
        _backdate_invitation(invitation, sent=now - timedelta(days=12), decided=now - timedelta(days=9))


def load() -> list[tuple[str, str, str]]:
    fabrikam = Organization.objects.get(kind=Organization.Kind.RESELLER, legal_name=RESELLER)
    contoso = Organization.objects.get(kind=Organization.Kind.PROVIDER, legal_name=PROVIDER)
    fabrikam_admin = _member(fabrikam, "reseller.admin@demo.example")
    partnership = Partnership.objects.get(
        provider=contoso, reseller=fabrikam, status=Partnership.Status.ACTIVE
    )

    logins = []
    for entry in CUSTOMERS:
        email = entry["admin"][0]
        customer = Organization.objects.filter(
            kind=Organization.Kind.CUSTOMER, legal_name=entry["legal_name"]
        ).first()
        if customer is None:
            customer = _customer(entry, fabrikam_admin=fabrikam_admin, partnership=partnership)
            if entry["then"] == "role_request_pending":
                _role_request_pending(customer, fabrikam_admin)
            elif entry["then"] == "expiring":
                _expiring(customer)
            elif entry["then"] == "expired_then_removed":
                _expired_then_removed(customer, fabrikam_admin, User.objects.get(email=email))
        shared = f", shared with {contoso}" if entry["with_provider"] else ""
        logins.append((email, DEMO_PASSWORD, f"{customer}: Global admin (customer of {fabrikam}{shared})"))
    _pending_invitations(fabrikam_admin, partnership)
    return logins

"""The customers' services, without the pages: a reseller's invitations (both kinds, the delegated admin
terms, the draft and the portal's email, resend, revoke), the customer's side (binding, consent, accept,
decline, its organization and tenant), delegated admin requests and the customer's answers, and ending a
relationship. Every refusal names its field where a form has one, and changes nothing: no row, no audit
event, no email."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import DirectoryTenant, DirectoryTenantSource, Membership, Organization
from accounts.roles import Role
from customers.models import (
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    InvitationKind,
    PartnerRole,
    RelationshipSide,
    RelationshipStatus,
)
from customers.selectors import customer_organizations_administered, partner_may
from customers.services import acceptance, delegated, invitations, relationships
from enrollment.directory.base import DirectoryAdmin, TenantInUse, VerifiedTenant
from enrollment.directory.builtin import builtin_tenant_create_verified
from portal.audit.models import AuditEvent
from portal.errors import DomainError, InvalidTransition
from portal.invitations.binding import InvitationUnusable
from portal.invitations.models import LinkInvitationStatus
from portal.invitations.services import link_invitation_lookup
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content
from portal.tokens import token_hash
from providers.services.partnerships import partnership_end
from tests.factories.accounts import MembershipFactory, OrganizationFactory, UserFactory
from tests.factories.customers import CustomerFactory, customer_linked
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

Status = LinkInvitationStatus
D = DelegatedAdminStatus
LEAST = ["directory_reader", "helpdesk_admin", "license_admin"]
CUSTOMER_EMAIL = "owner@northwind.example"
TENANT_PASSWORD = "Lantern-harbour-quiet-58"
TOKYO = {"postal_code": "100-0001", "region": "13", "city": "Chiyoda-ku", "address_line1": "1-1 Marunouchi"}


def world() -> tuple:
    """Everything a customers service could write."""
    return (
        list(
            CustomerInvitation.objects.order_by("pk").values_list(
                "pk", "status", "token_hash", "emailed_at", "customer_id", "reason"
            )
        ),
        list(CustomerRelationship.objects.order_by("pk").values_list("pk", "status", "ended_at")),
        list(
            DelegatedAdminRelationship.objects.order_by("pk").values_list(
                "pk", "status", "starts_at", "ends_at", "closed_at"
            )
        ),
        list(Organization.objects.order_by("pk").values_list("pk", "status", "legal_name")),
        list(DirectoryTenant.objects.order_by("pk").values_list("pk", "tenant_id")),
        list(Membership.objects.order_by("pk").values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def refused(call, error_class=DomainError, **kwargs) -> DomainError:
    """Run a service that must refuse; prove that it changed nothing; return its error."""
    before = world()
    with pytest.raises(error_class) as error:
        call(**kwargs)
    assert world() == before
    return error.value


def member_of(organization, role=Role.GLOBAL_ADMIN, **user) -> Membership:
    return MembershipFactory(organization=organization, user=UserFactory(**user), roles=[role])


@pytest.fixture
def reseller():
    return ResellerFactory(legal_name="Fabrikam Japan KK")


@pytest.fixture
def reseller_admin(reseller):
    return member_of(reseller, full_name="Rei Tanaka", email="rei@fabrikam.example")


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Contoso Distribution KK")


@pytest.fixture
def provider_admin(provider):
    return member_of(provider, full_name="Kenji Sato", email="kenji@contoso.example")


@pytest.fixture
def partnership(provider, reseller):
    return PartnershipFactory(provider=provider, reseller=reseller)


@pytest.fixture
def customer_admin():
    return member_of(CustomerFactory(legal_name="Northwind Traders Ltd"), email=CUSTOMER_EMAIL)


def invite(by, *, partnership=None, **changes):
    values = {
        "reseller": by.organization,
        "by": by,
        "email": CUSTOMER_EMAIL,
        "kind": InvitationKind.WITH_PROVIDER if partnership else InvitationKind.RESELLER_ONLY,
        "roles": LEAST,
        "duration_days": 365,
        "auto_extend": False,
        "partnership_public_id": partnership.public_id if partnership else None,
        "customer_name": "Northwind",
    }
    return invitations.customer_invitation_create(**(values | changes))


def accept(invitation, admin, consent=True):
    return acceptance.customer_invitation_accept(
        invitation=invitation, user=admin.user, customer=admin.organization, consent=consent
    )


def outbox() -> list[tuple[str, str, int]]:
    return sorted(OutboxEmail.objects.values_list("template", "to", "organization_id"))


def audited(action: str) -> list[int]:
    return sorted(AuditEvent.objects.filter(action=action).values_list("organization_id", flat=True))


# --- Invitations: create --------------------------------------------------------------------------------


def test_a_reseller_only_invitation_is_pending_with_its_terms_and_sends_nothing_yet(reseller_admin):
    invitation, raw = invite(
        reseller_admin,
        email="  Owner@Northwind.EXAMPLE ",
        roles=["license_admin", "directory_reader", "helpdesk_admin"],
        duration_days="90",
        auto_extend=True,
        language="ja",
    )

    assert (
        invitation.organization_id,
        invitation.email,
        invitation.kind,
        invitation.provider_id,
        invitation.partnership_id,
        invitation.customer_name,
        invitation.roles,
        invitation.duration_days,
        invitation.auto_extend,
        invitation.language,
        invitation.status,
        invitation.invited_by_id,
    ) == (
        reseller_admin.organization_id,
        CUSTOMER_EMAIL,
        InvitationKind.RESELLER_ONLY,
        None,
        None,
        "Northwind",
        LEAST,  # catalogue order
        90,
        True,
        "ja",
        Status.PENDING,
        reseller_admin.user_id,
    )
    assert invitation.token_hash == token_hash(raw)
    assert round((invitation.expires_at - invitation.created_at).total_seconds() / 86400) == 30
    event = AuditEvent.objects.get()
    assert (event.action, event.organization_id, event.actor_id) == (
        "customer_invitation.sent",
        reseller_admin.organization_id,
        reseller_admin.user_id,
    )
    assert event.after["kind"] == "reseller"
    assert event.after["roles"] == LEAST
    assert raw not in str(event.after)
    assert not OutboxEmail.objects.exists()


def test_a_with_provider_invitation_names_the_provider_of_a_live_partnership(
    reseller_admin, partnership, provider
):
    invitation, _raw = invite(reseller_admin, partnership=partnership)

    assert (invitation.kind, invitation.provider_id, invitation.partnership_id) == (
        InvitationKind.WITH_PROVIDER,
        provider.pk,
        partnership.pk,
    )
    assert invitation.with_provider
    sent = AuditEvent.objects.filter(action="customer_invitation.sent")
    assert sorted(sent.values_list("organization_id", flat=True)) == sorted(
        [reseller_admin.organization_id, provider.pk]
    )
    assert (
        sent.get(organization_id=reseller_admin.organization_id).after["provider"]
        == "Contoso Distribution KK"
    )
    assert sent.get(organization_id=provider.pk).after["reseller"] == "Fabrikam Japan KK"


@pytest.mark.parametrize("case", ["another resellers", "ended", "none", "unknown"])
def test_a_with_provider_invitation_needs_a_live_partnership_of_this_reseller(reseller_admin, case):
    chosen = {
        "another resellers": lambda: PartnershipFactory(reseller=ResellerFactory()).public_id,
        "ended": lambda: PartnershipFactory(reseller=reseller_admin.organization, status="ended").public_id,
        "none": lambda: None,
        "unknown": lambda: uuid.uuid4(),
    }[case]()

    error = refused(
        invite, by=reseller_admin, kind=InvitationKind.WITH_PROVIDER, partnership_public_id=chosen
    )

    assert (error.field, error.code) == ("partnership", "provider_required")
    assert not CustomerInvitation.objects.exists()


def test_an_unknown_kind_is_refused(reseller_admin):
    error = refused(invite, by=reseller_admin, kind="everything")

    assert (error.field, error.code) == ("kind", "kind_unknown")


@pytest.mark.parametrize(
    ("roles", "code"),
    [
        ([], "roles_required"),
        (None, "roles_required"),
        (["owner"], "role_unknown"),
        (["helpdesk_admin", "x"], "role_unknown"),
    ],
)
def test_delegated_roles_are_required_and_known(reseller_admin, roles, code):
    error = refused(invite, by=reseller_admin, roles=roles)

    assert (error.field, error.code) == ("roles", code)


@pytest.mark.parametrize("days", [0, 731, "abc", "", None, -5])
def test_a_duration_outside_one_day_to_two_years_is_refused_at_its_field(reseller_admin, days):
    error = refused(invite, by=reseller_admin, duration_days=days)

    assert error.field == "duration_days"


@pytest.mark.parametrize("days", [1, 730, "1", "730"])
def test_one_day_and_two_years_are_accepted(reseller_admin, days):
    invitation, _raw = invite(reseller_admin, duration_days=days)

    assert invitation.duration_days == int(days)


def test_auto_extend_with_global_administrator_is_refused_and_nothing_is_saved(reseller_admin):
    error = refused(invite, by=reseller_admin, roles=["global_admin", "helpdesk_admin"], auto_extend=True)

    assert (error.field, error.code) == ("auto_extend", "auto_extend_global_admin")
    assert not CustomerInvitation.objects.exists()
    assert not AuditEvent.objects.exists()


def test_global_administrator_without_auto_extend_may_be_requested(reseller_admin):
    invitation, _raw = invite(reseller_admin, roles=["global_admin"], auto_extend=False)

    assert (invitation.roles, invitation.auto_extend) == (["global_admin"], False)


def test_a_helpdesk_agent_cannot_invite_and_nothing_changes(reseller):
    helpdesk = member_of(reseller, Role.HELPDESK_AGENT)

    error = refused(invite, by=helpdesk)

    assert error.code == "actor_not_permitted"


@pytest.mark.parametrize("role", [Role.SALES_AGENT, Role.ADMIN_AGENT, Role.GLOBAL_ADMIN])
def test_sales_agents_admin_agents_and_global_admins_may_invite(reseller, role):
    invitation, _raw = invite(member_of(reseller, role))

    assert invitation.status == Status.PENDING


def test_a_provider_cannot_invite_customers(provider_admin):
    error = refused(invite, by=provider_admin)

    assert error.code == "wrong_kind"


def test_a_new_invitation_to_the_same_address_replaces_the_pending_one(reseller_admin):
    first, first_raw = invite(reseller_admin)

    second, second_raw = invite(reseller_admin)

    first.refresh_from_db()
    assert (first.status, second.status) == (Status.REVOKED, Status.PENDING)
    assert link_invitation_lookup(CustomerInvitation, second_raw) == second
    assert link_invitation_lookup(CustomerInvitation, first_raw).status == Status.REVOKED


# --- The customer's side: binding, consent, accept ---------------------------------------------------------


def test_another_signed_in_user_cannot_accept(reseller_admin):
    invitation, _raw = invite(reseller_admin)
    stranger = member_of(CustomerFactory(), email="someone@elsewhere.example")

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=stranger)

    assert error.code == "invitation_wrong_email"


def test_the_invited_address_unverified_cannot_accept(reseller_admin):
    invitation, _raw = invite(reseller_admin, email="new@northwind.example")
    unverified = MembershipFactory(
        organization=CustomerFactory(),
        user=UserFactory(email="new@northwind.example", verified=False),
        roles=[Role.GLOBAL_ADMIN],
    )

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=unverified)

    assert error.code == "invitation_wrong_email"


def test_only_a_global_admin_of_the_customer_can_accept(reseller_admin):
    invitation, _raw = invite(reseller_admin)
    user_admin = member_of(CustomerFactory(), Role.USER_MANAGEMENT_ADMIN, email=CUSTOMER_EMAIL)

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=user_admin)

    assert error.code == "not_customer_admin"


def test_accepting_needs_consent(reseller_admin, customer_admin):
    invitation, _raw = invite(reseller_admin)

    error = refused(accept, invitation=invitation, admin=customer_admin, consent=False)

    assert (error.field, error.code) == ("consent", "consent_required")
    assert str(error.message) == "Tick the box to confirm that you grant these rights."


def test_accepting_makes_the_reseller_of_record_and_starts_the_delegated_admin_roles(
    reseller_admin, customer_admin
):
    invitation, _raw = invite(reseller_admin, roles=["user_admin", "global_reader"], duration_days=90)
    customer = customer_admin.organization
    start = timezone.now()

    relationship = accept(invitation, customer_admin)

    end = timezone.now()
    assert CustomerRelationship.objects.get() == relationship
    assert (
        relationship.customer_id,
        relationship.partner_id,
        relationship.role,
        relationship.reseller_id,
        relationship.status,
        relationship.customer_name,
        relationship.invitation_id,
        relationship.accepted_by_id,
    ) == (
        customer.pk,
        reseller_admin.organization_id,
        PartnerRole.RESELLER,
        reseller_admin.organization_id,
        RelationshipStatus.ACTIVE,
        "Northwind Traders Ltd",
        invitation.pk,
        customer_admin.user_id,
    )
    admin = DelegatedAdminRelationship.objects.get()
    assert (admin.customer_id, admin.partner_id, admin.status, admin.roles, admin.duration_days) == (
        customer.pk,
        reseller_admin.organization_id,
        D.ACTIVE,
        ["global_reader", "user_admin"],
        90,
    )
    assert start <= admin.starts_at <= end
    assert admin.ends_at - admin.starts_at == timedelta(days=90)
    assert (admin.approved_by_id, admin.requested_by_id, admin.invitation_id) == (
        customer_admin.user_id,
        reseller_admin.user_id,
        invitation.pk,
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.customer_id) == (Status.ACCEPTED, customer.pk)
    assert audited("customer_relationship.created") == sorted([customer.pk, reseller_admin.organization_id])
    assert audited("delegated_admin.activated") == sorted([customer.pk, reseller_admin.organization_id])
    assert audited("customer_invitation.accepted") == [reseller_admin.organization_id]
    # The reseller is told (its inviter, who is also its Global admin, once).
    assert outbox() == [
        ("customer_invitation_accepted", "rei@fabrikam.example", reseller_admin.organization_id)
    ]
    assert partner_may(reseller_admin.organization, customer, "user_admin")
    assert not partner_may(reseller_admin.organization, customer, "helpdesk_admin")


def test_accepting_a_with_provider_invitation_also_relates_the_provider(
    reseller_admin, partnership, provider, provider_admin, customer_admin
):
    invitation, _raw = invite(reseller_admin, partnership=partnership)
    customer = customer_admin.organization

    accept(invitation, customer_admin)

    rows = sorted(
        CustomerRelationship.objects.values_list("partner_id", "role", "reseller_id", "status"),
        key=lambda row: row[1],
    )
    assert rows == [
        (provider.pk, PartnerRole.PROVIDER, reseller_admin.organization_id, RelationshipStatus.ACTIVE),
        (reseller_admin.organization_id, PartnerRole.RESELLER, reseller_admin.organization_id, "active"),
    ]
    # Delegated admin roles go to the reseller only.
    assert list(DelegatedAdminRelationship.objects.values_list("partner_id", "status")) == [
        (reseller_admin.organization_id, D.ACTIVE)
    ]
    assert audited("customer_relationship.created") == sorted(
        [customer.pk, reseller_admin.organization_id, provider.pk]
    )
    assert outbox() == sorted(
        [
            ("customer_invitation_accepted", "rei@fabrikam.example", reseller_admin.organization_id),
            ("customer_shared", "kenji@contoso.example", provider.pk),
        ]
    )
    assert partner_may(provider, customer, "order")


def test_a_customer_of_another_reseller_through_the_same_provider_can_accept(
    reseller_admin, partnership, provider, customer_admin
):
    # Northwind already buys from Adatum through Contoso; Fabrikam, another reseller of Contoso, invites it.
    adatum = ResellerFactory(legal_name="Adatum KK")
    customer_linked(adatum, customer_admin.organization, provider=provider, delegated=False)
    invitation, _raw = invite(reseller_admin, partnership=partnership)

    accept(invitation, customer_admin)

    provider_rows = CustomerRelationship.objects.filter(partner=provider, status=RelationshipStatus.ACTIVE)
    assert sorted(provider_rows.values_list("reseller_id", flat=True)) == sorted(
        [adatum.pk, reseller_admin.organization_id]
    )


def test_accepting_twice_makes_one_of_each(reseller_admin, partnership, customer_admin):
    invitation, _raw = invite(reseller_admin, partnership=partnership)
    accept(invitation, customer_admin)

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=customer_admin)

    assert error.code == "invitation_closed"
    assert CustomerRelationship.objects.filter(role=PartnerRole.RESELLER).count() == 1
    assert CustomerRelationship.objects.filter(role=PartnerRole.PROVIDER).count() == 1
    assert DelegatedAdminRelationship.objects.count() == 1


def test_a_customer_that_already_has_this_reseller_gets_a_message_and_nothing_is_added(
    reseller_admin, customer_admin
):
    customer_linked(reseller_admin.organization, customer_admin.organization)
    invitation, _raw = invite(reseller_admin)

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=customer_admin)

    assert error.code == "already_customer"
    assert str(error.message) == (
        "Fabrikam Japan KK is already the reseller of Northwind Traders Ltd. Nothing was added: to change "
        "its delegated admin roles, ask Fabrikam Japan KK to send a new role request from its Customers page."
    )
    invitation.refresh_from_db()
    assert invitation.status == Status.PENDING


def test_a_former_customer_may_accept_the_reseller_again(reseller_admin, customer_admin):
    first, _raw = invite(reseller_admin)
    old_row = accept(first, customer_admin)
    relationships.customer_relationship_end(relationship=old_row, by=customer_admin, reason="Paused.")
    second, _raw = invite(reseller_admin, roles=["billing_admin"])

    new_row = accept(second, customer_admin)

    assert sorted(CustomerRelationship.objects.values_list("pk", "status"), key=lambda row: row[0]) == [
        (old_row.pk, RelationshipStatus.ENDED),
        (new_row.pk, RelationshipStatus.ACTIVE),
    ]
    assert sorted(DelegatedAdminRelationship.objects.values_list("roles", "status")) == sorted(
        [(LEAST, D.TERMINATED), (["billing_admin"], D.ACTIVE)]
    )
    assert partner_may(reseller_admin.organization, customer_admin.organization, "billing_admin")
    assert not partner_may(reseller_admin.organization, customer_admin.organization, "helpdesk_admin")


def test_an_organization_that_is_not_a_customer_cannot_accept(reseller_admin):
    invitation, _raw = invite(reseller_admin)
    other_reseller_admin = member_of(ResellerFactory(), email=CUSTOMER_EMAIL)

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=other_reseller_admin)

    assert error.code == "not_customer_admin"


def test_an_invitation_of_a_suspended_reseller_cannot_be_accepted(reseller_admin, customer_admin):
    invitation, _raw = invite(reseller_admin)
    Organization.objects.filter(pk=reseller_admin.organization_id).update(
        status=Organization.Status.SUSPENDED
    )

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=customer_admin)

    assert error.code == "reseller_inactive"


def test_a_with_provider_invitation_whose_partnership_ended_cannot_be_accepted(
    reseller_admin, partnership, provider_admin, customer_admin
):
    invitation, _raw = invite(reseller_admin, partnership=partnership)
    partnership_end(partnership=partnership, by=provider_admin, reason="We stop.")

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=customer_admin)

    assert error.code == "partnership_ended"
    assert not CustomerRelationship.objects.exists()


def test_an_expired_invitation_cannot_be_accepted(reseller_admin, customer_admin):
    invitation, _raw = invite(reseller_admin)
    CustomerInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=customer_admin)

    assert error.code == "invitation_expired"


def test_declining_with_a_reason_closes_the_link_and_tells_the_reseller(reseller_admin, customer_admin):
    invitation, _raw = invite(reseller_admin)

    acceptance.customer_invitation_decline(
        invitation=invitation, user=customer_admin.user, reason="  We chose another partner. "
    )

    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason, invitation.decided_by_id) == (
        Status.DECLINED,
        "We chose another partner.",
        customer_admin.user_id,
    )
    assert audited("customer_invitation.declined") == [reseller_admin.organization_id]
    assert outbox() == [
        ("customer_invitation_declined", "rei@fabrikam.example", reseller_admin.organization_id)
    ]
    assert "We chose another partner." in outbox_email_content(OutboxEmail.objects.get()).body_text
    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=customer_admin)
    assert error.code == "invitation_closed"
    assert not CustomerRelationship.objects.exists()


def test_someone_else_cannot_decline(reseller_admin):
    invitation, _raw = invite(reseller_admin)
    stranger = UserFactory(email="someone@elsewhere.example")

    error = refused(
        acceptance.customer_invitation_decline,
        error_class=InvitationUnusable,
        invitation=invitation,
        user=stranger,
        reason="",
    )

    assert error.code == "invitation_wrong_email"


# --- Resend and revoke --------------------------------------------------------------------------------------


def test_resending_issues_a_new_link_with_the_same_terms_and_kills_the_old_one(
    reseller_admin, partnership, customer_admin
):
    invitation, raw = invite(
        reseller_admin, partnership=partnership, roles=["billing_admin"], duration_days=30, auto_extend=True
    )

    resent, new_raw = invitations.customer_invitation_resend(invitation=invitation, by=reseller_admin)

    assert (resent.pk, new_raw) != (invitation.pk, raw)
    terms = (
        "email",
        "kind",
        "provider_id",
        "partnership_id",
        "customer_name",
        "roles",
        "duration_days",
        "auto_extend",
        "language",
    )
    assert [getattr(resent, name) for name in terms] == [getattr(invitation, name) for name in terms]
    assert resent.status == Status.PENDING
    old = link_invitation_lookup(CustomerInvitation, raw)
    assert (old.pk, old.status) == (invitation.pk, Status.REVOKED)
    with pytest.raises(InvitationUnusable) as closed:
        acceptance.customer_invitation_check(old, customer_admin.user)
    assert closed.value.code == "invitation_closed"
    assert link_invitation_lookup(CustomerInvitation, new_raw) == resent
    acceptance.customer_invitation_check(resent, customer_admin.user, customer=customer_admin.organization)


def test_an_accepted_invitation_cannot_be_resent(reseller_admin, customer_admin):
    invitation, _raw = invite(reseller_admin)
    accept(invitation, customer_admin)

    error = refused(invitations.customer_invitation_resend, invitation=invitation, by=reseller_admin)

    assert error.code == "invitation_accepted"


def test_a_with_provider_invitation_cannot_be_resent_once_the_partnership_ended(
    reseller_admin, partnership, provider_admin
):
    invitation, _raw = invite(reseller_admin, partnership=partnership)
    partnership_end(partnership=partnership, by=provider_admin, reason="We stop.")

    error = refused(invitations.customer_invitation_resend, invitation=invitation, by=reseller_admin)

    assert error.code == "partnership_ended"


def test_a_helpdesk_agent_cannot_resend_or_revoke(reseller_admin):
    invitation, _raw = invite(reseller_admin)
    helpdesk = member_of(reseller_admin.organization, Role.HELPDESK_AGENT)

    for service in (invitations.customer_invitation_resend, invitations.customer_invitation_revoke):
        assert refused(service, invitation=invitation, by=helpdesk).code == "actor_not_permitted"


def test_revoking_closes_the_link(reseller_admin, customer_admin):
    invitation, raw = invite(reseller_admin)

    invitations.customer_invitation_revoke(invitation=invitation, by=reseller_admin)

    invitation.refresh_from_db()
    assert invitation.status == Status.REVOKED
    assert audited("customer_invitation.revoked") == [reseller_admin.organization_id]
    assert link_invitation_lookup(CustomerInvitation, raw).status == Status.REVOKED
    error = refused(accept, error_class=InvitationUnusable, invitation=invitation, admin=customer_admin)
    assert error.code == "invitation_closed"
    again = refused(invitations.customer_invitation_revoke, invitation=invitation, by=reseller_admin)
    assert isinstance(again, InvalidTransition)


def test_another_resellers_member_cannot_revoke(reseller_admin):
    invitation, _raw = invite(reseller_admin)
    outsider = member_of(ResellerFactory())

    error = refused(invitations.customer_invitation_revoke, invitation=invitation, by=outsider)

    assert error.code == "actor_not_permitted"


# --- The draft and the portal's email ----------------------------------------------------------------------


def test_the_portal_sends_the_edited_draft_with_the_link_sealed(reseller_admin):
    invitation, raw = invite(reseller_admin)
    link = invitations.invitation_link(raw)
    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)
    assert link in draft.body
    body = f"Dear Aiko,\n\nplease accept us as your reseller:\n{link}\n\nRei"

    invitations.customer_invitation_email(
        invitation=invitation, raw_token=raw, subject=" Our  invitation ", body=body, by=reseller_admin
    )

    email = OutboxEmail.objects.get()
    assert (email.to, email.subject, email.template, email.reply_to, email.organization_id) == (
        CUSTOMER_EMAIL,
        "Our invitation",
        "customer_invitation",
        "rei@fabrikam.example",
        reseller_admin.organization_id,
    )
    assert raw not in email.body_text
    assert outbox_email_content(email).body_text == body + "\n"
    invitation.refresh_from_db()
    assert invitation.emailed_at is not None
    assert audited("customer_invitation.emailed") == [reseller_admin.organization_id]


def test_a_draft_without_its_link_is_refused_at_the_body(reseller_admin):
    invitation, raw = invite(reseller_admin)

    error = refused(
        invitations.customer_invitation_email,
        invitation=invitation,
        raw_token=raw,
        subject="Hello",
        body="Please accept us as your reseller.",
        by=reseller_admin,
    )

    assert (error.field, error.code) == ("body", "link_missing")


def test_the_portal_sends_an_invitation_once(reseller_admin):
    invitation, raw = invite(reseller_admin)
    link = invitations.invitation_link(raw)
    send = invitations.customer_invitation_email
    send(invitation=invitation, raw_token=raw, subject="s", body=link, by=reseller_admin)

    error = refused(send, invitation=invitation, raw_token=raw, subject="s", body=link, by=reseller_admin)

    assert error.code == "already_emailed"
    assert OutboxEmail.objects.count() == 1


def test_a_draft_of_an_older_link_is_refused(reseller_admin):
    invitation, raw = invite(reseller_admin)
    resent, _new_raw = invitations.customer_invitation_resend(invitation=invitation, by=reseller_admin)
    link = invitations.invitation_link(raw)
    send = invitations.customer_invitation_email

    stale = refused(send, invitation=resent, raw_token=raw, subject="s", body=link, by=reseller_admin)
    closed = refused(send, invitation=invitation, raw_token=raw, subject="s", body=link, by=reseller_admin)

    assert (stale.code, closed.code) == ("draft_stale", "invitation_closed")


# --- The customer's organization ---------------------------------------------------------------------------


def builtin_tenant(user, *, country="JP", label="northwind"):
    return builtin_tenant_create_verified(
        name="Northwind Traders",
        country=country,
        initial_domain_label=label,
        admin_display_name="Aiko Sato",
        admin_password=TENANT_PASSWORD,
        by_user=user,
    )


def entra_tenant(country="JP") -> VerifiedTenant:
    return VerifiedTenant(
        tenant_id=uuid.uuid4(),
        display_name="Northwind Traders",
        verified_domains=["northwind.example", "northwind.onmicrosoft.com"],
        country=country,
        source=DirectoryTenantSource.ENTRA,
        admin=DirectoryAdmin(
            object_id=uuid.uuid4(), user_principal_name="aiko@northwind.example", display_name="Aiko Sato"
        ),
    )


def create_organization(user, verified, **changes):
    values = {
        "user": user,
        "legal_name": "Northwind Traders Ltd",
        "country": "JP",
        "address": TOKYO,
        "verified": verified,
    }
    return acceptance.customer_organization_create(**(values | changes))


def test_a_customer_organization_is_created_with_its_built_in_tenant_and_its_first_global_admin():
    user = UserFactory(email=CUSTOMER_EMAIL)
    verified = builtin_tenant(user)

    organization = create_organization(user, verified, country="jp")

    assert (
        organization.kind,
        organization.legal_name,
        str(organization.country),
        organization.postal_code,
        organization.region,
        organization.city,
        organization.address_line1,
        organization.status,
    ) == (
        Organization.Kind.CUSTOMER,
        "Northwind Traders Ltd",
        "JP",
        "100-0001",
        "13",
        "Chiyoda-ku",
        "1-1 Marunouchi",
        Organization.Status.ACTIVE,
    )
    assert organization.directory_tenant.tenant_id == verified.tenant_id
    membership = Membership.objects.get(organization=organization)
    assert (membership.user_id, membership.role_names) == (user.pk, [Role.GLOBAL_ADMIN])
    assert customer_organizations_administered(user) == [organization]


def test_an_entra_tenant_is_recorded_with_the_directorys_facts():
    user = UserFactory(email=CUSTOMER_EMAIL)
    verified = entra_tenant()

    organization = create_organization(user, verified)

    tenant = DirectoryTenant.objects.get(tenant_id=verified.tenant_id)
    assert organization.directory_tenant == tenant
    assert (tenant.name, tenant.verified_domains, str(tenant.country), tenant.source) == (
        "Northwind Traders",
        ["northwind.example", "northwind.onmicrosoft.com"],
        "JP",
        DirectoryTenantSource.ENTRA,
    )


def test_a_tenant_already_held_by_an_organization_is_refused_and_nothing_is_half_saved():
    user = UserFactory(email=CUSTOMER_EMAIL)
    verified = entra_tenant()
    create_organization(user, verified)

    error = refused(
        create_organization,
        error_class=TenantInUse,
        user=UserFactory(),
        verified=verified,
        legal_name="Copy Ltd",
    )

    assert error.code == "tenant_in_use"
    assert not Organization.objects.filter(legal_name="Copy Ltd").exists()


def test_a_built_in_tenant_held_by_another_organization_is_refused():
    user = UserFactory(email=CUSTOMER_EMAIL)
    verified = builtin_tenant(user)
    OrganizationFactory(directory_tenant=DirectoryTenant.objects.get(tenant_id=verified.tenant_id))

    error = refused(create_organization, error_class=TenantInUse, user=user, verified=verified)

    assert error.code == "tenant_in_use"


def test_the_country_must_be_the_tenants():
    user = UserFactory(email=CUSTOMER_EMAIL)

    error = refused(
        create_organization,
        user=user,
        verified=entra_tenant(country="US"),
        country="JP",
    )

    assert (error.field, error.code) == ("country", "country_mismatch")
    assert str(error.message) == (
        "Your tenant is registered in United States of America: the organization's country must be the same."
    )


def test_an_unknown_country_is_refused_at_its_field():
    error = refused(create_organization, user=UserFactory(), verified=entra_tenant(country=""), country="XX")

    assert (error.field, error.code) == ("country", "country_invalid")


@pytest.mark.parametrize("legal_name", ["", "   ", "Northwind\x00 Ltd", "North\u202ewind", "Northwind\x07"])
def test_a_bad_legal_name_is_refused_at_its_field(legal_name):
    error = refused(create_organization, user=UserFactory(), verified=entra_tenant(), legal_name=legal_name)

    assert error.field == "legal_name"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"postal_code": "12345"}, "postal_code"),
        ({"postal_code": "100-00012"}, "postal_code"),
        ({"postal_code": ""}, "postal_code"),
        ({"region": "Atlantis"}, "region"),
        ({"city": ""}, "city"),
        ({"address_line1": ""}, "address_line1"),
    ],
)
def test_a_bad_japanese_address_is_refused_at_its_field(changes, field):
    error = refused(create_organization, user=UserFactory(), verified=entra_tenant(), address=TOKYO | changes)

    assert error.field == field


def test_a_refused_address_leaves_no_tenant_behind():
    verified = entra_tenant()

    refused(create_organization, user=UserFactory(), verified=verified, address=TOKYO | {"postal_code": "1"})

    assert not DirectoryTenant.objects.filter(tenant_id=verified.tenant_id).exists()


# --- Delegated admin: the reseller asks, the customer answers ----------------------------------------------


@pytest.fixture
def linked(reseller_admin, customer_admin):
    """Northwind, customer of Fabrikam, with Fabrikam's live delegated admin relationship."""
    _customer, relationship, live = customer_linked(
        reseller_admin.organization, customer_admin.organization, roles=LEAST, days=365
    )
    return relationship, live


def request_roles(by, customer, **changes):
    values = {
        "partner": by.organization,
        "by": by,
        "customer": customer,
        "roles": ["user_admin", "license_admin"],
        "duration_days": 180,
        "auto_extend": True,
    }
    return delegated.delegated_admin_request(**(values | changes))


def test_a_reseller_requests_changed_roles_and_the_customers_admins_get_the_approval_link(
    reseller_admin, customer_admin, linked
):
    _relationship, live = linked

    pending = request_roles(reseller_admin, customer_admin.organization)

    assert (
        pending.status,
        pending.roles,
        pending.duration_days,
        pending.auto_extend,
        pending.replaces_id,
        pending.requested_by_id,
        pending.starts_at,
        pending.ends_at,
    ) == (
        D.APPROVAL_PENDING,
        ["license_admin", "user_admin"],
        180,
        True,
        live.pk,
        reseller_admin.user_id,
        None,
        None,
    )
    live.refresh_from_db()
    assert live.status == D.ACTIVE  # the live roles hold until the customer approves
    assert audited("delegated_admin.requested") == sorted(
        [customer_admin.organization_id, reseller_admin.organization_id]
    )
    assert outbox() == [("delegated_admin_request", CUSTOMER_EMAIL, customer_admin.organization_id)]
    body = outbox_email_content(OutboxEmail.objects.get()).body_text
    assert f"/partners/delegated-admin/{pending.public_id}/" in body


@pytest.mark.parametrize("role", [Role.SALES_AGENT, Role.HELPDESK_AGENT, Role.ACCOUNT_ADMIN])
def test_only_those_who_manage_customers_may_request_roles(reseller_admin, customer_admin, linked, role):
    member = member_of(reseller_admin.organization, role)

    error = refused(request_roles, by=member, customer=customer_admin.organization)

    assert error.code == "actor_not_permitted"


def test_an_admin_agent_may_request_roles(reseller_admin, customer_admin, linked):
    agent = member_of(reseller_admin.organization, Role.ADMIN_AGENT)

    assert request_roles(agent, customer_admin.organization).status == D.APPROVAL_PENDING


def test_a_reseller_cannot_request_roles_of_a_customer_that_is_not_its_own(reseller_admin, linked):
    other_customer = CustomerFactory()

    error = refused(request_roles, by=reseller_admin, customer=other_customer)

    assert error.code == "not_your_customer"


def test_a_request_is_checked_like_the_invitations_terms(reseller_admin, customer_admin, linked):
    error = refused(
        request_roles,
        by=reseller_admin,
        customer=customer_admin.organization,
        roles=["global_admin"],
        auto_extend=True,
    )

    assert (error.field, error.code) == ("auto_extend", "auto_extend_global_admin")


def test_a_second_request_supersedes_the_first(reseller_admin, customer_admin, linked):
    first = request_roles(reseller_admin, customer_admin.organization)

    second = request_roles(reseller_admin, customer_admin.organization, roles=["billing_admin"])

    first.refresh_from_db()
    assert (first.status, first.close_reason) == (D.TERMINATED, "superseded")
    assert second.status == D.APPROVAL_PENDING
    assert DelegatedAdminRelationship.objects.filter(status=D.APPROVAL_PENDING).get() == second


def test_the_customers_global_admin_approves_and_the_new_roles_replace_the_live_ones(
    reseller_admin, customer_admin, linked
):
    _relationship, live = linked
    pending = request_roles(reseller_admin, customer_admin.organization, auto_extend=False)
    OutboxEmail.objects.all().delete()
    start = timezone.now()

    approved = delegated.delegated_admin_approve(relationship=pending, by=customer_admin)

    assert (approved.pk, approved.status, approved.approved_by_id) == (
        pending.pk,
        D.ACTIVE,
        customer_admin.user_id,
    )
    assert start <= approved.starts_at <= timezone.now()
    assert approved.ends_at - approved.starts_at == timedelta(days=180)
    live.refresh_from_db()
    assert (live.status, live.close_reason) == (D.TERMINATED, "replaced")
    customer, reseller = customer_admin.organization, reseller_admin.organization
    assert partner_may(reseller, customer, "user_admin")
    assert not partner_may(reseller, customer, "helpdesk_admin")
    assert audited("delegated_admin.approved") == sorted([customer.pk, reseller.pk])
    assert audited("delegated_admin.terminated") == sorted([customer.pk, reseller.pk])
    assert outbox() == [("delegated_admin_approved", "rei@fabrikam.example", reseller.pk)]


def test_the_customer_declines_a_request_and_the_partner_is_told(reseller_admin, customer_admin, linked):
    _relationship, live = linked
    pending = request_roles(reseller_admin, customer_admin.organization)
    OutboxEmail.objects.all().delete()

    delegated.delegated_admin_decline(relationship=pending, by=customer_admin, reason="Too much.")

    pending.refresh_from_db()
    live.refresh_from_db()
    assert (pending.status, pending.close_reason, pending.closed_by_id) == (
        D.TERMINATED,
        "Too much.",
        customer_admin.user_id,
    )
    assert live.status == D.ACTIVE
    assert outbox() == [("delegated_admin_declined", "rei@fabrikam.example", reseller_admin.organization_id)]
    again = refused(delegated.delegated_admin_approve, relationship=pending, by=customer_admin)
    assert again.code == "not_pending"


def test_the_customer_removes_delegated_access_and_the_partner_loses_it_at_once(
    reseller_admin, customer_admin, linked
):
    _relationship, live = linked
    customer, reseller = customer_admin.organization, reseller_admin.organization
    assert partner_may(reseller, customer, "helpdesk_admin")

    delegated.delegated_admin_remove(relationship=live, by=customer_admin, reason="We manage it ourselves.")

    live.refresh_from_db()
    assert (live.status, live.closed_by_id, live.close_reason) == (
        D.TERMINATED,
        customer_admin.user_id,
        "We manage it ourselves.",
    )
    assert not partner_may(reseller, customer, "helpdesk_admin")
    assert partner_may(reseller, customer, "view")  # still the reseller of record
    assert outbox() == [("delegated_admin_removed", "rei@fabrikam.example", reseller.pk)]
    assert audited("delegated_admin.terminated") == sorted([customer.pk, reseller.pk])
    again = refused(delegated.delegated_admin_remove, relationship=live, by=customer_admin)
    assert again.code == "not_live"


def test_a_customer_member_who_is_not_its_global_admin_cannot_answer_or_remove(
    reseller_admin, customer_admin, linked
):
    _relationship, live = linked
    pending = request_roles(reseller_admin, customer_admin.organization)
    user_admin = member_of(customer_admin.organization, Role.USER_MANAGEMENT_ADMIN)

    for service, relationship in (
        (delegated.delegated_admin_approve, pending),
        (delegated.delegated_admin_decline, pending),
        (delegated.delegated_admin_remove, live),
    ):
        assert refused(service, relationship=relationship, by=user_admin).code == "actor_not_permitted"


def test_a_member_of_another_customer_cannot_act_on_this_ones_relationships(
    reseller_admin, customer_admin, linked
):
    _relationship, live = linked
    pending = request_roles(reseller_admin, customer_admin.organization)
    other = member_of(CustomerFactory())

    for service, relationship in (
        (delegated.delegated_admin_approve, pending),
        (delegated.delegated_admin_decline, pending),
        (delegated.delegated_admin_remove, live),
    ):
        assert refused(service, relationship=relationship, by=other).code == "not_yours"


def test_the_partner_itself_cannot_approve_its_own_request(reseller_admin, customer_admin, linked):
    pending = request_roles(reseller_admin, customer_admin.organization)

    error = refused(delegated.delegated_admin_approve, relationship=pending, by=reseller_admin)

    assert error.code == "not_yours"


# --- The customer ends a relationship --------------------------------------------------------------------


@pytest.fixture
def shared(reseller_admin, customer_admin, provider, provider_admin):
    """Northwind, customer of Fabrikam and shared with Contoso, Fabrikam's live delegated admin access and a
    pending request for more."""
    customer, reseller_row, live = customer_linked(
        reseller_admin.organization, customer_admin.organization, provider=provider
    )
    provider_row = CustomerRelationship.objects.get(customer=customer, partner=provider)
    pending = DelegatedAdminRelationship.objects.create(
        customer=customer,
        partner=reseller_admin.organization,
        roles=["user_admin"],
        duration_days=30,
        status=D.APPROVAL_PENDING,
        replaces=live,
    )
    return reseller_row, provider_row, live, pending


def test_ending_the_reseller_ends_the_provider_through_it_and_the_delegated_admin_access(
    reseller_admin, customer_admin, provider, shared
):
    reseller_row, provider_row, live, pending = shared
    customer, reseller = customer_admin.organization, reseller_admin.organization
    effects = relationships.relationship_effects(reseller_row)
    assert effects["relationships"] == [reseller_row, provider_row]
    assert {row.pk for row in effects["delegated_admins"]} == {live.pk, pending.pk}

    relationships.customer_relationship_end(relationship=reseller_row, by=customer_admin, reason="Moving on.")

    for row in (reseller_row, provider_row):
        row.refresh_from_db()
        assert (row.status, row.ended_by_id, row.ended_by_side, row.end_reason) == (
            RelationshipStatus.ENDED,
            customer_admin.user_id,
            RelationshipSide.CUSTOMER,
            "Moving on.",
        )
        assert row.ended_at is not None
    for row in (live, pending):
        row.refresh_from_db()
        assert (row.status, row.close_reason) == (D.TERMINATED, "relationship_ended")
    assert not partner_may(reseller, customer, "view")
    assert not partner_may(provider, customer, "view")
    assert audited("customer_relationship.ended") == sorted(
        [customer.pk, customer.pk, reseller.pk, provider.pk]
    )
    assert outbox() == sorted(
        [
            ("customer_relationship_ended", "kenji@contoso.example", provider.pk),
            ("customer_relationship_ended", "rei@fabrikam.example", reseller.pk),
        ]
    )
    again = refused(
        relationships.customer_relationship_end, relationship=reseller_row, by=customer_admin, reason=""
    )
    assert again.code == "already_ended"


def test_ending_the_provider_ends_that_relationship_only(reseller_admin, customer_admin, provider, shared):
    reseller_row, provider_row, live, pending = shared
    customer, reseller = customer_admin.organization, reseller_admin.organization

    effects = relationships.customer_relationship_end(relationship=provider_row, by=customer_admin)

    assert effects == {"relationships": [provider_row], "delegated_admins": []}
    provider_row.refresh_from_db()
    reseller_row.refresh_from_db()
    live.refresh_from_db()
    pending.refresh_from_db()
    assert (provider_row.status, reseller_row.status, live.status, pending.status) == (
        RelationshipStatus.ENDED,
        RelationshipStatus.ACTIVE,
        D.ACTIVE,
        D.APPROVAL_PENDING,
    )
    assert not partner_may(provider, customer, "view")
    assert partner_may(reseller, customer, "helpdesk_admin")
    # the reseller the provider served the customer through hears of it too
    assert audited("customer_relationship.ended") == sorted([customer.pk, provider.pk, reseller.pk])
    assert sorted(outbox()) == sorted(
        [
            ("customer_relationship_ended", "kenji@contoso.example", provider.pk),
            ("customer_relationship_ended", "rei@fabrikam.example", reseller.pk),
        ]
    )


def test_only_the_customers_global_admin_ends_a_relationship(reseller_admin, customer_admin, shared):
    reseller_row, _provider_row, _live, _pending = shared
    end = relationships.customer_relationship_end

    user_admin = member_of(customer_admin.organization, Role.USER_MANAGEMENT_ADMIN)
    assert refused(end, relationship=reseller_row, by=user_admin).code == "actor_not_permitted"
    assert refused(end, relationship=reseller_row, by=member_of(CustomerFactory())).code == "not_yours"
    # The partner cannot end it through the customer's service either.
    assert refused(end, relationship=reseller_row, by=reseller_admin).code == "not_yours"


def test_a_legacy_request_with_global_administrator_and_auto_extend_cannot_be_approved(reseller):
    """The terms are checked again when granted: a row written by an older rule (here, by hand) is refused
    at approval, and nothing changes."""
    customer, _relationship, _live = customer_linked(reseller)
    customer_admin = member_of(customer)
    legacy = DelegatedAdminRelationship.objects.create(
        customer=customer,
        partner=reseller,
        roles=["global_admin"],
        duration_days=30,
        auto_extend=True,
        status=D.APPROVAL_PENDING,
    )
    error = refused(delegated.delegated_admin_approve, relationship=legacy, by=customer_admin)
    assert (error.code, error.field) == ("auto_extend_global_admin", "auto_extend")


def test_the_customer_can_still_decline_an_invitation_of_a_suspended_reseller(reseller):
    from tests.factories.customers import CustomerInvitationFactory

    user = UserFactory(email="it@tailspin.example")
    invitation = CustomerInvitationFactory(organization=reseller, email=user.email)
    Organization.objects.filter(pk=reseller.pk).update(status=Organization.Status.SUSPENDED)
    invitation.refresh_from_db()
    with pytest.raises(InvitationUnusable) as error:
        acceptance.customer_invitation_check(invitation, user)
    assert error.value.code == "reseller_inactive"
    acceptance.customer_invitation_decline(
        invitation=invitation, user=user, reason="We chose another partner."
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason) == (Status.DECLINED, "We chose another partner.")

"""The customer's side of a reseller's invitation link: what the page grants per partner (reseller of
record, the provider's orders, each delegated admin role with its end date), signed out and signed in,
the invited address only, creating the organization first, the required consent, an existing reseller,
and declining."""

from datetime import UTC, datetime
from html import unescape

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Organization
from accounts.roles import Role
from customers.models import (
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    PartnerRole,
)
from customers.selectors import partner_may
from portal.audit.models import AuditEvent
from portal.invitations.models import LinkInvitationStatus
from portal.mail.models import OutboxEmail
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.customers import CustomerFactory, CustomerInvitationFactory, customer_linked
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

SHOW = "customers:customer_invitation"
ACCEPT = "customers:customer_invitation_accept"
DECLINE = "customers:customer_invitation_decline"
EMAIL = "aiko@contoso.example"
NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def reseller():
    return ResellerFactory(legal_name="Fabrikam Japan KK", partner_id="7654321")


@pytest.fixture
def invitation(reseller):
    return CustomerInvitationFactory(
        organization=reseller,
        email=EMAIL,
        customer_name="Contoso",
        roles=[DelegatedRole.HELPDESK_ADMIN, DelegatedRole.LICENSE_ADMIN],
        duration_days=90,
    )


@pytest.fixture
def with_provider_invitation(reseller):
    provider = ProviderFactory(legal_name="Northwind Distribution KK")
    partnership = PartnershipFactory(provider=provider, reseller=reseller)
    return CustomerInvitationFactory(
        organization=reseller, email=EMAIL, with_provider=partnership, auto_extend=True, duration_days=365
    )


def customer_admin(customer=None, email=EMAIL):
    customer = customer or CustomerFactory(legal_name="Contoso KK")
    return MembershipFactory(organization=customer, roles=[Role.GLOBAL_ADMIN], user=UserFactory(email=email))


def open_link(client, invitation):
    landing = client.get(
        reverse("customers:customer_invitation_landing", kwargs={"token": invitation.raw_token})
    )
    assert landing.status_code == 302
    assert landing["Location"] == reverse(SHOW)
    return client.get(reverse(SHOW))


def text(response) -> str:
    return unescape(response.content.decode())


def state() -> tuple:
    return (
        list(CustomerInvitation.objects.order_by("pk").values_list("pk", "status", "customer_id")),
        list(CustomerRelationship.objects.order_by("pk").values_list("pk", "status")),
        list(DelegatedAdminRelationship.objects.order_by("pk").values_list("pk", "status")),
        Organization.objects.count(),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


# --- Signed out -----------------------------------------------------------------------------------------


def test_signed_out_the_page_spells_out_the_grants_and_offers_sign_in_and_sign_up(client, invitation):
    before = state()

    page = open_link(client, invitation)

    assert page.status_code == 200
    body = text(page)
    assert "Invitation from a reseller</h1>" in body
    assert '<p class="customer-kind customer-kind--reseller">' in body
    assert "One partner: the reseller. No indirect provider is part of this invitation." in body
    assert "<bdi>Fabrikam Japan KK</bdi> becomes your reseller of record" in body
    assert "<dt>Partner ID</dt><dd>7654321</dd>" in body
    assert "Helpdesk administrator" in body and "License administrator" in body
    assert "Assign and remove licences of your subscriptions to your users." in body
    assert "<dt>Starts</dt><dd>When you accept</dd>" in body
    assert "<dt>Ends (UTC)</dt><dd><strong>2031-06-08</strong> (after 90 days)</dd>" in body
    assert "No: the access ends on that date, unless you approve a new request." in body
    assert "Account settings > Partner relationships" in body
    assert "Indirect provider</span>" not in body
    next_query = "next=/invitations/customer/"
    assert f'href="/accounts/login/?email=aiko%40contoso.example&{next_query}"' in body
    assert f'href="/accounts/signup/?email=aiko%40contoso.example&{next_query}"' in body
    assert "Accept</button>" not in body and "Decline</button>" not in body
    assert state() == before


def test_signed_out_a_with_provider_invitation_has_its_own_look_and_a_card_per_partner(
    client, with_provider_invitation
):
    body = text(open_link(client, with_provider_invitation))

    assert "Invitation from a reseller and its indirect provider</h1>" in body
    assert '<p class="customer-kind customer-kind--with_provider">' in body
    assert "Reseller and indirect provider</span>" in body
    assert '<section class="card invitation-card customer-partner customer-partner--reseller"' in body
    assert '<section class="card invitation-card customer-partner customer-partner--provider"' in body
    assert (
        "<bdi>Northwind Distribution KK</bdi> may submit orders for your organization, through "
        "<bdi>Fabrikam Japan KK</bdi>, your reseller of record."
    ) in body
    assert "<dt>Ends (UTC)</dt><dd><strong>2032-03-09</strong> (after 365 days)</dd>" in body
    assert (
        "Yes: at its end the access is extended by 180 days, each time, while <bdi>Fabrikam Japan KK</bdi> "
        "stays your reseller of record."
    ) in body


def test_a_link_that_is_not_valid_is_404(client):
    response = client.get(reverse("customers:customer_invitation_landing", kwargs={"token": "nope"}))
    page = client.get(response["Location"])

    assert page.status_code == 404
    assert "This invitation link is not valid." in text(page)


# --- Signed in ------------------------------------------------------------------------------------------


def test_someone_else_is_refused_and_nothing_changes(client, invitation):
    someone = customer_admin(email="someone.else@contoso.example")
    client.force_login(someone.user)
    before = state()

    page = open_link(client, invitation)
    accepted = client.post(reverse(ACCEPT), {"consent": "on"})
    declined = client.post(reverse(DECLINE), {"reason": "no"})

    assert page.status_code == 410
    assert "This invitation is for aiko@contoso.example. Sign in with that address to accept it." in text(
        page
    )
    assert "Accept</button>" not in text(page)
    assert (accepted.status_code, accepted["Location"]) == (302, reverse(SHOW))
    assert (declined.status_code, declined["Location"]) == (302, reverse(SHOW))
    assert state() == before


def test_an_unverified_address_is_not_the_invited_one(client, invitation):
    client.force_login(UserFactory(email=EMAIL, verified=False))

    page = open_link(client, invitation)

    assert page.status_code == 410
    assert "Sign in with that address to accept it." in text(page)


def test_without_a_customer_organization_the_next_step_is_to_create_it(client, invitation):
    client.force_login(UserFactory(email=EMAIL))
    before = state()

    body = text(open_link(client, invitation))

    assert "Create your organization</h2>" in body
    assert '<a class="button" href="/customers/new/?next=%2Finvitations%2Fcustomer%2F">' in body
    assert "Accept</button>" not in body
    assert "Decline</button>" in body  # declining needs no organization
    assert state() == before


def test_a_global_admin_accepts_for_the_customer(client, invitation, reseller):
    admin = customer_admin()
    customer = admin.organization
    client.force_login(admin.user)
    body = text(open_link(client, invitation))
    assert f'<input type="hidden" name="customer" value="{customer.public_id}">' in body
    assert "You accept for <bdi>Contoso KK</bdi>." in body
    assert "Create another organization</a>" in body

    response = client.post(reverse(ACCEPT), {"customer": str(customer.public_id), "consent": "on"})

    assert response.status_code == 302
    assert response["Location"] == reverse(
        "customers:partners", kwargs={"organization_public_id": customer.public_id}
    )
    relationship = CustomerRelationship.objects.get()
    assert (relationship.customer, relationship.partner, relationship.role, relationship.status) == (
        customer,
        reseller,
        PartnerRole.RESELLER,
        "active",
    )
    delegated = DelegatedAdminRelationship.objects.get()
    assert (delegated.status, delegated.roles, delegated.ends_at) == (
        DelegatedAdminStatus.ACTIVE,
        [DelegatedRole.HELPDESK_ADMIN, DelegatedRole.LICENSE_ADMIN],
        datetime(2031, 6, 8, 9, 0, tzinfo=UTC),
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.customer, invitation.decided_by) == (
        LinkInvitationStatus.ACCEPTED,
        customer,
        admin.user,
    )
    assert partner_may(reseller, customer, DelegatedRole.HELPDESK_ADMIN) is True
    followed = text(client.get(response["Location"]))
    assert "Fabrikam Japan KK is now the reseller of record of Contoso KK. It was notified." in followed
    assert "link_invitation:customer" not in client.session  # the link is forgotten once used


def test_accepting_with_the_provider_makes_both_relationships(client, with_provider_invitation, reseller):
    admin = customer_admin()
    client.force_login(admin.user)
    open_link(client, with_provider_invitation)

    response = client.post(reverse(ACCEPT), {"customer": str(admin.organization.public_id), "consent": "on"})

    assert response.status_code == 302
    rows = CustomerRelationship.objects.order_by("role").values_list(
        "partner__legal_name", "role", "reseller"
    )
    assert list(rows) == [
        ("Northwind Distribution KK", PartnerRole.PROVIDER, reseller.pk),
        ("Fabrikam Japan KK", PartnerRole.RESELLER, reseller.pk),
    ]
    assert partner_may(with_provider_invitation.provider, admin.organization, "order") is True
    followed = text(client.get(response["Location"]))
    assert (
        "Fabrikam Japan KK is now the reseller of record of Contoso KK, and Northwind Distribution KK may "
        "submit orders for it. Both were notified."
    ) in followed


def test_without_consent_nothing_is_accepted_and_the_link_stays(client, invitation):
    admin = customer_admin()
    client.force_login(admin.user)
    open_link(client, invitation)
    before = state()

    response = client.post(reverse(ACCEPT), {"customer": str(admin.organization.public_id)})

    assert response.status_code == 400
    assert response.context["accept_form"].errors == {
        "consent": ["Tick the box to confirm that you grant these rights."]
    }
    assert 'aria-describedby="id_consent_error"' in text(response)
    assert state() == before
    assert client.get(reverse(SHOW)).status_code == 200  # still usable


def test_one_of_several_organizations_is_chosen_and_one_already_served_is_explained(
    client, invitation, reseller
):
    admin = customer_admin(CustomerFactory(legal_name="Contoso KK"))
    other = CustomerFactory(legal_name="Contoso Holdings KK")
    MembershipFactory(organization=other, user=admin.user, roles=[Role.GLOBAL_ADMIN])
    served = CustomerFactory(legal_name="Contoso Retail KK")
    MembershipFactory(organization=served, user=admin.user, roles=[Role.GLOBAL_ADMIN])
    customer_linked(reseller, served)
    client.force_login(admin.user)

    body = text(open_link(client, invitation))

    assert "<legend>Your organization" in body
    assert f'value="{admin.organization.public_id}"> <bdi>Contoso KK</bdi>' in body
    assert f'value="{other.public_id}"> <bdi>Contoso Holdings KK</bdi>' in body
    assert f'value="{served.public_id}"' not in body
    assert "Fabrikam Japan KK is already the reseller of Contoso Retail KK. Nothing was added" in body

    missing = client.post(reverse(ACCEPT), {"consent": "on"})
    assert missing.status_code == 400
    assert missing.context["accept_form"].errors == {
        "customer": ["Choose the organization that accepts this invitation."]
    }
    taken = client.post(reverse(ACCEPT), {"customer": str(served.public_id), "consent": "on"})
    assert taken.status_code == 400
    assert CustomerRelationship.objects.filter(customer=served).count() == 1

    response = client.post(reverse(ACCEPT), {"customer": str(other.public_id), "consent": "on"})
    assert response.status_code == 302
    assert CustomerRelationship.objects.filter(customer=other, partner=reseller, status="active").exists()


def test_a_customer_that_already_has_this_reseller_gets_a_clear_message_not_a_duplicate(
    client, invitation, reseller
):
    admin = customer_admin()
    customer_linked(reseller, admin.organization)
    client.force_login(admin.user)
    before = state()

    body = text(open_link(client, invitation))
    response = client.post(reverse(ACCEPT), {"customer": str(admin.organization.public_id), "consent": "on"})

    assert (
        '<p class="message message--warning">Fabrikam Japan KK is already the reseller of Contoso KK. '
        "Nothing was added: to change its delegated admin roles, ask Fabrikam Japan KK to send a new role "
        "request from its Customers page.</p>"
    ) in body
    assert "Accept</button>" not in body
    assert response.status_code == 400
    assert state() == before


def test_a_user_management_admin_of_the_customer_cannot_accept(client, invitation):
    member = MembershipFactory(
        organization=CustomerFactory(), roles=[Role.USER_MANAGEMENT_ADMIN], user=UserFactory(email=EMAIL)
    )
    client.force_login(member.user)
    before = state()

    body = text(open_link(client, invitation))
    response = client.post(reverse(ACCEPT), {"customer": str(member.organization.public_id), "consent": "on"})

    assert "Create your organization</h2>" in body
    assert response.status_code == 400
    assert state() == before


def test_declining_with_a_reason_tells_the_reseller(client, invitation, reseller):
    client.force_login(UserFactory(email=EMAIL))
    open_link(client, invitation)

    response = client.post(reverse(DECLINE), {"reason": "We already have a partner."})

    assert (response.status_code, response["Location"]) == (302, reverse("dashboard"))
    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason) == (
        LinkInvitationStatus.DECLINED,
        "We already have a partner.",
    )
    emails = OutboxEmail.objects.filter(template="customer_invitation_declined")
    assert list(emails.values_list("to", flat=True)) == [invitation.invited_by.email]
    assert CustomerRelationship.objects.count() == 0
    followed = text(client.get(reverse("dashboard"), follow=True))
    assert "You declined the invitation from Fabrikam Japan KK. The reseller was told." in followed


def test_a_reason_that_is_too_long_keeps_the_link(client, invitation):
    client.force_login(UserFactory(email=EMAIL))
    open_link(client, invitation)
    before = state()

    response = client.post(reverse(DECLINE), {"reason": "x" * 501})

    assert response.status_code == 400
    assert list(response.context["decline_form"].errors) == ["reason"]
    assert state() == before

"""The reseller's side of a provider's invitation link: what the page shows, who may authorise (a Global
admin or Admin agent of an approved reseller the provider serves), the binding to the email or the partner
ID, the required consent, closed links, declining, and races that still give one partnership."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.invitations.models import LinkInvitationStatus
from portal.mail.models import OutboxEmail
from providers.models import Partnership, PartnershipInvitation
from providers.services.invitations import partnership_invitation_revoke
from providers.services.partnerships import partnership_authorize
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import (
    PartnershipFactory,
    PartnershipInvitationFactory,
    ProviderFactory,
    ResellerFactory,
    partnership_invitation_issued,
)
from tests.support.races import TRIALS, race

pytestmark = pytest.mark.django_db

SHOW = "providers:partnership_invitation"
ACCEPT = "providers:partnership_invitation_accept"
DECLINE = "providers:partnership_invitation_decline"


@pytest.fixture
def provider():
    return ProviderFactory(
        legal_name="Contoso Distribution KK",
        countries=["JP", "US"],
        listing__contact_email="partners@contoso.example",
        listing__contact_phone="+81 3 0000 0000",
    )


@pytest.fixture
def reseller():
    return ResellerFactory(legal_name="Fabrikam Japan KK", country="JP", partner_id="7654321")


@pytest.fixture
def invitation(provider):
    return PartnershipInvitationFactory(organization=provider, email="owner@fabrikam.example")


def member(reseller, role=Role.GLOBAL_ADMIN, email="owner@fabrikam.example"):
    return MembershipFactory(organization=reseller, roles=[role], user=UserFactory(email=email))


def open_link(client, invitation):
    landing = client.get(
        reverse("providers:partnership_invitation_landing", kwargs={"token": invitation.raw_token})
    )
    assert landing.status_code == 302
    assert landing["Location"] == reverse(SHOW)
    return client.get(reverse(SHOW))


def state() -> tuple:
    return (
        list(Partnership.objects.order_by("pk").values_list("pk", "status")),
        list(PartnershipInvitation.objects.order_by("pk").values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def test_a_global_admin_authorises_the_provider(client, provider, reseller, invitation):
    admin = member(reseller)
    client.force_login(admin.user)

    page = open_link(client, invitation)

    assert page.status_code == 200
    body = page.content.decode()
    assert "Contoso Distribution KK" in body
    assert "Japan, United States" in body
    assert "partners@contoso.example" in body and "+81 3 0000 0000" in body
    assert "may submit orders and subscriptions on behalf of your customers" in body
    assert "gets administrative access to your tenant" in body
    assert f'<input type="hidden" name="reseller" value="{reseller.public_id}">' in body
    assert "Authorize indirect provider" in body
    before_get = state()
    assert state() == before_get  # showing the page changed nothing

    response = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    partnership = Partnership.objects.get()
    assert (partnership.provider, partnership.reseller) == (provider, reseller)
    assert (partnership.status, partnership.authorized_by) == (Partnership.Status.ACTIVE, admin.user)
    assert partnership.invitation == invitation
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "providers:partnership",
        kwargs={"organization_public_id": reseller.public_id, "partnership_id": partnership.public_id},
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.decided_by) == (LinkInvitationStatus.ACCEPTED, admin.user)
    created = AuditEvent.objects.filter(action="partnership.created", target_id=str(partnership.public_id))
    assert sorted(created.values_list("organization_id", flat=True)) == sorted([provider.pk, reseller.pk])
    assert AuditEvent.objects.filter(
        action="partnership_invitation.accepted", organization_id=provider.pk
    ).exists()
    accepted_emails = OutboxEmail.objects.filter(template="partnership_accepted")
    assert list(accepted_emails.values_list("to", "organization_id")) == [
        (invitation.invited_by.email, provider.pk)
    ]
    followed = client.get(response["Location"]).content.decode()
    assert "Contoso Distribution KK is now the indirect provider of Fabrikam Japan KK." in followed


def test_an_admin_agent_authorises_the_provider(client, provider, reseller, invitation):
    agent = member(reseller, role=Role.ADMIN_AGENT)
    client.force_login(agent.user)
    open_link(client, invitation)

    response = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    assert response.status_code == 302
    partnership = Partnership.objects.get()
    assert (partnership.reseller, partnership.authorized_by) == (reseller, agent.user)


@pytest.mark.parametrize("role", [Role.SALES_AGENT, Role.ACCOUNT_ADMIN, Role.HELPDESK_AGENT])
def test_other_roles_cannot_authorise(client, reseller, invitation, role):
    someone = member(reseller, role=role)
    client.force_login(someone.user)
    before = state()

    page = open_link(client, invitation)
    response = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    assert page.status_code == 410
    assert "Only an approved indirect reseller can authorise an indirect provider" in page.content.decode()
    assert "Authorize indirect provider</button>" not in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse(SHOW)
    assert state() == before


def test_a_provider_member_is_not_a_reseller(client, provider, invitation):
    other_provider = ProviderFactory()
    user = UserFactory(email="owner@fabrikam.example")
    MembershipFactory(organization=other_provider, user=user, roles=[Role.GLOBAL_ADMIN])
    client.force_login(user)
    before = state()

    page = open_link(client, invitation)
    client.post(reverse(ACCEPT), {"reseller": str(other_provider.public_id), "consent": "on"})

    assert "Only an approved indirect reseller" in page.content.decode()
    assert state() == before


def test_the_consent_is_required_and_the_link_stays_usable(client, reseller, invitation):
    admin = member(reseller)
    client.force_login(admin.user)
    open_link(client, invitation)
    before = state()

    response = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id)})

    assert response.status_code == 400
    assert response.context["authorize_form"].errors == {
        "consent": ["Tick the box to confirm that you authorise this provider."]
    }
    assert 'aria-describedby="id_consent_error"' in response.content.decode()
    assert state() == before
    # The page and the link are still there: ticking the box now works.
    assert client.get(reverse(SHOW)).status_code == 200
    assert (
        client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"}).status_code
        == 302
    )
    assert Partnership.objects.count() == 1


def test_a_partner_id_bound_link_works_for_that_resellers_admin_only(client, provider, reseller):
    invitation = PartnershipInvitationFactory(
        organization=provider, email="sales@fabrikam.example", partner_id=reseller.partner_id
    )
    wrong_reseller = ResellerFactory(partner_id="1111111")
    # An admin of both resellers is offered only the one the link names.
    admin = member(reseller, email="it@fabrikam.example")  # does not own the invited address
    MembershipFactory(organization=wrong_reseller, user=admin.user, roles=[Role.GLOBAL_ADMIN])
    outsider = member(wrong_reseller, email="boss@elsewhere.example")
    client.force_login(outsider.user)
    before = state()

    refused = open_link(client, invitation)
    client.post(reverse(ACCEPT), {"reseller": str(wrong_reseller.public_id), "consent": "on"})

    assert refused.status_code == 410
    assert "This invitation is for the reseller with partner ID 7654321" in refused.content.decode()
    assert state() == before

    client.force_login(admin.user)
    page = open_link(client, invitation)
    assert page.status_code == 200
    assert [org.pk for org in page.context["served"]] == [reseller.pk]
    forced = client.post(reverse(ACCEPT), {"reseller": str(wrong_reseller.public_id), "consent": "on"})
    assert forced.status_code == 400
    assert list(forced.context["authorize_form"].errors) == ["reseller"]
    assert state() == before

    accepted = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    assert accepted.status_code == 302
    assert Partnership.objects.get().reseller == reseller


def test_an_email_bound_link_refuses_another_user(client, reseller, invitation):
    other_admin = member(reseller, email="colleague@fabrikam.example")
    client.force_login(other_admin.user)
    before = state()

    page = open_link(client, invitation)
    response = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    assert page.status_code == 410
    assert "This invitation is for owner@fabrikam.example" in page.content.decode()
    assert response.status_code == 302
    assert state() == before


def test_a_user_with_several_resellers_chooses_one(client, provider, invitation):
    first = ResellerFactory(legal_name="Alpha Resale KK")
    second = ResellerFactory(legal_name="Beta Resale KK")
    user = UserFactory(email="owner@fabrikam.example")
    for reseller in (first, second):
        MembershipFactory(organization=reseller, user=user, roles=[Role.GLOBAL_ADMIN])
    client.force_login(user)
    page = open_link(client, invitation)
    body = page.content.decode()
    assert 'type="radio" name="reseller"' in body
    assert "Alpha Resale KK" in body and "Beta Resale KK" in body

    missing = client.post(reverse(ACCEPT), {"consent": "on"})
    assert missing.status_code == 400
    assert missing.context["authorize_form"].errors == {
        "reseller": ["Choose the organization that authorises this provider."]
    }
    response = client.post(reverse(ACCEPT), {"reseller": str(second.public_id), "consent": "on"})

    assert response.status_code == 302
    assert Partnership.objects.get().reseller == second


def test_accepting_twice_gives_one_partnership(client, reseller, invitation):
    admin = member(reseller)
    client.force_login(admin.user)
    open_link(client, invitation)
    assert (
        client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"}).status_code
        == 302
    )
    before = state()

    again = open_link(client, invitation)
    response = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    assert again.status_code == 410
    assert "This invitation was already used or withdrawn." in again.content.decode()
    assert response.status_code == 302
    assert state() == before
    assert Partnership.objects.count() == 1


def test_a_revoked_link_is_refused(client, provider, reseller):
    provider_admin = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    invitation, raw = partnership_invitation_issued(provider, "owner@fabrikam.example", by=provider_admin)
    invitation.raw_token = raw
    partnership_invitation_revoke(invitation=invitation, by=provider_admin)
    admin = member(reseller)
    client.force_login(admin.user)
    before = state()

    page = open_link(client, invitation)
    client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    assert page.status_code == 410
    assert "already used or withdrawn" in page.content.decode()
    assert state() == before


def test_an_expired_link_is_refused(client, reseller, invitation):
    admin = member(reseller)
    before = state()

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        client.force_login(admin.user)  # a session of a month ago would have expired by now
        page = open_link(client, invitation)
        client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})
        anonymous = client.__class__()
        anonymous_page = open_link(anonymous, invitation)

    assert page.status_code == 410
    assert "This invitation has expired. Ask for a new one." in page.content.decode()
    assert anonymous_page.status_code == 410
    assert state() == before


def test_a_reseller_in_a_country_the_provider_does_not_serve_gets_an_explanation(client, reseller):
    provider = ProviderFactory(legal_name="Seattle Supply LLC", countries=["US"])
    invitation = PartnershipInvitationFactory(organization=provider, email="owner@fabrikam.example")
    admin = member(reseller)
    client.force_login(admin.user)
    before = state()

    page = open_link(client, invitation)
    forced = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    body = page.content.decode()
    assert page.status_code == 200
    assert "Seattle Supply LLC does not serve resellers in Japan" in body
    assert "Authorize indirect provider</button>" not in body
    assert forced.status_code == 400
    assert "does not serve resellers in Japan" in forced.content.decode()
    assert state() == before


def test_an_anonymous_visitor_sees_what_it_is_and_is_asked_to_sign_in(client, invitation):
    before = state()

    page = open_link(client, invitation)
    response = client.post(reverse(ACCEPT), {"consent": "on"})

    assert page.status_code == 200
    body = page.content.decode()
    assert "Contoso Distribution KK" in body
    assert "gets administrative access to your tenant" in body
    next_value = reverse(SHOW)
    assert f"{reverse('account_login')}?email=owner%40fabrikam.example&amp;next={next_value}" in body
    assert f"{reverse('account_signup')}?email=owner%40fabrikam.example&amp;next={next_value}" in body
    assert "Authorize indirect provider</button>" not in body
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert state() == before


def test_decline_with_a_reason(client, provider, reseller, invitation):
    admin = member(reseller)
    client.force_login(admin.user)
    open_link(client, invitation)

    response = client.post(reverse(DECLINE), {"reason": "We already work with a distributor."})

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    invitation.refresh_from_db()
    assert invitation.status == LinkInvitationStatus.DECLINED
    assert invitation.reason == "We already work with a distributor."
    assert not Partnership.objects.exists()
    assert list(OutboxEmail.objects.filter(template="partnership_declined").values_list("to", flat=True)) == [
        invitation.invited_by.email
    ]
    assert AuditEvent.objects.filter(
        action="partnership_invitation.declined", organization_id=provider.pk
    ).exists()


def test_a_too_long_decline_reason_keeps_the_link(client, reseller, invitation):
    admin = member(reseller)
    client.force_login(admin.user)
    open_link(client, invitation)
    before = state()

    response = client.post(reverse(DECLINE), {"reason": "x" * 501})

    assert response.status_code == 400
    assert list(response.context["decline_form"].errors) == ["reason"]
    assert state() == before
    assert client.get(reverse(SHOW)).status_code == 200


# --- Races: two real connections, a barrier, exactly one partnership -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_people_accepting_one_invitation_at_once_make_one_partnership():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"
    for _ in range(TRIALS):
        provider = ProviderFactory()
        reseller = ResellerFactory()
        invitation = PartnershipInvitationFactory(
            organization=provider, email="x@example.com", partner_id=reseller.partner_id
        )
        first = MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN]).user
        second = MembershipFactory(organization=reseller, roles=[Role.ADMIN_AGENT]).user

        outcomes = race(
            *(
                lambda user=user, invitation=invitation, reseller=reseller: (
                    partnership_authorize(
                        invitation=invitation, user=user, reseller=reseller, consent=True
                    ).pk
                )
                for user in (first, second)
            )
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert Partnership.objects.filter(provider=provider, reseller=reseller).count() == 1
        assert (
            AuditEvent.objects.filter(action="partnership.created", organization_id=reseller.pk).count() == 1
        )
        invitation.refresh_from_db()
        assert invitation.status == LinkInvitationStatus.ACCEPTED


@pytest.mark.django_db(transaction=True)
def test_two_invitations_of_one_provider_accepted_at_once_make_one_partnership():
    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        provider = ProviderFactory()
        reseller = ResellerFactory()
        invitations = [
            PartnershipInvitationFactory(
                organization=provider, email=f"{name}@example.com", partner_id=reseller.partner_id
            )
            for name in ("first", "second")
        ]
        users = [
            MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN]).user,
            MembershipFactory(organization=reseller, roles=[Role.ADMIN_AGENT]).user,
        ]

        outcomes = race(
            *(
                lambda user=user, invitation=invitation, reseller=reseller: (
                    partnership_authorize(
                        invitation=invitation, user=user, reseller=reseller, consent=True
                    ).pk
                )
                for user, invitation in zip(users, invitations, strict=True)
            )
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert dict(outcomes)["refused"] == "already_partners"
        assert Partnership.objects.filter(provider=provider, reseller=reseller).count() == 1
        statuses = sorted(
            PartnershipInvitation.objects.filter(organization=provider).values_list("status", flat=True)
        )
        assert statuses == [LinkInvitationStatus.ACCEPTED, LinkInvitationStatus.PENDING]


def test_an_active_partnership_makes_a_second_invitation_useless(client, provider, reseller, invitation):
    PartnershipFactory(provider=provider, reseller=reseller)
    admin = member(reseller)
    client.force_login(admin.user)
    open_link(client, invitation)
    before = state()

    response = client.post(reverse(ACCEPT), {"reseller": str(reseller.public_id), "consent": "on"})

    assert response.status_code == 302
    assert response["Location"] == reverse(SHOW)
    assert state() == before
    assert (
        "Contoso Distribution KK is already your indirect provider."
        in client.get(reverse(SHOW)).content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_accepting_while_the_provider_revokes_gives_one_consistent_outcome():
    from providers.services.invitations import partnership_invitation_revoke

    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        provider = ProviderFactory()
        reseller = ResellerFactory()
        invitation = PartnershipInvitationFactory(
            organization=provider, email="x@example.com", partner_id=reseller.partner_id
        )
        provider_admin = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
        reseller_admin = MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN]).user

        outcomes = race(
            lambda invitation=invitation, user=reseller_admin, reseller=reseller: (
                partnership_authorize(invitation=invitation, user=user, reseller=reseller, consent=True).pk
            ),
            lambda invitation=invitation, by=provider_admin: (
                partnership_invitation_revoke(invitation=invitation, by=by).pk
            ),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        invitation.refresh_from_db()
        partnerships = Partnership.objects.filter(provider=provider, reseller=reseller).count()
        if outcomes[0][0] == "ok":  # accepted first: the revoke found nothing pending
            assert (invitation.status, partnerships) == (LinkInvitationStatus.ACCEPTED, 1)
        else:  # revoked first: the link no longer works and no partnership began
            assert (invitation.status, partnerships) == (LinkInvitationStatus.REVOKED, 0)


@pytest.mark.django_db(transaction=True)
def test_both_sides_ending_a_partnership_at_once_end_it_once():
    from providers.services.partnerships import partnership_end

    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        partnership = PartnershipFactory()
        sides = [
            MembershipFactory(organization=partnership.provider, roles=[Role.GLOBAL_ADMIN]),
            MembershipFactory(organization=partnership.reseller, roles=[Role.GLOBAL_ADMIN]),
        ]

        outcomes = race(
            *(
                lambda by=by, partnership=partnership: (
                    partnership_end(partnership=partnership, by=by, reason="Ending.").pk
                )
                for by in sides
            )
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert dict(outcomes)["refused"] == "invalid_transition"
        partnership.refresh_from_db()
        assert partnership.status == Partnership.Status.ENDED
        ended = AuditEvent.objects.filter(
            action="partnership.ended", organization_id__in=[partnership.provider_id, partnership.reseller_id]
        )
        # One row for each side's Activity log, not two for each.
        assert sorted(ended.values_list("organization_id", flat=True)) == sorted(
            [partnership.provider_id, partnership.reseller_id]
        )

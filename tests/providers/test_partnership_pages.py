"""Both sides of one partnership: its page, and ending it from either side (what it affects first, a
reason required, both sides told, the partnership kept in both histories); another organization's
partnership does not exist."""

import pytest
from django.urls import reverse

from accounts.models import Organization
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db


def url(name: str, organization: Organization, **kwargs) -> str:
    return reverse(f"providers:{name}", kwargs={"organization_public_id": organization.public_id, **kwargs})


@pytest.fixture
def provider_admin():
    provider = ProviderFactory(legal_name="Contoso Distribution KK", country="JP")
    return MembershipFactory(
        organization=provider, roles=[Role.GLOBAL_ADMIN], user=UserFactory(email="admin@contoso.example")
    )


@pytest.fixture
def reseller_admin():
    reseller = ResellerFactory(legal_name="Fabrikam Japan KK", partner_id="7654321")
    return MembershipFactory(
        organization=reseller,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(email="admin@fabrikam.example", full_name="Aiko Sato"),
    )


@pytest.fixture
def partnership(provider_admin, reseller_admin):
    return PartnershipFactory(
        provider=provider_admin.organization,
        reseller=reseller_admin.organization,
        authorized_by=reseller_admin.user,
    )


def state(partnership) -> tuple:
    partnership.refresh_from_db()
    return (
        partnership.status,
        partnership.ended_at,
        partnership.end_reason,
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def test_the_reseller_sees_the_partnership(client, reseller_admin, partnership):
    client.force_login(reseller_admin.user)

    response = client.get(
        url("partnership", reseller_admin.organization, partnership_id=partnership.public_id)
    )

    assert response.status_code == 200
    assert response.context["other"] == partnership.provider
    body = response.content.decode()
    assert "Partnership with indirect provider <bdi>Contoso Distribution KK</bdi>" in body
    assert "Aiko Sato" in body
    assert partnership.provider.provider_listing.contact_email in body
    assert '<span class="badge badge--active">Active</span>' in body
    assert "This provider has administrative access to your tenant." in body
    assert url("partnership_end", reseller_admin.organization, partnership_id=partnership.public_id) in body


def test_the_provider_sees_the_partnership(client, provider_admin, partnership):
    client.force_login(provider_admin.user)

    response = client.get(
        url("partnership", provider_admin.organization, partnership_id=partnership.public_id)
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Partnership with indirect reseller <bdi>Fabrikam Japan KK</bdi>" in body
    assert "<dd>7654321</dd>" in body
    assert "You have administrative access to this reseller's tenant." in body
    assert url("partnership_end", provider_admin.organization, partnership_id=partnership.public_id) in body


def test_a_member_who_may_not_manage_partnerships_sees_but_cannot_end(client, reseller_admin, partnership):
    agent = MembershipFactory(organization=reseller_admin.organization, roles=[Role.ADMIN_AGENT])
    client.force_login(agent.user)
    page = client.get(url("partnership", agent.organization, partnership_id=partnership.public_id))
    end = url("partnership_end", agent.organization, partnership_id=partnership.public_id)
    assert page.status_code == 200
    assert end not in page.content.decode()
    before = state(partnership)

    assert client.get(end).status_code == 403
    assert client.post(end, {"reason": "No."}).status_code == 403
    assert state(partnership) == before


@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_either_side_ends_the_partnership_with_a_reason(
    client, side, provider_admin, reseller_admin, partnership, django_capture_on_commit_callbacks
):
    actor = reseller_admin if side == "reseller" else provider_admin
    other = provider_admin if side == "reseller" else reseller_admin
    client.force_login(actor.user)
    end = url("partnership_end", actor.organization, partnership_id=partnership.public_id)
    page = client.get(end)
    assert page.status_code == 200
    assert "administrative access" in page.content.decode()
    assert "The partnership stays in the history of both organizations" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(end, {"reason": "  We stop reselling this cloud.  "})

    assert response.status_code == 302
    assert response["Location"] == url(
        "partnership", actor.organization, partnership_id=partnership.public_id
    )
    partnership.refresh_from_db()
    assert partnership.status == Partnership.Status.ENDED
    assert (partnership.ended_by, partnership.ended_by_side) == (actor.user, side)
    assert partnership.end_reason == "We stop reselling this cloud."
    assert partnership.ended_at is not None
    ended_events = AuditEvent.objects.filter(action="partnership.ended", target_id=str(partnership.public_id))
    assert sorted(ended_events.values_list("organization_id", flat=True)) == sorted(
        [provider_admin.organization.pk, reseller_admin.organization.pk]
    )
    emails = OutboxEmail.objects.filter(template="partnership_ended")
    assert sorted(emails.values_list("to", "organization_id")) == sorted(
        [
            ("admin@contoso.example", provider_admin.organization.pk),
            ("admin@fabrikam.example", reseller_admin.organization.pk),
        ]
    )

    # It stays in both histories: each side's page shows it, ended, with the reason.
    for member, list_route in ((reseller_admin, "providers"), (provider_admin, "resellers")):
        client.force_login(member.user)
        page = client.get(url("partnership", member.organization, partnership_id=partnership.public_id))
        body = page.content.decode()
        assert '<span class="badge badge--ended">Ended</span>' in body
        assert "We stop reselling this cloud." in body
        assert "Your organization" in body if member == actor else "Your organization" not in body
        assert url("partnership_end", member.organization, partnership_id=partnership.public_id) not in body
        ended_list = client.get(url(list_route, member.organization), {"status": "ended"})
        assert ended_list.status_code == 200
        assert [row.pk for row in ended_list.context["page"].object_list] == [partnership.pk]
        active_list = client.get(url(list_route, member.organization))
        assert list(active_list.context["page"].object_list) == []
    assert other.organization.pk in ended_events.values_list("organization_id", flat=True)


@pytest.mark.parametrize("reason", ["", "   "])
def test_ending_needs_a_reason(client, reseller_admin, partnership, reason):
    client.force_login(reseller_admin.user)
    before = state(partnership)

    response = client.post(
        url("partnership_end", reseller_admin.organization, partnership_id=partnership.public_id),
        {"reason": reason},
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {"reason": ["Say why the partnership ends."]}
    assert state(partnership) == before


def test_an_ended_partnership_cannot_be_ended_again(client, reseller_admin, partnership):
    client.force_login(reseller_admin.user)
    end = url("partnership_end", reseller_admin.organization, partnership_id=partnership.public_id)
    assert client.post(end, {"reason": "First."}).status_code == 302
    before = state(partnership)

    page = client.get(end)
    response = client.post(end, {"reason": "Second."})

    assert "This partnership already ended on" in page.content.decode()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    assert state(partnership) == before
    assert partnership.end_reason == "First."


def test_another_organizations_partnership_does_not_exist(client, reseller_admin, provider_admin):
    foreign = PartnershipFactory(provider=provider_admin.organization)  # the provider and another reseller
    client.force_login(reseller_admin.user)
    before = state(foreign)

    responses = [
        client.get(url("partnership", reseller_admin.organization, partnership_id=foreign.public_id)),
        client.get(url("partnership_end", reseller_admin.organization, partnership_id=foreign.public_id)),
        client.post(
            url("partnership_end", reseller_admin.organization, partnership_id=foreign.public_id),
            {"reason": "Not mine."},
        ),
    ]

    assert [response.status_code for response in responses] == [404, 404, 404]
    assert state(foreign) == before
    assert foreign.status == Partnership.Status.ACTIVE


def test_a_partnership_is_not_opened_through_another_organization_of_the_same_user(
    client, reseller_admin, partnership
):
    # The user is also a member of a second reseller: the partnership belongs to the first one only.
    second = ResellerFactory()
    MembershipFactory(organization=second, user=reseller_admin.user, roles=[Role.GLOBAL_ADMIN])
    client.force_login(reseller_admin.user)
    before = state(partnership)

    assert client.get(url("partnership", second, partnership_id=partnership.public_id)).status_code == 404
    response = client.post(
        url("partnership_end", second, partnership_id=partnership.public_id), {"reason": "x"}
    )

    assert response.status_code == 404
    assert state(partnership) == before


def test_a_partnership_page_is_under_its_sides_menu_item(client):
    partnership = PartnershipFactory()
    for organization, label in (
        (partnership.reseller, "Indirect providers"),
        (partnership.provider, "Indirect resellers"),
    ):
        member = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
        client.force_login(member.user)
        url = reverse(
            "providers:partnership",
            kwargs={
                "organization_public_id": organization.public_id,
                "partnership_id": partnership.public_id,
            },
        )
        body = client.get(url).content.decode()
        assert f'aria-current="page">{label}</a>' in body
        assert body.count('aria-current="page"') == 1

"""The partnership pages print their rows and filter forms through ``{% memo %}`` (portal/memo.py, issue
12): a provider's Indirect resellers, its invitations and the requests it received, a reseller's Indirect
providers. A second request is read from the memo and is the same page; what changed (a renamed reseller,
an ended partnership, a new contact, a declined request, a revoked invitation) shows at once; the forms
with a CSRF token stay outside the memo."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from accounts.roles import Role
from portal.memo import memo
from providers.models import Partnership, PartnershipInvitation, PartnershipRequest, ProviderListing
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import (
    PartnershipFactory,
    PartnershipInvitationFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
)
from tests.support.pages import CSRF_TOKEN, body_of

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def tokens(response) -> list[str]:
    return CSRF_TOKEN.findall(response.content.decode())


def page_url(name: str, organization) -> str:
    return reverse(f"providers:{name}", kwargs={"organization_public_id": organization.public_id})


def row_of(body: str, text: str) -> str:
    """The table row that shows ``text``."""
    [row] = [row.split("</tr>")[0] for row in body.split("<tr>")[1:] if text in row]
    return row


def signed_in(client, organization, role, language="en"):
    member = MembershipFactory(organization=organization, roles=[role], user__preferred_language=language)
    client.force_login(member.user)
    return member


# --- A provider's Indirect resellers ---------------------------------------------------------------


@pytest.fixture
def provider():
    provider = ProviderFactory(legal_name="Blue Yonder Distribution")
    resellers = (
        ("Contoso <Japan> KK", "7000001", "JP"),
        ("Fabrikam & Sons", None, "US"),
        ("Tailspin Toys KK", "7000003", "JP"),
    )
    for days, (name, partner_id, country) in enumerate(resellers):
        PartnershipFactory(
            provider=provider,
            reseller=ResellerFactory(legal_name=name, partner_id=partner_id, country=country),
            started_at=STARTED - timedelta(days=days),
        )
    return provider


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_second_request_of_the_resellers_page_is_read_from_the_memo_and_is_the_same_page(
    client, provider, language
):
    signed_in(client, provider, Role.GLOBAL_ADMIN, language)
    first = body_of(client.get(page_url("resellers", provider)))
    assert first.count('<td class="table__name">') == 3

    hits, misses = memo.hits, memo.misses
    second = body_of(client.get(page_url("resellers", provider)))

    assert memo.misses == misses  # every fragment, the table and the filter form too, from the memo
    assert memo.hits - hits >= 2
    assert second == first


def test_the_resellers_page_shows_a_renamed_reseller_and_an_ended_partnership_at_once(client, provider):
    signed_in(client, provider, Role.GLOBAL_ADMIN)
    url = page_url("resellers", provider)
    before = body_of(client.get(url))
    assert '<td class="nowrap">—</td>' in row_of(before, "Fabrikam &amp; Sons")
    assert '<td class="nowrap">2026-03-02 09:30</td>' in row_of(before, "Contoso &lt;Japan&gt; KK")

    Organization.objects.filter(legal_name="Fabrikam & Sons").update(legal_name="Fabrikam Renamed")
    hits = memo.hits
    renamed = body_of(client.get(url))

    assert memo.hits - hits >= 2  # the two rows that did not change, from their own memo
    assert "Fabrikam &amp; Sons" not in renamed
    assert '<a href="/o/' in row_of(renamed, ">Fabrikam Renamed</a>")
    assert row_of(renamed, "Contoso &lt;Japan&gt; KK") == row_of(before, "Contoso &lt;Japan&gt; KK")

    ended_at = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    Partnership.objects.filter(reseller__legal_name="Tailspin Toys KK").update(
        status=Partnership.Status.ENDED, ended_at=ended_at
    )
    active = body_of(client.get(url))
    assert "Tailspin Toys KK" not in active
    everything = body_of(client.get(url, {"status": "all"}))
    assert '<option value="all" selected>All statuses</option>' in everything
    ended = '<span class="badge badge--ended">Ended</span><br><span class="muted nowrap">2026-03-20</span>'
    assert f"<td>{ended}</td>" in row_of(everything, "Tailspin Toys KK")
    assert "View customers" not in row_of(everything, "Tailspin Toys KK")
    assert "View customers" in row_of(everything, "Fabrikam Renamed")


def test_the_resellers_filter_form_shows_what_was_sent(client, provider):
    signed_in(client, provider, Role.SALES_AGENT)
    url = page_url("resellers", provider)
    for _ in range(2):
        ended = body_of(client.get(url, {"status": "ended", "q": "Toys"}))
        assert '<option value="ended" selected>Ended</option>' in ended
        assert 'name="q" value="Toys"' in ended
    active = body_of(client.get(url))
    assert 'name="q" value=' not in active
    wrong = body_of(client.get(url, {"status": "bogus"}), status=400)
    assert "Correct the filters marked below to see the list." in wrong


# --- A reseller's Indirect providers ---------------------------------------------------------------


@pytest.fixture
def reseller():
    reseller = ResellerFactory(legal_name="Fabrikam KK")
    listed = ProviderFactory(legal_name="Contoso Distribution", listing__contact_phone="+81 3 1234 5678")
    unlisted = ProviderFactory(legal_name="Quiet Provider", listing=False)
    PartnershipFactory(provider=listed, reseller=reseller, started_at=STARTED)
    PartnershipFactory(provider=unlisted, reseller=reseller, started_at=STARTED - timedelta(days=1))
    PartnershipRequestFactory(reseller=reseller, provider=ProviderFactory(legal_name="Asked Provider"))
    PartnershipRequestFactory(
        reseller=reseller,
        provider=ProviderFactory(legal_name="Busy Provider"),
        status=PartnershipRequest.Status.DECLINED,
        reason="We are full.",
        decided_at=timezone.now(),
    )
    return reseller


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_second_request_of_the_providers_page_is_read_from_the_memo_and_is_the_same_page(
    client, reseller, language
):
    signed_in(client, reseller, Role.GLOBAL_ADMIN, language)
    first = client.get(page_url("providers", reseller))
    assert body_of(first).count('<td class="table__name">') == 2 + 2

    hits, misses = memo.hits, memo.misses
    second = client.get(page_url("providers", reseller))

    assert memo.misses == misses
    assert memo.hits - hits >= 2 + 2  # the partnerships and the requests
    assert body_of(second) == body_of(first)
    # The Withdraw form of the open request is outside the memo: each response has a token of its own.
    [first_token], [second_token] = tokens(first)[-1:], tokens(second)[-1:]
    assert first_token and second_token and first_token != second_token


def test_the_providers_page_shows_a_new_contact_and_an_answer_at_once(client, reseller):
    signed_in(client, reseller, Role.GLOBAL_ADMIN)
    url = page_url("providers", reseller)
    before = body_of(client.get(url))
    listed = row_of(before, "<bdi>Contoso Distribution</bdi></a>")
    assert "<br>+81 3 1234 5678</td>" in listed
    assert '<td class="table__contact">—</td>' in row_of(before, "<bdi>Quiet Provider</bdi></a>")
    assert "Withdraw" in row_of(before, "<bdi>Asked Provider</bdi>")

    ProviderListing.objects.filter(organization__legal_name="Contoso Distribution").update(
        contact_email="help@contoso.example", contact_phone=""
    )
    PartnershipRequest.objects.filter(provider__legal_name="Asked Provider").update(
        status=PartnershipRequest.Status.DECLINED, reason="Not this year.", decided_at=timezone.now()
    )
    after = body_of(client.get(url))

    assert (
        '<td class="table__contact"><a href="mailto:help@contoso.example">help@contoso.example</a></td>'
    ) in row_of(after, "<bdi>Contoso Distribution</bdi></a>")
    asked = row_of(after, "<bdi>Asked Provider</bdi>")
    assert '<span class="badge badge--declined">Declined</span>' in asked
    assert '<td class="request-message">Not this year.</td>' in asked
    assert "Withdraw" not in asked and "csrfmiddlewaretoken" not in asked


# --- A provider's invitations and requests ----------------------------------------------------------


@pytest.fixture
def invitations(provider):
    admin = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN], user__full_name="Aiko Admin")
    pending = PartnershipInvitationFactory(
        organization=provider, email="pending@reseller.example", partner_id="7000009", invited_by=admin.user
    )
    PartnershipInvitationFactory(
        organization=provider,
        email="accepted@reseller.example",
        status=PartnershipInvitation.Status.ACCEPTED,
        invited_by=UserFactory(full_name="", email="no.name@provider.example"),
    )
    return admin, pending


def test_the_second_request_of_the_invitations_list_is_read_from_the_memo_and_is_the_same_page(
    client, provider, invitations
):
    admin, _pending = invitations
    client.force_login(admin.user)
    first = client.get(page_url("invitations", provider))
    body = body_of(first)
    assert "by Aiko Admin" in row_of(body, "pending@reseller.example")
    assert "by no.name@provider.example" in row_of(body, "accepted@reseller.example")

    hits, misses = memo.hits, memo.misses
    second = client.get(page_url("invitations", provider))

    assert memo.misses == misses
    assert memo.hits - hits >= 2 + 1  # the rows and the filter form
    assert body_of(second) == body
    # Resend and Revoke of the pending invitation are outside the memo: each response has its own token.
    assert row_of(body, "pending@reseller.example").count('class="inline-form">') == 2
    assert "inline-form" not in row_of(body, "accepted@reseller.example")
    assert tokens(first)[-1] != tokens(second)[-1]


def test_the_invitations_list_shows_a_revoked_invitation_at_once(client, provider, invitations):
    admin, pending = invitations
    client.force_login(admin.user)
    url = page_url("invitations", provider)
    before = row_of(body_of(client.get(url)), "pending@reseller.example")
    assert '<span class="badge badge--pending">Pending</span>' in before
    assert "/revoke/" in before and "/resend/" in before

    PartnershipInvitation.objects.filter(pk=pending.pk).update(status=PartnershipInvitation.Status.REVOKED)
    after = row_of(body_of(client.get(url)), "pending@reseller.example")

    assert '<span class="badge badge--revoked">Revoked</span>' in after
    assert "/revoke/" not in after and "/resend/" in after


@pytest.fixture
def requests_received(provider):
    requester = UserFactory(email="kenji@contoso.example")
    return [
        PartnershipRequestFactory(
            provider=provider,
            reseller=ResellerFactory(legal_name="Northwind <KK>", partner_id="7000011", country="JP"),
            requested_by=requester,
            message="Line one\nLine two",
        ),
        PartnershipRequestFactory(provider=provider, reseller=ResellerFactory(legal_name="Woodgrove KK")),
    ]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_second_request_of_the_requests_list_is_read_from_the_memo_and_is_the_same_page(
    client, provider, requests_received, language
):
    signed_in(client, provider, Role.GLOBAL_ADMIN, language)
    first = body_of(client.get(page_url("requests", provider)))
    assert "<bdi>kenji@contoso.example</bdi>" in row_of(first, "Northwind &lt;KK&gt;")
    assert "Line one<br>Line two" in row_of(first, "Northwind &lt;KK&gt;")

    hits, misses = memo.hits, memo.misses
    second = body_of(client.get(page_url("requests", provider)))

    assert memo.misses == misses
    assert memo.hits - hits >= 2 + 1
    assert second == first


def test_the_requests_list_shows_a_declined_request_at_once(client, provider, requests_received):
    signed_in(client, provider, Role.GLOBAL_ADMIN)
    url = page_url("requests", provider)
    before = row_of(body_of(client.get(url, {"status": "all"})), "Woodgrove KK")
    assert "Send an invitation" in before and "/decline/" in before

    PartnershipRequest.objects.filter(pk=requests_received[1].pk).update(
        status=PartnershipRequest.Status.DECLINED, reason="Not now.", decided_at=timezone.now()
    )
    after = row_of(body_of(client.get(url, {"status": "all"})), "Woodgrove KK")

    assert '<span class="badge badge--declined">Declined</span>' in after
    assert '<br><span class="muted">Your reason: Not now.</span>' in after
    assert "Send an invitation" not in after and "/decline/" not in after

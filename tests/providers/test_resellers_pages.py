"""A provider's Indirect resellers pages: its partnerships (search, status filter, CSV export), its
invitations, the requests it received (answer with an invitation or decline), the dashboard card; who
sees what, and lists whose query count does not grow with their rows."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import Partnership, PartnershipInvitation, PartnershipRequest
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import (
    PartnershipFactory,
    PartnershipInvitationFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
)

pytestmark = pytest.mark.django_db


def url(name, provider, **kwargs):
    return reverse(f"providers:{name}", kwargs={"organization_public_id": provider.public_id, **kwargs})


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Blue Yonder Distribution")


@pytest.fixture
def admin(provider):
    return MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin.user)
    return client


@pytest.fixture
def sales_client(client, provider):
    client.force_login(MembershipFactory(organization=provider, roles=[Role.SALES_AGENT]).user)
    return client


def state():
    return (
        sorted(Partnership.objects.values_list("pk", "status")),
        sorted(PartnershipInvitation.objects.values_list("pk", "status")),
        sorted(PartnershipRequest.objects.values_list("pk", "status", "reason")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def rows(response) -> list[str]:
    """The HTML of each row of the page's table body, in order (none when the page has no table)."""
    body = response.content.decode()
    if "<tbody>" not in body:
        return []
    return body.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]


def names(response, candidates) -> list[str]:
    """Which of ``candidates`` the table lists, in the table's order."""
    return [next(name for name in candidates if name in row) for row in rows(response)]


@pytest.fixture
def partnerships(provider):
    now = timezone.now()
    contoso = PartnershipFactory(
        provider=provider,
        reseller=ResellerFactory(legal_name="Contoso Japan KK", partner_id="7000001", country="JP"),
        started_at=now - timedelta(days=3),
    )
    fabrikam = PartnershipFactory(
        provider=provider,
        reseller=ResellerFactory(legal_name="Fabrikam USA Inc", partner_id="7000002", country="US"),
        started_at=now - timedelta(days=2),
    )
    ended = PartnershipFactory(
        provider=provider,
        reseller=ResellerFactory(legal_name="Tailspin Toys KK", partner_id="7000003"),
        status=Partnership.Status.ENDED,
        started_at=now - timedelta(days=10),
    )
    foreign = PartnershipFactory(reseller=ResellerFactory(legal_name="Someone Else's Reseller KK"))
    return {"contoso": contoso, "fabrikam": fabrikam, "ended": ended, "foreign": foreign}


# --- Indirect resellers ---------------------------------------------------------------------------


def test_the_resellers_page_lists_active_partnerships_newest_first(admin_client, provider, partnerships):
    response = admin_client.get(url("resellers", provider))
    assert response.status_code == 200
    body = response.content.decode()
    assert names(response, ["Fabrikam USA Inc", "Contoso Japan KK"]) == [
        "Fabrikam USA Inc",
        "Contoso Japan KK",
    ]
    assert "Tailspin Toys KK" not in body  # ended: not in the default view
    assert "Someone Else" not in body  # another provider's reseller
    contoso = partnerships["contoso"]
    link = url("partnership", provider, partnership_id=contoso.public_id)
    assert f'<a href="{link}">Contoso Japan KK</a>' in body
    assert "7000001" in body and "Japan" in body and "United States of America" in body
    # A manager's buttons: invite, invite from a file, export.
    assert f'href="{url("invite", provider)}"' in body
    assert f'href="{url("bulk", provider)}"' in body
    assert f'href="{url("resellers_export", provider)}"' in body


def test_a_row_reads_in_the_members_language(admin_client, provider, partnerships):
    admin_client.cookies["portal_language"] = "ja"

    response = admin_client.get(url("resellers", provider) + "?status=all")

    contoso, ended = partnerships["contoso"], partnerships["ended"]
    [contoso_row] = [row for row in rows(response) if "Contoso Japan KK" in row]
    assert '<td class="nowrap">日本</td>' in contoso_row
    assert '<span class="badge badge--active">有効</span>' in contoso_row
    assert f'<td class="nowrap">{contoso.started_at:%Y-%m-%d %H:%M}</td>' in contoso_row
    assert "顧客を表示" in contoso_row
    [ended_row] = [row for row in rows(response) if "Tailspin Toys KK" in row]
    assert f'<span class="muted nowrap">{ended.ended_at:%Y-%m-%d}</span>' in ended_row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=ended", ["Tailspin Toys KK"]),
        ("status=all", ["Fabrikam USA Inc", "Contoso Japan KK", "Tailspin Toys KK"]),
        ("q=contoso", ["Contoso Japan KK"]),
        ("q=7000002", ["Fabrikam USA Inc"]),
        ("q=7000003", []),  # ended, and the status filter still says active
        ("q=7000003&status=all", ["Tailspin Toys KK"]),
        ("q=Someone", []),
    ],
)
def test_search_and_status_filter(admin_client, provider, partnerships, query, expected):
    response = admin_client.get(url("resellers", provider) + "?" + query)
    assert response.status_code == 200
    candidates = ["Fabrikam USA Inc", "Contoso Japan KK", "Tailspin Toys KK", "Someone Else"]
    assert names(response, candidates) == expected
    if not expected:
        assert "No reseller matches these filters." in response.content.decode()


def test_an_unknown_status_lists_nothing_and_says_what_to_correct(admin_client, provider, partnerships):
    response = admin_client.get(url("resellers", provider) + "?status=everything")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_status_error"' in body
    assert "Contoso Japan KK" not in body
    assert admin_client.get(url("resellers_export", provider) + "?status=everything").status_code == 400


def test_a_sales_agent_sees_the_resellers_but_no_buttons_that_change_things(
    sales_client, provider, partnerships
):
    response = sales_client.get(url("resellers", provider))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Contoso Japan KK" in body
    assert url("invite", provider) not in body
    assert url("bulk", provider) not in body
    assert url("listing_edit", provider) not in body  # the tab strip hides the manager's pages too
    assert f'href="{url("resellers_export", provider)}"' in body  # the export is a view right


def test_a_new_provider_is_told_how_resellers_appear(admin_client, provider):
    body = admin_client.get(url("resellers", provider)).content.decode()
    assert "No indirect resellers yet." in body


def _query_count(client, path) -> int:
    client.get(path)  # the first request of a session stores the active organization: not a list query
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    for query in captured:
        assert "COUNT(" not in query["sql"].upper()
        assert "OFFSET" not in query["sql"].upper()
    return len(captured)


def test_the_resellers_list_query_count_does_not_grow_with_rows(admin_client, provider):
    for _ in range(3):
        PartnershipFactory(provider=provider)
    few = _query_count(admin_client, url("resellers", provider) + "?status=all")
    for index in range(27):
        PartnershipFactory(
            provider=provider, status=Partnership.Status.ENDED if index % 2 else Partnership.Status.ACTIVE
        )
    many = _query_count(admin_client, url("resellers", provider) + "?status=all")
    assert len(rows(admin_client.get(url("resellers", provider) + "?status=all"))) == 30
    assert few == many


def test_the_invitations_list_query_count_does_not_grow_with_rows(admin_client, provider, admin):
    for _ in range(3):
        PartnershipInvitationFactory(organization=provider, invited_by=admin.user)
    few = _query_count(admin_client, url("invitations", provider))
    for index in range(27):
        PartnershipInvitationFactory(
            organization=provider,
            invited_by=MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN]).user,
            emailed_at=timezone.now() if index % 2 else None,
        )
    many = _query_count(admin_client, url("invitations", provider))
    assert len(rows(admin_client.get(url("invitations", provider)))) == 30
    assert few == many


def test_the_requests_list_query_count_does_not_grow_with_rows(admin_client, provider):
    for _ in range(3):
        PartnershipRequestFactory(provider=provider, requested_by=UserFactory())
    few = _query_count(admin_client, url("requests", provider))
    for _ in range(27):
        PartnershipRequestFactory(provider=provider, requested_by=UserFactory())
    many = _query_count(admin_client, url("requests", provider))
    assert len(rows(admin_client.get(url("requests", provider)))) == 30
    assert few == many


# --- CSV export -----------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="indirect-resellers-{response.wsgi_request.organization.public_id}.csv"'
    )
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")  # Excel reads UTF-8 (and Japanese) only after this mark
    return list(csv.reader(io.StringIO(content.removeprefix("\ufeff"))))


def test_the_export_has_the_pages_filters_and_is_safe_in_a_spreadsheet(admin_client, provider, partnerships):
    formula = PartnershipFactory(
        provider=provider,
        reseller=ResellerFactory(legal_name='=HYPERLINK("https://evil.example","x")', partner_id="7000009"),
    )
    japanese = PartnershipFactory(
        provider=provider, reseller=ResellerFactory(legal_name="株式会社ブルー", partner_id="7000010")
    )
    rows = _csv(admin_client.get(url("resellers_export", provider)))
    assert rows[0] == [
        "reseller",
        "partner_id",
        "country",
        "status",
        "status_label",
        "since_utc",
        "ended_utc",
    ]
    assert [row[0] for row in rows[1:]] == [
        "株式会社ブルー",
        '\'=HYPERLINK("https://evil.example","x")',
        "Fabrikam USA Inc",
        "Contoso Japan KK",
    ]
    contoso = partnerships["contoso"]
    assert rows[-1] == [
        "Contoso Japan KK",
        "7000001",
        "JP",
        "active",
        "Active",
        contoso.started_at.isoformat(),
        "",
    ]
    assert japanese.status == formula.status == Partnership.Status.ACTIVE

    ended_only = _csv(admin_client.get(url("resellers_export", provider) + "?status=ended"))
    ended = partnerships["ended"]
    assert ended_only[1:] == [
        [
            "Tailspin Toys KK",
            "7000003",
            "JP",
            "ended",
            "Ended",
            ended.started_at.isoformat(),
            ended.ended_at.isoformat(),
        ]
    ]
    searched = _csv(admin_client.get(url("resellers_export", provider) + "?q=7000002"))
    assert [row[0] for row in searched[1:]] == ["Fabrikam USA Inc"]


def test_the_export_link_carries_the_filters_but_not_the_page(admin_client, provider, partnerships):
    body = admin_client.get(url("resellers", provider) + "?q=contoso&status=all").content.decode()
    assert f'href="{url("resellers_export", provider)}?q=contoso&amp;status=all"' in body


# --- Invitations list -----------------------------------------------------------------------------


def test_the_invitations_list_shows_each_invitation_and_filters_by_status(admin_client, provider, admin):
    pending = PartnershipInvitationFactory(
        organization=provider, email="pending@reseller.example", partner_id="7000001", invited_by=admin.user
    )
    PartnershipInvitationFactory(
        organization=provider,
        email="emailed@reseller.example",
        emailed_at=timezone.now(),
        status=PartnershipInvitation.Status.REVOKED,
        invited_by=admin.user,
    )
    PartnershipInvitationFactory(organization=ProviderFactory(), email="foreign@reseller.example")
    response = admin_client.get(url("invitations", provider))
    body = response.content.decode()
    assert response.status_code == 200
    assert "pending@reseller.example" in body and "emailed@reseller.example" in body
    assert "foreign@reseller.example" not in body
    assert '<span class="badge badge--pending">Pending</span>' in body
    assert '<span class="badge badge--revoked">Revoked</span>' in body
    assert "Emailed by the portal" in body and "Not emailed by the portal" in body
    one = {"partnership_invitation_id": pending.public_id}
    assert url("invitation_resend", provider, **one) in body
    assert url("invitation_revoke", provider, **one) in body

    pending_only = admin_client.get(url("invitations", provider) + "?status=pending").content.decode()
    assert "pending@reseller.example" in pending_only
    assert "emailed@reseller.example" not in pending_only
    searched = admin_client.get(url("invitations", provider) + "?q=7000001").content.decode()
    assert "pending@reseller.example" in searched
    assert "emailed@reseller.example" not in searched


# --- Requests -------------------------------------------------------------------------------------


@pytest.fixture
def open_request(provider):
    reseller = ResellerFactory(legal_name="Contoso Japan KK", partner_id="7000001")
    # The person who asked is one of the reseller's Account admins (who manage its partnerships).
    requester = MembershipFactory(
        organization=reseller,
        roles=[Role.ACCOUNT_ADMIN],
        user=UserFactory(email="kenji@contoso.example", preferred_language="ja"),
    ).user
    return PartnershipRequestFactory(
        provider=provider,
        reseller=reseller,
        requested_by=requester,
        message="We sell in Osaka and would like your support.",
    )


def test_the_requests_page_lists_open_requests_with_their_answers(admin_client, provider, open_request):
    PartnershipRequestFactory(provider=provider, status=PartnershipRequest.Status.DECLINED, reason="No.")
    PartnershipRequestFactory(provider=ProviderFactory(), message="Someone else's request")
    response = admin_client.get(url("requests", provider))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Contoso Japan KK" in body
    assert "We sell in Osaka and would like your support." in body
    assert "kenji@contoso.example" in body
    assert "Someone else" not in body
    assert len(rows(response)) == 1  # the declined one is not in the default (open) view
    invite_link = f"{url('invite', provider)}?request={open_request.public_id}"
    assert f'href="{invite_link}"' in body
    decline_link = url("request_decline", provider, request_id=open_request.public_id)
    assert f'href="{decline_link}"' in body

    everything = admin_client.get(url("requests", provider) + "?status=all")
    assert len(rows(everything)) == 2
    assert "Your reason: No." in everything.content.decode()


def test_declining_a_request_needs_a_reason_and_tells_the_reseller(
    admin_client, provider, open_request, admin
):
    page = admin_client.get(url("request_decline", provider, request_id=open_request.public_id))
    assert page.status_code == 200
    assert "Decline the request from Contoso Japan KK?" in page.content.decode()

    before = state()
    response = admin_client.post(url("request_decline", provider, request_id=open_request.public_id), {})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()
    assert "Tell the reseller why you decline." in response.content.decode()
    assert state() == before

    response = admin_client.post(
        url("request_decline", provider, request_id=open_request.public_id),
        {"reason": "We only serve the Kanto region."},
    )
    assert response.status_code == 302
    assert response["Location"] == url("requests", provider)
    open_request.refresh_from_db()
    assert open_request.status == PartnershipRequest.Status.DECLINED
    assert open_request.reason == "We only serve the Kanto region."
    assert open_request.decided_by == admin.user
    email = OutboxEmail.objects.get(template="partnership_request_declined")
    assert email.to == "kenji@contoso.example"
    assert (
        "You declined the request from Contoso Japan KK."
        in admin_client.get(url("requests", provider)).content.decode()
    )

    # Answered already: the page says so, and a second decline changes nothing.
    before = state()
    again = admin_client.post(
        url("request_decline", provider, request_id=open_request.public_id), {"reason": "Again."}
    )
    assert again.status_code == 400
    assert state() == before


def test_a_sales_agent_sees_requests_but_may_not_decline(sales_client, provider, open_request):
    body = sales_client.get(url("requests", provider)).content.decode()
    assert "Contoso Japan KK" in body
    assert url("request_decline", provider, request_id=open_request.public_id) not in body
    assert f"{url('invite', provider)}?request=" not in body
    before = state()
    decline = url("request_decline", provider, request_id=open_request.public_id)
    assert sales_client.get(decline).status_code == 403
    assert sales_client.post(decline, {"reason": "No."}).status_code == 403
    assert state() == before


def test_another_providers_request_does_not_exist_here(admin_client, provider):
    foreign = PartnershipRequestFactory(provider=ProviderFactory())
    before = state()
    decline = url("request_decline", provider, request_id=foreign.public_id)
    assert admin_client.get(decline).status_code == 404
    assert admin_client.post(decline, {"reason": "No."}).status_code == 404
    assert state() == before


# --- Dashboard card -------------------------------------------------------------------------------


def test_the_dashboard_card_links_to_the_resellers_and_to_invite(admin_client, provider):
    dashboard = reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": provider.public_id}
    )
    body = admin_client.get(dashboard).content.decode()
    assert f'<a href="{url("resellers", provider)}">Indirect resellers</a>' in body
    assert f'<a href="{url("invite", provider)}">Invite a reseller</a>' in body


def test_the_dashboard_card_offers_no_invitation_to_a_sales_agent(sales_client, provider):
    dashboard = reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": provider.public_id}
    )
    body = sales_client.get(dashboard).content.decode()
    assert f'<a href="{url("resellers", provider)}">Indirect resellers</a>' in body
    assert url("invite", provider) not in body

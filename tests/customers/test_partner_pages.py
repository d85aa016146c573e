"""A partner's customer pages: the Customers page (a reseller's own customers; a provider's, those shared
with it through a live partnership), search and the partnership filter with a query count that does not
grow; the two kinds of invitation (the invite form, the editable draft, send, resend, revoke); one
customer's page; a request for new or changed delegated admin roles; the expiry radar; the dashboard card;
and who may do what. A denied or refused request also proves that nothing changed."""

import html
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from customers.models import (
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    InvitationKind,
)
from customers.services.invitations import invitation_link
from customers.views.partner_side import dashboard_card
from portal.audit.models import AuditEvent
from portal.invitations.models import LinkInvitationStatus
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.customers import CustomerFactory, CustomerInvitationFactory, customer_linked
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s\"<]+/invitations/customer/([A-Za-z0-9_\-]+)/")
LEAST = ["directory_reader", "helpdesk_admin", "license_admin"]


def url(name, organization, **kwargs):
    return reverse(f"customers:{name}", kwargs={"organization_public_id": organization.public_id, **kwargs})


@pytest.fixture
def reseller():
    return ResellerFactory(legal_name="Contoso Japan KK")


@pytest.fixture
def admin(reseller):
    return MembershipFactory(
        organization=reseller,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(full_name="Kenji Sato", email="kenji@contoso.example"),
    )


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin.user)
    return client


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Blue Yonder Distribution")


@pytest.fixture
def partnership(provider, reseller):
    return PartnershipFactory(provider=provider, reseller=reseller)


def member_client(client, organization, role):
    client.force_login(MembershipFactory(organization=organization, roles=[role]).user)
    return client


def state():
    """Everything a denied or refused request must leave as it was."""
    return (
        sorted(CustomerInvitation.objects.values_list("pk", "status", "token_hash", "emailed_at")),
        sorted(DelegatedAdminRelationship.objects.values_list("pk", "status", "roles")),
        sorted(CustomerRelationship.objects.values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def listed(response) -> list[str]:
    return [row.customer_name for row in response.context["page"].object_list]


def draft_fields(response) -> dict[str, str]:
    """The draft page's subject, message, hidden token and read-only link, as the browser holds them."""
    body = response.content.decode()
    subject = re.search(r'<input type="text" name="subject" value="([^"]*)"', body).group(1)
    message = re.search(r'<textarea name="body"[^>]*>\n?(.*?)</textarea>', body, re.S).group(1)
    token = re.search(r'<input type="hidden" name="token" value="([^"]*)"', body).group(1)
    link = re.search(r'<input type="text" id="invitation-link" value="([^"]*)"', body).group(1)
    return {
        "subject": html.unescape(subject),
        "body": html.unescape(message),
        "token": token,
        "link": html.unescape(link),
    }


def invite_data(**data):
    return {
        "kind": InvitationKind.RESELLER_ONLY,
        "email": "it@fabrikam.example",
        "customer_name": "Fabrikam KK",
        "language": "en",
        "roles": LEAST,
        "duration_days": "365",
        **data,
    }


# --- The Customers page (a reseller) ----------------------------------------------------------------


@pytest.fixture
def customers(reseller, provider, partnership):
    """Three customers of the reseller (one shared with the provider), an ended one, another's."""
    now = timezone.now()
    alpine, _, alpine_admin = customer_linked(
        reseller,
        CustomerFactory(legal_name="Alpine Ski House KK"),
        provider=provider,
        ends_in=timedelta(days=10),
    )
    fabrikam, _, _ = customer_linked(
        reseller, CustomerFactory(legal_name="Fabrikam KK"), roles=[DelegatedRole.GLOBAL_READER]
    )
    northwind, _, _ = customer_linked(
        reseller, CustomerFactory(legal_name="Northwind Traders KK"), delegated=False
    )
    ended_customer, ended, _ = customer_linked(reseller, CustomerFactory(legal_name="Gone Away KK"))
    CustomerRelationship.objects.filter(pk=ended.pk).update(status="ended", ended_at=now)
    foreign, _, _ = customer_linked(
        ResellerFactory(), CustomerFactory(legal_name="Someone Else's Customer KK")
    )
    return {
        "alpine": alpine,
        "alpine_admin": alpine_admin,
        "fabrikam": fabrikam,
        "northwind": northwind,
        "ended": ended_customer,
        "foreign": foreign,
    }


def test_the_customers_page_lists_only_the_resellers_active_customers_by_name(
    admin_client, reseller, customers
):
    response = admin_client.get(url("list", reseller))

    assert response.status_code == 200
    assert listed(response) == ["Alpine Ski House KK", "Fabrikam KK", "Northwind Traders KK"]
    body = response.content.decode()
    assert "<h1>Customers</h1>" in body
    assert "Someone Else" not in body
    assert "Gone Away" not in body
    assert f'{url("invite", reseller)}?kind=reseller"' in body
    assert "Request a reseller relationship" in body
    assert url("invitations", reseller) in body
    assert url("expiring", reseller) in body


def test_each_row_expands_to_the_relationship_the_providers_and_the_delegated_admin_access(
    admin_client, reseller, customers
):
    body = admin_client.get(url("list", reseller)).content.decode()
    alpine, fabrikam, northwind = body.split('<li class="customer-row')[1:4]

    assert "<details>" in alpine
    assert "customer-row--expiring" in alpine  # ends within 30 days: highlighted
    assert "Delegated admin ends in 10 days" in alpine
    assert "<li><bdi>Blue Yonder Distribution</bdi></li>" in alpine
    assert "<li>Directory readers</li><li>Helpdesk administrator</li><li>License administrator</li>" in alpine
    assert customers["alpine_admin"].ends_at.strftime("%Y-%m-%d %H:%M") in alpine
    assert url("customer", reseller, customer_id=customers["alpine"].public_id) in alpine

    assert "customer-row--expiring" not in fabrikam.split(">")[0]
    assert "Delegated admin until" in fabrikam
    assert "<li>Global reader</li>" in fabrikam
    assert "None: you are the customer's only partner." in fabrikam

    assert "No delegated admin access" in northwind
    # The next issue's subscriptions, users and licences are not faked here.
    assert "Subscriptions, users and licences" not in body


def test_a_row_reads_in_the_members_language(admin_client, reseller, customers):
    admin_client.cookies["portal_language"] = "ja"

    body = admin_client.get(url("list", reseller)).content.decode()
    alpine = body.split('<li class="customer-row')[1]

    ends = customers["alpine_admin"].ends_at
    assert '<span class="badge badge--expiring">委任管理者アクセスはあと 10 日で終了</span>' in alpine
    assert f"<dt>アクセスの終了日時 (UTC)</dt>\n          <dd>{ends:%Y-%m-%d %H:%M} · あと 10 日" in alpine
    assert "<dt>状態</dt><dd>有効</dd>" in alpine
    assert "<li>ディレクトリ閲覧者</li>" in alpine
    assert 'aria-label="Alpine Ski House KK のページ"' in alpine


def test_search_finds_customers_by_part_of_their_name(admin_client, reseller, customers):
    response = admin_client.get(url("list", reseller), {"q": "abrik"})

    assert listed(response) == ["Fabrikam KK"]

    nothing = admin_client.get(url("list", reseller), {"q": "nobody at all"})
    assert listed(nothing) == []
    assert "No customer matches." in nothing.content.decode()


def test_the_partnership_filter_shows_the_customers_shared_with_that_provider(
    admin_client, reseller, partnership, customers
):
    response = admin_client.get(url("list", reseller), {"partnership": str(partnership.public_id)})

    assert response.status_code == 200
    assert listed(response) == ["Alpine Ski House KK"]
    body = response.content.decode()
    assert "Showing the customers you share with <bdi>Blue Yonder Distribution</bdi>." in body
    assert f'name="partnership" value="{partnership.public_id}"' in body  # the search keeps the filter
    # The earlier name of the parameter, in the Indirect providers page's links, still works.
    earlier = admin_client.get(url("list", reseller), {"provider": str(partnership.public_id)})
    assert listed(earlier) == ["Alpine Ski House KK"]


def test_an_unknown_or_foreign_partnership_is_a_missing_page(admin_client, reseller, customers):
    foreign = PartnershipFactory()  # between two other organizations
    for value in (str(foreign.public_id), "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert admin_client.get(url("list", reseller), {"partnership": value}).status_code == 404


def test_earlier_invite_links_open_the_invite_page_of_the_right_kind(admin_client, reseller, partnership):
    response = admin_client.get(
        url("list", reseller), {"invite": "1", "provider": str(partnership.public_id)}
    )

    assert response.status_code == 302
    assert response["Location"] == (
        f"{url('invite', reseller)}?kind=with_provider&partnership={partnership.public_id}"
    )
    alone = admin_client.get(url("list", reseller), {"invite": "1"})
    assert alone["Location"] == f"{url('invite', reseller)}?kind=reseller"


def test_an_empty_customers_page_explains_how_customers_arrive(admin_client, reseller):
    body = admin_client.get(url("list", reseller)).content.decode()

    assert "No customers yet. A customer appears here once it accepts your invitation" in body


def _query_count(client, path) -> int:
    client.get(path)  # the first request of a session stores the active organization: not a list query
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    for query in captured:
        assert "COUNT(" not in query["sql"].upper()
        assert "OFFSET" not in query["sql"].upper()
    return len(captured)


def test_the_customers_page_query_count_does_not_grow_with_its_rows(
    admin_client, reseller, provider, partnership
):
    def add(count):
        for _ in range(count):
            customer_linked(reseller, provider=provider, ends_in=timedelta(days=5))
            CustomerInvitationFactory(organization=reseller)

    add(3)
    few = _query_count(admin_client, url("list", reseller))
    add(27)
    many = _query_count(admin_client, url("list", reseller))

    assert len(listed(admin_client.get(url("list", reseller)))) == 30
    assert few == many
    for path in (url("list", reseller) + f"?partnership={partnership.public_id}",):
        assert _query_count(admin_client, path) == many + 1  # the partnership itself


def test_the_customers_page_pages_through_a_long_list(admin_client, reseller):
    for index in range(55):
        customer_linked(reseller, CustomerFactory(legal_name=f"Customer {index:02d} KK"), delegated=False)

    first = admin_client.get(url("list", reseller))
    assert len(listed(first)) == 50
    assert first.context["page"].has_next
    second = admin_client.get(url("list", reseller) + "?" + first.context["page"].next_query)
    assert listed(second) == [f"Customer {index:02d} KK" for index in range(50, 55)]


# --- The Customers page (a provider) ----------------------------------------------------------------


def test_a_provider_sees_only_the_customers_shared_with_it_and_loses_them_with_the_partnership(
    client, reseller, provider, partnership, customers
):
    other_reseller = ResellerFactory(legal_name="Tailspin Toys KK")
    other = PartnershipFactory(provider=provider, reseller=other_reseller)
    customer_linked(other_reseller, CustomerFactory(legal_name="Woodgrove Bank KK"), provider=provider)
    member_client(client, provider, Role.GLOBAL_ADMIN)

    response = client.get(url("list", provider))

    assert response.status_code == 200
    assert listed(response) == ["Alpine Ski House KK", "Woodgrove Bank KK"]
    body = response.content.decode()
    assert "<h1>Customers shared with you</h1>" in body
    assert "Request a reseller relationship" not in body
    assert url("invitations", provider) not in body.split("</h1>")[1]
    alpine = body.split('<li class="customer-row')[1]
    assert "Reseller of record" in alpine and "<bdi>Contoso Japan KK</bdi>" in alpine
    by_reseller = client.get(url("list", provider), {"partnership": str(other.public_id)})
    assert listed(by_reseller) == ["Woodgrove Bank KK"]
    assert (
        "Showing the customers <bdi>Tailspin Toys KK</bdi> shares with you." in by_reseller.content.decode()
    )
    alpine_page = url("customer", provider, customer_id=customers["alpine"].public_id)
    assert client.get(alpine_page).status_code == 200

    Partnership.objects.filter(pk=partnership.pk).update(
        status=Partnership.Status.ENDED, ended_at=timezone.now()
    )

    assert listed(client.get(url("list", provider))) == ["Woodgrove Bank KK"]
    assert client.get(alpine_page).status_code == 404


def test_the_providers_customers_page_query_count_does_not_grow(client, provider):
    reseller = ResellerFactory()
    member_client(client, provider, Role.GLOBAL_ADMIN)
    for _ in range(3):
        customer_linked(reseller, provider=provider)
    few = _query_count(client, url("list", provider))
    for _ in range(27):
        customer_linked(reseller, provider=provider)
    many = _query_count(client, url("list", provider))

    assert len(listed(client.get(url("list", provider)))) == 30
    assert few == many


def test_the_providers_indirect_resellers_page_links_to_the_customers_of_each_reseller(
    client, provider, partnership
):
    ended = PartnershipFactory(provider=provider, status=Partnership.Status.ENDED, ended_at=timezone.now())
    member_client(client, provider, Role.GLOBAL_ADMIN)

    body = client.get(
        reverse("providers:resellers", kwargs={"organization_public_id": provider.public_id}),
        {"status": "all"},
    ).content.decode()

    assert f'{url("list", provider)}?partnership={partnership.public_id}"' in body
    assert f"?partnership={ended.public_id}" not in body
    assert "View customers" in body


# --- The invite page --------------------------------------------------------------------------------


def test_the_reseller_only_invite_form_has_its_own_look_and_least_privilege_by_default(
    admin_client, reseller
):
    response = admin_client.get(url("invite", reseller), {"kind": "reseller"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Request a reseller relationship</h1>" in body
    assert "invite-kind--reseller" in body and "Reseller relationship only" in body
    assert 'name="partnership"' not in body
    assert '<input type="hidden" name="kind" value="reseller"' in body
    for code in ("directory_reader", "helpdesk_admin", "license_admin"):
        assert re.search(rf'value="{code}" id="[^"]+" checked', body)
    for code in ("global_reader", "user_admin", "billing_admin", "global_admin", "service_support_admin"):
        assert re.search(rf'value="{code}" id="[^"]+" aria', body)
    assert "<legend>Delegated admin roles</legend>" in body
    assert 'class="role-option role-option--highest"' in body and "Highest privilege" in body
    assert "Reset passwords and sign-in methods of your users who are not administrators" in body
    assert 'name="duration_days" value="365"' in body
    assert 'list="duration-choices"' in body and '<option value="730">730 days</option>' in body
    assert 'name="auto_extend"' in body and "Not available with Global administrator" in body


def test_the_with_provider_form_offers_only_providers_with_a_live_partnership(
    admin_client, reseller, provider, partnership
):
    PartnershipFactory(
        provider=ProviderFactory(legal_name="Ended Partner KK"),
        reseller=reseller,
        status=Partnership.Status.ENDED,
        ended_at=timezone.now(),
    )
    PartnershipFactory(provider=ProviderFactory(legal_name="Another Resellers Provider KK"))

    response = admin_client.get(
        url("invite", reseller), {"kind": "with_provider", "partnership": str(partnership.public_id)}
    )

    body = response.content.decode()
    assert "<h1>Invite new customer</h1>" in body
    assert "invite-kind--with_provider" in body
    assert "Reseller + indirect provider <bdi>Blue Yonder Distribution</bdi>" in body
    assert f'<option value="{partnership.public_id}" selected>Blue Yonder Distribution</option>' in body
    assert "Ended Partner KK" not in body
    assert "Another Resellers Provider KK" not in body


def test_the_with_provider_form_says_when_no_provider_can_be_chosen(admin_client, reseller):
    body = admin_client.get(url("invite", reseller), {"kind": "with_provider"}).content.decode()

    assert "None of your indirect providers has a live partnership with you" in body
    assert 'name="email"' not in body


def test_without_a_kind_the_invite_page_offers_both_kinds(admin_client, reseller):
    body = admin_client.get(url("invite", reseller)).content.decode()

    assert f'{url("invite", reseller)}?kind=reseller"' in body
    assert f'{url("invite", reseller)}?kind=with_provider"' in body


def test_inviting_a_customer_renders_the_draft_with_the_link(admin_client, reseller):
    response = admin_client.post(url("invite", reseller), invite_data(auto_extend="on", duration_days="90"))

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    invitation = CustomerInvitation.objects.get()
    assert (invitation.organization, invitation.email, invitation.kind) == (
        reseller,
        "it@fabrikam.example",
        "reseller",
    )
    assert (invitation.roles, invitation.duration_days, invitation.auto_extend) == (LEAST, 90, True)
    assert (invitation.provider, invitation.customer_name, invitation.status) == (
        None,
        "Fabrikam KK",
        "pending",
    )
    fields = draft_fields(response)
    assert fields["link"] == invitation_link(fields["token"])
    assert fields["link"] in fields["body"]
    body = response.content.decode()
    assert "Reseller relationship only" in body
    assert "90 days" in body and "extends automatically by 180 days" in body
    assert url("invitation_send", reseller, customer_invitation_id=invitation.public_id) in body
    assert f'<a href="{url("invitations", reseller)}">Done</a>' in body


def test_inviting_a_customer_with_a_provider_names_the_provider(
    admin_client, reseller, provider, partnership
):
    response = admin_client.post(
        url("invite", reseller),
        invite_data(kind="with_provider", partnership=str(partnership.public_id), roles=["global_reader"]),
    )

    assert response.status_code == 200
    invitation = CustomerInvitation.objects.get()
    assert (invitation.kind, invitation.provider, invitation.partnership) == (
        "with_provider",
        provider,
        partnership,
    )
    body = response.content.decode()
    assert "Reseller + indirect provider <bdi>Blue Yonder Distribution</bdi>" in body
    assert draft_fields(response)["link"] in draft_fields(response)["body"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"roles": []}, "roles", "Choose at least one delegated admin role."),
        ({"roles": ["owner"]}, "roles", "Select a valid choice."),
        (
            {"roles": ["global_admin"], "auto_extend": "on"},
            "auto_extend",
            "Auto-extend is not available when Global administrator is among the roles",
        ),
        ({"duration_days": "0"}, "duration_days", "Choose a duration from 1 day to 730 days (2 years)."),
        ({"duration_days": "731"}, "duration_days", "Choose a duration from 1 day to 730 days (2 years)."),
        ({"duration_days": ""}, "duration_days", "Enter the duration as a whole number of days."),
        ({"email": "not an address"}, "email", "Enter a valid email address."),
    ],
)
def test_a_refused_invitation_shows_the_error_at_its_field_and_saves_nothing(
    admin_client, reseller, data, field, message
):
    before = state()

    response = admin_client.post(url("invite", reseller), invite_data(**data))

    assert response.status_code == 400
    assert message in " ".join(str(error) for error in response.context["form"].errors[field])
    assert f'id="id_{field}_error"' in response.content.decode()
    assert state() == before


def test_a_provider_without_a_live_partnership_is_refused_at_the_provider_field(
    admin_client, reseller, provider
):
    ended = PartnershipFactory(
        provider=provider, reseller=reseller, status=Partnership.Status.ENDED, ended_at=timezone.now()
    )
    foreign = PartnershipFactory(provider=provider)
    before = state()

    for value in (str(ended.public_id), str(foreign.public_id), ""):
        response = admin_client.post(
            url("invite", reseller), invite_data(kind="with_provider", partnership=value)
        )
        assert response.status_code == 400
        assert response.context["form"].errors["partnership"] == [
            "Choose one of your indirect providers: only a provider with a live partnership can be chosen."
        ]
    assert state() == before


def test_an_unknown_kind_is_refused_and_saves_nothing(admin_client, reseller):
    before = state()

    response = admin_client.post(url("invite", reseller), invite_data(kind="partner"))

    assert response.status_code == 400
    assert state() == before


@pytest.mark.parametrize("role", [Role.HELPDESK_AGENT, Role.ACCOUNT_ADMIN])
def test_a_member_who_may_not_invite_gets_403_and_nothing_is_saved(client, reseller, partnership, role):
    member_client(client, reseller, role)
    before = state()

    assert client.get(url("invite", reseller), {"kind": "reseller"}).status_code == 403
    assert client.post(url("invite", reseller), invite_data()).status_code == 403
    assert (
        client.post(
            url("invite", reseller), invite_data(kind="with_provider", partnership=str(partnership.public_id))
        ).status_code
        == 403
    )
    assert state() == before
    # The Customers page is still theirs to read, without the invite button.
    body = client.get(url("list", reseller)).content.decode()
    assert url("invite", reseller) not in body


def test_a_sales_agent_invites_customers(client, reseller):
    member_client(client, reseller, Role.SALES_AGENT)

    response = client.post(url("invite", reseller), invite_data())

    assert response.status_code == 200
    assert CustomerInvitation.objects.get().email == "it@fabrikam.example"


def test_a_provider_has_no_invite_page(client, provider):
    member_client(client, provider, Role.GLOBAL_ADMIN)
    before = state()

    assert client.get(url("invite", provider), {"kind": "reseller"}).status_code == 404
    assert client.post(url("invite", provider), invite_data()).status_code == 404
    assert client.get(url("invitations", provider)).status_code == 404
    assert client.get(url("expiring", provider)).status_code == 404
    assert state() == before


# --- Send, resend, revoke ---------------------------------------------------------------------------


def test_the_portal_sends_the_edited_draft(admin_client, reseller):
    fields = draft_fields(admin_client.post(url("invite", reseller), invite_data()))
    invitation = CustomerInvitation.objects.get()
    body = "Dear Fabrikam,\n\nPlease accept: " + fields["link"] + "\n\nKenji"

    response = admin_client.post(
        url("invitation_send", reseller, customer_invitation_id=invitation.public_id),
        {"subject": "Our invitation", "body": body, "token": fields["token"]},
    )

    assert response.status_code == 302
    assert response["Location"] == url("invitations", reseller)
    invitation.refresh_from_db()
    assert invitation.emailed_at is not None
    email = OutboxEmail.objects.get(template="customer_invitation")
    assert (email.to, email.subject) == ("it@fabrikam.example", "Our invitation")
    assert fields["token"] not in email.body_text  # the link is stored sealed
    page = admin_client.get(url("invitations", reseller)).content.decode()
    assert "The invitation was emailed to it@fabrikam.example." in page
    assert "Emailed by the portal" in page


def test_a_draft_without_the_link_comes_back_with_the_error_and_sends_nothing(admin_client, reseller):
    fields = draft_fields(admin_client.post(url("invite", reseller), invite_data()))
    invitation = CustomerInvitation.objects.get()
    before = state()

    response = admin_client.post(
        url("invitation_send", reseller, customer_invitation_id=invitation.public_id),
        {"subject": "Our invitation", "body": "No link here", "token": fields["token"]},
    )

    assert response.status_code == 400
    assert "Keep the personalised link" in response.content.decode()
    assert draft_fields(response)["link"] == fields["link"]
    assert state() == before


def test_resend_gives_a_new_draft_and_kills_the_old_link(admin_client, reseller):
    old = CustomerInvitationFactory(
        organization=reseller, email="it@fabrikam.example", customer_name="Fabrikam KK"
    )

    response = admin_client.post(url("invitation_resend", reseller, customer_invitation_id=old.public_id))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    old.refresh_from_db()
    assert old.status == LinkInvitationStatus.REVOKED
    new = CustomerInvitation.objects.get(status=LinkInvitationStatus.PENDING)
    assert (new.email, new.roles, new.customer_name) == (old.email, old.roles, "Fabrikam KK")
    fields = draft_fields(response)
    assert fields["link"] == invitation_link(fields["token"]) and fields["link"] in fields["body"]
    assert old.raw_token not in response.content.decode()


def test_revoking_closes_a_pending_invitation(admin_client, reseller):
    invitation = CustomerInvitationFactory(organization=reseller)

    response = admin_client.post(
        url("invitation_revoke", reseller, customer_invitation_id=invitation.public_id)
    )

    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == LinkInvitationStatus.REVOKED
    page = admin_client.get(url("invitations", reseller)).content.decode()
    assert f"The invitation to {invitation.email} was revoked." in page
    again = admin_client.post(url("invitation_revoke", reseller, customer_invitation_id=invitation.public_id))
    assert again.status_code == 302
    assert (
        "This action is no longer possible" in admin_client.get(url("invitations", reseller)).content.decode()
    )


def test_another_resellers_invitation_cannot_be_sent_resent_or_revoked(admin_client, reseller):
    foreign = CustomerInvitationFactory()
    before = state()

    for name in ("invitation_send", "invitation_resend", "invitation_revoke"):
        response = admin_client.post(
            url(name, reseller, customer_invitation_id=foreign.public_id),
            {"subject": "x", "body": "x", "token": foreign.raw_token},
        )
        assert response.status_code == 404
    assert state() == before


def test_a_helpdesk_agent_cannot_resend_or_revoke(client, reseller):
    invitation = CustomerInvitationFactory(organization=reseller)
    member_client(client, reseller, Role.HELPDESK_AGENT)
    before = state()

    for name in ("invitation_send", "invitation_resend", "invitation_revoke"):
        assert (
            client.post(url(name, reseller, customer_invitation_id=invitation.public_id)).status_code == 403
        )
    assert state() == before
    page = client.get(url("invitations", reseller)).content.decode()
    for name in ("invitation_resend", "invitation_revoke"):
        assert url(name, reseller, customer_invitation_id=invitation.public_id) not in page


# --- The invitations page ---------------------------------------------------------------------------


@pytest.fixture
def invitations(reseller, partnership):
    now = timezone.now()
    pending = CustomerInvitationFactory(
        organization=reseller, email="pending@example.com", customer_name="Pending KK", created_at=now
    )
    overdue = CustomerInvitationFactory(
        organization=reseller,
        email="overdue@example.com",
        created_at=now - timedelta(days=31),
        expires_at=now - timedelta(days=1),
    )
    shared = CustomerInvitationFactory(
        organization=reseller,
        email="shared@example.com",
        with_provider=partnership,
        created_at=now - timedelta(days=2),
    )
    declined = CustomerInvitationFactory(
        organization=reseller,
        email="declined@example.com",
        status=LinkInvitationStatus.DECLINED,
        reason="We have a partner already.",
        created_at=now - timedelta(days=3),
    )
    CustomerInvitationFactory(email="foreign@example.com")
    return {"pending": pending, "overdue": overdue, "shared": shared, "declined": declined}


def emails(response) -> list[str]:
    return [invitation.email for invitation in response.context["page"].object_list]


def test_the_invitations_page_lists_the_resellers_invitations_newest_first(
    admin_client, reseller, invitations
):
    response = admin_client.get(url("invitations", reseller))

    assert response.status_code == 200
    assert emails(response) == [
        "pending@example.com",
        "shared@example.com",
        "declined@example.com",
        "overdue@example.com",
    ]
    body = response.content.decode()
    assert "foreign@example.com" not in body
    rows = body.split("<tbody>")[1].split("<tr>")[1:]
    assert "Reseller only" in rows[0] and "Pending KK" in rows[0] and "Pending" in rows[0]
    assert "Reseller + provider" in rows[1] and "Blue Yonder Distribution" in rows[1]
    assert "Declined" in rows[2] and "We have a partner already." in rows[2]
    assert '<span class="badge badge--expired">Expired</span>' in rows[3]  # pending, past its end
    assert "Directory readers" in rows[0] and "365 days" in rows[0]
    assert "Revoke the invitation" in rows[0] and "Resend" in rows[2]


def test_the_invitations_status_filter_treats_a_pending_invitation_past_its_end_as_expired(
    admin_client, reseller, invitations
):
    pending = admin_client.get(url("invitations", reseller), {"status": "pending"})
    expired = admin_client.get(url("invitations", reseller), {"status": "expired"})
    declined = admin_client.get(url("invitations", reseller), {"status": "declined"})
    searched = admin_client.get(url("invitations", reseller), {"q": "pending kk"})
    wrong = admin_client.get(url("invitations", reseller), {"status": "lost"})

    assert emails(pending) == ["pending@example.com", "shared@example.com"]
    assert emails(expired) == ["overdue@example.com"]
    assert emails(declined) == ["declined@example.com"]
    assert emails(searched) == ["pending@example.com"]
    assert wrong.status_code == 400


def test_the_invitations_page_query_count_does_not_grow(admin_client, reseller, partnership):
    for _ in range(3):
        CustomerInvitationFactory(organization=reseller, with_provider=partnership)
    few = _query_count(admin_client, url("invitations", reseller))
    for _ in range(27):
        CustomerInvitationFactory(organization=reseller, with_provider=partnership)
    many = _query_count(admin_client, url("invitations", reseller))

    assert few == many


# --- One customer -----------------------------------------------------------------------------------


def test_the_customer_page_shows_the_relationship_and_the_delegated_admin_access(
    admin_client, reseller, customers
):
    alpine = customers["alpine"]
    live = customers["alpine_admin"]
    DelegatedAdminRelationship.objects.create(
        customer=alpine,
        partner=reseller,
        roles=["user_admin"],
        duration_days=90,
        status=DelegatedAdminStatus.APPROVAL_PENDING,
        replaces=live,
    )

    response = admin_client.get(url("customer", reseller, customer_id=alpine.public_id))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1><bdi>Alpine Ski House KK</bdi></h1>" in body
    assert "Reseller of record" in body  # the relationship's role
    assert "<li><bdi>Blue Yonder Distribution</bdi></li>" in body
    assert live.ends_at.strftime("%Y-%m-%d %H:%M") in body and "in 10 days" in body
    assert "<strong>Helpdesk administrator</strong>" in body
    assert "Reset passwords and sign-in methods of your users who are not administrators" in body
    assert (
        "Request awaiting the customer's approval" in body and "<strong>User administrator</strong>" in body
    )
    assert url("delegated_admin_request", reseller, customer_id=alpine.public_id) in body
    history = [item.pk for item in response.context["history"].object_list]
    assert history == list(
        DelegatedAdminRelationship.objects.filter(customer=alpine)
        .order_by("-requested_at", "-id")
        .values_list("pk", flat=True)
    )
    assert len(history) == 2
    assert "Subscriptions, users and licences" not in body


def test_another_resellers_customer_and_an_ended_one_are_missing_pages(admin_client, reseller, customers):
    for key in ("foreign", "ended"):
        response = admin_client.get(url("customer", reseller, customer_id=customers[key].public_id))
        assert response.status_code == 404


def test_a_sales_agent_reads_the_customer_page_without_the_role_request(client, reseller, customers):
    member_client(client, reseller, Role.SALES_AGENT)
    alpine = customers["alpine"]

    body = client.get(url("customer", reseller, customer_id=alpine.public_id)).content.decode()

    assert "Alpine Ski House KK" in body
    assert url("delegated_admin_request", reseller, customer_id=alpine.public_id) not in body


# --- A request for new or changed roles -------------------------------------------------------------


def test_the_role_request_form_starts_from_the_live_roles(admin_client, reseller, customers):
    fabrikam = customers["fabrikam"]

    response = admin_client.get(url("delegated_admin_request", reseller, customer_id=fabrikam.public_id))

    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r'value="global_reader" id="[^"]+" checked', body)
    assert not re.search(r'value="helpdesk_admin" id="[^"]+" checked', body)
    assert "Your current roles end on" in body


def test_requesting_new_roles_sends_the_request_to_the_customer(admin_client, reseller, customers):
    fabrikam = customers["fabrikam"]
    customer_admin = MembershipFactory(organization=fabrikam, roles=[Role.GLOBAL_ADMIN])
    live = DelegatedAdminRelationship.objects.get(customer=fabrikam, partner=reseller)

    response = admin_client.post(
        url("delegated_admin_request", reseller, customer_id=fabrikam.public_id),
        {"roles": ["global_reader", "user_admin"], "duration_days": "180", "auto_extend": "on"},
    )

    assert response.status_code == 302
    assert response["Location"] == url("customer", reseller, customer_id=fabrikam.public_id)
    request = DelegatedAdminRelationship.objects.get(status=DelegatedAdminStatus.APPROVAL_PENDING)
    assert (request.customer, request.partner, request.replaces) == (fabrikam, reseller, live)
    assert (request.roles, request.duration_days, request.auto_extend) == (
        ["global_reader", "user_admin"],
        180,
        True,
    )
    live.refresh_from_db()
    assert live.status == DelegatedAdminStatus.ACTIVE  # unchanged until the customer approves
    assert OutboxEmail.objects.get(template="delegated_admin_request").to == customer_admin.user.email
    page = admin_client.get(response["Location"]).content.decode()
    assert "Your request was sent to the administrators of Fabrikam KK." in page
    assert "Request awaiting the customer's approval" in page


def test_a_refused_role_request_shows_the_error_and_changes_nothing(admin_client, reseller, customers):
    fabrikam = customers["fabrikam"]
    before = state()

    response = admin_client.post(
        url("delegated_admin_request", reseller, customer_id=fabrikam.public_id),
        {"roles": ["global_admin"], "duration_days": "30", "auto_extend": "on"},
    )

    assert response.status_code == 400
    assert "Auto-extend is not available when Global administrator is among the roles" in str(
        response.context["form"].errors["auto_extend"]
    )
    assert state() == before


def test_a_role_request_for_another_resellers_customer_or_by_a_sales_agent_is_refused(
    client, admin_client, reseller, customers
):
    before = state()
    foreign = url("delegated_admin_request", reseller, customer_id=customers["foreign"].public_id)
    assert admin_client.post(foreign, {"roles": LEAST, "duration_days": "30"}).status_code == 404
    assert admin_client.get(foreign).status_code == 404

    member_client(client, reseller, Role.SALES_AGENT)
    own = url("delegated_admin_request", reseller, customer_id=customers["fabrikam"].public_id)
    assert client.post(own, {"roles": LEAST, "duration_days": "30"}).status_code == 403
    assert state() == before


# --- The expiry radar -------------------------------------------------------------------------------


def test_the_expiry_radar_lists_only_what_ends_in_the_next_30_days_soonest_first(admin_client, reseller):
    customer_linked(reseller, CustomerFactory(legal_name="Later KK"), ends_in=timedelta(days=29, hours=12))
    customer_linked(reseller, CustomerFactory(legal_name="Soon KK"), ends_in=timedelta(days=4, hours=12))
    customer_linked(reseller, CustomerFactory(legal_name="Far KK"), ends_in=timedelta(days=45))
    customer_linked(
        reseller,
        CustomerFactory(legal_name="Over KK"),
        ends_in=timedelta(days=-1),
        status=DelegatedAdminStatus.EXPIRING,
    )
    customer_linked(
        reseller, CustomerFactory(legal_name="Removed KK"), ends_in=timedelta(days=3), status="terminated"
    )
    customer_linked(ResellerFactory(), CustomerFactory(legal_name="Foreign KK"), ends_in=timedelta(days=2))

    response = admin_client.get(url("expiring", reseller))

    assert response.status_code == 200
    assert [row.customer.legal_name for row in response.context["page"]] == ["Soon KK", "Later KK"]
    body = response.content.decode()
    assert "in 5 days" in body and "in 30 days" in body
    assert "Far KK" not in body and "Foreign KK" not in body and "Over KK" not in body
    soon = response.context["page"].object_list[0]
    assert url("delegated_admin_request", reseller, customer_id=soon.customer.public_id) in body
    assert 'rel="next"' not in body  # one page: no link to another


def test_the_expiry_radar_pages_by_end_date_and_its_next_link_opens_the_rest(admin_client, reseller):
    # 52 live accesses ending one hour apart, the last two at the same instant (the id breaks the tie),
    # and a terminated one: 50 on the first page, the soonest first, and 2 on the second.
    now = timezone.now()
    names = [f"Customer {number:02d} KK" for number in range(52)]
    for number, name in enumerate(names):
        _customer, _relationship, access = customer_linked(reseller, CustomerFactory(legal_name=name))
        ends_at = now + timedelta(hours=24 + min(number, 50))
        DelegatedAdminRelationship.objects.filter(pk=access.pk).update(ends_at=ends_at)
    customer_linked(
        reseller, CustomerFactory(legal_name="Removed KK"), ends_in=timedelta(hours=1), status="terminated"
    )

    first = admin_client.get(url("expiring", reseller))

    assert [row.customer.legal_name for row in first.context["page"]] == names[:50]
    page = first.context["page"]
    assert page.has_next and not page.has_previous and page.first_query is None
    body = first.content.decode()
    next_link = html.unescape(re.search(r'<a href="\?([^"]+)" rel="next">Next</a>', body).group(1))
    assert next_link == page.next_query
    assert 'aria-label="Pages of expiring access"' in body

    second = admin_client.get(f"{url('expiring', reseller)}?{next_link}")

    assert second.status_code == 200
    assert [row.customer.legal_name for row in second.context["page"]] == names[50:]
    assert [row.days_left for row in second.context["page"]] == [4, 4]  # 74 hours: a started day counts
    assert not second.context["page"].has_next and second.context["page"].has_previous
    second_body = second.content.decode()
    assert "Customer 51 KK" in second_body and "Customer 49 KK" not in second_body
    assert "Removed KK" not in second_body
    # a forged cursor is ignored: the first page again
    forged = admin_client.get(url("expiring", reseller), {"after": "forged"})
    assert [row.customer.legal_name for row in forged.context["page"]] == names[:50]


def test_the_expiry_radar_query_count_does_not_grow_and_its_empty_state_explains(admin_client, reseller):
    empty = admin_client.get(url("expiring", reseller)).content.decode()
    assert "No delegated admin access ends in the next 30 days." in empty

    for _ in range(2):
        customer_linked(reseller, ends_in=timedelta(days=3))
    few = _query_count(admin_client, url("expiring", reseller))
    for _ in range(20):
        customer_linked(reseller, ends_in=timedelta(days=3))
    many = _query_count(admin_client, url("expiring", reseller))

    assert few == many


# --- The dashboard card -----------------------------------------------------------------------------


def test_the_dashboard_card_names_the_next_expiry_in_one_query(rf, admin, reseller):
    customer_linked(reseller, CustomerFactory(legal_name="Later KK"), ends_in=timedelta(days=20))
    customer_linked(reseller, CustomerFactory(legal_name="Soon KK"), ends_in=timedelta(days=6, hours=1))
    view = SimpleNamespace(organization=reseller, membership=admin)
    assert admin.permissions  # a page's membership comes with its roles (accounts.selectors)

    with CaptureQueriesContext(connection) as queries:
        card = dashboard_card(view)
        legal_name = card["next_expiring"].customer.legal_name  # the dashboard's figures, read when used

    assert len(queries) == 1
    assert legal_name == "Soon KK"
    # the card's template sees its card and nothing else (it is printed through a memo)
    html_card = render_to_string("customers/_card.html", {"card": {"url": url("list", reseller), **card}})
    assert "Next to expire: delegated admin access to" in html_card and "Soon KK" in html_card
    assert "(in 7 days)" in html_card
    assert f'{url("invite", reseller)}?kind=reseller"' in html_card
    assert url("expiring", reseller) in html_card
    provider_view = SimpleNamespace(organization=ProviderFactory(), membership=None)
    assert dashboard_card(provider_view) == {"is_provider": True}

"""The reseller's side: Find a provider (filters, paging, query count), a listing with Request to
connect (every refusal saves nothing), withdrawing a request, and the Indirect providers page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import Partnership, PartnershipRequest
from tests.factories.accounts import MembershipFactory
from tests.factories.providers import (
    PartnershipFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reseller():
    return ResellerFactory(legal_name="Fabrikam Japan KK", country="JP")


@pytest.fixture
def admin(reseller, client):
    member = MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN])
    client.force_login(member.user)
    return member


def url(name: str, organization: Organization, **kwargs) -> str:
    return reverse(f"providers:{name}", kwargs={"organization_public_id": organization.public_id, **kwargs})


def listed(response) -> list[str]:
    """The names on the directory page, in order."""
    return [listing.name for listing in response.context["page"].object_list]


def nothing_changed_since(before: tuple) -> bool:
    return before == state()


def state() -> tuple:
    return (
        list(PartnershipRequest.objects.order_by("pk").values_list("pk", "status")),
        list(Partnership.objects.order_by("pk").values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


# --- Find a provider ----------------------------------------------------------------------------------


@pytest.fixture
def providers():
    return {
        "tokyo": ProviderFactory(
            legal_name="Tokyo Distribution KK",
            countries=["JP"],
            languages=["en", "ja"],
            listing__description="Cloud licensing and marketing across Japan.",
            listing__offers_marketing=True,
        ),
        "both": ProviderFactory(
            legal_name="Atlantic Pacific Inc.",
            countries=["JP", "US"],
            languages=["en"],
            listing__offers_financing=True,
        ),
        "us": ProviderFactory(
            legal_name="Seattle Supply LLC",
            countries=["US"],
            languages=["en", "es"],
            listing__offers_technical_support=True,
        ),
    }


def test_the_first_visit_lists_the_providers_serving_the_resellers_country(client, admin, providers):
    response = client.get(url("directory", admin.organization))

    assert response.status_code == 200
    assert listed(response) == ["Atlantic Pacific Inc.", "Tokyo Distribution KK"]
    assert response.context["form"]["country"].value() == "JP"
    body = response.content.decode()
    listing = providers["tokyo"].provider_listing
    assert url("listing", admin.organization, listing_id=listing.public_id) in body
    assert "Marketing help" in body
    assert "partners@provider" in body


def test_directory_filters_by_country_language_kind_of_help_and_search(client, admin, providers):
    directory = url("directory", admin.organization)

    assert listed(client.get(directory, {"country": "US"})) == ["Atlantic Pacific Inc.", "Seattle Supply LLC"]
    assert listed(client.get(directory, {"country": ""})) == [
        "Atlantic Pacific Inc.",
        "Seattle Supply LLC",
        "Tokyo Distribution KK",
    ]
    assert listed(client.get(directory, {"country": "", "language": "ja"})) == ["Tokyo Distribution KK"]
    assert listed(client.get(directory, {"country": "", "language": "es"})) == ["Seattle Supply LLC"]
    assert listed(client.get(directory, {"country": "", "help": "offers_financing"})) == [
        "Atlantic Pacific Inc."
    ]
    assert listed(client.get(directory, {"country": "US", "help": "offers_technical_support"})) == [
        "Seattle Supply LLC"
    ]
    assert listed(client.get(directory, {"country": "", "q": "pacific"})) == ["Atlantic Pacific Inc."]
    # The description is searched too.
    assert listed(client.get(directory, {"country": "", "q": "MARKETING across"})) == [
        "Tokyo Distribution KK"
    ]
    assert listed(client.get(directory, {"country": "JP", "q": "seattle"})) == []


def test_an_unknown_filter_value_is_an_error_at_its_field_and_lists_nothing(client, admin, providers):
    response = client.get(url("directory", admin.organization), {"country": "XX", "help": "is_staff"})

    assert response.status_code == 400
    assert response.context["page"] is None
    assert set(response.context["form"].errors) == {"country", "help"}


def test_hidden_unauthorised_and_suspended_providers_are_never_listed(client, admin, providers):
    hidden = ProviderFactory(legal_name="Hidden Trading KK", listing__visible=False)
    unauthorised = ProviderFactory(legal_name="Pending Trading KK", listing__authorized_at=None)
    suspended = ProviderFactory(legal_name="Suspended Trading KK", status=Organization.Status.SUSPENDED)

    response = client.get(url("directory", admin.organization), {"country": "", "q": "Trading"})

    assert listed(response) == []
    for provider in (hidden, unauthorised, suspended):
        assert provider.legal_name not in response.content.decode()
        listing = provider.provider_listing
        assert client.get(url("listing", admin.organization, listing_id=listing.public_id)).status_code == 404


def test_a_partner_is_marked_in_the_directory(client, admin, providers):
    PartnershipFactory(provider=providers["tokyo"], reseller=admin.organization)
    # Another reseller's partnership says nothing about this one.
    PartnershipFactory(provider=providers["both"])

    body = client.get(url("directory", admin.organization)).content.decode()

    assert body.count("Your indirect provider") == 1
    tokyo_card = body[body.index("Tokyo Distribution KK") :]
    assert "Your indirect provider" in tokyo_card[: tokyo_card.index("</article>")]


def test_keyset_pages_visit_every_listing_once(client, admin):
    # Names that tie, so that the id breaks the tie across a page boundary.
    for index in range(23):
        ProviderFactory(listing__name=f"Provider {index // 3:02d}")
    expected = sorted(
        Organization.objects.filter(kind=Organization.Kind.PROVIDER).values_list(
            "provider_listing__name", "provider_listing__id"
        )
    )
    seen, query, pages = [], "", 0
    while True:
        response = client.get(url("directory", admin.organization) + (f"?{query}" if query else ""))
        assert response.status_code == 200
        page = response.context["page"]
        seen += [(listing.name, listing.id) for listing in page.object_list]
        pages += 1
        if not page.has_next:
            break
        query = page.next_query

    assert pages == 2
    assert seen == expected
    assert len(set(seen)) == 23


def test_the_directory_query_count_does_not_grow_with_listings(client, admin):
    directory = url("directory", admin.organization)
    for _ in range(3):
        ProviderFactory(languages=["en", "ja"], countries=["JP", "US"])
    client.get(directory)  # the first visit creates the session rows
    with CaptureQueriesContext(connection) as few:
        assert len(listed(client.get(directory))) == 3
    for _ in range(27):
        ProviderFactory(languages=["en", "ja", "fr"], countries=["JP", "US", "GB"])
    PartnershipFactory(
        provider=Organization.objects.filter(kind="provider").first(), reseller=admin.organization
    )

    with CaptureQueriesContext(connection) as many:
        response = client.get(directory)

    assert len(listed(response)) == 20  # one page
    assert len(many) == len(few)


# --- A listing and Request to connect ------------------------------------------------------------------


@pytest.fixture
def provider():
    provider = ProviderFactory(legal_name="Contoso Distribution KK", countries=["JP"], languages=["en", "ja"])
    MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    return provider


def test_the_listing_page_offers_request_to_connect(client, admin, provider):
    response = client.get(url("listing", admin.organization, listing_id=provider.provider_listing.public_id))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Contoso Distribution KK" in body
    assert "Japanese" in body and "English" in body
    assert url("request_create", admin.organization, listing_id=provider.provider_listing.public_id) in body


def test_a_reseller_asks_a_provider_to_connect(client, admin, provider, django_capture_on_commit_callbacks):
    listing = provider.provider_listing

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            url("request_create", admin.organization, listing_id=listing.public_id),
            {"message": "  We resell in Osaka.  "},
        )

    assert response.status_code == 302
    assert response["Location"] == url("providers", admin.organization)
    request = PartnershipRequest.objects.get()
    assert (request.reseller, request.provider, request.status) == (admin.organization, provider, "open")
    assert (request.message, request.requested_by) == ("We resell in Osaka.", admin.user)
    assert sorted(
        AuditEvent.objects.filter(action="partnership_request.created").values_list(
            "organization_id", flat=True
        )
    ) == sorted([admin.organization.pk, provider.pk])
    assert list(OutboxEmail.objects.values_list("template", "organization_id")) == [
        ("partnership_request", provider.pk)
    ]
    # The listing now says that the request is open, instead of offering the form again.
    page = client.get(url("listing", admin.organization, listing_id=listing.public_id)).content.decode()
    assert "It has not answered yet" in page
    assert url("request_create", admin.organization, listing_id=listing.public_id) not in page
    providers_page = client.get(url("providers", admin.organization)).content.decode()
    assert "Contoso Distribution KK" in providers_page
    assert "Not answered yet" in providers_page


def test_a_provider_that_does_not_serve_the_country_explains_and_refuses(client, admin):
    provider = ProviderFactory(legal_name="Seattle Supply LLC", countries=["US"])
    listing = provider.provider_listing
    page = client.get(url("listing", admin.organization, listing_id=listing.public_id)).content.decode()
    assert "Seattle Supply LLC does not serve resellers in Japan" in page
    assert url("request_create", admin.organization, listing_id=listing.public_id) not in page
    before = state()

    response = client.post(url("request_create", admin.organization, listing_id=listing.public_id), {})

    assert response.status_code == 302
    assert response["Location"] == url("listing", admin.organization, listing_id=listing.public_id)
    assert nothing_changed_since(before)
    followed = client.get(response["Location"]).content.decode()
    assert followed.count("does not serve resellers in Japan") == 2  # the message and the explanation


def test_a_second_open_request_is_refused(client, admin, provider):
    PartnershipRequestFactory(reseller=admin.organization, provider=provider)
    listing = provider.provider_listing
    before = state()

    response = client.post(url("request_create", admin.organization, listing_id=listing.public_id), {})

    assert response.status_code == 302
    assert nothing_changed_since(before)
    assert (
        "You have already asked Contoso Distribution KK" in client.get(response["Location"]).content.decode()
    )


def test_a_current_partner_cannot_be_asked_again(client, admin, provider):
    partnership = PartnershipFactory(provider=provider, reseller=admin.organization)
    listing = provider.provider_listing
    page = client.get(url("listing", admin.organization, listing_id=listing.public_id)).content.decode()
    assert "has been your indirect provider since" in page
    assert url("partnership", admin.organization, partnership_id=partnership.public_id) in page
    before = state()

    response = client.post(url("request_create", admin.organization, listing_id=listing.public_id), {})

    assert response.status_code == 302
    assert nothing_changed_since(before)
    assert "is already your indirect provider" in client.get(response["Location"]).content.decode()


def test_an_ended_partnership_does_not_stop_a_new_request(client, admin, provider):
    PartnershipFactory(provider=provider, reseller=admin.organization, status=Partnership.Status.ENDED)

    response = client.post(
        url("request_create", admin.organization, listing_id=provider.provider_listing.public_id), {}
    )

    assert response.status_code == 302
    assert PartnershipRequest.objects.get().status == PartnershipRequest.Status.OPEN


def test_a_too_long_message_is_an_error_at_its_field(client, admin, provider):
    before = state()

    response = client.post(
        url("request_create", admin.organization, listing_id=provider.provider_listing.public_id),
        {"message": "x" * 1001},
    )

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["message"]
    assert nothing_changed_since(before)


def test_a_sales_agent_sees_the_listing_but_cannot_ask(client, reseller, provider):
    agent = MembershipFactory(organization=reseller, roles=[Role.SALES_AGENT])
    client.force_login(agent.user)
    listing = provider.provider_listing
    page = client.get(url("listing", reseller, listing_id=listing.public_id))
    assert page.status_code == 200
    assert url("request_create", reseller, listing_id=listing.public_id) not in page.content.decode()
    before = state()

    response = client.post(url("request_create", reseller, listing_id=listing.public_id), {"message": "Hi"})

    assert response.status_code == 403
    assert nothing_changed_since(before)


def test_a_hidden_listing_cannot_be_asked(client, admin, provider):
    listing = provider.provider_listing
    listing.visible = False
    listing.save(update_fields=["visible"])
    before = state()

    response = client.post(url("request_create", admin.organization, listing_id=listing.public_id), {})

    assert response.status_code == 404
    assert nothing_changed_since(before)


def test_a_reseller_withdraws_its_open_request(client, admin, provider):
    request = PartnershipRequestFactory(reseller=admin.organization, provider=provider)
    page = client.get(url("providers", admin.organization)).content.decode()
    withdraw = url("request_withdraw", admin.organization, request_id=request.public_id)
    assert withdraw in page

    response = client.post(withdraw)

    assert response.status_code == 302
    assert response["Location"] == url("providers", admin.organization)
    request.refresh_from_db()
    assert (request.status, request.decided_by) == (PartnershipRequest.Status.WITHDRAWN, admin.user)
    assert AuditEvent.objects.filter(
        action="partnership_request.withdrawn", organization_id=admin.organization.pk
    ).exists()
    page = client.get(url("providers", admin.organization)).content.decode()
    assert "Withdrawn" in page
    assert withdraw not in page
    # Twice: refused with a message, nothing more changes.
    before = state()
    assert client.post(withdraw).status_code == 302
    assert nothing_changed_since(before)


def test_another_resellers_request_cannot_be_withdrawn(client, admin, provider):
    request = PartnershipRequestFactory(provider=provider)  # another reseller's
    before = state()

    response = client.post(url("request_withdraw", admin.organization, request_id=request.public_id))

    assert response.status_code == 404
    assert nothing_changed_since(before)


# --- Indirect providers -------------------------------------------------------------------------------


def test_the_indirect_providers_page_lists_the_resellers_partnerships(client, admin, provider):
    active = PartnershipFactory(provider=provider, reseller=admin.organization)
    old_provider = ProviderFactory(legal_name="Old Partner KK")
    ended = PartnershipFactory(
        provider=old_provider,
        reseller=admin.organization,
        status=Partnership.Status.ENDED,
        started_at=timezone.now() - timedelta(days=400),
    )
    PartnershipFactory(provider=ProviderFactory(legal_name="Someone Else KK"))  # another reseller's

    response = client.get(url("providers", admin.organization), {"status": "all"})

    assert response.status_code == 200
    assert [p.pk for p in response.context["page"].object_list] == [active.pk, ended.pk]
    body = response.content.decode()
    assert "Someone Else" not in body
    customers = reverse("customers:list", kwargs={"organization_public_id": admin.organization.public_id})
    invite = reverse("customers:invite", kwargs={"organization_public_id": admin.organization.public_id})
    assert f'{customers}?partnership={active.public_id}"' in body
    assert f'{invite}?kind=with_provider&amp;partnership={active.public_id}"' in body
    assert url("partnership_end", admin.organization, partnership_id=active.public_id) in body
    # An ended partnership keeps its row, without the actions.
    assert f"?partnership={ended.public_id}" not in body
    assert url("partnership_end", admin.organization, partnership_id=ended.public_id) not in body
    assert provider.provider_listing.contact_email in body
    assert url("directory", admin.organization) in body

    ended_only = client.get(url("providers", admin.organization), {"status": "ended"})
    assert [p.pk for p in ended_only.context["page"].object_list] == [ended.pk]
    # Active ones by default, like the provider's Indirect resellers page.
    active_only = client.get(url("providers", admin.organization))
    assert [p.pk for p in active_only.context["page"].object_list] == [active.pk]
    assert "Old Partner KK" not in active_only.content.decode()


def test_a_sales_agent_sees_the_partnerships_without_ending_them(client, reseller, provider):
    partnership = PartnershipFactory(provider=provider, reseller=reseller)
    agent = MembershipFactory(organization=reseller, roles=[Role.SALES_AGENT])
    client.force_login(agent.user)

    body = client.get(url("providers", reseller)).content.decode()

    assert "Contoso Distribution KK" in body
    assert url("partnership_end", reseller, partnership_id=partnership.public_id) not in body
    assert "Invite new customer" in body  # a Sales agent invites customers


def test_the_indirect_providers_page_query_count_does_not_grow(client, admin):
    page_url = url("providers", admin.organization)
    for _ in range(3):
        PartnershipFactory(reseller=admin.organization)
        PartnershipRequestFactory(reseller=admin.organization)
    page_url += "?status=all"
    client.get(page_url)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(page_url).context["page"].object_list) == 3
    for _ in range(27):
        PartnershipFactory(reseller=admin.organization, status=Partnership.Status.ENDED)
        PartnershipRequestFactory(reseller=admin.organization)

    with CaptureQueriesContext(connection) as many:
        response = client.get(page_url)

    assert len(response.context["page"].object_list) == 30
    assert len(response.context["requests_page"].object_list) == 10
    assert len(many) == len(few)


def test_the_listing_card_shows_values_not_saved_yet_for_a_preview():
    from django.template.loader import render_to_string

    from providers.models import ProviderListing

    listing = ProviderListing(
        name="Preview KK", description="First line\nsecond line", website="https://preview.example"
    )
    listing.offers_marketing = True

    html = render_to_string(
        "providers/_listing_card.html",
        {"listing": listing, "country_names": ["Japan"], "language_names": ["English", "Japanese"]},
    )

    assert "<dd>Japan</dd>" in html
    assert "<dd>English, Japanese</dd>" in html
    assert "<li>Marketing help</li>" in html
    assert "First line<br>second line" in html
    assert 'href="https://preview.example"' in html


@pytest.mark.django_db
def test_the_directory_search_is_served_by_trigram_indexes():
    from django.db import connection
    from django.db.models import Q

    from providers.models import ProviderListing

    for number in range(30):
        ProviderFactory(legal_name=f"Provider {number} KK", countries=["JP"])
    # The search's own condition, as the directory writes it (providers.selectors.directory_listings).
    searched = ProviderListing.objects.filter(
        Q(name__icontains="contoso") | Q(description__icontains="contoso")
    )
    # A few rows: the planner would read them all; forbid that and a walk of the name's B-tree, and see
    # whether the trigram indexes can answer the condition itself.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        sql, params = searched.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
        cursor.execute("SET enable_indexscan = on")
    assert "provider_listing_name_trgm" in plan
    assert "provider_listing_description_trgm" in plan

"""Providers on the review site (/review/): staff add a provider (organization, listing, countries served,
first administrator invited by email) and change the countries it serves, each through its service; the
partnership records are read-only lists, and an invitation's token hash never shows."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Membership, MembershipInvitation, Organization
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import ProviderListing
from tests.factories.accounts import StaffFactory, UserFactory
from tests.factories.providers import (
    BulkInvitationRunFactory,
    PartnershipFactory,
    PartnershipInvitationFactory,
    PartnershipRequestFactory,
    ProviderFactory,
)
from tests.mail import email_text

pytestmark = pytest.mark.django_db

LIST_URL = "/review/providers/providerlisting/"
ADD_URL = "/review/providers/providerlisting/create/"
GOOD = {
    "legal_name": "Litware Distribution KK",
    "country": "JP",
    "address_line1": "2-1-1 Otemachi",
    "city": "Chiyoda-ku",
    "region": "Tokyo",
    "postal_code": "100-0004",
    "support_email": "support@litware.example",
    "support_website": "https://litware.example/support",
    "countries_served": ["JP", "US"],
    "languages": ["en", "ja"],
    "admin_email": "Aiko@Litware.example",
    "admin_language": "ja",
}


def countries_url(listing) -> str:
    return reverse("admin:providers_providerlisting_countries", args=[listing.pk])


def page_reads(queries) -> list[str]:
    """The statements on the providers' tables (the session's own bookkeeping varies by request)."""
    return [
        re.sub(r"IN \([\d, ]+\)", "IN (...)", query["sql"])
        for query in queries.captured_queries
        if "providers_" in query["sql"]
    ]


def world() -> tuple:
    """What an add or a change could have touched."""
    return (
        list(Organization.objects.order_by("pk").values_list("pk", "legal_name", "kind")),
        list(ProviderListing.objects.order_by("pk").values_list("pk", "name", "visible")),
        sorted(ProviderListing.objects.values_list("pk", "countries__country")),
        MembershipInvitation.objects.count(),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


@pytest.fixture
def staff():
    """Program staff with two-factor authentication, holding every permission."""
    return StaffFactory(is_superuser=True, email="riko@program.example", full_name="Riko Reviewer")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_staff_add_a_provider_and_its_first_admin_accepts_the_invitation(staff_client, staff, client):
    # Given the Add provider page, offered from the providers' list,
    assert ADD_URL in staff_client.get(LIST_URL).content.decode()
    page = staff_client.get(ADD_URL)
    assert page.status_code == 200
    assert 'name="countries_served"' in page.content.decode()

    # when staff fill it in,
    response = staff_client.post(ADD_URL, GOOD)

    # then the provider exists, authorised and listed, with the countries it serves and its languages,
    provider = Organization.objects.get(legal_name="Litware Distribution KK")
    listing = ProviderListing.objects.get(organization=provider)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:providers_providerlisting_change", args=[listing.pk])
    assert (provider.kind, str(provider.country), provider.city, provider.support_email) == (
        "provider",
        "JP",
        "Chiyoda-ku",
        "support@litware.example",
    )
    assert (listing.name, listing.visible, listing.authorized_by) == ("Litware Distribution KK", True, staff)
    assert listing.authorized_at is not None
    assert sorted(str(row.country) for row in listing.countries.all()) == ["JP", "US"]
    assert sorted(row.language for row in listing.languages.all()) == ["en", "ja"]
    assert list(
        AuditEvent.objects.filter(organization_id=provider.pk)
        .order_by("pk")
        .values_list("action", "actor_id")
    ) == [
        ("organization.created", staff.pk),
        ("provider.authorized", staff.pk),
        ("membership_invitation.sent", staff.pk),
    ]
    assert not Membership.objects.filter(organization=provider).exists()
    # and the first administrator is invited, in the language staff chose.
    email = OutboxEmail.objects.get()
    assert (email.to, email.language, email.template) == (
        "aiko@litware.example",
        "ja",
        "membership_invitation",
    )
    link = re.search(r"https://portal\.test(/invitations/membership/\S+/)", email_text(email)).group(1)

    # When the invited person signs in and accepts,
    aiko = UserFactory(email="aiko@litware.example")
    client.force_login(aiko)
    assert client.get(link).status_code == 302
    response = client.post(reverse("accounts:invitation_accept"))

    # then they are the provider's Global admin (staff vouch for a first administrator).
    assert response.status_code == 302
    membership = Membership.objects.get(organization=provider, user=aiko)
    assert membership.role_names == [Role.GLOBAL_ADMIN]
    assert MembershipInvitation.objects.get(organization=provider).status == "accepted"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"countries_served": []}, "countries_served", "This field is required."),
        ({"countries_served": ["XX"]}, "countries_served", "Select a valid choice. XX is not one of the"),
        ({"admin_email": "not-an-email"}, "admin_email", "Enter a valid email address."),
        ({"legal_name": ""}, "legal_name", "This field is required."),
        (
            {"legal_name": "Litware\u202eKK"},
            "legal_name",
            "Use one line of ordinary text: line breaks and control characters are not allowed.",
        ),
        ({"languages": ["xx"]}, "languages", "Select a valid choice. xx is not one of the"),
    ],
)
def test_bad_input_is_refused_at_its_field_and_nothing_is_saved(staff_client, changes, field, message):
    before = world()

    response = staff_client.post(ADD_URL, {**GOOD, **changes})

    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(error.startswith(message) for error in errors), errors
    assert world() == before


def test_people_who_are_not_staff_are_sent_to_sign_in_and_change_nothing(client):
    listing = ProviderFactory().provider_listing
    client.force_login(UserFactory())
    before = world()

    for url in (LIST_URL, ADD_URL, countries_url(listing)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/review/login/")
    assert client.post(ADD_URL, GOOD).status_code == 302
    assert client.post(countries_url(listing), {"countries_served": ["US"]}).status_code == 302

    assert world() == before


def test_staff_without_the_permission_cannot_add_or_change_countries(client):
    listing = ProviderFactory().provider_listing
    client.force_login(StaffFactory())  # staff, no permission on providers
    before = world()

    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, GOOD).status_code == 403
    assert client.post(countries_url(listing), {"countries_served": ["US"]}).status_code == 403

    assert world() == before


def test_staff_change_the_countries_a_provider_serves(staff_client, staff):
    provider = ProviderFactory(legal_name="Contoso KK", countries=["JP"])
    listing = provider.provider_listing
    PartnershipFactory(provider=provider)
    change_page = staff_client.get(reverse("admin:providers_providerlisting_change", args=[listing.pk]))
    assert countries_url(listing) in change_page.content.decode()
    page = staff_client.get(countries_url(listing))
    assert page.status_code == 200
    assert page.context["form"]["countries_served"].value() == ["JP"]

    response = staff_client.post(countries_url(listing), {"countries_served": ["US", "JP"]})

    assert response.status_code == 302
    assert sorted(str(row.country) for row in listing.countries.all()) == ["JP", "US"]
    event = AuditEvent.objects.get(action="provider.countries_changed")
    assert (event.actor_id, event.organization_id) == (staff.pk, provider.pk)
    assert (event.before, event.after) == ({"countries_served": ["JP"]}, {"countries_served": ["JP", "US"]})
    # Existing partnerships stay.
    assert provider.reseller_partnerships.filter(status="active").count() == 1


def test_countries_served_cannot_be_emptied(staff_client):
    listing = ProviderFactory(countries=["JP"]).provider_listing
    before = world()

    response = staff_client.post(countries_url(listing), {"countries_served": []})

    assert response.status_code == 200
    assert response.context["form"].errors["countries_served"] == ["This field is required."]
    assert world() == before


def test_the_providers_list_shows_countries_and_partners_with_a_constant_query_count(staff_client):
    contoso = ProviderFactory(legal_name="Contoso KK", countries=["JP", "US"])
    PartnershipFactory(provider=contoso)
    PartnershipFactory(provider=contoso)
    PartnershipFactory(provider=contoso, status="ended")

    with CaptureQueriesContext(connection) as few:
        response = staff_client.get(LIST_URL)
    rows = {listing.name: listing for listing in response.context["cl"].result_list}
    assert rows["Contoso KK"].active_partner_total == 2
    body = response.content.decode()
    assert "Japan, United States of America" in body

    for _ in range(10):
        PartnershipFactory(provider=ProviderFactory(countries=["JP", "GB"], languages=["en", "fr"]))
    with CaptureQueriesContext(connection) as many:
        staff_client.get(LIST_URL)
    assert page_reads(many) == page_reads(few)


def test_the_lists_filter_by_status_and_country(staff_client):
    ProviderFactory(legal_name="Serves Japan KK", countries=["JP"])
    ProviderFactory(legal_name="Serves America Inc.", countries=["US"])
    hidden = ProviderFactory(legal_name="Hidden KK", listing__visible=False)

    names = [row.name for row in staff_client.get(LIST_URL, {"serves": "US"}).context["cl"].result_list]
    assert names == ["Serves America Inc."]
    names = [
        row.name for row in staff_client.get(LIST_URL, {"visible__exact": "0"}).context["cl"].result_list
    ]
    assert names == [hidden.legal_name]

    active = PartnershipFactory()
    PartnershipFactory(status="ended")
    response = staff_client.get(
        reverse("admin:providers_partnership_changelist"), {"status__exact": "active"}
    )
    assert [row.pk for row in response.context["cl"].result_list] == [active.pk]


def test_partnership_records_are_read_only_and_never_show_a_token_hash(staff_client):
    invitation = PartnershipInvitationFactory()
    request = PartnershipRequestFactory()
    run = BulkInvitationRunFactory()
    partnership = PartnershipFactory()
    pages = [
        reverse("admin:providers_partnershipinvitation_changelist"),
        reverse("admin:providers_partnershipinvitation_change", args=[invitation.pk]),
        reverse("admin:providers_partnershiprequest_change", args=[request.pk]),
        reverse("admin:providers_bulkinvitationrun_change", args=[run.pk]),
        reverse("admin:providers_partnership_change", args=[partnership.pk]),
        reverse("admin:providers_bulkinvitationrow_changelist") + f"?run__id__exact={run.pk}",
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert invitation.token_hash not in body
        assert invitation.raw_token not in body
        assert 'name="_save"' not in body  # nothing to save: read-only
    for name in ("partnership", "partnershipinvitation", "partnershiprequest", "bulkinvitationrun"):
        assert staff_client.get(reverse(f"admin:providers_{name}_add")).status_code == 403


def test_the_add_page_speaks_japanese(staff_client, staff):
    staff.preferred_language = "ja"
    staff.save(update_fields=["preferred_language"])

    body = staff_client.get(ADD_URL, HTTP_ACCEPT_LANGUAGE="ja").content.decode()

    assert "法人名" in body
    assert "カスタマー サポートの連絡先" in body
    assert "キャンセル" in body

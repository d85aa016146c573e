"""The provider's own listing page: edit, preview (nothing saved), save, hide and show again."""

import pytest
from django.urls import reverse

from accounts.roles import Role
from portal.audit.models import AuditEvent
from providers.models import ProviderListing
from providers.selectors import directory_listings
from tests.factories.accounts import MembershipFactory
from tests.factories.providers import ProviderFactory

pytestmark = pytest.mark.django_db

SAVED = {
    "description": "Distribution across Japan.",
    "website": "https://blue.example",
    "contact_email": "partners@blue.example",
    "contact_phone": "+81 3 1234 5678",
    "offers_customer_support": False,
    "offers_technical_support": True,
    "offers_marketing": False,
    "offers_financing": False,
    "visible": True,
}


@pytest.fixture
def provider():
    return ProviderFactory(
        legal_name="Blue Yonder KK",
        countries=["JP", "US"],
        languages=["en"],
        listing__description=SAVED["description"],
        listing__website=SAVED["website"],
        listing__contact_email=SAVED["contact_email"],
        listing__contact_phone=SAVED["contact_phone"],
        listing__offers_technical_support=True,
    )


@pytest.fixture
def admin(provider, client):
    member = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    client.force_login(member.user)
    return member


def edit_url(provider) -> str:
    return reverse("providers:listing_edit", kwargs={"organization_public_id": provider.public_id})


def visibility_url(provider) -> str:
    return reverse("providers:listing_visibility", kwargs={"organization_public_id": provider.public_id})


def state(provider) -> dict:
    listing = ProviderListing.objects.get(organization=provider)
    values = {field: getattr(listing, field) for field in SAVED}
    values["languages"] = sorted(listing.languages.values_list("language", flat=True))
    values["updated_at"] = listing.updated_at
    return values


def submitted(**changes) -> dict:
    data = {
        "description": "Cloud licensing, support in Japanese and English.",
        "website": "https://www.blue-yonder.example",
        "contact_email": "Hello@Blue-Yonder.example",
        "contact_phone": "+81 3 0000 0000",
        "help_kinds": ["offers_customer_support", "offers_marketing"],
        "languages": ["ja", "fr", "en"],
        "action": "save",
    }
    return {**data, **changes}


def test_the_page_shows_the_saved_listing_and_the_countries_read_only(provider, admin, client):
    response = client.get(edit_url(provider))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial == {
        "description": SAVED["description"],
        "website": SAVED["website"],
        "contact_email": SAVED["contact_email"],
        "contact_phone": SAVED["contact_phone"],
        "help_kinds": ["offers_technical_support"],
        "languages": ["en"],
    }
    # English and Japanese first, then the others; every language of the list is offered
    choices = [code for code, _name in form.fields["languages"].choices]
    assert choices[:2] == ["en", "ja"]
    assert len(choices) == len(set(choices)) > 50
    assert response.context["countries"] == ["Japan", "United States of America"]
    body = response.content.decode()
    assert "Japan, United States of America" in body
    assert "Set by the program; ask program staff to change them." in body
    assert 'name="countries' not in body  # nothing to submit for them
    assert "Hide from the directory" in body


def test_preview_shows_the_submitted_values_and_saves_nothing(provider, admin, client):
    before = state(provider)
    audit_before = AuditEvent.objects.count()

    response = client.post(edit_url(provider), submitted(action="preview"))

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.description == "Cloud licensing, support in Japanese and English."
    assert preview.contact_email == "hello@blue-yonder.example"
    assert preview.help_kinds == ["Support for resellers' customers", "Marketing help"]
    assert preview.language_names == ["English", "Japanese", "French"]
    body = response.content.decode()
    assert "This is how resellers will see your listing." in body
    assert "Cloud licensing, support in Japanese and English." in body
    assert "English, Japanese, French" in body
    assert "https://www.blue-yonder.example" in body
    # the form keeps what was typed, for Save
    assert response.context["form"].cleaned_data["languages"] == ["ja", "fr", "en"]
    assert state(provider) == before
    assert AuditEvent.objects.count() == audit_before


def test_save_updates_the_listing_and_its_languages(provider, admin, client):
    response = client.post(edit_url(provider), submitted())

    assert response.status_code == 302
    assert response["Location"] == edit_url(provider)
    after = state(provider)
    assert {key: value for key, value in after.items() if key != "updated_at"} == {
        "description": "Cloud licensing, support in Japanese and English.",
        "website": "https://www.blue-yonder.example",
        "contact_email": "hello@blue-yonder.example",
        "contact_phone": "+81 3 0000 0000",
        "offers_customer_support": True,
        "offers_technical_support": False,
        "offers_marketing": True,
        "offers_financing": False,
        "visible": True,
        "languages": ["en", "fr", "ja"],
    }
    event = AuditEvent.objects.get(action="provider_listing.updated")
    assert event.actor == admin.user
    assert event.organization_id == provider.pk
    assert event.after["languages"] == ["en", "fr", "ja"]
    assert event.before["languages"] == ["en"]
    page = client.get(edit_url(provider))
    assert "Your listing was saved." in page.content.decode()


def test_a_website_without_a_scheme_is_saved_as_https(provider, admin, client):
    response = client.post(edit_url(provider), submitted(website="www.blue-yonder.example"))

    assert response.status_code == 302
    assert state(provider)["website"] == "https://www.blue-yonder.example"


@pytest.mark.parametrize("action", ["save", "preview"])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("website", "not a web address", "Enter a valid URL."),
        ("website", "ftp://files.example", "Enter a valid URL."),
        ("contact_email", "partners-at-blue", "Enter a valid email address."),
        ("languages", ["en", "xx"], "Choose languages from the list."),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_saved(
    provider, admin, client, action, field, value, message
):
    before = state(provider)
    audit_before = AuditEvent.objects.count()

    response = client.post(edit_url(provider), submitted(action=action, **{field: value}))

    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    assert response.context["preview"] is None
    body = response.content.decode()
    assert "Correct the fields marked below. Nothing was saved." in body
    assert f'id="id_{field}_error"' in body
    assert state(provider) == before
    assert AuditEvent.objects.count() == audit_before


def test_a_control_character_in_the_phone_is_refused_by_the_service(provider, admin, client):
    before = state(provider)

    response = client.post(edit_url(provider), submitted(contact_phone="+81\x073"))

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["contact_phone"]
    assert state(provider) == before


def test_hide_and_show_again_and_the_directory_follows(provider, admin, client):
    listing = ProviderListing.objects.get(organization=provider)
    assert list(directory_listings()) == [listing]

    response = client.post(visibility_url(provider), {"visible": "0"})

    assert response.status_code == 302
    assert response["Location"] == edit_url(provider)
    assert state(provider)["visible"] is False
    assert list(directory_listings()) == []
    assert list(
        AuditEvent.objects.filter(target_id=str(listing.public_id)).values_list("action", flat=True)
    ) == ["provider_listing.hidden"]
    page = client.get(edit_url(provider)).content.decode()
    assert "Your listing is hidden: resellers no longer find it in the directory." in page
    assert "Show in the directory" in page
    assert "Hide from the directory" not in page

    # hiding again changes nothing more
    client.post(visibility_url(provider), {"visible": "0"})
    assert AuditEvent.objects.filter(action__startswith="provider_listing.").count() == 1

    response = client.post(visibility_url(provider), {"visible": "1"})

    assert response.status_code == 302
    assert state(provider)["visible"] is True
    assert list(directory_listings()) == [listing]
    assert AuditEvent.objects.filter(action="provider_listing.shown").count() == 1


def test_a_visibility_request_without_a_choice_changes_nothing(provider, admin, client):
    before = state(provider)

    response = client.post(visibility_url(provider), {"visible": "maybe"}, follow=True)

    assert "Choose whether to show or hide your listing." in response.content.decode()
    assert state(provider) == before
    assert not AuditEvent.objects.filter(action__startswith="provider_listing.").exists()


def test_an_account_admin_may_edit_the_listing(provider, client):
    member = MembershipFactory(organization=provider, roles=[Role.ACCOUNT_ADMIN])
    client.force_login(member.user)

    response = client.post(edit_url(provider), submitted())

    assert response.status_code == 302
    assert state(provider)["description"] == "Cloud licensing, support in Japanese and English."


def test_a_sales_agent_is_refused_and_nothing_changes(provider, client):
    member = MembershipFactory(organization=provider, roles=[Role.SALES_AGENT])
    client.force_login(member.user)
    before = state(provider)
    audit_before = AuditEvent.objects.count()

    assert client.get(edit_url(provider)).status_code == 403
    assert client.post(edit_url(provider), submitted()).status_code == 403
    assert client.post(edit_url(provider), submitted(action="preview")).status_code == 403
    assert client.post(visibility_url(provider), {"visible": "0"}).status_code == 403

    assert state(provider) == before
    assert AuditEvent.objects.count() == audit_before
    assert list(directory_listings()) == [ProviderListing.objects.get(organization=provider)]


def test_another_providers_member_finds_no_page_and_nothing_changes(provider, client):
    other = ProviderFactory()
    member = MembershipFactory(organization=other, roles=[Role.GLOBAL_ADMIN])
    client.force_login(member.user)
    before = state(provider)

    assert client.get(edit_url(provider)).status_code == 404
    assert client.post(visibility_url(provider), {"visible": "0"}).status_code == 404

    assert state(provider) == before


def test_the_page_in_japanese(provider, client):
    member = MembershipFactory(
        organization=provider, roles=[Role.GLOBAL_ADMIN], user__preferred_language="ja"
    )
    client.force_login(member.user)

    response = client.get(edit_url(provider))

    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="ja">' in body
    choices = response.context["form"].fields["languages"].choices
    assert [str(name) for _code, name in choices[:2]] == ["英語", "日本語"]

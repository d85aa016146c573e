"""Creating the customer organization from an invitation: its directory tenant through the same ways as
enrollment (sign in to a built-in tenant, Create a new tenant, Microsoft Entra ID), then its legal name,
country and address; every refusal at its field and nothing half-saved; then back to the invitation."""

from html import unescape

import pytest
from django.urls import reverse

from accounts.models import DirectoryTenant, Membership, Organization
from accounts.roles import Role
from customers.models import CustomerRelationship, PartnerRole
from customers.views.onboarding import ENTRA_SESSION_KEY, NEXT_SESSION_KEY, TENANT_SESSION_KEY
from tests.enrollment.fake_idp import (
    GLOBAL_ADMINISTRATOR,
    LOGIN,
    MEMBER_ROLE_TEMPLATE_ID,
    FakeEntra,
    FakeTenant,
    FakeUser,
)
from tests.factories.accounts import (
    DIRECTORY_PASSWORD,
    DirectoryTenantFactory,
    DirectoryUserFactory,
    MembershipFactory,
    UserFactory,
)
from tests.factories.customers import CustomerFactory, CustomerInvitationFactory
from tests.factories.providers import ResellerFactory

pytestmark = pytest.mark.django_db

SUFFIX = "onportal.test"
NEW_PASSWORD = "Lantern-harbour-quiet-58"
EMAIL = "aiko@contoso.example"
ONBOARDING = reverse("customers:onboarding")
INVITATION_PAGE = reverse("customers:customer_invitation")
CLIENT_ID = "3f0c2a61-8d4e-4b7a-9c15-6e2d8f1a0b47"
CLIENT_SECRET = "Qx8~fake.client-secret_4tP2vR9sLmN7wK3jH6"

JP_ADDRESS = {
    "postal_code": "100-0001",
    "region": "13",
    "city": "Chiyoda-ku",
    "address_line1": "1-1 Chiyoda",
    "address_line2": "",
}


@pytest.fixture(autouse=True)
def _domain_suffix(settings):
    settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX = SUFFIX


@pytest.fixture
def user():
    return UserFactory(email=EMAIL, full_name="Aiko Sato")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def builtin_tenant(label: str = "contoso", country: str = "JP"):
    tenant = DirectoryTenantFactory(
        name=f"{label.title()} tenant", country=country, verified_domains=[f"{label}.{SUFFIX}"]
    )
    admin = DirectoryUserFactory(
        tenant=tenant,
        user_principal_name=f"admin@{label}.{SUFFIX}",
        display_name="Aiko Sato",
        is_global_admin=True,
    )
    return tenant, admin


def create_tenant(client, **changes):
    values = {
        "name": "Contoso Japan",
        "country": "JP",
        "initial_domain_label": "contoso-jp",
        "admin_display_name": "Aiko Sato",
        "admin_password": NEW_PASSWORD,
        "admin_password_confirmation": NEW_PASSWORD,
        **changes,
    }
    return client.post(reverse("customers:onboarding_tenant_create"), values)


def organization_values(**changes):
    return {"legal_name": "Contoso KK", "country": "JP", "address_country": "JP", **JP_ADDRESS, **changes}


def state() -> tuple:
    return (
        Organization.objects.count(),
        Membership.objects.count(),
        list(DirectoryTenant.objects.order_by("pk").values_list("pk", "name")),
    )


# --- The page -------------------------------------------------------------------------------------------


def test_signed_out_the_page_asks_to_sign_in(client):
    response = client.get(ONBOARDING)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_page_starts_with_the_tenant_step(signed_in):
    response = signed_in.get(ONBOARDING, {"next": INVITATION_PAGE})

    assert response.status_code == 200
    body = text(response)
    assert "Create your organization</h1>" in body
    assert "Sign in to your tenant</h3>" in body
    assert f'href="{reverse("customers:onboarding_tenant_create")}">Create a new tenant</a>' in body
    assert "Sign in with Microsoft Entra ID" not in body  # not configured here
    assert "Once your tenant is verified, you give your organization's legal name and address here." in body
    assert 'name="legal_name"' not in body
    assert signed_in.session[NEXT_SESSION_KEY] == INVITATION_PAGE
    assert f'<a href="{INVITATION_PAGE}">Cancel</a>' not in body  # no organization form yet


@pytest.mark.parametrize("unsafe", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_a_next_address_off_this_site_is_ignored(signed_in, unsafe):
    signed_in.get(ONBOARDING, {"next": unsafe})

    assert NEXT_SESSION_KEY not in signed_in.session


# --- Create a new tenant, then the organization, then accept ------------------------------------------


def test_create_a_new_tenant_then_the_organization_then_accept_the_invitation(signed_in, user):
    reseller = ResellerFactory(legal_name="Fabrikam Japan KK")
    invitation = CustomerInvitationFactory(organization=reseller, email=EMAIL)
    signed_in.get(reverse("customers:customer_invitation_landing", kwargs={"token": invitation.raw_token}))
    assert "Create your organization</h2>" in text(signed_in.get(INVITATION_PAGE))
    signed_in.get(ONBOARDING, {"next": INVITATION_PAGE})
    form_page = text(signed_in.get(reverse("customers:onboarding_tenant_create")))
    assert f".{SUFFIX}</span>" in form_page

    created = create_tenant(signed_in)

    assert (created.status_code, created["Location"]) == (302, ONBOARDING)
    tenant = DirectoryTenant.objects.get(name="Contoso Japan")
    assert signed_in.session[TENANT_SESSION_KEY]["tenant_id"] == str(tenant.tenant_id)
    body = text(signed_in.get(ONBOARDING))
    assert f"signs in as admin@contoso-jp.{SUFFIX}: note this name with your password." in body
    assert f"<dt>Global administrator</dt><dd>admin@contoso-jp.{SUFFIX}</dd>" in body
    assert 'name="tenant_forget"' in body
    assert 'value="Contoso Japan"' in body  # the legal name starts as the tenant's name
    assert '<option value="JP" selected>Japan</option>' in body
    assert "Prefecture" in body and "Postal code" in body  # Japan's address fields
    assert Organization.objects.filter(kind=Organization.Kind.CUSTOMER).count() == 0

    response = signed_in.post(ONBOARDING, organization_values())

    assert (response.status_code, response["Location"]) == (302, INVITATION_PAGE)
    customer = Organization.objects.get(kind=Organization.Kind.CUSTOMER)
    assert (customer.legal_name, customer.country.code, customer.postal_code, customer.region) == (
        "Contoso KK",
        "JP",
        "100-0001",
        "13",
    )
    assert customer.directory_tenant == tenant
    membership = Membership.objects.get(organization=customer)
    assert (membership.user, membership.role_names) == (user, [Role.GLOBAL_ADMIN])
    assert TENANT_SESSION_KEY not in signed_in.session and NEXT_SESSION_KEY not in signed_in.session
    page = text(signed_in.get(INVITATION_PAGE))
    assert "Your organization Contoso KK was created, with you as its Global admin." in page
    assert f'<input type="hidden" name="customer" value="{customer.public_id}">' in page

    accepted = signed_in.post(
        reverse("customers:customer_invitation_accept"),
        {"customer": str(customer.public_id), "consent": "on"},
    )

    assert accepted.status_code == 302
    relationship = CustomerRelationship.objects.get()
    assert (relationship.customer, relationship.partner, relationship.role) == (
        customer,
        reseller,
        PartnerRole.RESELLER,
    )


def test_sign_in_to_an_existing_tenant_then_create_the_organization(signed_in, user):
    tenant, _admin = builtin_tenant("contoso")

    signed_in_tenant = signed_in.post(
        reverse("customers:onboarding_tenant"),
        {"user_principal_name": f"admin@contoso.{SUFFIX}", "password": DIRECTORY_PASSWORD},
    )

    assert (signed_in_tenant.status_code, signed_in_tenant["Location"]) == (302, ONBOARDING)
    body = text(signed_in.get(ONBOARDING))
    assert "You signed in to the tenant Contoso tenant." in body
    assert f'<dt>Domains</dt>\n  <dd><ul class="plain-list"><li>contoso.{SUFFIX}</li></ul></dd>' in body

    response = signed_in.post(ONBOARDING, organization_values(legal_name="Contoso Trading KK"))

    customer = Organization.objects.get(legal_name="Contoso Trading KK")
    assert (customer.kind, customer.directory_tenant) == (Organization.Kind.CUSTOMER, tenant)
    assert response["Location"] == reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": customer.public_id}
    )
    assert Membership.objects.get(organization=customer).user == user


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"password": "wrong"}, "The user name or password is incorrect."),
        ({"user_principal_name": f"hanako@contoso.{SUFFIX}"}, "is not a Global Administrator of its tenant"),
    ],
)
def test_a_refused_tenant_sign_in_says_why_and_keeps_nothing(signed_in, values, message):
    tenant, _admin = builtin_tenant("contoso")
    DirectoryUserFactory(tenant=tenant, user_principal_name=f"hanako@contoso.{SUFFIX}")
    before = state()

    response = signed_in.post(
        reverse("customers:onboarding_tenant"),
        {"user_principal_name": f"admin@contoso.{SUFFIX}", "password": DIRECTORY_PASSWORD, **values},
    )

    assert response.status_code == 400
    assert message in " ".join(response.context["sign_in_form"].non_field_errors())
    assert TENANT_SESSION_KEY not in signed_in.session
    assert state() == before


def test_a_tenant_already_linked_to_an_organization_cannot_be_used(signed_in):
    tenant, _admin = builtin_tenant("contoso")
    CustomerFactory(directory_tenant=tenant)
    before = state()

    response = signed_in.post(
        reverse("customers:onboarding_tenant"),
        {"user_principal_name": f"admin@contoso.{SUFFIX}", "password": DIRECTORY_PASSWORD},
    )

    assert response.status_code == 400
    assert "This tenant is already linked to an organization of the program" in text(response)
    assert TENANT_SESSION_KEY not in signed_in.session
    assert state() == before


def test_a_refused_new_tenant_shows_the_error_at_its_field(signed_in):
    builtin_tenant("contoso")  # contoso.onportal.test is taken
    before = state()

    response = create_tenant(signed_in, initial_domain_label="contoso", admin_password_confirmation="other")

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "admin_password_confirmation": ["The two passwords are different. Type the same password twice."]
    }
    taken = create_tenant(signed_in, initial_domain_label="contoso")
    assert taken.status_code == 400
    assert list(taken.context["form"].errors) == ["initial_domain_label"]
    assert state() == before
    assert TENANT_SESSION_KEY not in signed_in.session


# --- The organization's own fields --------------------------------------------------------------------


@pytest.fixture
def with_tenant(signed_in):
    tenant, _admin = builtin_tenant("contoso")
    signed_in.post(
        reverse("customers:onboarding_tenant"),
        {"user_principal_name": f"admin@contoso.{SUFFIX}", "password": DIRECTORY_PASSWORD},
    )
    return tenant


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"legal_name": ""}, {"legal_name": ["Enter the legal name."]}),
        ({"postal_code": "12"}, {"postal_code": ["Enter a postal code of seven digits, such as 100-0001."]}),
        ({"region": ""}, {"region": ["Choose the prefecture."]}),
        ({"country": "ZZ"}, {"country": ["Choose the country from the list."]}),
    ],
)
def test_every_refusal_shows_at_its_field_and_nothing_is_saved(signed_in, with_tenant, changes, errors):
    before = state()

    response = signed_in.post(ONBOARDING, organization_values(**changes))

    assert response.status_code == 400
    assert response.context["organization_form"].errors == errors
    assert state() == before
    assert TENANT_SESSION_KEY in signed_in.session  # the verified tenant waits for the corrected form


def test_another_country_shows_its_address_fields_then_the_tenants_country_is_required(
    signed_in, with_tenant
):
    before = state()

    changed = signed_in.post(ONBOARDING, organization_values(country="US"))

    assert changed.status_code == 200
    body = text(changed)
    assert "The address fields now follow the format of United States of America." in body
    assert "ZIP code" in body and "State" in body and "Prefecture" not in body
    assert 'value="Contoso KK"' in body  # what was typed stays
    assert state() == before

    refused = signed_in.post(
        ONBOARDING,
        {
            "legal_name": "Contoso KK",
            "country": "US",
            "address_country": "US",
            "address_line1": "1 Main St",
            "city": "Seattle",
            "region": "WA",
            "postal_code": "98101",
        },
    )

    assert refused.status_code == 400
    assert refused.context["organization_form"].errors == {
        "country": ["Your tenant is registered in Japan: the organization's country must be the same."]
    }
    assert state() == before


def test_use_another_tenant_forgets_the_verified_one(signed_in, with_tenant):
    response = signed_in.post(ONBOARDING, {"tenant_forget": "1"})

    assert (response.status_code, response["Location"]) == (302, ONBOARDING)
    assert TENANT_SESSION_KEY not in signed_in.session
    assert "Sign in to your tenant</h3>" in text(signed_in.get(ONBOARDING))


def test_creating_without_a_verified_tenant_goes_back_to_the_tenant_step(signed_in):
    before = state()

    response = signed_in.post(ONBOARDING, organization_values())

    assert (response.status_code, response["Location"]) == (302, ONBOARDING)
    assert "Verify your organization's directory tenant first." in text(signed_in.get(ONBOARDING))
    assert state() == before


def test_a_tenant_taken_meanwhile_is_refused_and_nothing_is_saved(signed_in, with_tenant):
    CustomerFactory(directory_tenant=with_tenant)
    before = state()

    response = signed_in.post(ONBOARDING, organization_values())

    assert response.status_code == 400
    assert response.context["organization_form"].non_field_errors() == [
        "This tenant is already linked to an organization of the program, or is being enrolled by another "
        "application, so it cannot be used again. Use another tenant, or create a new one."
    ]
    assert state() == before


def test_an_existing_customer_admin_may_create_another_organization(signed_in, user, with_tenant):
    MembershipFactory(organization=CustomerFactory(), user=user, roles=[Role.GLOBAL_ADMIN])

    response = signed_in.post(ONBOARDING, organization_values(legal_name="Contoso Second KK"))

    assert response.status_code == 302
    assert Organization.objects.filter(legal_name="Contoso Second KK", directory_tenant=with_tenant).exists()


# --- Microsoft Entra ID ---------------------------------------------------------------------------------

CONTOSO = FakeTenant(
    tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    display_name="Contoso Japan KK",
    domains=["contoso.co.jp", "ContosoJP.onmicrosoft.com"],
    country="JP",
)


@pytest.fixture
def idp(settings, monkeypatch):
    settings.ENTRA_CLIENT_ID = CLIENT_ID
    settings.ENTRA_CLIENT_SECRET = CLIENT_SECRET
    settings.ENTRA_AUTHORITY = f"{LOGIN}/organizations"
    settings.ENTRA_GRAPH_URL = "https://graph.microsoft.com/v1.0"
    fake = FakeEntra(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    monkeypatch.setattr("enrollment.directory.entra.entra_http_client", lambda: fake)
    yield fake
    assert fake.unexpected == []


def entra_round_trip(client, idp, user):
    body = text(client.get(ONBOARDING))
    assert f'action="{reverse("customers:onboarding_tenant_entra")}"' in body
    started = client.post(reverse("customers:onboarding_tenant_entra"))
    assert started.status_code == 302
    assert client.session[ENTRA_SESSION_KEY] == "1"
    query = idp.sign_in(started["Location"], user=user)
    return client.get(reverse("enrollment:entra_callback"), query)


def test_a_global_administrator_signs_in_with_microsoft_entra_id_then_creates_the_organization(
    signed_in, idp
):
    admin = FakeUser(
        tenant=CONTOSO,
        user_principal_name="aiko.sato@contoso.co.jp",
        display_name="Aiko Sato",
        wids=[GLOBAL_ADMINISTRATOR[0], MEMBER_ROLE_TEMPLATE_ID],
    )

    response = entra_round_trip(signed_in, idp, admin)

    assert (response.status_code, response["Location"]) == (302, ONBOARDING)
    assert ENTRA_SESSION_KEY not in signed_in.session
    assert signed_in.session[TENANT_SESSION_KEY]["tenant_id"] == CONTOSO.tenant_id
    body = text(signed_in.get(ONBOARDING))
    assert "You signed in to the tenant Contoso Japan KK." in body
    assert "<dt>Directory</dt><dd>Microsoft Entra ID</dd>" in body

    created = signed_in.post(ONBOARDING, organization_values())

    assert created.status_code == 302
    customer = Organization.objects.get(kind=Organization.Kind.CUSTOMER)
    assert str(customer.directory_tenant.tenant_id) == CONTOSO.tenant_id
    assert customer.directory_tenant.source == "entra"


def test_an_ordinary_entra_user_is_refused(signed_in, idp):
    user = FakeUser(
        tenant=CONTOSO,
        user_principal_name="ken.ito@contoso.co.jp",
        display_name="Ken Ito",
        wids=[MEMBER_ROLE_TEMPLATE_ID],
    )
    before = state()

    response = entra_round_trip(signed_in, idp, user)

    assert response["Location"] == ONBOARDING
    assert TENANT_SESSION_KEY not in signed_in.session
    assert "The account ken.ito@contoso.co.jp is not a Global Administrator of its tenant." in text(
        signed_in.get(ONBOARDING)
    )
    assert state() == before

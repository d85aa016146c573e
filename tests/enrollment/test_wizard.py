"""The enrollment wizard through the Django test client, from "Before you begin" to **Enroll now**: the
built-in directory (a new tenant, or a global administrator's sign-in), Microsoft Entra ID against the fake
identity provider, the partner-membership sign-in and profile choice, the organization details with every
field's error at its field, the review, and the applicant's isolation (another user's application is 404)."""

import dataclasses
import re
from urllib.parse import urlsplit

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from accounts.models import DirectoryTenant
from enrollment.directory.base import TenantInUse
from enrollment.directory.builtin import builtin_verified_tenant
from enrollment.forms import DetailsForm
from enrollment.models import ApplicationStatus, EnrollmentApplication
from enrollment.services.applications import (
    application_details_set,
    application_draft_start,
    application_profile_choose,
    application_submit,
    application_tenant_set,
)
from enrollment.validation.details import SUPPORT_FIELDS
from enrollment.views.wizard import ENTRA_APPLICATION_SESSION_KEY, membership_session_key
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from tests.enrollment.fake_idp import (
    GLOBAL_ADMINISTRATOR,
    LOGIN,
    MEMBER_ROLE_TEMPLATE_ID,
    USER_ADMINISTRATOR,
    FakeEntra,
    FakeTenant,
    FakeUser,
)
from tests.factories.accounts import (
    DIRECTORY_PASSWORD,
    DirectoryTenantFactory,
    DirectoryUserFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.factories.enrollment import MEMBERSHIP_PASSWORD, MembershipAccountFactory, PartnerProfileFactory

pytestmark = pytest.mark.django_db

SUFFIX = "onportal.test"
NEW_PASSWORD = "Lantern-harbour-quiet-58"
CLIENT_ID = "3f0c2a61-8d4e-4b7a-9c15-6e2d8f1a0b47"
CLIENT_SECRET = "Qx8~fake.client-secret_4tP2vR9sLmN7wK3jH6"

VALID_DETAILS = {
    "legal_name": "Contoso Japan KK",
    "postal_code": "100-0001",
    "region": "13",
    "city": "Chiyoda-ku",
    "address_line1": "1-1 Marunouchi",
    "address_line2": "Marunouchi Building 5F",
    "contact_name": "Aiko Sato",
    "contact_email": "aiko.sato@contoso.example",
    "contact_phone": "03-1234-5678",
    "contact_language": "ja",
    "support_email": "support@contoso.example",
    "support_phone": "06-6123-4567",
    "support_website": "https://support.contoso.example",
}
VALID_SUPPORT = {name: VALID_DETAILS[name] for name in SUPPORT_FIELDS}

INVISIBLE_CHARACTERS = (
    "Use one line of visible text: invisible characters, direction marks and unusual spaces are not allowed."
)
WIZARD_STEPS = ("tenant", "tenant_create", "membership", "profile", "details", "review")
#: the wizard's routes that only take a POST
POST_ONLY_STEPS = ("tenant_entra", "tenant_country", "membership_cancel")
LABEL_INVALID = (
    "Use 3 to 40 lower-case letters (a to z), digits and single hyphens, starting and ending with a letter "
    "or a digit."
)
PASSWORDS_DIFFERENT = "The two passwords are different. Type the same password twice."
COUNTRY_INVALID = "Choose the tenant's country from the list."


@pytest.fixture(autouse=True)
def builtin_directory(settings):
    settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX = SUFFIX
    settings.ENTRA_CLIENT_ID = ""
    settings.ENTRA_CLIENT_SECRET = ""


@pytest.fixture
def applicant():
    return UserFactory(email="aiko@contoso.example", full_name="Aiko Sato", preferred_language="en")


@pytest.fixture
def client_of(client, applicant):
    client.force_login(applicant)
    return client


# --- Helpers: an application at each step, made through the services ---------------------------------------


def url(name: str, application: EnrollmentApplication) -> str:
    return reverse(f"enrollment:{name}", args=[application.public_id])


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


def with_tenant(applicant, *, label: str = "contoso", country: str = "JP") -> EnrollmentApplication:
    application = application_draft_start(applicant=applicant)
    tenant, admin = builtin_tenant(label, country)
    return application_tenant_set(
        application=application, applicant=applicant, verified=builtin_verified_tenant(tenant, admin)
    )


def with_profile(applicant, **profile_values) -> EnrollmentApplication:
    application = with_tenant(applicant)
    profile = PartnerProfileFactory(
        **{"partner_id": "4100001", "legal_name": "Contoso Japan KK", "country": "JP", **profile_values}
    )
    return application_profile_choose(
        application=application, applicant=applicant, account=profile.account, partner_id=profile.partner_id
    )


def complete(applicant) -> EnrollmentApplication:
    application = with_profile(applicant)
    values = {name: value for name, value in VALID_DETAILS.items() if name != "contact_language"}
    return application_details_set(
        application=application, applicant=applicant, values=values, contact_language="ja"
    )


def state(application: EnrollmentApplication) -> dict:
    """Everything stored of the application, to prove that a refused request changed nothing."""
    application = EnrollmentApplication.objects.get(pk=application.pk)
    return {**model_to_dict(application), "updated_at": application.updated_at, "status": application.status}


def sign_in_to_membership(client, application, account) -> None:
    session = client.session
    session[membership_session_key(application)] = account.pk
    session.save()


def page(response) -> str:
    return response.content.decode()


def field_errors(response, name: str) -> list[str]:
    """The messages shown at a field: the text of its ``<div id="id_<name>_error">``."""
    match = re.search(
        rf'<div class="field__errors" id="id_{name}_error" role="alert">(.*?)</div>', page(response), re.S
    )
    if match is None:
        return []
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r"<p>(.*?)</p>", match.group(1), re.S)]


def unescape(text: str) -> str:
    return text.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")


# --- 1. Before you begin ------------------------------------------------------------------------------------


def test_the_start_page_lists_the_three_things_needed(client_of):
    response = client_of.get(reverse("enrollment:start"))

    assert response.status_code == 200
    body = unescape(page(response))
    assert "Before you begin" in body
    assert "The global administrator of your company's directory tenant" in body
    assert "you can create a new one during enrollment" in body
    assert "The sign-in of your partner-membership account" in body
    assert "link your partner ID to your new account" in body
    assert "Your company's details" in body
    assert "exact legal name and address, its primary contact, and its customer support contact" in body
    assert '<button type="submit" class="button">Next</button>' in body
    assert "Continue your enrollment" not in body
    assert EnrollmentApplication.objects.count() == 0  # looking starts nothing


def test_next_starts_one_draft_and_a_second_next_continues_it(client_of, applicant):
    first = client_of.post(reverse("enrollment:start"))
    application = EnrollmentApplication.objects.get()
    second = client_of.post(reverse("enrollment:start"))

    assert (application.applicant, application.status) == (applicant, ApplicationStatus.DRAFT)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == url("tenant", application)
    assert EnrollmentApplication.objects.count() == 1
    assert AuditEvent.objects.filter(action="enrollment_application.started").count() == 1

    body = page(client_of.get(reverse("enrollment:start")))
    assert "Continue your enrollment" in body
    assert f'<a class="button" href="{url("tenant", application)}">Continue</a>' in body
    assert "<button" not in body.split("Before you begin")[1]  # no second "Next" that would start another


def test_next_goes_to_the_first_step_still_to_do(client_of, applicant):
    application = with_profile(applicant)

    response = client_of.post(reverse("enrollment:start"))

    assert response["Location"] == url("details", application)


def test_a_submitted_application_is_followed_on_its_status_page(client_of, applicant):
    application = application_submit(application=complete(applicant), applicant=applicant)

    body = page(client_of.get(reverse("enrollment:start")))
    response = client_of.post(reverse("enrollment:start"))

    assert f'href="{url("application", application)}">View its status</a>' in body
    assert response["Location"] == url("application", application)
    assert EnrollmentApplication.objects.count() == 1


# --- 2. Directory tenant: built-in directory --------------------------------------------------------------


def test_the_tenant_step_offers_sign_in_and_create_a_new_tenant(client_of, applicant):
    application = application_draft_start(applicant=applicant)

    body = page(client_of.get(url("tenant", application)))

    assert "Sign in to your tenant" in body
    assert f'href="{url("tenant_create", application)}">Create a new tenant</a>' in body
    assert "Sign in with Microsoft Entra ID" not in body  # not configured here
    # The progress indicator: the current step is marked, nothing is done yet, so nothing is a link.
    assert '<li class="wizard-steps__item wizard-steps__item--current" aria-current="step">' in body
    assert body.count('class="wizard-steps__link" href=') == 0


def test_create_a_new_tenant_makes_the_applicant_its_global_administrator(client_of, applicant):
    application = application_draft_start(applicant=applicant)
    form_page = page(client_of.get(url("tenant_create", application)))
    assert f".{SUFFIX}</span>" in form_page  # the domain suffix beside the label's input
    assert (
        '<option value="JP">Japan</option>\n\n  <option value="US">United States of America</option>'
        in form_page
    )

    response = client_of.post(
        url("tenant_create", application),
        {
            "name": "Contoso Japan",
            "country": "JP",
            "initial_domain_label": "Contoso-JP",
            "admin_display_name": "Aiko Sato",
            "admin_password": NEW_PASSWORD,
            "admin_password_confirmation": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == url("tenant", application)
    application.refresh_from_db()
    tenant = DirectoryTenant.objects.get(tenant_id=application.tenant_id)
    assert (tenant.name, tenant.country.code, tenant.verified_domains) == (
        "Contoso Japan",
        "JP",
        [f"contoso-jp.{SUFFIX}"],
    )
    assert (application.tenant_name, application.tenant_country, application.tenant_domains) == (
        "Contoso Japan",
        "JP",
        [f"contoso-jp.{SUFFIX}"],
    )
    body = page(client_of.get(url("tenant", application)))
    # The sign-in name to note, in the message and in the verified tenant; then Next.
    assert f"signs in as admin@contoso-jp.{SUFFIX}: note this name with your password." in body
    assert f"<dt>Global administrator</dt><dd>admin@contoso-jp.{SUFFIX}</dd>" in body
    assert f'<a class="button" href="{url("membership", application)}">Next</a>' in body
    assert (
        f'<a class="wizard-steps__link" href="{url("tenant", application)}">' not in body
    )  # current, not a link


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"initial_domain_label": "x"},
            "initial_domain_label",
            "Use 3 to 40 lower-case letters (a to z), digits and single hyphens, starting and ending with a "
            "letter or a digit.",
            id="label",
        ),
        pytest.param(
            {"initial_domain_label": "taken"},
            "initial_domain_label",
            f"The domain taken.{SUFFIX} is already taken. Choose another name for it.",
            id="label-taken",
        ),
        pytest.param(
            {"admin_password": "12345678", "admin_password_confirmation": "12345678"},
            "admin_password",
            "This password is too short. It must contain at least 12 characters.",
            id="password",
        ),
        pytest.param(
            {"admin_password_confirmation": "Another-password-99"},
            "admin_password_confirmation",
            "The two passwords are different. Type the same password twice.",
            id="confirmation",
        ),
        pytest.param(
            {"country": "XX"},
            "country",
            "Select a valid choice. XX is not one of the available choices.",
            id="country",
        ),
        pytest.param({"name": ""}, "name", "This field is required.", id="name"),
    ],
)
def test_a_refused_new_tenant_shows_the_error_at_its_field_and_saves_nothing(
    client_of, applicant, changes, field, message
):
    builtin_tenant("taken")
    application = application_draft_start(applicant=applicant)
    before, tenants = state(application), DirectoryTenant.objects.count()
    values = {
        "name": "Contoso Japan",
        "country": "JP",
        "initial_domain_label": "contoso",
        "admin_display_name": "Aiko Sato",
        "admin_password": NEW_PASSWORD,
        "admin_password_confirmation": NEW_PASSWORD,
    }

    response = client_of.post(url("tenant_create", application), {**values, **changes})

    assert response.status_code == 200
    assert response.context["form"].errors == {field: [message]}
    assert field_errors(response, field) == [message.replace("'", "&#x27;")]
    assert state(application) == before
    assert DirectoryTenant.objects.count() == tenants


def test_a_bad_label_and_different_passwords_are_shown_together_and_nothing_is_saved(client_of, applicant):
    application = application_draft_start(applicant=applicant)
    before = (state(application), DirectoryTenant.objects.count(), AuditEvent.objects.count())

    response = client_of.post(
        url("tenant_create", application),
        {
            "name": "Contoso Japan",
            "country": "JP",
            "initial_domain_label": "-contoso",
            "admin_display_name": "Aiko Sato",
            "admin_password": NEW_PASSWORD,
            "admin_password_confirmation": "Another-password-99",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "initial_domain_label": [LABEL_INVALID],
        "admin_password_confirmation": [PASSWORDS_DIFFERENT],
    }
    assert field_errors(response, "initial_domain_label") == [LABEL_INVALID]
    assert field_errors(response, "admin_password_confirmation") == [PASSWORDS_DIFFERENT]
    assert (state(application), DirectoryTenant.objects.count(), AuditEvent.objects.count()) == before


def test_a_global_administrator_signs_in_to_an_existing_builtin_tenant(client_of, applicant):
    application = application_draft_start(applicant=applicant)
    tenant, _admin = builtin_tenant("fabrikam")

    response = client_of.post(
        url("tenant", application),
        {"user_principal_name": f"Admin@Fabrikam.{SUFFIX}", "password": DIRECTORY_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == url("tenant", application)
    application.refresh_from_db()
    assert application.tenant_id == tenant.tenant_id
    assert application.tenant["admin"]["user_principal_name"] == f"admin@fabrikam.{SUFFIX}"
    assert application.tenant["source"] == "builtin"
    body = page(client_of.get(url("tenant", application)))
    assert "You signed in to the tenant Fabrikam tenant." in body
    assert f"<li>fabrikam.{SUFFIX}</li>" in body
    assert "<dt>Country</dt><dd>Japan</dd>" in body


@pytest.mark.parametrize(
    ("user_principal_name", "password", "message"),
    [
        pytest.param(
            f"hanako@contoso.{SUFFIX}",
            DIRECTORY_PASSWORD,
            f"The user hanako@contoso.{SUFFIX} is not a Global Administrator of its tenant. Sign in with a "
            "Global Administrator of the tenant, ask one to complete this step, or create a new tenant.",
            id="ordinary-user",
        ),
        pytest.param(
            f"admin@contoso.{SUFFIX}",
            "wrong-password-1",
            "The user name or password is incorrect.",
            id="wrong-password",
        ),
        pytest.param(
            f"nobody@contoso.{SUFFIX}",
            DIRECTORY_PASSWORD,
            "The user name or password is incorrect.",
            id="unknown-user",
        ),
    ],
)
def test_a_refused_tenant_sign_in_says_why_and_changes_nothing(
    client_of, applicant, user_principal_name, password, message
):
    tenant, _admin = builtin_tenant("contoso")
    DirectoryUserFactory(tenant=tenant, user_principal_name=f"hanako@contoso.{SUFFIX}")
    application = application_draft_start(applicant=applicant)
    before = state(application)

    response = client_of.post(
        url("tenant", application), {"user_principal_name": user_principal_name, "password": password}
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [message]
    assert f'<div class="form-errors" role="alert">\n    <p>{message}</p>' in page(response)
    assert state(application) == before


def test_a_tenant_already_linked_to_an_organization_is_refused(client_of, applicant):
    tenant, _admin = builtin_tenant("contoso")
    OrganizationFactory(directory_tenant=tenant)
    application = application_draft_start(applicant=applicant)
    before = state(application)

    response = client_of.post(
        url("tenant", application),
        {"user_principal_name": f"admin@contoso.{SUFFIX}", "password": DIRECTORY_PASSWORD},
    )

    assert response.context["form"].non_field_errors() == [str(TenantInUse.default_message)]
    assert state(application) == before


# --- 2. Directory tenant: Microsoft Entra ID ----------------------------------------------------------------

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


def entra_round_trip(client, application, idp, user):
    """Sign in with Microsoft Entra ID through the wizard's two requests; the callback's response."""
    body = page(client.get(url("tenant", application)))
    assert f'action="{url("tenant_entra", application)}"' in body
    assert "Sign in with Microsoft Entra ID" in body
    started = client.post(url("tenant_entra", application))
    assert started.status_code == 302
    auth_url = started["Location"]
    assert auth_url.startswith(f"{LOGIN}/organizations/oauth2/v2.0/authorize?")
    query = idp.sign_in(auth_url, user=user)
    return client.get(reverse("enrollment:entra_callback"), query)


def test_a_global_administrator_signs_in_with_microsoft_entra_id(client_of, applicant, idp):
    application = application_draft_start(applicant=applicant)
    admin = FakeUser(
        tenant=CONTOSO,
        user_principal_name="aiko.sato@contoso.co.jp",
        display_name="Aiko Sato",
        wids=[GLOBAL_ADMINISTRATOR[0], MEMBER_ROLE_TEMPLATE_ID],
    )

    response = entra_round_trip(client_of, application, idp, admin)

    assert response.status_code == 302
    assert response["Location"] == url("tenant", application)
    application.refresh_from_db()
    assert str(application.tenant_id) == CONTOSO.tenant_id
    assert (application.tenant_name, application.tenant_country, application.tenant_source) == (
        "Contoso Japan KK",
        "JP",
        "entra",
    )
    assert application.tenant_domains == ["contoso.co.jp", "contosojp.onmicrosoft.com"]
    assert ENTRA_APPLICATION_SESSION_KEY not in client_of.session
    # The redirect URI is built from SITE_URL, never from the request's host.
    token_request = next(request for request in idp.requests if request.url.endswith("/token"))
    assert token_request.data["redirect_uri"] == "https://portal.test" + reverse("enrollment:entra_callback")
    body = page(client_of.get(url("tenant", application)))
    assert "You signed in to the tenant Contoso Japan KK." in body
    assert "<dt>Directory</dt><dd>Microsoft Entra ID</dd>" in body


def test_an_ordinary_entra_user_is_refused_and_nothing_changes(client_of, applicant, idp):
    application = application_draft_start(applicant=applicant)
    before = state(application)
    user = FakeUser(
        tenant=CONTOSO,
        user_principal_name="ken.ito@contoso.co.jp",
        display_name="Ken Ito",
        wids=[MEMBER_ROLE_TEMPLATE_ID, USER_ADMINISTRATOR[0]],
        directory_roles=[USER_ADMINISTRATOR],
    )

    response = entra_round_trip(client_of, application, idp, user)

    assert response.status_code == 302
    assert response["Location"] == url("tenant", application)
    assert state(application) == before
    body = unescape(page(client_of.get(url("tenant", application))))
    assert (
        '<p class="message message--error">The account ken.ito@contoso.co.jp is not a Global Administrator '
        "of its tenant. Sign in with a Global Administrator of your company's tenant, or ask one to complete "
        "this step.</p>"
    ) in body


def test_the_entra_callback_refuses_another_users_application(client_of, applicant, idp):
    other = application_draft_start(applicant=UserFactory())
    before = state(other)
    session = client_of.session
    session[ENTRA_APPLICATION_SESSION_KEY] = str(other.public_id)
    session.save()

    response = client_of.get(reverse("enrollment:entra_callback"), {"code": "x", "state": "y"})

    assert response.status_code == 404
    assert state(other) == before
    assert idp.requests == []


def test_the_entra_callback_without_a_sign_in_in_progress_starts_again(client_of, idp):
    response = client_of.get(reverse("enrollment:entra_callback"), {"code": "x", "state": "y"})

    assert response.status_code == 302
    assert response["Location"] == reverse("enrollment:start")
    assert idp.requests == []


# --- 2. Directory tenant: the country Microsoft Entra ID did not give ---------------------------------------

FABRIKAM = FakeTenant(
    tenant_id="0b6f1d43-5c2e-4f7a-8e19-3d4c5b6a7f80",
    display_name="Fabrikam Japan KK",
    domains=["fabrikam.co.jp", "fabrikamjp.onmicrosoft.com"],
    country=None,  # Graph's /organization without countryLetterCode
)


def fabrikam_admin() -> FakeUser:
    return FakeUser(
        tenant=FABRIKAM,
        user_principal_name="dana@fabrikam.co.jp",
        display_name="Dana Whitfield",
        wids=[GLOBAL_ADMINISTRATOR[0], MEMBER_ROLE_TEMPLATE_ID],
    )


def with_countryless_entra_tenant(client, applicant, idp) -> EnrollmentApplication:
    """A draft whose tenant came from Microsoft Entra ID without a country, through the wizard."""
    application = application_draft_start(applicant=applicant)
    response = entra_round_trip(client, application, idp, fabrikam_admin())
    assert response["Location"] == url("tenant", application)
    application.refresh_from_db()
    assert (application.tenant_source, application.tenant_country) == ("entra", "")
    return application


def country_options(body: str) -> list[str]:
    select = body.split('<select name="country"')[1].split("</select>")[0]
    return re.findall(r'<option value="([A-Z]*)"', select)


def test_an_entra_tenant_without_a_country_is_asked_for_it_instead_of_a_warning(client_of, applicant, idp):
    application = with_countryless_entra_tenant(client_of, applicant, idp)

    body = page(client_of.get(url("tenant", application)))

    assert (
        f'<form method="post" action="{url("tenant_country", application)}" class="form" novalidate>' in body
    )
    assert "Microsoft Entra ID did not say which country your tenant is in." in body
    assert '<label for="id_country">Your tenant&#x27;s country <span class="required"' in body
    options = country_options(body)
    assert options[:3] == ["", "JP", "US"]  # the countries Create a new tenant offers, in its order
    assert len(options) == len(set(options)) > 240
    assert "Set your organization&#x27;s country in the directory" not in body  # no warning any more
    assert f'<a class="button" href="{url("membership", application)}">Next</a>' not in body
    # Until it is given, the wizard keeps the applicant at the tenant step.
    for step in ("membership", "profile"):
        assert client_of.get(url(step, application))["Location"] == url("tenant", application), step
    start_page = client_of.get(reverse("enrollment:start"))
    assert start_page.context["continue_url"] == url("tenant", application)


@pytest.mark.parametrize("country", ["", "XX", "jp "], ids=["empty", "unknown", "not-a-code"])
def test_a_bad_tenant_country_is_refused_at_its_field_and_nothing_is_saved(
    client_of, applicant, idp, country
):
    application = with_countryless_entra_tenant(client_of, applicant, idp)
    before = (state(application), AuditEvent.objects.count())

    response = client_of.post(url("tenant_country", application), {"country": country})

    assert response.status_code == 200
    assert response.context["country_form"].errors == {"country": [COUNTRY_INVALID]}
    assert field_errors(response, "country") == [COUNTRY_INVALID.replace("'", "&#x27;")]
    assert (state(application), AuditEvent.objects.count()) == before


def test_the_given_country_is_recorded_as_declared_then_the_profile_step_accepts_that_country(
    client_of, applicant, idp
):
    application = with_countryless_entra_tenant(client_of, applicant, idp)

    response = client_of.post(url("tenant_country", application), {"country": "JP"})

    assert response.status_code == 302
    assert response["Location"] == url("membership", application)
    application.refresh_from_db()
    assert (application.tenant_country, application.country.code, application.tenant_country_declared) == (
        "JP",
        "JP",
        True,
    )
    assert (application.tenant_name, application.tenant_domains) == (
        "Fabrikam Japan KK",
        ["fabrikam.co.jp", "fabrikamjp.onmicrosoft.com"],
    )
    event = AuditEvent.objects.filter(target_id=str(application.public_id)).latest("id")
    assert (event.action, event.actor, event.before, event.after) == (
        "enrollment_application.tenant_country_set",
        applicant,
        {"country": ""},
        {"country": "JP", "declared": True},
    )
    membership_page = page(client_of.get(response["Location"]))
    assert "Your tenant&#x27;s country is recorded: Japan." in membership_page
    tenant_page = page(client_of.get(url("tenant", application)))
    assert (
        '<dt>Country</dt><dd>Japan <span class="field__help">(given by you: the directory did not say it)'
        "</span></dd>"
    ) in tenant_page
    assert f'<a class="button" href="{url("membership", application)}">Next</a>' in tenant_page
    assert 'name="country"' not in tenant_page

    # The profile step now matches a Japanese profile.
    profile = PartnerProfileFactory(partner_id="4100005", legal_name="Fabrikam Japan KK", country="JP")
    sign_in_to_membership(client_of, application, profile.account)
    chosen = client_of.post(url("profile", application), {"partner_id": "4100005"})

    assert chosen.status_code == 302
    assert chosen["Location"] == url("details", application)
    application.refresh_from_db()
    assert (application.partner_id, application.legal_name) == ("4100005", "Fabrikam Japan KK")


def test_a_second_tenant_country_is_refused_and_nothing_changes(client_of, applicant, idp):
    application = with_countryless_entra_tenant(client_of, applicant, idp)
    client_of.post(url("tenant_country", application), {"country": "JP"})
    before = (state(application), AuditEvent.objects.count())

    response = client_of.post(url("tenant_country", application), {"country": "US"})

    assert response.status_code == 302
    assert response["Location"] == url("tenant", application)
    assert (state(application), AuditEvent.objects.count()) == before
    body = unescape(page(client_of.get(url("tenant", application))))
    assert '<p class="message message--error">Your tenant\'s country is already recorded: Japan.</p>' in body


def test_signing_in_to_the_entra_tenant_again_forgets_the_declared_country(client_of, applicant, idp):
    application = with_countryless_entra_tenant(client_of, applicant, idp)
    client_of.post(url("tenant_country", application), {"country": "JP"})

    entra_round_trip(client_of, application, idp, fabrikam_admin())

    application.refresh_from_db()
    assert (application.tenant_country, application.tenant_country_declared) == ("", False)
    assert f'action="{url("tenant_country", application)}"' in page(client_of.get(url("tenant", application)))


@pytest.mark.parametrize("country", ["JP", ""], ids=["with-country", "without-country"])
def test_a_builtin_tenant_never_gets_the_country_step(client_of, applicant, country):
    tenant, admin = builtin_tenant("contoso", "JP")
    verified = builtin_verified_tenant(tenant, admin)
    if not country:  # even a built-in tenant whose country is missing: its directory is the portal's
        verified = dataclasses.replace(verified, country="")
    application = application_tenant_set(
        application=application_draft_start(applicant=applicant), applicant=applicant, verified=verified
    )
    before = (state(application), AuditEvent.objects.count())

    body = page(client_of.get(url("tenant", application)))
    response = client_of.post(url("tenant_country", application), {"country": "US"})

    assert f'action="{url("tenant_country", application)}"' not in body
    assert 'name="country"' not in body
    assert response.status_code == 302
    assert response["Location"] == url("tenant", application)
    assert (state(application), AuditEvent.objects.count()) == before
    assert (
        "The country of a tenant of the portal&#x27;s directory comes from the directory: it cannot be "
        "given here."
    ) in page(client_of.get(url("tenant", application)))


def test_the_country_step_before_any_tenant_is_refused(client_of, applicant):
    application = application_draft_start(applicant=applicant)
    before = (state(application), AuditEvent.objects.count())

    response = client_of.post(url("tenant_country", application), {"country": "JP"})

    assert response["Location"] == url("tenant", application)
    assert (state(application), AuditEvent.objects.count()) == before
    assert "Verify your directory tenant first." in page(client_of.get(url("tenant", application)))


# --- 3. Partner membership ----------------------------------------------------------------------------------


def test_the_membership_step_needs_the_tenant_first(client_of, applicant):
    application = application_draft_start(applicant=applicant)

    for step in ("membership", "profile", "details"):
        response = client_of.get(url(step, application))
        assert response.status_code == 302
        assert response["Location"] == url("tenant", application), step


@pytest.mark.parametrize(
    ("username", "password"),
    [("contoso.jp", "wrong-password"), ("nobody", MEMBERSHIP_PASSWORD), ("", "")],
    ids=["wrong-password", "unknown-user", "empty"],
)
def test_a_refused_membership_sign_in_gets_one_answer(client_of, applicant, username, password):
    MembershipAccountFactory(username="contoso.jp")
    application = with_tenant(applicant)

    response = client_of.post(url("membership", application), {"username": username, "password": password})

    assert response.status_code == 200
    errors = response.context["form"].errors
    if username:
        assert errors == {"__all__": ["The username or password is incorrect."]}
    else:
        assert errors == {"username": ["This field is required."], "password": ["This field is required."]}
    assert membership_session_key(application) not in client_of.session


def test_membership_sign_in_lists_the_profiles_and_one_is_chosen(client_of, applicant):
    account = MembershipAccountFactory(username="Contoso.JP")
    PartnerProfileFactory(
        account=account, partner_id="4100001", legal_name="Contoso Japan KK", location="Tokyo"
    )
    PartnerProfileFactory(
        account=account,
        partner_id="4100002",
        legal_name="Contoso Osaka KK",
        location="Osaka",
        already_authorised=True,
    )
    application = with_tenant(applicant)

    signed_in = client_of.post(
        url("membership", application), {"username": "contoso.jp", "password": MEMBERSHIP_PASSWORD}
    )
    listed = client_of.get(url("profile", application))
    chosen = client_of.post(url("profile", application), {"partner_id": "4100001"})

    assert signed_in.status_code == 302
    assert signed_in["Location"] == url("profile", application)
    assert client_of.session[membership_session_key(application)] == account.pk
    body = page(listed)
    assert "Organization profiles of Contoso.JP" in body
    for text in (
        "Contoso Japan KK",
        "Partner ID 4100001",
        "Japan · Tokyo",
        "Contoso Osaka KK",
        "Partner ID 4100002",
    ):
        assert text in body
    assert body.count("Already authorised</span>") == 1
    assert chosen.status_code == 302
    assert chosen["Location"] == url("details", application)
    application.refresh_from_db()
    assert (application.partner_id, application.already_authorised, application.legal_name) == (
        "4100001",
        False,
        "Contoso Japan KK",
    )


def test_a_profile_of_another_country_is_refused_with_cancel_or_another_account(client_of, applicant):
    profile = PartnerProfileFactory(
        partner_id="4100009", legal_name="Wingtip Toys Inc.", country="US", location="Seattle"
    )
    application = with_tenant(applicant)
    sign_in_to_membership(client_of, application, profile.account)
    before = state(application)

    response = client_of.post(url("profile", application), {"partner_id": "4100009"})

    assert response.status_code == 200
    body = page(response)
    assert (
        "The profile 4100009 is in United States of America, but your tenant is in Japan. An enrollment "
        "needs a tenant and a partner profile of the same country."
    ) in body
    refusal = body.split('<div class="notice notice--error" role="alert">')[1].split("</div>\n  </div>")[0]
    assert f'<a class="button button--secondary" href="{url("profile", application)}">Cancel</a>' in refusal
    assert f'action="{url("membership_cancel", application)}"' in refusal
    assert "Sign in with another account</button>" in refusal
    assert state(application) == before

    # "Sign in with another account" forgets the account: the profiles need a new sign-in.
    cancelled = client_of.post(url("membership_cancel", application))
    assert cancelled["Location"] == url("membership", application)
    assert membership_session_key(application) not in client_of.session
    assert client_of.get(url("profile", application))["Location"] == url("membership", application)
    assert state(application) == before


def test_a_partner_id_held_by_another_live_application_is_refused(client_of, applicant):
    profile = PartnerProfileFactory(partner_id="4100001", country="JP")
    rival = UserFactory()
    rival_application = with_tenant(rival, label="rival")
    application_profile_choose(
        application=rival_application, applicant=rival, account=profile.account, partner_id="4100001"
    )
    application = with_tenant(applicant)
    sign_in_to_membership(client_of, application, profile.account)
    before = state(application)

    response = client_of.post(url("profile", application), {"partner_id": "4100001"})

    assert response.status_code == 200
    assert (
        "The partner ID 4100001 is already enrolled, or is being enrolled by another application, so it "
        "cannot be used again." in page(response)
    )
    assert "Sign in with another account</button>" in page(response)
    assert state(application) == before


def test_a_profile_of_another_account_cannot_be_chosen(client_of, applicant):
    mine = PartnerProfileFactory(partner_id="4100001")
    PartnerProfileFactory(partner_id="4100002")
    application = with_tenant(applicant)
    sign_in_to_membership(client_of, application, mine.account)
    before = state(application)

    response = client_of.post(url("profile", application), {"partner_id": "4100002"})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "partner_id": ["Choose one of the organization profiles listed."]
    }
    assert state(application) == before


def test_the_profile_step_without_a_membership_sign_in_asks_for_one(client_of, applicant):
    application = with_tenant(applicant)

    response = client_of.get(url("profile", application))

    assert response["Location"] == url("membership", application)


# --- 4. Organization details --------------------------------------------------------------------------------


def test_the_details_step_asks_in_three_sections_with_what_is_known(client_of, applicant):
    applicant.preferred_language = "ja"
    applicant.save(update_fields=["preferred_language"])
    application = with_profile(applicant)

    response = client_of.get(url("details", application))

    form = response.context["form"]
    assert list(form.fields) == [
        "legal_name",
        "postal_code",  # Japan writes the postal code first
        "region",
        "city",
        "address_line1",
        "address_line2",
        "contact_name",
        "contact_email",
        "contact_phone",
        "contact_language",
        "support_email",
        "support_phone",
        "support_website",
    ]
    assert form["legal_name"].value() == "Contoso Japan KK"  # from the profile
    assert form["contact_language"].value() == "ja"  # the applicant's language
    body = page(response)
    for heading in ("法人プロフィール", "カスタマー サポートの連絡先"):
        assert f'<h2 class="form-section__title">{heading}</h2>' in body


def test_details_are_saved_as_stored_values_then_the_review(client_of, applicant):
    application = with_profile(applicant)

    response = client_of.post(url("details", application), VALID_DETAILS)

    assert response.status_code == 302
    assert response["Location"] == url("review", application)
    application.refresh_from_db()
    assert {name: getattr(application, name) for name in VALID_DETAILS} == {
        **VALID_DETAILS,
        "contact_phone": "+81312345678",
        "support_phone": "+81661234567",
    }


@pytest.mark.parametrize(
    ("legal_name", "legal_name_error"),
    [
        pytest.param("", "Enter the company's exact legal name, as registered.", id="empty"),
        pytest.param(
            "Contoso\u200b Japan KK",
            INVISIBLE_CHARACTERS,
            id="zero-width-space",
        ),
        pytest.param(
            "Contoso \u202eKK napaJ",
            INVISIBLE_CHARACTERS,
            id="right-to-left-override",
        ),
    ],
)
def test_bad_details_show_each_error_at_its_field_and_save_nothing(
    client_of, applicant, legal_name, legal_name_error
):
    application = with_profile(applicant)
    before = state(application)
    bad = {
        **VALID_DETAILS,
        "legal_name": legal_name,
        "postal_code": "12",
        "contact_phone": "12",
        "contact_email": "x@gmail.com",
        "support_email": "support@",
        "support_website": "not a website",
    }

    response = client_of.post(url("details", application), bad)

    assert response.status_code == 200
    expected = {
        "legal_name": [legal_name_error],
        "postal_code": ["Enter a postal code of seven digits, such as 100-0001."],
        "contact_phone": ["This phone number is too short. Enter the full number, with its area code."],
        "contact_email": [
            "Use your work email address: gmail.com is a free email service, which cannot be used to enroll."
        ],
        "support_email": ["Enter a valid email address, for example name@example.com."],
        "support_website": [
            "Enter a full web address starting with https://, for example https://www.example.com."
        ],
    }
    assert response.context["form"].errors == expected
    for name, messages in expected.items():
        assert [unescape(text) for text in field_errors(response, name)] == messages, name
    assert field_errors(response, "city") == []
    assert state(application) == before


def test_the_service_saves_nothing_when_one_field_is_wrong_and_the_form_shows_every_message(applicant):
    application = with_profile(applicant)
    before = state(application)
    values = {name: value for name, value in VALID_DETAILS.items() if name != "contact_language"}

    with pytest.raises(DomainError) as refused:
        application_details_set(
            application=application,
            applicant=applicant,
            values={**values, "support_website": "ftp://files.example", "city": ""},
            contact_language="ja",
        )

    assert refused.value.code == "invalid_details"
    assert state(application) == before
    form = DetailsForm(data=VALID_DETAILS, application=application)
    assert form.is_valid(), form.errors
    form.add_domain_error(refused.value)
    assert form.errors == {
        "city": ["Enter the city."],
        "support_website": [
            "Enter a full web address starting with https://, for example https://www.example.com."
        ],
    }


def test_the_details_form_asks_only_the_fields_it_is_given(applicant):
    # The answer to a reviewer asks again only what the reviewer named (here the address), with the same
    # rules and the stored values for the rest.
    application = complete(applicant)
    address = ("address_line1", "address_line2", "city", "region", "postal_code")
    data = {
        "postal_code": "\uff11\uff15\uff10\uff10\uff10\uff10\uff11",  # full-width digits
        "region": "東京都",
        "city": "Shibuya-ku",
        "address_line1": "2-1 Jingumae",
    }

    form = DetailsForm(data=data, application=application, only_fields=address)

    assert list(form.fields) == ["postal_code", "region", "city", "address_line1", "address_line2"]
    assert [(section.key, section.shows_country) for section in form.sections()] == [("legal", True)]
    assert form.is_valid(), form.errors
    assert form.details_values() == {
        "postal_code": "150-0001",
        "region": "13",
        "city": "Shibuya-ku",
        "address_line1": "2-1 Jingumae",
        "address_line2": "",
    }
    refused = DetailsForm(data={**data, "postal_code": "12"}, application=application, only_fields=address)
    assert refused.errors == {"postal_code": ["Enter a postal code of seven digits, such as 100-0001."]}


def test_the_short_path_asks_only_for_the_support_contact(client_of, applicant):
    application = with_profile(applicant, legal_name="Wingtip Japan KK", already_authorised=True)

    response = client_of.get(url("details", application))

    assert list(response.context["form"].fields) == list(SUPPORT_FIELDS)
    body = page(response)
    assert "The partner ID 4100001 is already authorised in the program" in body
    assert 'name="legal_name"' not in body and 'name="contact_email"' not in body
    assert "Legal business profile" not in body
    assert '<h2 class="form-section__title">Customer support contact</h2>' in body

    saved = client_of.post(url("details", application), VALID_SUPPORT)

    assert saved["Location"] == url("review", application)
    application.refresh_from_db()
    assert (application.legal_name, application.contact_email, application.support_phone) == (
        "Wingtip Japan KK",
        "aiko@contoso.example",
        "+81661234567",
    )


# --- 5. Review and Enroll now -------------------------------------------------------------------------------


def test_the_review_shows_everything_with_change_links_and_what_happens_next(client_of, applicant, settings):
    settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = 5
    application = complete(applicant)

    response = client_of.get(url("review", application))

    body = unescape(page(response))
    for text in (
        "Contoso tenant",
        f"contoso.{SUFFIX}",
        "4100001",
        "Contoso Japan KK",
        "1-1 Marunouchi<br>",
        "Chiyoda-ku, Tokyo 100-0001<br>",
        "<dd>03-1234-5678</dd>",  # national format, not E.164
        "<dd>06-6123-4567</dd>",
        "<dd>aiko.sato@contoso.example</dd>",
        "<dd>Japanese</dd>",
        "<dd>https://support.contoso.example</dd>",
        "We email the primary contact (aiko.sato@contoso.example) to confirm two things",
        "A reviewer then decides within 5 business days.",
        '<button type="submit" class="button">Enroll now</button>',
    ):
        assert text in body, text
    for step in ("tenant", "membership"):
        assert f'<a href="{url(step, application)}">Change' in body
    for anchor in ("legal", "contact", "support"):
        assert f'<a href="{url("details", application)}#{anchor}">Change' in body
    assert "Complete these steps before you enroll" not in body
    # Every earlier step is done: the progress indicator links to each.
    for step in ("tenant", "membership", "details"):
        assert f'<a class="wizard-steps__link" href="{url(step, application)}">' in body


def test_the_review_in_japanese(client_of, applicant):
    applicant.preferred_language = "ja"
    applicant.save(update_fields=["preferred_language"])
    application = complete(applicant)

    body = page(client_of.get(url("review", application)))

    assert '<html lang="ja">' in body
    assert "今すぐ登録する" in body
    assert "東京都" in body
    assert "カスタマー サポートの連絡先" in body


def test_enroll_now_submits_and_emails_the_primary_contact(client_of, applicant):
    application = complete(applicant)

    response = client_of.post(url("review", application))

    assert response.status_code == 302
    assert response["Location"] == url("application", application)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.AWAITING_CONFIRMATION
    assert application.submitted_at is not None
    to_contact = OutboxEmail.objects.filter(to="aiko.sato@contoso.example")
    assert [(email.template, email.language) for email in to_contact] == [
        ("enrollment_contact_confirmation", "ja")
    ]
    assert list(OutboxEmail.objects.filter(to=applicant.email).values_list("template", flat=True)) == [
        "enrollment_status"
    ]


def test_enroll_now_with_steps_missing_says_which_and_changes_nothing(client_of, applicant):
    application = with_tenant(applicant)
    before = state(application)

    page_before = page(client_of.get(url("review", application)))
    response = client_of.post(url("review", application))

    assert "Complete these steps before you enroll:" in page_before
    assert "<li>partner profile</li><li>organization details</li>" in page_before
    assert response.status_code == 200
    assert (
        '<div class="form-errors" role="alert"><p>Complete every step before you enroll: partner profile, '
        "organization details.</p></div>"
    ) in page(response)
    assert state(application) == before
    assert OutboxEmail.objects.count() == 0


# --- Isolation and submitted applications -------------------------------------------------------------------

POSTS = {
    "tenant": {"user_principal_name": f"admin@contoso.{SUFFIX}", "password": DIRECTORY_PASSWORD},
    "tenant_create": {
        "name": "Mine",
        "country": "JP",
        "initial_domain_label": "mine",
        "admin_display_name": "Me",
        "admin_password": NEW_PASSWORD,
        "admin_password_confirmation": NEW_PASSWORD,
    },
    "tenant_entra": {},
    "tenant_country": {"country": "JP"},
    "membership": {"username": "contoso.jp", "password": MEMBERSHIP_PASSWORD},
    "membership_cancel": {},
    "profile": {"partner_id": "4100001"},
    "details": VALID_DETAILS,
    "review": {},
}


@pytest.mark.parametrize(
    ("step", "method"),
    [(step, method) for step in POSTS for method in ("get", "post")],
)
def test_another_users_application_is_not_found_on_every_wizard_route(client_of, step, method):
    owner = UserFactory()
    application = with_tenant(owner)
    account = MembershipAccountFactory(username="contoso.jp")
    PartnerProfileFactory(account=account, partner_id="4100001")
    sign_in_to_membership(client_of, application, account)  # even a session that names it
    before, audit_rows = state(application), AuditEvent.objects.count()

    response = getattr(client_of, method)(
        url(step, application), POSTS.get(step, {}) if method == "post" else {}
    )

    assert response.status_code == 404
    assert state(application) == before
    assert AuditEvent.objects.count() == audit_rows
    assert DirectoryTenant.objects.filter(name="Mine").count() == 0


@pytest.mark.parametrize("step", [*WIZARD_STEPS, *POST_ONLY_STEPS])
def test_a_submitted_application_leaves_the_wizard_for_its_status_page(client_of, applicant, step):
    application = application_submit(application=complete(applicant), applicant=applicant)
    before = state(application)

    method = "post" if step in POST_ONLY_STEPS else "get"
    response = getattr(client_of, method)(url(step, application))
    posted = client_of.post(url(step, application), POSTS.get(step, {}))

    assert response.status_code == posted.status_code == 302
    assert urlsplit(response["Location"]).path == url("application", application)
    assert urlsplit(posted["Location"]).path == url("application", application)
    assert state(application) == before


def test_wizard_pages_need_a_signed_in_user(client, applicant):
    application = application_draft_start(applicant=applicant)

    for target in (reverse("enrollment:start"), url("tenant", application), url("review", application)):
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))

"""The page shell: public home, login by default, security headers, clear error pages in two languages."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from tests.factories.accounts import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_home_page_is_public_and_explains_the_portal(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Cloud Solution Provider program" in body
    assert 'href="/accounts/signup/"' in body
    assert 'href="#main"' in body  # skip link for keyboard users


def test_signed_in_user_is_taken_to_the_dashboard(client):
    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_pages_require_login_by_default(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(
    ("kind", "partner_page"),
    [("reseller", "Indirect providers"), ("provider", "Indirect resellers"), ("customer", None)],
)
def test_dashboard_navigation_follows_the_organization_kind(client, kind, partner_page):
    membership = MembershipFactory(organization=OrganizationFactory(kind=kind), roles=[Role.GLOBAL_ADMIN])
    client.force_login(membership.user)
    body = client.get(reverse("dashboard"), follow=True).content.decode()
    assert 'aria-label="Main navigation"' in body
    assert '<a href="/o/' in body and 'aria-current="page">Dashboard</a>' in body
    for label in ("Account settings", "Activity log"):
        assert f">{label}</a>" in body
    # Partners have customers; a customer organization has no partner pages at all.
    assert (">Customers</a>" in body) == (kind != "customer")
    for label in ("Indirect providers", "Indirect resellers"):
        assert (f">{label}</a>" in body) == (label == partner_page)


def test_a_user_without_organization_is_offered_enrollment(client):
    client.force_login(UserFactory())
    response = client.get(reverse("dashboard"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:no_organization")
    assert "Enroll as an indirect reseller" in response.content.decode()


def test_security_headers_are_sent(client):
    response = client.get(reverse("home"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize(("language", "text"), [("en", "Page not found"), ("ja", "ページが見つかりません")])
def test_not_found_page_in_both_languages(client, language, text):
    client.force_login(UserFactory(preferred_language=language))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert text in response.content.decode()


@pytest.mark.parametrize(("language", "text"), [("en", "Something went wrong"), ("ja", "問題が発生しました")])
def test_server_error_page_in_both_languages(settings, language, text):
    from django.urls import path

    from portal import urls

    def explode(request):
        raise RuntimeError("boom")

    settings.ROOT_URLCONF = type(
        "Urls",
        (),
        {
            "urlpatterns": [path("explode/", explode), *urls.urlpatterns],
            "handler500": urls.handler500,
        },
    )
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(preferred_language=language))
    response = client.get("/explode/")
    assert response.status_code == 500
    assert text in response.content.decode()
    assert "boom" not in response.content.decode()


def test_csrf_failure_page_is_clear(client):
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post(reverse("language_set"), {"language": "ja"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_static_assets_are_served_locally(client):
    body = client.get(reverse("home")).content.decode()
    assert "/static/css/portal.css" in body
    assert "https://" not in body.split("<body")[0]  # no CDN in the head


def test_navigation_shows_only_pages_the_member_may_open(client):
    membership = MembershipFactory(
        organization=OrganizationFactory(kind="reseller"), roles=["helpdesk_agent"]
    )
    client.force_login(membership.user)
    body = client.get(reverse("dashboard"), follow=True).content.decode()
    for label in ("Dashboard", "Customers", "Account settings"):
        assert f">{label}</a>" in body
    for label in ("Indirect providers", "Activity log", "User management"):
        assert f">{label}</a>" not in body


def test_the_403_page_keeps_the_organization_navigation(client):
    membership = MembershipFactory(roles=["helpdesk_agent"])
    client.force_login(membership.user)
    url = reverse("accounts:users", kwargs={"organization_public_id": membership.organization.public_id})
    response = client.get(url)
    assert response.status_code == 403
    assert 'aria-label="Main navigation"' in response.content.decode()


def test_form_errors_are_tied_to_their_fields(client):
    membership = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    client.force_login(membership.user)
    url = reverse(
        "accounts:user_invite", kwargs={"organization_public_id": membership.organization.public_id}
    )
    body = client.post(url, {"email": "not-an-email", "roles": []}).content.decode()
    assert '<label for="id_email">' in body
    assert 'aria-invalid="true"' in body
    assert 'aria-describedby="id_email_error"' in body
    assert "<legend>Roles" in body
    assert 'id="id_roles_error"' in body

"""Every page of the portal that a journey may not reach, opened as its users open it — a partner's Global
admin (of a reseller and of a provider), and a visitor who is not signed in — in English and Japanese, on
a desktop and a phone. The accessibility monitor (conftest.py) checks each page; here: each answers in the
language asked for, and each was checked."""

import pytest
from playwright.sync_api import expect

from accounts.models import Membership, Organization
from accounts.roles import Role
from portal.audit.services import audit_record
from tests.browser.helpers import LOCALES, signed_in_page
from tests.factories.accounts import (
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "phone": 390}
REVERSED_DATES = "date_from=2026-03-01&date_to=2026-02-01"  # the activity filter's error, answered with 400


def organization_urls(admin: Membership) -> list[str]:
    """The pages of one organization, with a member, a deactivated member, an invitation and an event."""
    organization = admin.organization
    member = MembershipFactory(
        organization=organization,
        user=UserFactory(email=f"a.rather.long.address.at.{organization.kind}@demo.example"),
        roles=[Role.SALES_AGENT, Role.HELPDESK_AGENT],
    )
    sleeping = MembershipFactory(organization=organization, status=Membership.Status.DEACTIVATED)
    invitation = MembershipInvitationFactory(organization=organization, invited_by=admin.user)
    audit_record(action="membership.roles_changed", organization=organization, actor=admin.user)
    base = f"/o/{organization.public_id}"
    partners = "/resellers/" if organization.kind == Organization.Kind.PROVIDER else "/providers/"
    return [
        f"{base}/",
        f"{base}/customers/",
        base + partners,
        f"{base}/settings/",
        f"{base}/settings/users/",
        f"{base}/settings/users/invite/",
        f"{base}/settings/users/{member.public_id}/",
        f"{base}/settings/users/{sleeping.public_id}/",
        f"{base}/settings/users/{member.public_id}/deactivate/",
        f"{base}/settings/users/{member.public_id}/remove/",
        f"{base}/settings/invitations/{invitation.public_id}/revoke/",
        f"{base}/activity/",
        f"{base}/activity/?{REVERSED_DATES}",
        f"{base}/leave/",
    ]


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_every_page_of_a_partner_admin(browser, portal_url, accessibility, language, width):
    user = UserFactory(full_name="Aiko Tanaka", preferred_language=language)
    urls = ["/profile/", "/accounts/email/", "/accounts/password/change/", "/accounts/2fa/", "/nowhere/"]
    for kind, legal_name in [
        (Organization.Kind.RESELLER, "Fabrikam Cloud Solutions Kabushiki Kaisha"),
        (Organization.Kind.PROVIDER, "Contoso Distribution KK"),
    ]:
        organization = OrganizationFactory(kind=kind, legal_name=legal_name)
        admin = MembershipFactory(organization=organization, user=user, roles=[Role.GLOBAL_ADMIN])
        urls += organization_urls(admin)
    page = signed_in_page(browser, portal_url, user, language=language, width=width)

    for url in urls:
        response = page.goto(portal_url + url)
        expected = 404 if url == "/nowhere/" else 400 if url.endswith(REVERSED_DATES) else 200
        assert response.status == expected, url
        expect(page.locator("html")).to_have_attribute("lang", language)

    accessibility.check_open_pages()
    assert [check.url for check in accessibility.checks] == [portal_url + url for url in urls]


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_every_page_of_a_visitor(browser, portal_url, accessibility, language, width):
    invitation = MembershipInvitationFactory(organization=OrganizationFactory(legal_name="Fabrikam KK"))
    page = browser.new_context(viewport={"width": width, "height": 900}, locale=LOCALES[language]).new_page()
    opened = []

    for url in [
        "/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        f"/invitations/membership/{invitation.raw_token}/",  # leads on to the invitation, token kept aside
        "/nowhere/",
    ]:
        page.goto(portal_url + url)
        expect(page.locator("html")).to_have_attribute("lang", language)
        opened.append(page.url)
    # The sign-in form with its error.
    page.goto(portal_url + "/accounts/login/")
    page.locator('input[name="login"]').fill("nobody@example.com")
    page.locator('input[name="password"]').fill("not-the-password")
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator("main form .errorlist")).to_be_visible()
    opened += [portal_url + "/accounts/login/"] * 2

    accessibility.check_open_pages()
    assert [check.url for check in accessibility.checks] == opened

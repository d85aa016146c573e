"""The review site in real Chromium, as a reviewer reads it: every list and the pages reviewers work on, in
English and Japanese, on a desktop and a phone — no accessibility violation (axe-core, WCAG 2.2 AA and best
practices), no console error (our CSP refuses inline styles and scripts), and a language switch."""

import os
import re

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Organization
from accounts.roles import Role
from accounts.services.review import organization_suspend
from tests.browser.helpers import signed_in_page
from tests.factories.accounts import (
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    StaffFactory,
)
from tests.factories.mail import OutboxEmailFactory

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "phone": 390}
HEADINGS = {"en": "Site administration", "ja": "サイト管理"}
SUSPEND = {
    "en": {"action": "Action:", "suspend": "Suspend", "go": "Go", "done": "1 organization suspended."},
    "ja": {"action": "操作:", "suspend": "停止する", "go": "実行", "done": "1 件の組織を停止しました。"},
}
SCREENSHOTS = os.environ.get("REVIEW_SCREENSHOTS", "")  # a folder, to look at the pages


@pytest.fixture
def reviewer(transactional_db):
    return StaffFactory(is_superuser=True, full_name="Rei Tanaka", email="rei@program.example")


@pytest.fixture
def review_data(reviewer):
    """A row of every model the review site lists, so that every list has rows, filters and links."""
    RecoveryCodes.activate(reviewer)
    contoso = OrganizationFactory(legal_name="Contoso KK")
    MembershipFactory(organization=contoso, roles=[Role.GLOBAL_ADMIN, Role.ADMIN_AGENT])
    MembershipInvitationFactory(organization=contoso)
    suspended = OrganizationFactory(legal_name="Fabrikam KK", kind=Organization.Kind.PROVIDER)
    organization_suspend(organization=suspended, by=reviewer)
    UserSession.objects.create(
        user=reviewer, ip="192.0.2.1", user_agent="Mozilla/5.0 (X11)", session_key="s" * 32
    )
    OutboxEmailFactory(to="ann@example.com", subject="Welcome", template="membership_invitation")
    return {"organization": contoso}


def review_page(browser, portal_url, reviewer, *, language: str, width: int):
    """A page of a browser in which the reviewer is signed in (staff have two-factor authentication, as
    the factory sets it up)."""
    return signed_in_page(browser, portal_url, reviewer, language=language, width=width)


def review_urls(organization, reviewer) -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    urls.append(reverse("admin:accounts_organization_change", args=[organization.pk]))
    urls.append(reverse("admin:accounts_user_change", args=[reviewer.pk]))
    return urls


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_every_review_page_is_accessible_and_error_free(
    browser, portal_url, reviewer, review_data, accessibility, console_errors, language, width
):
    page = review_page(browser, portal_url, reviewer, language=language, width=width)
    errors = console_errors(page)
    urls = review_urls(review_data["organization"], reviewer)
    for url in urls:
        response = page.goto(portal_url + url)
        assert response.status == 200, url
        expect(page.locator("html")).to_have_attribute("lang", language)
        if SCREENSHOTS:
            page.screenshot(
                path=f"{SCREENSHOTS}/{url.strip('/').replace('/', '_')}-{language}-{width}.png",
                full_page=True,
            )
    accessibility.check_open_pages()
    # Every page was checked (accessibility.py), and the review site is held to more than the journeys:
    # no violation of any impact, best practices included.
    assert [check.url for check in accessibility.checks] == [portal_url + url for url in urls]
    assert accessibility.violations == {}
    assert errors == []


def test_the_language_switch_of_the_review_site(browser, portal_url, reviewer, review_data, console_errors):
    page = review_page(browser, portal_url, reviewer, language="en", width=1280)
    errors = console_errors(page)
    page.goto(portal_url + reverse("admin:index"))
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADINGS["en"])

    page.get_by_role("button", name="日本語").click()

    expect(page).to_have_url(re.compile(r"/review/$"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADINGS["ja"])
    expect(page.get_by_role("button", name="サインアウト")).to_be_visible()
    reviewer.refresh_from_db()
    assert reviewer.preferred_language == "ja"

    # A list page keeps its place when switching back.
    page.get_by_role("link", name=re.compile("^組織$")).first.click()
    page.get_by_role("button", name="English").click()
    expect(page).to_have_url(re.compile(r"/review/accounts/organization/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Select organization to change")
    assert errors == []


def test_suspending_from_the_list_reports_the_result_accessibly(
    browser, portal_url, reviewer, review_data, accessibility, console_errors, language
):
    text = SUSPEND[language]
    page = review_page(browser, portal_url, reviewer, language=language, width=1280)
    errors = console_errors(page)
    page.goto(portal_url + reverse("admin:accounts_organization_changelist"))

    page.get_by_role("row", name=re.compile("Contoso KK")).get_by_role("checkbox").check()
    page.get_by_label(text["action"]).select_option(label=text["suspend"])
    page.get_by_role("button", name=text["go"], exact=True).click()

    expect(page.get_by_text(text["done"])).to_be_visible()
    review_data["organization"].refresh_from_db()
    assert review_data["organization"].status == Organization.Status.SUSPENDED
    accessibility.check_open_pages()
    assert len(accessibility.checks) == 2  # the list, then the list with the result
    assert accessibility.violations == {}
    assert errors == []

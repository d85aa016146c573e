"""What a newcomer sees, in real Chromium: buttons that look like what they do, a top bar and tables that
fit a phone, confirmation before destructive actions, filter errors where the filter is. Each in English
and in Japanese (the ``language`` fixture); every page on the way is checked with axe-core (conftest.py)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from tests.browser.helpers import choose_language, signed_in_page
from tests.factories.accounts import (
    PASSWORD,
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

BLUE = "rgb(11, 61, 145)"
WHITE = "rgb(255, 255, 255)"
RED = "rgb(180, 35, 24)"

TEXT = {
    "en": {
        "update": "Update",
        "reactivate": "Reactivate",
        "remove": "Remove from organization",
        "remove_heading": "Remove Ben Sato from Fabrikam Cloud Solutions KK?",
        "helpdesk": "Helpdesk agent",
        "cancel": "Cancel",
        "removed": "ben@example.com was removed from the organization.",
        "leave": "Leave organization",
        "leave_heading": "Leave Fabrikam Cloud Solutions KK?",
        "left": "You left Fabrikam Cloud Solutions KK.",
        "from": "From",
        "to": "To",
        "filter": "Filter",
        "date_error": "The end date must be on or after the start date.",
        "filters_alert": "Correct the filters marked below",
        "export": "Export CSV",
        "members": "Members",
        "mailbox": "Dev mailbox",
    },
    "ja": {
        "update": "更新",
        "reactivate": "再度有効にする",
        "remove": "組織から削除する",
        "remove_heading": "Ben Sato を Fabrikam Cloud Solutions KK から削除しますか?",
        "helpdesk": "ヘルプデスク エージェント",
        "cancel": "キャンセル",
        "removed": "ben@example.com を組織から削除しました。",
        "leave": "組織から脱退する",
        "leave_heading": "Fabrikam Cloud Solutions KK から脱退しますか?",
        "left": "Fabrikam Cloud Solutions KK から脱退しました。",
        "from": "開始日",
        "to": "終了日",
        "filter": "絞り込み",
        "date_error": "終了日には開始日以降の日付を指定してください。",
        "filters_alert": "下に示したフィルターを修正してください",
        "export": "CSV をエクスポート",
        "members": "メンバー",
        "mailbox": "開発用メールボックス",
    },
}


def sign_in(page, portal_url, user):
    """Sign in with the form, in the user's language."""
    choose_language(page.context, portal_url, user.preferred_language)
    page.goto(portal_url + "/accounts/login/")
    page.locator('input[name="login"]').fill(user.email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator("main form button[type=submit]").last.click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def top_bar_rows(page) -> int:
    """How many lines the top bar takes: the program's name, then each of its tools."""
    return page.evaluate(
        """() => {
            const items = [document.querySelector('.brand'),
                           ...document.querySelectorAll('.topbar__tools > *')];
            return new Set(items.map(e => Math.round(e.getBoundingClientRect().top / 8))).size;
        }"""
    )


def colours(locator) -> tuple[str, str]:
    return tuple(locator.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"))


@pytest.fixture
def organization():
    return OrganizationFactory(legal_name="Fabrikam Cloud Solutions KK")


@pytest.fixture
def admin(organization, language):
    return MembershipFactory(
        organization=organization,
        user=UserFactory(full_name="Aiko Tanaka", preferred_language=language),
        roles=[Role.GLOBAL_ADMIN],
    )


def member_path(member, action=""):
    base = f"/o/{member.organization.public_id}/settings/users/{member.public_id}/"
    return base + (f"{action}/" if action else "")


def test_secondary_and_danger_buttons_look_different_from_the_primary_one(page, portal_url, admin, language):
    text = TEXT[language]
    sleeping = MembershipFactory(
        organization=admin.organization, roles=[Role.SALES_AGENT], status=Membership.Status.DEACTIVATED
    )
    active = MembershipFactory(organization=admin.organization, roles=[Role.SALES_AGENT])
    sign_in(page, portal_url, admin.user)

    page.goto(portal_url + member_path(sleeping))
    update = page.get_by_role("button", name=text["update"], exact=True)
    reactivate = page.get_by_role("button", name=text["reactivate"], exact=True)
    assert colours(update) == (BLUE, WHITE)
    assert colours(reactivate) == (WHITE, BLUE)

    page.goto(portal_url + member_path(active, "remove"))
    remove = page.get_by_role("button", name=text["remove"], exact=True)
    assert colours(remove) == (RED, WHITE)
    # Hovering keeps a danger button red (darker), never the primary blue.
    remove.hover()
    expect(remove).to_have_css("background-color", "rgb(143, 27, 19)")


def test_remove_asks_first_and_a_reload_repeats_nothing(page, portal_url, admin, language):
    text = TEXT[language]
    member = MembershipFactory(
        organization=admin.organization,
        user=UserFactory(full_name="Ben Sato", email="ben@example.com"),
        roles=[Role.HELPDESK_AGENT],
    )
    sign_in(page, portal_url, admin.user)
    page.goto(portal_url + member_path(member))
    page.get_by_role("link", name=text["remove"], exact=True).click()

    expect(page).to_have_url(re.compile(re.escape(member_path(member, "remove")) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(text["remove_heading"])
    expect(page.get_by_text(text["helpdesk"], exact=True)).to_be_visible()
    assert Membership.objects.filter(pk=member.pk).exists()  # nothing happened on the way here

    # Cancel goes back; nothing changed.
    page.get_by_role("link", name=text["cancel"], exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(member_path(member)) + "$"))
    assert Membership.objects.filter(pk=member.pk).exists()

    page.get_by_role("link", name=text["remove"], exact=True).click()
    page.get_by_role("button", name=text["remove"], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/o/{admin.organization.public_id}/settings/users/$"))
    expect(page.get_by_text(text["removed"])).to_be_visible()
    assert not Membership.objects.filter(pk=member.pk).exists()

    page.reload()
    expect(page.get_by_text(text["removed"])).to_have_count(0)
    assert AuditEvent.objects.filter(action="membership.removed").count() == 1


def test_leaving_an_organization_from_the_dashboard(page, portal_url, admin, language):
    text = TEXT[language]
    member = MembershipFactory(
        organization=admin.organization,
        user=UserFactory(preferred_language=language),
        roles=[Role.SALES_AGENT],
    )
    sign_in(page, portal_url, member.user)
    page.goto(portal_url + f"/o/{admin.organization.public_id}/")
    page.get_by_role("link", name=text["leave"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text["leave_heading"])
    page.get_by_role("button", name=text["leave"], exact=True).click()
    expect(page.get_by_text(text["left"])).to_be_visible()
    expect(page).to_have_url(re.compile(r"/welcome/$"))
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_a_phone_sees_a_two_line_top_bar_and_tables_that_say_they_scroll(browser, portal_url, language):
    organization = OrganizationFactory(legal_name="Fabrikam Cloud Solutions Kabushiki Kaisha")
    admin = MembershipFactory(
        organization=organization,
        user=UserFactory(full_name="Aiko Tanaka", preferred_language=language),
        roles=[Role.GLOBAL_ADMIN],
    )
    MembershipFactory(organization=OrganizationFactory(kind="customer"), user=admin.user)
    MembershipFactory(
        organization=organization,
        user=UserFactory(email="a.rather.long.address@example.com"),
        roles=[Role.SALES_AGENT, Role.HELPDESK_AGENT, Role.BILLING_ADMIN],
    )
    MembershipInvitationFactory(organization=organization, invited_by=admin.user)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, portal_url, admin.user)
    page.goto(portal_url + f"/o/{organization.public_id}/settings/users/")
    expect(page.locator("html")).to_have_attribute("lang", language)

    # The top bar: the program's name, then the tools, on two lines at most.
    assert top_bar_rows(page) <= 2
    height = page.locator(".topbar").evaluate("e => e.getBoundingClientRect().height")
    assert height < 90
    # Nothing sticks out sideways: the page itself never scrolls horizontally.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # Each table scrolls in its own labelled region, reachable by keyboard, with an edge shadow.
    region = page.get_by_role("region", name=TEXT[language]["members"], exact=True)
    expect(region).to_have_attribute("tabindex", "0")
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")
    assert "radial-gradient" in region.evaluate("e => getComputedStyle(e).backgroundImage")
    region.focus()
    assert page.evaluate("document.activeElement.classList.contains('table-scroll')")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("End")
    expect(region).not_to_have_js_property("scrollLeft", 0)
    assert page.locator(".table-scroll").count() == 2


def test_program_staff_also_get_a_two_line_top_bar_on_a_phone(browser, portal_url, language):
    """Staff carry one more link (the review site); the dev mailbox link lives in the review site's header."""
    reviewer = StaffFactory(is_superuser=True, full_name="Riko Reviewer", preferred_language=language)
    page = signed_in_page(browser, portal_url, reviewer, language=language, width=390)
    page.goto(portal_url + "/dev/mailbox/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert top_bar_rows(page) <= 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(portal_url + "/review/")
    expect(page.get_by_role("link", name=TEXT[language]["mailbox"], exact=True)).to_be_visible()


def test_no_page_with_details_scrolls_sideways_on_a_phone(browser, portal_url, language):
    """Long values (an email address, a long legal name) wrap inside their card at 390 px."""
    organization = OrganizationFactory(legal_name="Fabrikam Cloud Solutions Kabushiki Kaisha")
    admin = MembershipFactory(
        organization=organization, user=UserFactory(preferred_language=language), roles=[Role.GLOBAL_ADMIN]
    )
    member = MembershipFactory(
        organization=organization,
        user=UserFactory(email="reseller.helpdesk.with.a.long.address@demo.example"),
        roles=[Role.HELPDESK_AGENT],
    )
    invitation = MembershipInvitationFactory(
        organization=organization, email="another.rather.long.address@example.com", invited_by=admin.user
    )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, portal_url, admin.user)
    base = f"{portal_url}/o/{organization.public_id}"
    member_url = f"{base}/settings/users/{member.public_id}/"
    for url in (
        member_url,
        member_url + "deactivate/",
        member_url + "remove/",
        f"{base}/settings/invitations/{invitation.public_id}/revoke/",
        f"{base}/leave/",
        f"{base}/settings/",
    ):
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("lang", language)
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > 391)
                .map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').trim().slice(0, 30))"""
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (url, wide[:5])


def test_a_reversed_date_range_is_shown_at_its_field_and_lists_nothing(page, portal_url, admin, language):
    text = TEXT[language]
    audit_record(action="membership.roles_changed", organization=admin.organization, actor=admin.user)
    sign_in(page, portal_url, admin.user)
    page.goto(portal_url + f"/o/{admin.organization.public_id}/activity/")
    expect(page.locator("table tbody tr")).to_have_count(1)
    page.get_by_label(text["from"], exact=True).fill("2026-03-01")
    page.get_by_label(text["to"], exact=True).fill("2026-02-01")
    page.get_by_role("button", name=text["filter"], exact=True).click()

    to_field = page.get_by_label(text["to"], exact=True)
    expect(to_field).to_have_attribute("aria-invalid", "true")
    expect(to_field).to_have_attribute("type", "date")
    expect(to_field).to_have_value("2026-02-01")
    expect(to_field).to_have_accessible_description(text["date_error"])
    expect(page.locator("#id_date_to_error")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(text["filters_alert"])
    expect(page.locator("table")).to_have_count(0)
    expect(page.get_by_role("link", name=text["export"])).to_have_count(0)
    # The error sits right under its own field, not somewhere else on the page.
    error_box = page.locator("#id_date_to_error").bounding_box()
    field_box = to_field.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 24
    assert abs(error_box["x"] - field_box["x"]) < 4

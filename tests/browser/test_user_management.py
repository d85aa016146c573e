"""A Global admin invites a colleague; the colleague accepts in their own browser, then switches
between their two organizations. In English and in Japanese."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from accounts.roles import Role
from portal.mail.models import OutboxEmail
from tests.factories.accounts import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory
from tests.mail import email_text

pytestmark = pytest.mark.browser

TEXT = {
    "en": {
        "sign_in": "Sign In",
        "sign_in_link": "Sign in",
        "account_settings": "Account settings",
        "user_management": "User management",
        "add_user": "Add user",
        "email": "Email address",
        "helpdesk": "Helpdesk agent",
        "send": "Send invitation",
        "accept": "Accept invitation",
        "dashboard": "Dashboard",
    },
    "ja": {
        "sign_in": "サインイン",
        "sign_in_link": "サインイン",
        "account_settings": "アカウントの設定",
        "user_management": "ユーザー管理",
        "add_user": "ユーザーを追加",
        "email": "メール アドレス",
        "helpdesk": "ヘルプデスク エージェント",
        "send": "招待を送信",
        "accept": "招待を承諾する",
        "dashboard": "ダッシュボード",
    },
}


def sign_in(page, portal_url, email, text):
    page.goto(portal_url + "/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name=text["sign_in"], exact=True).click()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_invite_accept_and_switch_organizations(browser, portal_url, language):
    text = TEXT[language]
    fabrikam = OrganizationFactory(legal_name=f"Fabrikam {language} KK")
    admin = MembershipFactory(
        organization=fabrikam, user=UserFactory(preferred_language=language), roles=[Role.GLOBAL_ADMIN]
    )
    colleague = UserFactory(email=f"colleague-{language}@example.com", preferred_language=language)
    northwind = MembershipFactory(
        organization=OrganizationFactory(kind="customer", legal_name=f"Northwind {language}"),
        user=colleague,
        roles=[Role.GLOBAL_ADMIN],
    ).organization

    # The admin adds a Helpdesk agent from Account settings > User management.
    locale = {"en": "en-US", "ja": "ja-JP"}[language]
    admin_page = browser.new_context(locale=locale).new_page()
    sign_in(admin_page, portal_url, admin.user.email, text)
    expect(admin_page.locator("html")).to_have_attribute("lang", language)
    admin_page.get_by_role("link", name=text["account_settings"], exact=True).click()
    admin_page.get_by_role("link", name=text["user_management"], exact=True).click()
    admin_page.get_by_role("link", name=text["add_user"], exact=True).click()
    admin_page.get_by_label(text["email"]).fill(colleague.email)
    admin_page.get_by_label(text["helpdesk"]).check()
    admin_page.get_by_role("button", name=text["send"], exact=True).click()
    expect(admin_page.get_by_role("cell", name=colleague.email)).to_be_visible()

    invitation_email = OutboxEmail.objects.get(to=colleague.email, template="membership_invitation")
    assert invitation_email.language == language
    link = re.search(
        r"https://portal\.test(/invitations/membership/\S+/)", email_text(invitation_email)
    ).group(1)

    # The colleague opens the link in their own browser: first the invitation, then sign-in, then accept.
    colleague_page = browser.new_context(locale=locale).new_page()
    colleague_page.goto(portal_url + link)
    expect(colleague_page).to_have_url(re.compile(r"/invitations/membership/$"))
    expect(colleague_page.get_by_text(fabrikam.legal_name)).to_be_visible()
    assert not Membership.objects.filter(user=colleague, organization=fabrikam).exists()
    colleague_page.locator("main").get_by_role("link", name=text["sign_in_link"], exact=True).click()
    colleague_page.locator('input[name="login"]').fill(colleague.email)
    colleague_page.locator('input[name="password"]').fill(PASSWORD)
    colleague_page.locator('form button[type="submit"]').last.click()
    expect(colleague_page).to_have_url(re.compile(r"/invitations/membership/$"))
    colleague_page.get_by_role("button", name=text["accept"], exact=True).click()
    expect(colleague_page.locator(".lead")).to_contain_text(fabrikam.legal_name)
    membership = Membership.objects.get(user=colleague, organization=fabrikam)
    assert membership.role_names == [Role.HELPDESK_AGENT]

    # The switcher lists both organizations; choosing one opens its dashboard.
    colleague_page.locator(".switcher summary").click()
    colleague_page.get_by_role("link", name=re.compile(re.escape(northwind.legal_name))).click()
    expect(colleague_page).to_have_url(re.compile(rf"/o/{northwind.public_id}/$"))
    expect(colleague_page.get_by_role("heading", level=1)).to_have_text(text["dashboard"])
    expect(colleague_page.locator(".lead")).to_contain_text(northwind.legal_name)

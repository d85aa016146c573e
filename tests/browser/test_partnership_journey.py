"""A provider-reseller partnership, end to end in real Chromium, in English and in Japanese: the provider's
Global admin invites a reseller from Indirect resellers, edits the email draft and has the portal send it;
a real Celery worker delivers it; the reseller's Global admin opens the link from the email, reads what
authorising grants, ticks the box and selects **Authorize indirect provider**; each organization then
sees the other on its own page; the provider ends the partnership with a reason and both sides are told,
each in their own language. Every page on the way is checked with axe-core (conftest.py)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from accounts.roles import Role
from providers.models import Partnership
from tests.browser.helpers import signed_in_page
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

WAIT = 10_000  # ms, for each expectation on a page
DELIVERY_TIMEOUT = 30  # s, for the worker to hand an email to the mail server
LINK_RE = re.compile(r"https?://[^/\s]+(/invitations/partnership/[^/\s]+/)")
JA_FORBIDDEN = re.compile("グローバル管理者|ログイン")

# The glossary's terms, as the pages must say them (PRODUCT.md).
GLOSSARY = {
    "en": {
        "resellers": "Indirect resellers",
        "providers": "Indirect providers",
        "authorize": "Authorize indirect provider",
        "done": "Done",
    },
    "ja": {
        "resellers": "間接リセラー",
        "providers": "間接プロバイダー",
        "authorize": "間接プロバイダーを承認する",
        "done": "完了",
    },
}


def text(language: str, message, **params) -> str:
    with translation.override(language):
        said = gettext(message) if isinstance(message, str) else str(message)
        return said % params if params else said


def expect_lang(page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    if language == "ja":
        expect(page.locator("body")).not_to_contain_text(JA_FORBIDDEN)


def delivered_to(mailoutbox, address: str, *, count: int = 1) -> list:
    return wait_until(
        lambda: found if len(found := [m for m in mailoutbox if m.to == [address]]) >= count else None,
        timeout=DELIVERY_TIMEOUT,
        message=f"the worker did not deliver {count} email(s) to {address}",
    )


def test_invite_authorise_see_and_end_a_partnership(
    browser, portal_url, celery_worker_thread, mailoutbox, console_errors, language
):
    t = lambda message, **params: text(language, message, **params)  # noqa: E731
    glossary = GLOSSARY[language]

    # Given a provider serving Japan with its Global admin, and an approved Japanese reseller whose Global
    # admin's address is the one the provider knows.
    provider = ProviderFactory(legal_name="Contoso Distribution KK", country="JP", countries=["JP"])
    provider_admin = MembershipFactory(
        organization=provider,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(email="ops@contoso.example", full_name="Mina Sato", preferred_language=language),
    )
    reseller = ResellerFactory(legal_name="Fabrikam Cloud KK", country="JP", partner_id="7654321")
    reseller_user = UserFactory(
        email="owner@fabrikam.example", full_name="Ren Ito", preferred_language=language
    )
    EmailAddress.objects.update_or_create(
        user=reseller_user, email=reseller_user.email, defaults={"verified": True, "primary": True}
    )
    MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN], user=reseller_user)

    # 1. The provider invites the reseller from Indirect resellers.
    page = signed_in_page(browser, portal_url, provider_admin.user, language=language, width=1280)
    errors = console_errors(page)
    page.goto(f"{portal_url}/o/{provider.public_id}/resellers/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(glossary["resellers"], timeout=WAIT)
    expect_lang(page, language)
    page.get_by_role("link", name=t("Invite a reseller"), exact=True).first.click()
    expect(page.get_by_role("heading", level=1, name=t("Invite a reseller"))).to_be_visible(timeout=WAIT)
    page.locator('[name="email"]').fill(reseller_user.email)
    page.locator('[name="partner_id"]').fill(reseller.partner_id)
    page.get_by_role("button", name=t("Create the invitation"), exact=True).click()

    # 2. The draft holds the personalised link; the provider adds a line and has the portal send it.
    expect(page.get_by_role("heading", level=1)).to_contain_text(reseller_user.email, timeout=WAIT)
    expect_lang(page, language)
    link_value = page.locator("#invitation-link").input_value()
    assert LINK_RE.search(link_value), link_value
    assert link_value.split("/invitations/")[1] not in page.url
    body = page.locator('[name="body"]')
    assert link_value in body.input_value()
    body.fill("Mina from Contoso here.\n\n" + body.input_value())
    page.get_by_role("button", name=t("Send through the portal"), exact=True).click()
    expect(page.locator(".messages, [role=status], .message").first).to_contain_text(
        t("The invitation was emailed to %(email)s.", email=reseller_user.email), timeout=WAIT
    )

    # 3. The worker delivers it; the reseller's Global admin opens the link in their own browser.
    message = delivered_to(mailoutbox, reseller_user.email)[0]
    assert message.body.startswith("Mina from Contoso here.")
    link = LINK_RE.search(message.body)
    assert link, message.body
    reseller_page = signed_in_page(browser, portal_url, reseller_user, language=language, width=1280)
    reseller_errors = console_errors(reseller_page)
    reseller_page.goto(portal_url + link.group(1))
    expect(reseller_page.get_by_role("heading", level=1)).to_be_visible(timeout=WAIT)
    assert "/invitations/partnership/" in reseller_page.url and link.group(1) not in reseller_page.url
    expect_lang(reseller_page, language)
    main = reseller_page.locator("main")
    expect(main).to_contain_text(provider.legal_name)
    expect(main).to_contain_text(t("What authorising grants"))
    expect(main).to_contain_text(t("Authorize indirect provider"))

    # Without the box ticked nothing happens; with it, the partnership begins.
    reseller_page.locator("#id_consent").check()
    reseller_page.get_by_role("button", name=glossary["authorize"], exact=True).click()
    expect(reseller_page.get_by_role("heading", level=1)).to_contain_text(provider.legal_name, timeout=WAIT)
    partnership = Partnership.objects.get(provider=provider, reseller=reseller)
    assert partnership.status == Partnership.Status.ACTIVE
    assert partnership.authorized_by == reseller_user

    # 4. Each side sees the other on its own page.
    reseller_page.goto(f"{portal_url}/o/{reseller.public_id}/providers/")
    expect(reseller_page.get_by_role("heading", level=1)).to_contain_text(glossary["providers"], timeout=WAIT)
    expect(reseller_page.locator("main table")).to_contain_text(provider.legal_name)
    expect(reseller_page.get_by_role("link", name=t("View customers")).first).to_be_visible()
    expect(reseller_page.get_by_role("link", name=t("Invite new customer")).first).to_be_visible()
    page.goto(f"{portal_url}/o/{provider.public_id}/resellers/")
    expect(page.locator("main table")).to_contain_text(reseller.legal_name, timeout=WAIT)
    expect(page.locator("main table")).to_contain_text(reseller.partner_id)
    accepted = delivered_to(mailoutbox, provider_admin.user.email)
    assert any(reseller.legal_name in m.body for m in accepted)

    # 5. The provider ends it, after a page that says what it affects, with a reason.
    page.get_by_role("link", name=reseller.legal_name).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reseller.legal_name, timeout=WAIT)
    page.get_by_role("link", name=t("End partnership"), exact=True).click()
    expect(page.locator("main")).to_contain_text(
        t("Both organizations are notified by email, with your reason.")
    )
    page.locator('[name="reason"]').fill("We are leaving the Japanese market.")
    page.get_by_role("button", name=t("End partnership"), exact=True).click()
    expect(page.locator("main")).to_contain_text(
        t(
            "The partnership with %(organization)s has ended. Both organizations were notified.",
            organization=reseller.legal_name,
        ),
        timeout=WAIT,
    )
    partnership.refresh_from_db()
    assert partnership.status == Partnership.Status.ENDED
    assert partnership.end_reason == "We are leaving the Japanese market."

    # Both sides are told, in their own language; the partnership stays in both histories.
    for address in (reseller_user.email, provider_admin.user.email):
        ended = [m for m in delivered_to(mailoutbox, address, count=2) if "Japanese market" in m.body]
        assert len(ended) == 1
        assert ended[0].extra_headers.get("Content-Language") == language
    reseller_page.goto(f"{portal_url}/o/{reseller.public_id}/providers/?status=ended")
    expect(reseller_page.locator("main table")).to_contain_text(provider.legal_name, timeout=WAIT)
    expect_lang(reseller_page, language)

    assert errors == [] and reseller_errors == []

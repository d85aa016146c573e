"""Customer relationships end to end in real Chromium, in English and in Japanese.

1. With the provider: the reseller's Global admin opens Indirect providers, selects **Invite new customer**
   next to its provider, keeps the least-privilege roles, creates the invitation and has the portal send
   the draft; a real Celery worker delivers it. The customer's administrator opens the link from the
   email in a fresh browser, signs up with the invited address (verification code by email), creates the
   customer organization with a new tenant, reads what accepting grants to each partner and accepts.
   Each side then sees the others; the customer removes the reseller's delegated admin access, and the
   reseller loses it on its next request while staying reseller of record.
2. Reseller only: **Request a reseller relationship** from the Customers page, a customer that already
   has its organization accepts, and a second invitation to the same customer gets the clear "already your
   reseller" message instead of a duplicate.

Every page on the way is checked with axe-core (conftest.py)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from accounts.models import Membership
from accounts.roles import Role
from customers.models import (
    LEAST_PRIVILEGE_ROLES,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
)
from customers.selectors import partner_may
from customers.services.acceptance import already_customer_message
from tests.browser.helpers import LOCALES, choose_language, signed_in_page
from tests.factories.accounts import PASSWORD, MembershipFactory, UserFactory
from tests.factories.customers import CustomerFactory
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

WAIT = 10_000  # ms, for each expectation on a page
DELIVERY_TIMEOUT = 30  # s, for the worker to hand an email to the mail server
LINK_RE = re.compile(r"https?://[^/\s]+(/invitations/customer/[^/\s]+/)")
CODE_RE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")
JA_FORBIDDEN = re.compile("グローバル管理者|ログイン")
TENANT_PASSWORD = "tenant-admin-passphrase-2026"
TOKYO = "13"
# allauth's own buttons, as its catalogue says them
SIGN_UP = {"en": "Sign Up", "ja": "サインアップ"}
CONFIRM = {"en": "Confirm", "ja": "確認する"}

GLOSSARY = {
    "en": {"providers": "Indirect providers", "invite": "Invite new customer", "customers": "Customers"},
    "ja": {"providers": "間接プロバイダー", "invite": "新しい顧客を招待する", "customers": "顧客"},
}


def text(language: str, message, **params) -> str:
    with translation.override(language):
        said = gettext(message) if isinstance(message, str) else str(message)
        return said % params if params else said


def expect_lang(page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    if language == "ja":
        expect(page.locator("body")).not_to_contain_text(JA_FORBIDDEN)


def field(page, name):
    return page.locator(f'[name="{name}"]')


def delivered_to(mailoutbox, address: str, *, count: int = 1) -> list:
    return wait_until(
        lambda: found if len(found := [m for m in mailoutbox if m.to == [address]]) >= count else None,
        timeout=DELIVERY_TIMEOUT,
        message=f"the worker did not deliver {count} email(s) to {address}",
    )


def test_reseller_invites_with_its_provider_and_the_customer_signs_up_and_accepts(
    browser, portal_url, celery_worker_thread, mailoutbox, console_errors, language
):
    t = lambda message, **params: text(language, message, **params)  # noqa: E731
    glossary = GLOSSARY[language]
    provider = ProviderFactory(legal_name="Contoso Distribution KK", countries=["JP"])
    provider_admin = MembershipFactory(
        organization=provider,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(email="ops@contoso.example", preferred_language=language),
    )
    reseller = ResellerFactory(legal_name="Fabrikam Cloud KK")
    reseller_admin = MembershipFactory(
        organization=reseller,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(email="owner@fabrikam.example", preferred_language=language),
    )
    PartnershipFactory(provider=provider, reseller=reseller)
    customer_email = f"it-{language}@sakura-logistics.example"

    # 1. The reseller invites a new customer with its provider, from Indirect providers.
    page = signed_in_page(browser, portal_url, reseller_admin.user, language=language, width=1280)
    errors = console_errors(page)
    page.goto(f"{portal_url}/o/{reseller.public_id}/providers/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(glossary["providers"], timeout=WAIT)
    page.get_by_role("link", name=glossary["invite"]).first.click()
    expect(page.locator("main")).to_contain_text(provider.legal_name, timeout=WAIT)
    expect_lang(page, language)
    field(page, "email").fill(customer_email)
    field(page, "customer_name").fill("Sakura Logistics")
    for role in LEAST_PRIVILEGE_ROLES:  # the least-privilege bundle is the default
        expect(page.locator(f'input[name="roles"][value="{role}"]')).to_be_checked()
    expect(page.locator(f'input[name="roles"][value="{DelegatedRole.GLOBAL_ADMIN}"]')).not_to_be_checked()
    page.get_by_role("button", name=t("Create the invitation"), exact=True).click()

    # 2. The draft holds the link; the portal sends it; the worker delivers it.
    expect(page.get_by_role("heading", level=1)).to_contain_text(customer_email, timeout=WAIT)
    link_value = page.locator("#invitation-link").input_value()
    assert LINK_RE.search(link_value), link_value
    assert link_value in page.locator('[name="body"]').input_value()
    page.get_by_role("button", name=t("Send through the portal"), exact=True).click()
    expect(page.locator("main")).to_contain_text(
        t("The invitation was emailed to %(email)s.", email=customer_email), timeout=WAIT
    )
    message = delivered_to(mailoutbox, customer_email)[0]
    link = LINK_RE.search(message.body)
    assert link, message.body
    assert provider.legal_name in message.body and reseller.legal_name in message.body

    # 3. The customer's administrator opens the link in a fresh browser and signs up with that address.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=LOCALES[language])
    choose_language(context, portal_url, language)
    customer_page = context.new_page()
    customer_errors = console_errors(customer_page)
    customer_page.goto(portal_url + link.group(1))
    expect(customer_page.get_by_role("heading", level=1)).to_be_visible(timeout=WAIT)
    assert link.group(1) not in customer_page.url
    expect_lang(customer_page, language)
    expect(customer_page.locator("main")).to_contain_text(reseller.legal_name)
    customer_page.locator("main").get_by_role("link", name=t("Sign up"), exact=True).first.click()
    expect(customer_page).to_have_url(re.compile(r"/accounts/signup/"), timeout=WAIT)
    email_input = field(customer_page, "email")
    if not email_input.input_value():
        email_input.fill(customer_email)
    field(customer_page, "password1").fill(PASSWORD)
    field(customer_page, "password2").fill(PASSWORD)
    customer_page.get_by_role("button", name=SIGN_UP[language], exact=True).click()
    expect(field(customer_page, "code")).to_be_visible(timeout=WAIT)

    # The code is sealed in the outbox: read it from the email the worker delivered.
    def verification_code():
        for sent in mailoutbox:
            found = CODE_RE.search(sent.body) if sent.to == [customer_email] else None
            if found:
                return found.group(0)
        return None

    code = wait_until(verification_code, timeout=DELIVERY_TIMEOUT, message="no verification code delivered")
    field(customer_page, "code").fill(code)
    customer_page.get_by_role("button", name=CONFIRM[language], exact=True).click()
    expect(customer_page.locator("html")).to_have_attribute("lang", language, timeout=WAIT)
    assert EmailAddress.objects.get(email=customer_email).verified

    # 4. Back on the invitation: no organization yet, so it is created first, with a new tenant.
    customer_page.goto(f"{portal_url}/invitations/customer/")
    customer_page.get_by_role("link", name=t("Create your organization"), exact=True).first.click()
    expect(customer_page.get_by_role("heading", level=1)).to_be_visible(timeout=WAIT)
    customer_page.get_by_role("link", name=t("Create a new tenant"), exact=True).click()
    field(customer_page, "name").fill("Sakura Logistics")
    field(customer_page, "country").select_option("JP")
    field(customer_page, "initial_domain_label").fill(f"sakura{language}")
    field(customer_page, "admin_display_name").fill("Yui Mori")
    field(customer_page, "admin_password").fill(TENANT_PASSWORD)
    field(customer_page, "admin_password_confirmation").fill(TENANT_PASSWORD)
    customer_page.locator("main form").get_by_role("button", name=t("Create a new tenant")).click()
    expect(field(customer_page, "legal_name")).to_be_visible(timeout=WAIT)
    field(customer_page, "legal_name").fill("Sakura Logistics KK")
    field(customer_page, "postal_code").fill("100-0001")
    field(customer_page, "region").select_option(TOKYO)
    field(customer_page, "city").fill("Chiyoda-ku")
    field(customer_page, "address_line1").fill("1-1 Marunouchi")
    customer_page.get_by_role("button", name=t("Create organization"), exact=True).click()

    # 5. The page spells out what accepting grants, partner by partner, then the customer accepts.
    expect(customer_page.locator("#id_consent")).to_be_visible(timeout=WAIT)
    main = customer_page.locator("main")
    expect(main).to_contain_text(t("What accepting grants"))
    expect(main).to_contain_text(provider.legal_name)
    for role in LEAST_PRIVILEGE_ROLES:
        expect(main).to_contain_text(t(DelegatedRole(role).label))
    expect_lang(customer_page, language)
    customer_page.locator("#id_consent").check()
    customer_page.get_by_role("button", name=t("Accept"), exact=True).click()
    expect(customer_page.get_by_role("heading", level=1)).to_contain_text(
        t("Partner relationships"), timeout=WAIT
    )
    customer_user = EmailAddress.objects.get(email=customer_email).user
    customer = Membership.objects.get(user=customer_user).organization
    assert customer.legal_name == "Sakura Logistics KK" and customer.kind == "customer"
    assert CustomerRelationship.objects.filter(customer=customer, status="active").count() == 2
    delegated = DelegatedAdminRelationship.objects.get(customer=customer, partner=reseller)
    assert delegated.status == DelegatedAdminStatus.ACTIVE
    assert sorted(delegated.roles) == sorted(str(role) for role in LEAST_PRIVILEGE_ROLES)

    # 6. Each side sees the others.
    page.goto(f"{portal_url}/o/{reseller.public_id}/customers/")
    expect(page.locator("main")).to_contain_text("Sakura Logistics KK", timeout=WAIT)
    provider_page = signed_in_page(browser, portal_url, provider_admin.user, language=language, width=390)
    provider_errors = console_errors(provider_page)
    provider_page.goto(f"{portal_url}/o/{provider.public_id}/customers/")
    expect(provider_page.locator("main")).to_contain_text("Sakura Logistics KK", timeout=WAIT)
    expect_lang(provider_page, language)
    expect(customer_page.locator("main")).to_contain_text(reseller.legal_name)
    expect(customer_page.locator("main")).to_contain_text(provider.legal_name)

    # 7. The customer removes the reseller's delegated admin access; the reseller loses it at once.
    assert partner_may(reseller, customer, DelegatedRole.HELPDESK_ADMIN)
    customer_page.get_by_role("link", name=t("Remove delegated admin access")).first.click()
    expect(customer_page.locator("main")).to_contain_text(reseller.legal_name, timeout=WAIT)
    customer_page.locator("main form").get_by_role("button", name=t("Remove delegated admin access")).click()
    expect(customer_page.get_by_role("heading", level=1)).to_contain_text(
        t("Partner relationships"), timeout=WAIT
    )
    delegated.refresh_from_db()
    assert delegated.status == DelegatedAdminStatus.TERMINATED
    assert not partner_may(reseller, customer, DelegatedRole.HELPDESK_ADMIN)
    assert partner_may(reseller, customer, "view")  # still the reseller of record
    page.goto(f"{portal_url}/o/{reseller.public_id}/customers/c/{customer.public_id}/")
    expect(page.locator("main")).to_contain_text("Sakura Logistics KK", timeout=WAIT)
    expect(page.locator("main")).to_contain_text(
        t("You hold no delegated admin roles in this customer's tenant right now.")
    )
    removed = [m for m in delivered_to(mailoutbox, reseller_admin.user.email, count=2) if m.subject]
    assert any(m.extra_headers.get("Content-Language") == language for m in removed)

    assert errors == [] and customer_errors == [] and provider_errors == []


def test_reseller_only_invitation_accepted_by_an_existing_customer_and_no_duplicate(
    browser, portal_url, celery_worker_thread, mailoutbox, console_errors, language
):
    t = lambda message, **params: text(language, message, **params)  # noqa: E731
    reseller = ResellerFactory(legal_name="Fabrikam Cloud KK")
    reseller_admin = MembershipFactory(
        organization=reseller,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(email="owner@fabrikam.example", preferred_language=language),
    )
    customer = CustomerFactory(legal_name="Blue Yonder Airlines Inc.")
    customer_admin = MembershipFactory(
        organization=customer,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(email="it@blueyonder.example", preferred_language=language),
    ).user

    def invite() -> str:
        page.goto(f"{portal_url}/o/{reseller.public_id}/customers/")
        expect(page.get_by_role("heading", level=1)).to_contain_text(
            GLOSSARY[language]["customers"], timeout=WAIT
        )
        page.get_by_role("link", name=t("Request a reseller relationship"), exact=True).first.click()
        expect(page.locator("main")).to_contain_text(t("Reseller relationship only"), timeout=WAIT)
        field(page, "email").fill(customer_admin.email)
        page.get_by_role("button", name=t("Create the invitation"), exact=True).click()
        return page.locator("#invitation-link").input_value()

    page = signed_in_page(browser, portal_url, reseller_admin.user, language=language, width=390)
    errors = console_errors(page)
    first_link = LINK_RE.search(invite()).group(1)

    customer_page = signed_in_page(browser, portal_url, customer_admin, language=language, width=390)
    customer_errors = console_errors(customer_page)
    customer_page.goto(portal_url + first_link)
    expect(customer_page.locator("#id_consent")).to_be_visible(timeout=WAIT)
    expect_lang(customer_page, language)
    expect(customer_page.locator("main")).to_contain_text(
        t("One partner: the reseller. No indirect provider is part of this invitation.")
    )
    customer_page.locator("#id_consent").check()
    customer_page.get_by_role("button", name=t("Accept"), exact=True).click()
    expect(customer_page.get_by_role("heading", level=1)).to_contain_text(
        t("Partner relationships"), timeout=WAIT
    )
    assert (
        CustomerRelationship.objects.filter(customer=customer, partner=reseller, status="active").count() == 1
    )

    # A second invitation to a customer that already has this reseller: a clear message, no duplicate.
    second_link = LINK_RE.search(invite()).group(1)
    customer_page.goto(portal_url + second_link)
    with translation.override(language):
        already = str(already_customer_message(reseller, customer))
    expect(customer_page.locator("main")).to_contain_text(already, timeout=WAIT)
    expect(customer_page.locator("#id_consent")).to_have_count(0)
    assert CustomerRelationship.objects.filter(customer=customer, partner=reseller).count() == 1
    assert errors == [] and customer_errors == []

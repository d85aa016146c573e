"""Managing a shared customer end to end in real Chromium, in English and in Japanese.

1. The indirect provider's Admin agent opens Customers shared with you, opens the customer's row (the
   disclosure works from the keyboard), selects **New order**, chooses an offer on sale in Japan and 3 seats
   and submits; a real Celery worker provisions the order. Back in the browser, the same form (the same
   idempotency key) submitted again still leaves exactly one order.
2. The reseller's Admin agent, with the User administrator and License administrator delegated roles,
   adds a user to the customer's tenant: the set-up email arrives in the language chosen, and the new user
   sets a password through its link. The reseller then assigns the new user a licence of the subscription.
3. The customer's Global admin sees the subscription (its seats, its reseller of record and indirect
   provider), the licence, the new user, and the partners' actions in the activity log, each partner named;
   from the rows (whose buttons belong to the page's one form), disables and enables the new user and takes
   the licence back.

Every page on the way is checked with axe-core (conftest.py) and must log no console error."""

import re
import time
import uuid

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from accounts.models import DirectoryUser, User
from commerce.models import LicenceAssignment, Order, OrderStatus, Subscription, SubscriptionStatus
from tests.browser.helpers import LOCALES, choose_language, signed_in_page
from tests.factories.commerce import OfferFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

WAIT = 10_000  # ms, for each expectation on a page
DELIVERY_TIMEOUT = 30  # s, for the worker to hand an email to the mail server
PROVISION_TIMEOUT = 30  # s, for the worker to provision the order, as the order page shows it
SETUP_LINK_RE = re.compile(r"https?://[^/\s]+(/directory/setup/[^/\s]+/)")
JA_FORBIDDEN = re.compile("グローバル管理者|ログイン")
TAG_RE = re.compile(r"<[^>]+>")
NEW_USER_PASSWORD = "sakura-tenant-passphrase-2026"

# The glossary's Japanese for the pages' names (PRODUCT.md): a translation, once there is one, says these.
GLOSSARY_JA = {
    "Customers": "顧客",
    "Subscriptions": "サブスクリプション",
    "Licences": "ライセンス",
    "Tenant users": "テナントのユーザー",
}


def text(language: str, message, **params) -> str:
    """What the page says in ``language``: the message through gettext (English until it is translated),
    with its placeholders filled and its markup (``<bdi>``) left out, as the page's text reads."""
    with translation.override(language):
        said = gettext(message) if isinstance(message, str) else str(message)
        return TAG_RE.sub("", said % params if params else said)


def term(language: str, message: str) -> str:
    """A page's name in ``language``: the glossary's term, or English while it is not translated yet."""
    said = text(language, message)
    if language == "ja":
        assert said in (message, GLOSSARY_JA[message]), f"{message!r} is translated as {said!r}"
    return said


def expect_lang(page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    if language == "ja":
        expect(page.locator("body")).not_to_contain_text(JA_FORBIDDEN)


def field(page, name):
    return page.locator("main").locator(f'[name="{name}"]')


def nav_link(page, language: str, label: str):
    navigation = page.get_by_role("navigation", name=text(language, "Main navigation"))
    return navigation.get_by_role("link", name=text(language, label), exact=True)


def delivered_to(mailoutbox, address: str, *, count: int = 1) -> list:
    return wait_until(
        lambda: found if len(found := [m for m in mailoutbox if m.to == [address]]) >= count else None,
        timeout=DELIVERY_TIMEOUT,
        message=f"the worker did not deliver {count} email(s) to {address}",
    )


def reload_until_status(page, language: str, status: OrderStatus) -> None:
    """Reload the order page, as someone waiting for it would, until its status badge says ``status``."""
    wanted = text(language, status.label)
    badge = page.locator("main .badge").first
    deadline = time.monotonic() + PROVISION_TIMEOUT
    while badge.inner_text().strip() != wanted:
        if time.monotonic() >= deadline:
            raise AssertionError(f"the order page still says {badge.inner_text()!r}, not {wanted!r}")
        time.sleep(0.5)
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=WAIT)


def test_provider_orders_reseller_assigns_a_licence_to_a_new_user_and_the_customer_sees_it(
    browser, portal_url, celery_worker_thread, mailoutbox, console_errors, language
):
    t = lambda message, **params: text(language, message, **params)  # noqa: E731

    # Given a reseller and an indirect provider in a live partnership, a Japanese customer that accepted
    # both (the reseller with the User administrator and License administrator roles), the customer's
    # Global admin, an Admin agent in each partner, and offers on sale in Japan (one only in the US).
    link = commerce_linked(
        reseller=ResellerFactory(legal_name="Fabrikam Cloud KK"),
        provider=ProviderFactory(legal_name="Contoso Distribution KK", country="JP", countries=["JP"]),
        customer=CustomerFactory(legal_name="Sakura Logistics KK", country="JP"),
    )
    User.objects.filter(
        pk__in=[link.provider_agent.user_id, link.reseller_agent.user_id, link.customer_admin.user_id]
    ).update(preferred_language=language)
    offer = OfferFactory(
        name="Cloud Productivity Business", product_code="CPB-01", prices={"JP": ("JPY", 1200)}
    )
    OfferFactory(name="Cloud Security Plus", product_code="CSP-01", prices={"JP": ("JPY", 800)})
    OfferFactory(name="Frontline Kiosk US", product_code="FLK-01", prices={"US": ("USD", "4.00")})
    customer, reseller, provider = link.customer, link.reseller, link.provider
    domain = customer.directory_tenant.verified_domains[0]
    new_upn = f"aiko.tanaka-{language}@{domain}"
    contact_email = f"aiko.{language}@home.example"

    # 1. The provider opens its customers, opens the customer's row from the keyboard, and orders.
    page = signed_in_page(browser, portal_url, link.provider_agent.user, language=language, width=1280)
    provider_errors = console_errors(page)
    page.goto(f"{portal_url}/o/{provider.public_id}/")
    nav_link(page, language, "Customers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Customers shared with you"), timeout=WAIT)
    expect(nav_link(page, language, "Customers")).to_have_text(term(language, "Customers"))
    expect_lang(page, language)
    row = page.locator("li.customer-row").filter(has_text=customer.legal_name)
    details = row.locator("details")
    expect(details).to_have_js_property("open", False)
    row.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(details).to_have_js_property("open", True)
    expect(row).to_contain_text(reseller.legal_name)
    expect(row).to_contain_text(t("No subscriptions yet."))
    row.get_by_role("link", name=t("New order")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(t("New order"), timeout=WAIT)
    expect_lang(page, language)
    expect(field(page, "reseller")).to_have_value(str(reseller.public_id))
    offers = page.get_by_role("radio")
    expect(offers).to_have_count(2)  # the two on sale in Japan; never the one sold only in the US
    expect(page.locator("main form")).not_to_contain_text("Frontline Kiosk US")
    page.get_by_role("radio", name=re.compile(re.escape(offer.name))).check()
    field(page, "seats").fill("3")
    key = field(page, "idempotency_key").input_value()
    assert uuid.UUID(key)
    page.get_by_role("button", name=t("Submit order"), exact=True).click()

    expect(page.locator("main .messages")).to_contain_text(t("Order submitted; provisioning…"), timeout=WAIT)
    order = Order.objects.get(customer=customer)
    assert (order.idempotency_key, order.offer, order.seats, order.reseller, order.provider) == (
        uuid.UUID(key),
        offer,
        3,
        reseller,
        provider,
    )
    expect(page).to_have_url(f"{portal_url}/o/{provider.public_id}/orders/{order.public_id}/")
    expect(page.locator("main .badge").first).to_have_text(
        re.compile(
            f"^({re.escape(t(OrderStatus.SUBMITTED.label))}|{re.escape(t(OrderStatus.PROVISIONED.label))})$"
        )
    )
    expect_lang(page, language)
    reload_until_status(page, language, OrderStatus.PROVISIONED)
    main = page.locator("main")
    expect(main).to_contain_text(offer.name)
    expect(main).to_contain_text(reseller.legal_name)
    expect_lang(page, language)

    # The same form submitted again (Back, then Submit order again) is the same order. Playwright runs
    # Chromium without its back-forward cache (--disable-back-forward-cache), so Back fetches the form
    # anew, with a new key: the key goes back to the one of the form first submitted, as a browser that
    # keeps the page in that cache shows it.
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("New order"), timeout=WAIT)
    field(page, "idempotency_key").evaluate("(input, key) => { input.value = key; }", key)
    page.get_by_role("radio", name=re.compile(re.escape(offer.name))).check()
    field(page, "seats").fill("3")
    page.get_by_role("button", name=t("Submit order"), exact=True).click()
    expect(page).to_have_url(f"{portal_url}/o/{provider.public_id}/orders/{order.public_id}/", timeout=WAIT)
    expect(page.locator("main .badge").first).to_have_text(t(OrderStatus.PROVISIONED.label))
    assert Order.objects.filter(customer=customer).count() == 1
    subscription = Subscription.objects.get(customer=customer)
    assert (subscription.offer, subscription.seats, subscription.reseller, subscription.provider) == (
        offer,
        3,
        reseller,
        provider,
    )

    # 2. The reseller adds a user to the customer's tenant, from its Customers page.
    reseller_page = signed_in_page(
        browser, portal_url, link.reseller_agent.user, language=language, width=390
    )
    reseller_errors = console_errors(reseller_page)
    reseller_page.goto(f"{portal_url}/o/{reseller.public_id}/customers/")
    expect(reseller_page.get_by_role("heading", level=1)).to_have_text(
        term(language, "Customers"), timeout=WAIT
    )
    expect_lang(reseller_page, language)
    reseller_row = reseller_page.locator("li.customer-row").filter(has_text=customer.legal_name)
    reseller_row.locator("summary").click()
    expect(reseller_row.locator("details")).to_have_js_property("open", True)
    expect(reseller_row).to_contain_text(offer.name)
    reseller_row.get_by_role("link", name=t("Open the customer page")).click()
    expect(reseller_page.get_by_role("heading", level=1)).to_have_text(customer.legal_name, timeout=WAIT)
    expect_lang(reseller_page, language)
    reseller_page.get_by_role("link", name=t("Users of the customer's tenant"), exact=True).click()
    expect(reseller_page.get_by_role("heading", level=1)).to_contain_text(
        term(language, "Tenant users"), timeout=WAIT
    )
    expect(reseller_page.get_by_role("note")).to_contain_text(reseller.legal_name)
    expect_lang(reseller_page, language)
    reseller_page.locator("main").get_by_role("link", name=t("Add user"), exact=True).click()
    expect(reseller_page.get_by_role("heading", level=1)).to_contain_text(t("Add user"), timeout=WAIT)
    expect_lang(reseller_page, language)
    field(reseller_page, "user_principal_name").fill(new_upn)
    field(reseller_page, "display_name").fill("Aiko Tanaka")
    field(reseller_page, "contact_email").fill(contact_email)
    field(reseller_page, "language").select_option(language)
    reseller_page.locator("main form").get_by_role("button", name=t("Add user"), exact=True).click()

    expect(reseller_page.get_by_role("heading", level=1)).to_contain_text(
        term(language, "Tenant users"), timeout=WAIT
    )
    expect(reseller_page.locator("main .messages")).to_contain_text(contact_email)
    expect(reseller_page.locator("main table")).to_contain_text(new_upn)
    expect_lang(reseller_page, language)
    new_user = DirectoryUser.objects.get(user_principal_name=new_upn)
    assert (new_user.tenant_id, new_user.contact_email, new_user.language) == (
        customer.directory_tenant_id,
        contact_email,
        language,
    )

    # The set-up email, in the language chosen, names the reseller; its link sets the password.
    setup = delivered_to(mailoutbox, contact_email)[0]
    assert setup.extra_headers.get("Content-Language") == language
    assert t("Open this link to choose your password:") in setup.body
    assert reseller.legal_name in setup.body and new_upn in setup.body
    setup_link = SETUP_LINK_RE.search(setup.body)
    assert setup_link, setup.body
    context = browser.new_context(viewport={"width": 390, "height": 900}, locale=LOCALES[language])
    choose_language(context, portal_url, language)
    new_user_page = context.new_page()
    new_user_errors = console_errors(new_user_page)
    new_user_page.goto(portal_url + setup_link.group(1))
    expect(new_user_page.get_by_role("heading", level=1)).to_have_text(
        t("Choose your password"), timeout=WAIT
    )
    assert setup_link.group(1) not in new_user_page.url
    expect(new_user_page.locator("main")).to_contain_text(new_upn)
    expect_lang(new_user_page, language)
    field(new_user_page, "password").fill(NEW_USER_PASSWORD)
    field(new_user_page, "password_confirmation").fill(NEW_USER_PASSWORD)
    new_user_page.get_by_role("button", name=t("Set my password"), exact=True).click()
    expect(new_user_page.get_by_role("heading", level=1)).to_have_text(
        t("Your password is set"), timeout=WAIT
    )
    expect_lang(new_user_page, language)
    new_user.refresh_from_db()
    assert new_user.check_password(NEW_USER_PASSWORD)

    # The reseller assigns the new user a licence of the new subscription.
    reseller_page.get_by_role("navigation", name=t("The customer's tenant")).get_by_role(
        "link", name=t("Licences"), exact=True
    ).click()
    expect(reseller_page.get_by_role("heading", level=1)).to_contain_text(
        term(language, "Licences"), timeout=WAIT
    )
    expect_lang(reseller_page, language)
    reseller_page.locator("nav.licence-subscriptions").get_by_role("link", name=subscription.name).click()
    chosen = reseller_page.locator("section.licence-chosen")
    expect(chosen.get_by_role("heading", level=2)).to_have_text(subscription.name, timeout=WAIT)
    expect(chosen.locator(".stat dd")).to_have_text(t("%(used)s of %(total)s", used=0, total=3))
    field(reseller_page, "user_principal_name").fill(new_upn)
    chosen.get_by_role("button", name=t("Assign"), exact=True).click()
    expect(reseller_page.locator("main .messages")).to_contain_text(
        t("%(user)s now holds a licence of %(subscription)s.", user=new_upn, subscription=subscription.name),
        timeout=WAIT,
    )
    expect(chosen.locator(".stat dd")).to_have_text(t("%(used)s of %(total)s", used=1, total=3))
    expect(chosen.locator("table")).to_contain_text(new_upn)
    expect_lang(reseller_page, language)
    assert list(
        LicenceAssignment.objects.filter(subscription=subscription).values_list("directory_user", flat=True)
    ) == [new_user.pk]

    # 3. The customer's Global admin sees all of it, and who did it.
    customer_page = signed_in_page(
        browser, portal_url, link.customer_admin.user, language=language, width=1280
    )
    customer_errors = console_errors(customer_page)
    customer_page.goto(f"{portal_url}/o/{customer.public_id}/")
    nav_link(customer_page, language, "Subscriptions").click()
    expect(customer_page.get_by_role("heading", level=1)).to_have_text(
        term(language, "Subscriptions"), timeout=WAIT
    )
    expect_lang(customer_page, language)
    subscription_row = (
        customer_page.locator("main table").first.locator("tbody tr").filter(has_text=offer.name)
    )
    expect(subscription_row).to_have_count(1)
    for said in (
        t("%(used)s of %(total)s", used=1, total=3),
        t(SubscriptionStatus.ACTIVE.label),
        reseller.legal_name,
        provider.legal_name,
    ):
        expect(subscription_row).to_contain_text(said)

    nav_link(customer_page, language, "Licences").click()
    expect(customer_page.get_by_role("heading", level=1)).to_have_text(
        term(language, "Licences"), timeout=WAIT
    )
    expect_lang(customer_page, language)
    customer_chosen = customer_page.locator("section.licence-chosen")
    expect(customer_chosen.get_by_role("heading", level=2)).to_have_text(subscription.name)
    expect(customer_chosen.locator(".stat dd")).to_have_text(t("%(used)s of %(total)s", used=1, total=3))
    expect(customer_chosen.locator("table tbody tr").filter(has_text=new_upn)).to_contain_text("Aiko Tanaka")

    nav_link(customer_page, language, "Tenant users").click()
    expect(customer_page.get_by_role("heading", level=1)).to_have_text(
        term(language, "Tenant users"), timeout=WAIT
    )
    expect_lang(customer_page, language)
    user_row = customer_page.locator("main table tbody tr").filter(has_text=new_upn)
    expect(user_row).to_contain_text("Aiko Tanaka")
    expect(user_row).to_contain_text(subscription.name)

    # The row's buttons belong to the page's one form (form="row-actions", formaction): Disable, then
    # Enable, post the row's action to the row's user.
    user_row.get_by_role("button", name=t("Disable")).click()
    disabled = t(
        "%(name)s (%(user_principal_name)s) is disabled: the user can no longer sign in.",
        name="Aiko Tanaka",
        user_principal_name=new_upn,
    )
    expect(customer_page.locator("main .messages")).to_contain_text(disabled, timeout=WAIT)
    expect(user_row).to_contain_text(t(DirectoryUser.Status.DISABLED.label))
    new_user.refresh_from_db()
    assert new_user.status == DirectoryUser.Status.DISABLED
    user_row.get_by_role("button", name=t("Enable")).click()
    enabled = t(
        "%(name)s (%(user_principal_name)s) is enabled: the user can sign in again.",
        name="Aiko Tanaka",
        user_principal_name=new_upn,
    )
    expect(customer_page.locator("main .messages")).to_contain_text(enabled, timeout=WAIT)
    new_user.refresh_from_db()
    assert new_user.status == DirectoryUser.Status.ACTIVE
    expect_lang(customer_page, language)

    nav_link(customer_page, language, "Activity log").click()
    expect(customer_page.get_by_role("heading", level=1)).to_have_text(t("Activity log"), timeout=WAIT)
    expect_lang(customer_page, language)
    log = customer_page.locator("main table tbody")
    for action, partner in (
        ("Order submitted", provider),
        ("Directory user created", reseller),
        ("Licence assigned", reseller),
    ):
        event = log.locator("tr").filter(has_text=t(action)).first
        expect(event).to_contain_text(t("as partner <bdi>%(partner)s</bdi>", partner=partner.legal_name))

    # The customer takes the licence back from its row (the page's one form again): the seat is free.
    nav_link(customer_page, language, "Licences").click()
    customer_chosen = customer_page.locator("section.licence-chosen")
    expect(customer_chosen.get_by_role("heading", level=2)).to_have_text(subscription.name, timeout=WAIT)
    customer_chosen.locator("table tbody tr").filter(has_text=new_upn).get_by_role(
        "button", name=t("Remove")
    ).click()
    expect(customer_page.locator("main .messages")).to_contain_text(
        t("%(user)s no longer holds this licence: its seat is free again.", user=new_upn), timeout=WAIT
    )
    expect(customer_chosen.locator(".stat dd")).to_have_text(t("%(used)s of %(total)s", used=0, total=3))
    assert not LicenceAssignment.objects.filter(subscription=subscription).exists()

    assert provider_errors == []
    assert reseller_errors == []
    assert new_user_errors == []
    assert customer_errors == []

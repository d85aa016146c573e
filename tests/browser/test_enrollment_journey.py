"""Enrollment as an indirect reseller, end to end in real Chromium, in English and in Japanese: the
applicant enrolls from the welcome page (a new tenant, the membership sign-in, the details, **Enroll now**),
the primary contact confirms from the emailed link without an account, the automated checks run in a real
Celery worker against the real Redis, a reviewer asks for a document on the review site, the applicant
uploads it and resubmits, the reviewer approves, and the new Global admin joins the Admin agent group from
the reseller dashboard. Every page on the way is checked with axe-core (conftest.py).

What the pages say is looked up in the portal's catalogue for the test language (``text``), so that the
test follows the wording; the glossary's key terms are also spelt out (``GLOSSARY``) to prove that the
Japanese pages use them."""

import re
import uuid

import pytest
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext
from playwright.sync_api import expect

from accounts.models import Membership, Organization
from accounts.roles import Role
from enrollment.checks import CHECKS
from enrollment.models import (
    ApplicationDocument,
    ApplicationStatus,
    CheckStatus,
    EnrollmentApplication,
    EnrollmentCheck,
    InformationItem,
)
from portal.mail.models import OutboxEmail
from tests.browser.helpers import LOCALES, signed_in_page
from tests.factories.accounts import StaffFactory, UserFactory
from tests.factories.enrollment import MEMBERSHIP_PASSWORD, PartnerProfileFactory
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TENANT_PASSWORD = "a-long-and-unusual-passphrase-42"
# The worker runs the checks within a second or two; this bounds the wait for a slow machine.
CHECKS_TIMEOUT = 30
WAIT = 10_000  # ms, for each expectation on a page

# The glossary's terms, as the pages must say them (PRODUCT.md).
GLOSSARY = {
    "en": {
        "enroll_now": "Enroll now",
        "next": "Next",
        "continue": "Continue",
        "sign_in": "Sign in",
        "global_admin": "Global admin",
        "global_administrator": "global administrator",
        "indirect_reseller": "Enroll as an indirect reseller",
    },
    "ja": {
        "enroll_now": "今すぐ登録する",
        "next": "次へ",
        "continue": "続行",
        "sign_in": "サインイン",
        "global_admin": "全体管理者",
        "global_administrator": "全体管理者",
        "indirect_reseller": "間接リセラーとして登録する",
    },
}

# The company, as its applicant types it in each language.
COMPANY = {
    "en": {
        "legal_name": "Tailspin Toys KK",
        "address_line1": "1-1 Marunouchi",
        "city": "Chiyoda-ku",
        "contact_name": "Aki Tanaka",
        "tenant_name": "Tailspin Toys",
        "admin_name": "Ken Sato",
    },
    "ja": {
        "legal_name": "テイルスピン・トイズ株式会社",
        "address_line1": "丸の内1-1",
        "city": "千代田区",
        "contact_name": "田中 亜紀",
        "tenant_name": "テイルスピン・トイズ",
        "admin_name": "佐藤 健",
    },
}
TOKYO = "13"  # the prefecture's code (JIS X 0401)
CONTACT_EMAIL = "aki@tailspin.jp"  # on the domain of the company's website: the employment check passes
WEBSITE = "https://www.tailspin.jp"
LINK_RE = re.compile(r"https?://[^/\s]+(/invitations/enrollment-contact/[^/\s]+/)")


def text(language: str, message, **params) -> str:
    """``message`` (a msgid, or a lazy label) as the portal says it in ``language``."""
    with translation.override(language):
        said = gettext(message) if isinstance(message, str) else str(message)
        return said % params if params else said


def heading(page, name: str):
    return page.get_by_role("heading", level=1, name=name, exact=True)


def field(page, name: str):
    return page.locator(f'[name="{name}"]')


def status_badge(page):
    return page.locator(".tracker-header__status .badge")


def tracker_reload_until(page, status: str) -> None:
    """Reload the tracker until its status is ``status``: the worker moves the application on its own."""

    def shown() -> bool:
        page.reload()
        return status_badge(page).inner_text().strip() == status

    wait_until(shown, timeout=CHECKS_TIMEOUT, message=f"the tracker never showed {status!r}")


# Words the glossary forbids in Japanese (全体管理者, サインイン are the right ones).
JA_FORBIDDEN = re.compile("グローバル管理者|ログイン")


def expect_lang(page, language: str) -> None:
    """The page is in ``language``; in Japanese, without the words the glossary forbids."""
    expect(page.locator("html")).to_have_attribute("lang", language)
    if language == "ja":
        expect(page.locator("body")).not_to_contain_text(JA_FORBIDDEN)


def test_enroll_confirm_review_and_join_the_admin_agent_group(
    browser, portal_url, celery_worker_thread, mailoutbox, console_errors, language, tmp_path
):
    t = lambda message, **params: text(language, message, **params)  # noqa: E731
    glossary = GLOSSARY[language]
    company = COMPANY[language]

    # Given a signed-up applicant, a membership account with a Japanese partner profile, and a reviewer.
    applicant = UserFactory(full_name=company["admin_name"], preferred_language=language)
    profile = PartnerProfileFactory(legal_name="Tailspin Partner KK", country="JP", location="Tokyo")
    reviewer = StaffFactory(is_superuser=True, full_name="Rei Tanaka", preferred_language=language)
    domain_label = f"tailspin{language}{uuid.uuid4().hex[:8]}"

    page = signed_in_page(browser, portal_url, applicant, language=language, width=1280)
    # Console errors (CSP refusals, error responses, uncaught exceptions) of every page, checked at the end.
    errors = console_errors(page)

    # 1. The welcome page: Enroll now, then Before you begin.
    page.goto(portal_url + "/welcome/")
    expect_lang(page, language)
    enroll_card = page.locator("article.card").filter(
        has=page.get_by_role("heading", level=2, name=glossary["indirect_reseller"], exact=True)
    )
    expect(enroll_card).to_contain_text(glossary["global_administrator"])
    enroll_card.get_by_role("link", name=glossary["enroll_now"], exact=True).click()
    expect(heading(page, glossary["indirect_reseller"])).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("heading", level=2, name=t("Before you begin"), exact=True)).to_be_visible()
    page.get_by_role("button", name=glossary["next"], exact=True).click()

    # 2. The directory tenant: Create a new tenant.
    expect(heading(page, t("Directory tenant"))).to_be_visible(timeout=WAIT)
    page.get_by_role("link", name=t("Create a new tenant"), exact=True).click()
    expect(heading(page, t("Create a new tenant"))).to_be_visible(timeout=WAIT)
    field(page, "name").fill(company["tenant_name"])
    field(page, "country").select_option("JP")
    field(page, "initial_domain_label").fill(domain_label)
    field(page, "admin_display_name").fill(company["admin_name"])
    field(page, "admin_password").fill(TENANT_PASSWORD)
    field(page, "admin_password_confirmation").fill(TENANT_PASSWORD)
    page.get_by_role("button", name=t("Create a new tenant"), exact=True).click()

    expect(heading(page, t("Directory tenant"))).to_be_visible(timeout=WAIT)
    verified = page.locator(".card--verified")
    expect_lang(page, language)
    expect(verified).to_contain_text(company["tenant_name"])
    expect(verified).to_contain_text(t("Global administrator"))
    expect(verified.get_by_text(f"{domain_label}.", exact=False).first).to_be_visible()
    verified.get_by_role("link", name=glossary["next"], exact=True).click()

    # 3. The partner membership: sign in, then choose the profile.
    expect(heading(page, t("Partner membership"))).to_be_visible(timeout=WAIT)
    field(page, "username").fill(profile.account.username)
    field(page, "password").fill(MEMBERSHIP_PASSWORD)
    page.get_by_role("button", name=glossary["sign_in"], exact=True).click()

    expect(heading(page, t("Choose your organization profile"))).to_be_visible(timeout=WAIT)
    page.get_by_role("radio", name=re.compile(re.escape(profile.legal_name))).check()
    page.get_by_role("button", name=glossary["continue"], exact=True).click()

    # 4. The organization details.
    expect(heading(page, t("Organization details"))).to_be_visible(timeout=WAIT)
    expect_lang(page, language)
    field(page, "legal_name").fill(company["legal_name"])
    field(page, "address_line1").fill(company["address_line1"])
    field(page, "city").fill(company["city"])
    field(page, "region").select_option(TOKYO)
    field(page, "postal_code").fill("100-0001")
    field(page, "contact_name").fill(company["contact_name"])
    field(page, "contact_email").fill(CONTACT_EMAIL)
    field(page, "contact_phone").fill("03-1234-5678")
    field(page, "support_email").fill("support@tailspin.jp")
    field(page, "support_phone").fill("03-1234-5679")
    field(page, "support_website").fill(WEBSITE)
    page.get_by_role("button", name=glossary["next"], exact=True).click()

    # 5. Review, and Enroll now.
    expect(heading(page, t("Review and enroll"))).to_be_visible(timeout=WAIT)
    expect_lang(page, language)
    summary = page.locator(".summary")
    expect(summary).to_contain_text(company["legal_name"])
    expect(summary).to_contain_text(CONTACT_EMAIL)
    expect(summary).to_contain_text(profile.partner_id)
    page.get_by_role("button", name=glossary["enroll_now"], exact=True).click()

    expect(heading(page, company["legal_name"])).to_be_visible(timeout=WAIT)
    expect(status_badge(page)).to_have_text(t("Awaiting contact confirmation"))
    expect(
        page.get_by_text(
            t("Your application was submitted. We emailed %(email)s to confirm it.", email=CONTACT_EMAIL)
        )
    ).to_be_visible()
    expect_lang(page, language)
    application = EnrollmentApplication.objects.get(applicant=applicant)
    assert application.status == ApplicationStatus.AWAITING_CONFIRMATION
    assert (application.country.code, application.region, application.contact_phone) == (
        "JP",
        TOKYO,
        "+81312345678",
    )
    assert application.contact_language == language

    # 6. The primary contact opens the emailed link in a browser of their own, signed out, and confirms.
    # The stored email keeps no usable link once sent: the link is read from the message the worker
    # handed to the mail server (pytest-django's in-memory backend).
    email = OutboxEmail.objects.get(template="enrollment_contact_confirmation", to=CONTACT_EMAIL)
    assert email.language == language
    delivered = wait_until(
        lambda: [message for message in mailoutbox if message.to == [CONTACT_EMAIL]],
        timeout=CHECKS_TIMEOUT,
        message="the worker did not deliver the confirmation email",
    )
    assert len(delivered) == 1
    link = LINK_RE.search(delivered[0].body)
    assert link, delivered[0].body
    contact_page = browser.new_context(locale=LOCALES[language]).new_page()
    contact_errors = console_errors(contact_page)
    contact_page.goto(portal_url + link.group(1))
    expect(contact_page.get_by_role("heading", level=1)).to_contain_text(company["legal_name"], timeout=WAIT)
    expect_lang(contact_page, language)
    contact_page.get_by_label(
        t("I am the person who registered this enrollment, or I authorised it.")
    ).check()
    contact_page.get_by_label(
        t(
            "The email address %(email)s belongs to %(company)s.",
            email=CONTACT_EMAIL,
            company=company["legal_name"],
        )
    ).check()
    contact_page.get_by_role("button", name=t("Confirm"), exact=True).click()
    expect(heading(contact_page, t("Thank you: the enrollment is confirmed"))).to_be_visible(timeout=WAIT)
    contact_page.context.close()

    # 7. The worker runs the checks; the tracker shows them all passed, and the application in review.
    tracker_reload_until(page, t("In review"))
    check_labels = [t(kind.label) for kind in CHECKS]
    expect(page.locator(".tracker-check__name")).to_have_text(check_labels)
    expect(page.locator(".tracker-check .badge")).to_have_text([t(CheckStatus.PASSED.label)] * len(CHECKS))
    expect_lang(page, language)

    # 8. The reviewer opens the application from the queue and asks for a document.
    review = signed_in_page(browser, portal_url, reviewer, language=language, width=1280)
    review_errors = console_errors(review)
    review.goto(portal_url + "/review/")
    expect_lang(review, language)
    review.get_by_role("link", name=capfirst(t("enrollment applications")), exact=True).first.click()
    review.get_by_role("link", name=company["legal_name"], exact=True).click()
    expect(review.locator("#review-checks .check-status")).to_have_text(
        [t(CheckStatus.PASSED.label)] * len(CHECKS), timeout=WAIT
    )
    review.get_by_role("link", name=t("Request more information"), exact=True).click()
    review.get_by_label(t(InformationItem.DOCUMENT.label)).check()
    message = "Please upload your certificate of registration, issued within three months."
    review.get_by_label(t("Message to the applicant")).fill(message)
    review.get_by_role("button", name=t("Send the request"), exact=True).click()
    expect(
        review.get_by_text(
            t("More information is requested from the applicant of %(name)s.", name=company["legal_name"])
        )
    ).to_be_visible(timeout=WAIT)

    # 9. The applicant reads the request, uploads the document and resubmits; the checks run again.
    page.reload()
    expect(status_badge(page)).to_have_text(t("More information requested"))
    expect(page.locator(".reviewer-message")).to_have_text(message)
    expect(page.locator(".tracker-request__items")).to_have_text(t(InformationItem.DOCUMENT.label))
    page.get_by_role("link", name=t("Answer the reviewer"), exact=True).click()
    expect(heading(page, t("Answer the reviewer"))).to_be_visible(timeout=WAIT)
    expect_lang(page, language)
    certificate = tmp_path / "certificate-of-registration.pdf"
    certificate.write_bytes(PDF)
    field(page, "document").set_input_files(certificate)
    page.get_by_role("button", name=t("Upload"), exact=True).click()
    expect(
        page.get_by_text(
            t("%(name)s was uploaded. Upload another file if needed, then resubmit.", name=certificate.name)
        )
    ).to_be_visible(timeout=WAIT)
    expect(page.locator(".tracker-documents")).to_contain_text(certificate.name)
    page.get_by_role("button", name=t("Resubmit"), exact=True).click()
    expect(
        page.get_by_text(
            t("Your answer was sent. The automated checks run again, then a reviewer looks at it.")
        )
    ).to_be_visible(timeout=WAIT)
    tracker_reload_until(page, t("In review"))
    expect(page.locator(".tracker-check .badge")).to_have_text([t(CheckStatus.PASSED.label)] * len(CHECKS))

    # 10. The reviewer sees the document and approves.
    review.reload()
    expect(review.locator("#review-documents")).to_contain_text(certificate.name, timeout=WAIT)
    review.get_by_role("link", name=t("Approve"), exact=True).click()
    review.get_by_role("button", name=t("Approve"), exact=True).click()
    expect(
        review.get_by_text(
            t(
                "%(name)s is approved: the reseller organization exists and the applicant is its "
                "Global admin.",
                name=company["legal_name"],
            )
        )
    ).to_be_visible(timeout=WAIT)

    # 11. The applicant's tracker says so and leads to the new organization's dashboard.
    page.reload()
    expect(status_badge(page)).to_have_text(t("Approved"))
    page.get_by_role("link", name=t("Go to your organization's dashboard"), exact=True).click()
    expect(heading(page, t("Dashboard"))).to_be_visible(timeout=WAIT)
    expect_lang(page, language)
    expect(page.locator(".lead")).to_contain_text(company["legal_name"])
    expect(
        page.get_by_role("listitem").filter(has_text=re.compile(f"^{glossary['global_admin']}$"))
    ).to_be_visible()

    # 12. The Admin agent card: one click puts the Global admin in the group.
    agent_card = page.locator("article.card").filter(
        has=page.get_by_role("heading", level=2, name=t("Admin agent group"), exact=True)
    )
    expect(agent_card).to_be_visible()
    agent_card.get_by_role("button", name=t("Add me to the Admin agent group"), exact=True).click()
    expect(page.get_by_text(t("You are now in the Admin agent group."))).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("button", name=t("Add me to the Admin agent group"))).to_have_count(0)

    # Then: one reseller organization, its applicant a Global admin and Admin agent; the trail stored.
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.decided_by == reviewer
    organization = Organization.objects.get(pk=application.organization_id)
    assert organization.legal_name == company["legal_name"]
    membership = Membership.objects.get(organization=organization, user=applicant)
    assert sorted(membership.roles.values_list("role", flat=True)) == sorted(
        [Role.ADMIN_AGENT, Role.GLOBAL_ADMIN]
    )
    assert list(
        ApplicationDocument.objects.filter(application=application).values_list(
            "original_name", "content_type"
        )
    ) == [(certificate.name, "application/pdf")]
    assert set(EnrollmentCheck.objects.filter(application=application).values_list("status", flat=True)) == {
        CheckStatus.PASSED
    }
    assert (errors, contact_errors, review_errors) == ([], [], [])

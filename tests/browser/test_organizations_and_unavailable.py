"""A member of many organizations finds them all from the switcher; the 503 page reads well. In Chromium,
in both languages, at desktop and phone widths (axe-core checks every page)."""

import os
import re
from pathlib import Path

import pytest
from django.test import RequestFactory

from accounts.roles import Role
from accounts.selectors import SWITCHER_SIZE
from portal.views import error_503
from tests.browser.helpers import signed_in_page
from tests.factories.accounts import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("REVIEW_SCREENSHOTS")
HEADINGS = {"en": "Your organizations", "ja": "所属する組織"}
ALL_LINK = {"en": "All your organizations", "ja": "所属するすべての組織"}
UNAVAILABLE = {"en": "Temporarily unavailable", "ja": "一時的に利用できません"}


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_switcher_leads_to_every_organization(browser, portal_url, language, width):
    user = UserFactory(full_name="Aiko Sato")
    organizations = [
        OrganizationFactory(kind="reseller", legal_name=f"Organization {number:02d} KK")
        for number in range(SWITCHER_SIZE + 3)
    ]
    for organization in organizations:
        MembershipFactory(user=user, organization=organization, roles=[Role.GLOBAL_ADMIN])
    page = signed_in_page(browser, portal_url, user, language=language, width=width)

    page.goto(f"{portal_url}/o/{organizations[0].public_id}/")
    page.locator("details.switcher > summary").click()
    switcher = page.locator("details.switcher ul")
    assert switcher.locator("li").count() == SWITCHER_SIZE + 1
    _shot(page, f"switcher-{language}-{width}")
    switcher.get_by_role("link", name=ALL_LINK[language]).click()

    page.get_by_role("heading", name=HEADINGS[language], level=1).wait_for()
    names = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert names == [organization.legal_name for organization in organizations]
    width_of_page = page.evaluate("document.documentElement.scrollWidth")
    assert width_of_page <= width
    _shot(page, f"organizations-{language}-{width}")

    page.get_by_role("link", name="Organization 12 KK").click()
    assert re.search(rf"/o/{organizations[12].public_id}/$", page.url)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_unavailable_page_reads_well(browser, portal_url, language, width):
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE=language)
    html = error_503(request).content.decode()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    # The page as the portal answers it, served from the live server's address so that its styles load.
    page.route(
        f"{portal_url}/unavailable/",
        lambda route: route.fulfill(status=503, body=html, content_type="text/html; charset=utf-8"),
    )

    response = page.goto(f"{portal_url}/unavailable/")

    assert response.status == 503
    page.get_by_role("heading", name=UNAVAILABLE[language]).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    _shot(page, f"unavailable-{language}-{width}")

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import choose_language

pytestmark = pytest.mark.browser


def test_home_page_in_english_then_japanese(page, portal_url):
    page.goto(portal_url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cloud Solution Provider program")
    expect(page.get_by_role("link", name="Sign up").first).to_be_visible()

    page.get_by_role("button", name="日本語").click()

    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("link", name="サインイン").first).to_be_visible()
    expect(page.get_by_role("heading", name="間接リセラー")).to_be_visible()
    # The choice sticks: a fresh visit stays Japanese (cookie, no URL prefix).
    page.goto(portal_url + "/")
    assert not re.search(r"/ja/", page.url)
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_home_page_loads_its_own_stylesheet(page, portal_url, language):
    choose_language(page.context, portal_url, language)
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    responses = []
    page.on("response", lambda response: responses.append((response.url, response.status)))
    page.goto(portal_url + "/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert failed == []
    css = [status for url, status in responses if url.endswith("/static/css/portal.css")]
    assert css == [200]
    background = page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor")
    assert background == "rgb(11, 61, 145)"

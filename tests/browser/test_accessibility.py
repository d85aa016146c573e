"""The accessibility monitor itself (accessibility.py): it finds violations on a page no test asked it to
check, in every browser context, also on a page the journey leaves at once or fills with set_content;
a navigation in the middle of a run moves the check to the new page; and a test that opened a bad page
fails. The bad pages are fulfilled by a route of the test's own page: the portal's URLconf has no
test-only view."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# No lang, an image without text, an empty link, an unlabelled field, a low contrast text.
BAD_PAGE = """<!DOCTYPE html><html><head><title>Bad</title></head><body><main>
<h1>A bad page</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<a href="/"></a>
<input type="text" name="q">
<p style="color:#bbb;background:#fff">Hard to read</p>
</main></body></html>"""


def serve(page, path, html):
    """Answer ``path`` of this page with ``html`` (no CSP header: the page may run its own script)."""
    page.route(f"**{path}", lambda route: route.fulfill(content_type="text/html; charset=utf-8", body=html))


def test_a_bad_page_is_reported_with_url_rule_impact_help_and_nodes(browser, portal_url, accessibility):
    page = browser.new_context().new_page()  # watched like pytest-playwright's own page
    serve(page, "/a11y-probe/bad/", BAD_PAGE)

    page.goto(portal_url + "/a11y-probe/bad/")
    expect(page.get_by_role("heading", level=1)).to_have_text("A bad page")
    accessibility.check_open_pages()

    report = accessibility.report()
    assert report.startswith("Accessibility (axe-core, serious and critical violations):\n")
    assert f"{portal_url}/a11y-probe/bad/ [lang=]" in report
    failing = {violation["id"]: violation for violation in accessibility.checks[-1].failing}
    assert set(failing) == {"html-has-lang", "image-alt", "link-name", "label", "color-contrast"}
    assert "  image-alt (critical): Images must have alternative text" in report
    assert "  color-contrast (serious): Elements must meet minimum color contrast ratio thresholds" in report
    assert "    - img  <img src=" in report
    assert "    - input  <input " in report
    accessibility.forget()  # the violations were provoked; the test itself passes
    assert accessibility.report() == ""


def test_a_page_left_before_it_finished_loading_is_still_checked(page, portal_url, accessibility):
    serve(page, "/a11y-probe/bad/", BAD_PAGE)

    # Move on as soon as the bad page commits: the next navigation waits until it has been checked.
    page.goto(portal_url + "/a11y-probe/bad/", wait_until="commit")
    page.goto(portal_url + "/")
    accessibility.settle(page)  # the home page's own check runs beside the test: wait for it

    urls = [check.url for check in accessibility.checks]
    assert urls[:2] == [f"{portal_url}/a11y-probe/bad/", f"{portal_url}/"]
    assert accessibility.checks[0].failing
    assert accessibility.checks[1].language == "en"
    accessibility.forget()


def test_a_navigation_during_a_run_moves_the_check_to_the_new_page(page, portal_url, accessibility):
    # A long page (axe takes a while on it) that leaves for the bad one by itself as soon as axe is at work.
    leave = "setInterval(() => { if (window.axe && axe._running) location.assign('/a11y-probe/bad/'); }, 1);"
    leaving = (
        '<!DOCTYPE html><html lang="en"><head><title>Leaving</title></head><body><main><h1>Leaving</h1>'
        + "".join(f"<p>Paragraph <a href='#{number}'>{number}</a></p>" for number in range(1000))
        + f"<script>{leave}</script></main></body></html>"
    )
    serve(page, "/a11y-probe/leaving/", leaving)
    serve(page, "/a11y-probe/bad/", BAD_PAGE)

    page.goto(portal_url + "/a11y-probe/leaving/")
    expect(page.get_by_role("heading", level=1)).to_have_text("A bad page")
    accessibility.check_open_pages()

    assert accessibility.interruptions >= 1
    assert accessibility.errors == []
    assert [check.url for check in accessibility.checks] == [f"{portal_url}/a11y-probe/bad/"]
    assert accessibility.checks[0].failing
    accessibility.forget()


def test_content_set_in_place_is_checked_as_a_new_document(page, accessibility):
    page.set_content('<!DOCTYPE html><html lang="en"><title>Good</title><main><h1>Good</h1></main></html>')
    page.set_content(BAD_PAGE)
    accessibility.check_open_pages()

    assert [bool(check.failing) for check in accessibility.checks] == [False, True]
    accessibility.forget()


def test_a_page_changed_in_place_is_checked_again_on_request(page, portal_url, axe, accessibility):
    page.goto(portal_url + "/")
    accessibility.settle(page)
    assert [check.url for check in accessibility.checks] == [f"{portal_url}/"]
    page.evaluate("document.querySelector('main').append(document.createElement('button'))")

    assert [violation["id"] for violation in axe(page)] == ["button-name"]
    accessibility.forget()


@pytest.mark.xfail(raises=pytest.fail.Exception, strict=True, reason="the bad page must fail the test")
def test_a_journey_that_opens_a_bad_page_fails(browser, portal_url):
    """Nothing here asks for a check: the test passes its body, then fails (conftest.py), and the strict
    xfail turns a pass into a failure of the suite."""
    page = browser.new_page()
    serve(page, "/a11y-probe/bad/", BAD_PAGE)
    page.goto(portal_url + "/a11y-probe/bad/")
    expect(page.get_by_role("heading", level=1)).to_have_text("A bad page")

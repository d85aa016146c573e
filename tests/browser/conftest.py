"""Browser journeys in Debian's Chromium, driven by Playwright against pytest-django's live server."""

import os

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest

from tests.browser.accessibility import AccessibilityMonitor
from tests.browser.helpers import LANGUAGES

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def portal_url(live_server):
    return live_server.url


@pytest.fixture(params=LANGUAGES)
def language(request) -> str:
    """Every journey runs in English and in Japanese: a test that takes ``language`` runs once in each."""
    return request.param


# --- Accessibility (axe-core) and console errors --------------------------------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    path = os.environ.get("AXE_CORE_PATH", "")
    if not path or not os.path.isfile(path):
        pytest.fail("axe-core is missing: run the browser tests through bin/test, which installs it")
    with open(path, encoding="utf-8") as source:
        return source.read()


@pytest.fixture(autouse=True)
def accessibility(axe_source, monkeypatch):
    """Every page of every browser context this test creates (pytest-playwright's ``page``,
    ``browser.new_context()``, ``browser.new_page()``) is checked with axe-core after each load; the test
    fails when its body ends if any of them has a serious or critical violation (see accessibility.py)."""
    monitor = AccessibilityMonitor(axe_source)
    monitor.install(monkeypatch)
    yield monitor
    monitor.close_contexts()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test whose body passed fails here if a page it opened has a serious or critical violation
    (while its pages are still open: fixtures, pytest-playwright's context among them, end later)."""
    monitor = item.funcargs.get("accessibility")
    if not isinstance(monitor, AccessibilityMonitor):
        return (yield)
    try:
        result = yield
    except BaseException:
        # The test failed on its own: what axe found so far goes with its report.
        monitor.stop()
        if report := monitor.report():
            item.add_report_section("call", "accessibility", report)
        raise
    try:
        monitor.check_open_pages()
    finally:
        monitor.stop()
    if report := monitor.report():
        pytest.fail(report, pytrace=False)
    return result


@pytest.fixture
def axe(accessibility):
    """``axe(page)``: the accessibility violations (every impact) of the page as it is now, e.g. after an
    in-page change that no navigation announces; an empty list when there are none."""
    return accessibility.check_now


@pytest.fixture
def console_errors():
    """``errors = console_errors(page)``: a list that fills with the page's console errors (CSP refusals
    and responses with an error status included), failed loads and uncaught exceptions from then on."""

    def watch(page) -> list[str]:
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.on(
            "requestfailed",
            # A load cut short by the next navigation is not an error of the page.
            lambda request: (
                errors.append(f"failed: {request.url}") if request.failure != "net::ERR_ABORTED" else None
            ),
        )
        return errors

    return watch

"""Browser journeys in Debian's Chromium, driven by Playwright against pytest-django's live server."""

import os

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest

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


# --- Accessibility (axe-core) and console errors --------------------------------------------------------

# WCAG 2.2 A/AA and axe's best practices. axe's CSSOM preload is off: it injects <style> elements that our
# CSP (rightly, style-src 'self') refuses, which would only add console errors; its one user, the
# css-orientation-lock rule, has nothing to find (neither our stylesheets nor Django admin's lock it).
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "preload": False,
}


@pytest.fixture(scope="session")
def axe_source() -> str:
    path = os.environ.get("AXE_CORE_PATH", "")
    if not path or not os.path.isfile(path):
        pytest.fail("axe-core is missing: run the browser tests through bin/test, which installs it")
    with open(path, encoding="utf-8") as source:
        return source.read()


@pytest.fixture
def axe(axe_source):
    """``axe(page)``: the accessibility violations of the page as it is now (an empty list when none).

    axe is evaluated in the page rather than added as a <script> element, which the CSP would block."""

    def run(page) -> list[dict]:
        page.evaluate(axe_source)
        return page.evaluate(
            """async (options) => {
                const result = await axe.run(document, options);
                return result.violations.map((violation) => ({
                    id: violation.id,
                    impact: violation.impact,
                    help: violation.help,
                    nodes: violation.nodes.map((node) => node.target.join(" ")),
                }));
            }""",
            AXE_OPTIONS,
        )

    return run


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

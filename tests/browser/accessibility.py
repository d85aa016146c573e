"""axe-core on every page a browser journey opens, without the test asking for it.

The ``accessibility`` fixture (conftest.py) hands every browser context the test creates to an
``AccessibilityMonitor``, which checks each document of each of its pages once, after it has loaded:

- on the page's ``load`` event;
- before the test acts on the page (goto, reload, click, fill, press, ... on the page, a locator, the
  keyboard or the mouse; closing the page or its context): the action waits until the document it acts on
  has been checked, so that a test that moves on at once loses no page;
- when the test body ends (``pytest_runtest_call`` in conftest.py).

Chromium does not run a page's scripts for DevTools while a navigation of that page is pending, so the
check cannot wait inside the navigation (e.g. in a route): it happens before the action that starts it.
axe is evaluated in the page (``page.evaluate(<axe.min.js>)``): our Content-Security-Policy refuses an
injected ``<script>``. One axe run at a time per page (axe refuses a second concurrent one); a document is
marked checked inside the page, so a new document (also after ``page.set_content``) is checked again and
one already checked is not. A navigation that destroys the document during a run is not an error: the run
is retried on the new document.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import time

from playwright.sync_api import Browser, BrowserContext, Keyboard, Locator, Mouse, Page
from playwright.sync_api import Error as PlaywrightError

# WCAG 2.2 A/AA and axe's best practices. axe's CSSOM preload is off: it injects <style> elements that our
# CSP (rightly, style-src 'self') refuses, which would only add console errors; its one user, the
# css-orientation-lock rule, has nothing to find (neither our stylesheets nor Django admin's lock it).
# Only violations are wanted: axe then keeps one node of each other result type, which is quicker.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "preload": False,
    "resultTypes": ["violations"],
}

# A journey fails on these; the others are collected (``AccessibilityMonitor.violations``) for tests that
# hold a page to a stricter standard.
FAILING_IMPACTS = ("serious", "critical")

# How long a check waits for the document to finish loading, in ms.
LOAD_TIMEOUT = 10_000

# Playwright's messages when a navigation or a closing page ends an evaluation.
INTERRUPTED = re.compile(
    r"Execution context was destroyed|navigation|Frame was detached|has been closed|Target closed",
    re.IGNORECASE,
)

RUN_AXE = """async ([options, loadTimeout, again]) => {
    const html = document.documentElement;
    // A new page's about:blank is nothing to check, the content page.set_content puts there is.
    const blank = location.protocol === "about:" && !document.body?.childElementCount;
    if (blank || document.contentType !== "text/html" || !html) return { status: "skipped" };
    // Keyed by the root element, which page.set_content and document.write replace too.
    const checked = (window.__accessibilityChecked ??= new WeakSet());
    if (checked.has(html) && !again) return { status: "skipped" };
    if (document.readyState !== "complete") {
        await new Promise((resolve) => {
            window.addEventListener("load", resolve, { once: true });
            setTimeout(resolve, loadTimeout);
        });
        if (document.readyState !== "complete") return { status: "not loaded", url: location.href };
    }
    if (typeof axe === "undefined") return { status: "no axe" };
    checked.add(html);
    let result;
    try {
        result = await axe.run(document, options);
    } catch (error) {
        checked.delete(html);
        throw error;
    }
    return {
        status: "checked",
        url: location.href,
        language: html.lang,
        violations: result.violations.map((violation) => ({
            id: violation.id,
            impact: violation.impact,
            help: violation.help,
            nodes: violation.nodes.map((node) => ({ target: node.target.join(" "), html: node.html })),
        })),
    }
}"""


@dataclasses.dataclass(frozen=True)
class Check:
    """One document checked: where, in which language, and what axe found (every impact)."""

    url: str
    language: str
    violations: list[dict]

    @property
    def failing(self) -> list[dict]:
        return [violation for violation in self.violations if violation["impact"] in FAILING_IMPACTS]


# The actions that may leave the page or change it: before each, the page's current document is checked.
ACTIONS = {
    Page: (
        "goto", "reload", "go_back", "go_forward", "set_content", "close", "click", "dblclick", "tap",
        "fill", "type", "press", "check", "uncheck", "set_checked", "select_option", "dispatch_event",
        "set_input_files", "hover", "drag_and_drop",
    ),
    Locator: (
        "click", "dblclick", "tap", "fill", "clear", "type", "press", "press_sequentially", "check",
        "uncheck", "set_checked", "select_option", "dispatch_event", "set_input_files", "hover", "drag_to",
    ),
    Keyboard: ("down", "insert_text", "press", "type"),
    Mouse: ("click", "dblclick", "down"),
}  # fmt: skip


@dataclasses.dataclass
class _PageState:
    # Whether the page may show a document not checked yet: set by each main-frame navigation.
    unchecked: bool = True
    # Whether an axe run is under way in the page.
    busy: bool = False


class AccessibilityMonitor:
    def __init__(self, axe_source: str, options: dict | None = None):
        self.axe_source = axe_source
        self.options = options or AXE_OPTIONS
        self.checks: list[Check] = []
        # Checks that could not run for a reason other than a navigation or a closing page.
        self.errors: list[str] = []
        # Runs that a navigation interrupted (and that went on on the new document).
        self.interruptions = 0
        self._pages: dict[int, tuple[Page, _PageState]] = {}
        self._inputs: dict[int, Page] = {}  # id of a page's keyboard or mouse: the page
        self._contexts: list[BrowserContext] = []
        self._closed_contexts: set[int] = set()
        self._stopped = False

    # --- Watching ---------------------------------------------------------------------------------------

    def install(self, monkeypatch) -> None:
        """Watch every context the test creates, and check before each action (see ACTIONS)."""
        monitor = self
        new_context = Browser.new_context
        new_page = Browser.new_page

        def new_watched_context(browser, *args, **kwargs):
            context = new_context(browser, *args, **kwargs)
            monitor.watch(context)
            return context

        def new_watched_page(browser, *args, **kwargs):
            page = new_page(browser, *args, **kwargs)
            monitor.watch(page.context)
            return page

        monkeypatch.setattr(Browser, "new_context", new_watched_context)
        monkeypatch.setattr(Browser, "new_page", new_watched_page)
        for cls, names in ACTIONS.items():
            for name in names:
                monkeypatch.setattr(cls, name, self._checked_first(getattr(cls, name)))
        close = BrowserContext.close

        def close_checked(context, *args, **kwargs):
            for page in context.pages:
                monitor.settle(page)
            return close(context, *args, **kwargs)

        monkeypatch.setattr(BrowserContext, "close", close_checked)

    def _checked_first(self, action):
        monitor = self

        @functools.wraps(action)
        def checked_first(target, *args, **kwargs):
            page = target if isinstance(target, Page) else monitor._page_of(target)
            if page is not None:
                monitor.settle(page)
            return action(target, *args, **kwargs)

        return checked_first

    def _page_of(self, target) -> Page | None:
        if isinstance(target, Locator):
            return target.page
        return self._inputs.get(id(target))

    def watch(self, context: BrowserContext) -> None:
        """Check every page of ``context``, those it has and those it will open."""
        if any(known is context for known in self._contexts):
            return
        self._contexts.append(context)
        context.on("close", lambda: self._closed_contexts.add(id(context)))
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)

    def _watch_page(self, page: Page) -> None:
        if id(page) in self._pages:
            return
        state = _PageState()
        self._pages[id(page)] = (page, state)
        self._inputs[id(page.keyboard)] = page
        self._inputs[id(page.mouse)] = page

        def navigated(frame) -> None:
            if frame.parent_frame is None:
                state.unchecked = True

        page.on("framenavigated", navigated)
        page.on("load", self._loaded)

    def _loaded(self, page: Page) -> None:
        # Also after page.set_content, which no navigation announces. A listener's exception would surface
        # nowhere useful: keep it for the report instead.
        try:
            self.check(page)
        except Exception as error:
            self.errors.append(f"{page.url}: the check after load failed: {error!r}")

    # --- Checking ---------------------------------------------------------------------------------------

    def settle(self, page: Page) -> None:
        """Return once the page's current document has been checked (or needs no check)."""
        entry = self._pages.get(id(page))
        if entry is None or not self._wait_until_idle(page):
            return
        if entry[1].unchecked:
            self.check(page)

    def check(self, page: Page, *, again: bool = False) -> Check | None:
        """Check the page's current document unless it is checked already (or ``again``), once it has
        loaded. Never raises: a navigation during the run means the run is repeated on the new document, a
        closed page needs no check, anything else is kept in ``errors``."""
        if self._stopped or not self._wait_until_idle(page):
            return None
        state = self._pages[id(page)][1]
        state.busy = True
        try:
            for _ in range(5):
                state.unchecked = False  # until the next navigation
                try:
                    result = page.evaluate(RUN_AXE, [self.options, LOAD_TIMEOUT, again])
                    if result["status"] == "no axe":
                        page.evaluate(self.axe_source)
                        result = page.evaluate(RUN_AXE, [self.options, LOAD_TIMEOUT, again])
                except PlaywrightError as error:
                    if page.is_closed():
                        return None
                    if INTERRUPTED.search(error.message):
                        self.interruptions += 1
                        continue  # a new document: check that one
                    self.errors.append(f"{page.url}: axe could not run: {error.message}")
                    return None
                if result["status"] == "checked":
                    check = Check(result["url"], result["language"], result["violations"])
                    self.checks.append(check)
                    return check
                if result["status"] == "not loaded":
                    self.errors.append(f"{result['url']}: did not finish loading in {LOAD_TIMEOUT} ms")
                return None
            self.errors.append(f"{page.url}: navigations kept interrupting axe")
            return None
        finally:
            state.busy = False

    def _wait_until_idle(self, page: Page) -> bool:
        """Wait for the run under way in this page (another listener's) to end; False if the page closed."""
        entry = self._pages.get(id(page))
        if entry is None:
            return False
        deadline = time.monotonic() + 60
        while entry[1].busy:
            if page.is_closed() or time.monotonic() > deadline:
                return False
            try:
                page.wait_for_timeout(20)
            except PlaywrightError:
                return False
        return not page.is_closed()

    def check_now(self, page: Page) -> list[dict]:
        """The violations (every impact) of the page as it is now, checked again if it was already."""
        check = self.check(page, again=True)
        assert check is not None, f"{page.url} could not be checked: {self.errors}"
        return check.violations

    def check_open_pages(self) -> None:
        """Check the documents the open pages show now (the test body has ended)."""
        for page, _ in list(self._pages.values()):
            if not page.is_closed():
                self.settle(page)

    def stop(self) -> None:
        """No more checks (the test is over)."""
        self._stopped = True

    # --- Results ----------------------------------------------------------------------------------------

    @property
    def violations(self) -> dict[str, list[dict]]:
        """Every violation found (every impact), by page: ``"<url> [<language>]"``."""
        found: dict[str, list[dict]] = {}
        for check in self.checks:
            if check.violations:
                found.setdefault(f"{check.url} [{check.language}]", []).extend(check.violations)
        return found

    def report(self) -> str:
        """The serious and critical violations and the errors, one block per page; "" when there are none."""
        lines = []
        for check in self.checks:
            if not check.failing:
                continue
            lines.append(f"{check.url} [lang={check.language}]")
            for violation in check.failing:
                lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}")
                for node in violation["nodes"]:
                    lines.append(f"    - {node['target']}  {' '.join(node['html'].split())[:160]}")
        lines.extend(self.errors)
        if not lines:
            return ""
        return "Accessibility (axe-core, serious and critical violations):\n" + "\n".join(lines)

    def forget(self) -> None:
        """Drop what was found so far (a test that provokes violations on purpose)."""
        self.checks.clear()
        self.errors.clear()

    def close_contexts(self) -> None:
        """Close the contexts the test opened itself and left open (pytest-playwright closes its own)."""
        self._stopped = True
        for context in self._contexts:
            if id(context) not in self._closed_contexts:
                with contextlib.suppress(PlaywrightError):  # the browser went away first
                    context.close()

"""The load test (issue 12, point 7), and the HTTP client the benches share. Run on demand::

    .venv/bin/python bench/load.py            # full profile: 50 users for 120 s
    .venv/bin/python bench/load.py --short    # 20 users for 30 s (tests/faults/test_load.py runs it too)
    .venv/bin/python bench/load.py --short --weights browse=100    # another mix, to see what costs what

``run_load(base_url, users, duration, plan=...)`` starts ``users`` simulated users (threads). Each picks an
operation by weight — browse 70 % (GET one organization page of its own reseller or provider), enroll 10 %
(a signed-up person through every step of the enrollment wizard: a new built-in tenant, the membership
sign-in, the profile, the details, **Enroll now**), invite 10 % (its provider invites a reseller: the form,
the draft, **Send**), accept 5 % (opens a partnership invitation link issued to its reseller and
authorises the provider), sign in 5 % (the real sign-in form, Argon2 included) — runs it, thinks 1-5 s,
and again, until ``duration`` seconds or ``max_requests`` requests in all. Every form is posted with the
CSRF token of the page that showed it, as a browser does, with the headers of the one proxy of ours
(``X-Forwarded-Proto: https``, ``X-Forwarded-For``). ``plan_prepare`` makes the people in the server's
database (Django set up, same database and secret key as the server); ``backlog_wait`` and
``ConnectionCount`` give what the goals need after and during the load.

The command line starts the whole stack as bench/throughput.py does (its own PostgreSQL and Redis unless
``DATABASE_URL`` / ``REDIS_URL`` are given; gunicorn with gunicorn.conf.py and the production settings), a
real Celery worker (prefork, 2 processes) and an SMTP sink (aiosmtpd), and prints the table: requests,
p50 / p95 / max per flow and kind (page or form submission, measured at the client), the server's own
times from gunicorn's access log, errors, 5xx, "too many connections" in the logs, the most PostgreSQL
connections at once against max_connections, how long the outbox and the broker queue took to empty after
the load stopped, and the peak RSS of every gunicorn worker and Celery process.

Goals: 0 errors, p95 < 500 ms for pages and < 800 ms for form submissions, no database connection
exhaustion, queues empty within 60 s after the load stops.

Importing this module never sets Django up.
"""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    milliseconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def csrf_token(self) -> str:
        found = CSRF_INPUT.search(self.text)
        if found is None:
            raise FlowError(f"no csrfmiddlewaretoken in the page (status {self.status})")
        return unescape(found.group(1))


@dataclass
class Browser:
    """One user agent: one keep-alive connection, its cookies, and the headers the proxy of ours adds
    (``X-Forwarded-Proto: https``, ``X-Forwarded-For``) so that gunicorn serves it as production does."""

    base_url: str
    forwarded_for: str = "10.0.0.1"
    timeout: float = 30
    cookies: dict[str, str] = field(default_factory=dict)
    reconnects: int = 0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.origin = f"https://{self.host}"
        self.connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {
            "Host": self.host,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": self.forwarded_for,
            "Accept-Language": "en",
            "User-Agent": "csp-portal-bench",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return headers | (extra or {})

    def _remember(self, message: http.client.HTTPMessage) -> None:
        for cookie in message.get_all("Set-Cookie") or []:
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            lowered = attributes.lower()
            if "max-age=0" in lowered or "expires=thu, 01 jan 1970" in lowered:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value.strip('"')

    def request(
        self, method: str, path: str, *, data: dict | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        """One request (redirects not followed). A connection the server closed while idle (keep-alive
        timeout, a worker restarting) is opened again and the request sent once more."""
        body = urlencode(data or {}, doseq=True).encode() if method == "POST" else None
        extra = dict(headers or {})
        if method == "POST":
            extra |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin}
        for attempt in (1, 2):
            reused = self.connection is not None
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=self._headers(extra))
                answer = self.connection.getresponse()
                content = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    self.reconnects += 1
                    continue
                raise
            elapsed = (time.perf_counter() - started) * 1000
            self._remember(answer.msg)
            if answer.will_close:
                self.close()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, content, elapsed)
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> Response:
        return self.request("POST", path, data=data, **kwargs)

    def follow(self, response: Response, *, limit: int = 5) -> Response:
        """Follows redirects (GET) from ``response``; the last response."""
        for _ in range(limit):
            if response.status not in (301, 302, 303, 307, 308):
                return response
            location = urlsplit(urljoin(self.origin + "/", response.location))
            path = location.path + (f"?{location.query}" if location.query else "")
            response = self.get(path)
        return response


@dataclass
class Burst:
    """What a burst of requests on one URL measured."""

    milliseconds: list[float]
    seconds: float
    statuses: dict[int, int]

    @property
    def count(self) -> int:
        return len(self.milliseconds)


def burst(
    browsers: list[Browser],
    path: str,
    *,
    seconds: float,
    max_requests: int,
    check=None,
) -> Burst:
    """Every browser (one thread each) requests ``path`` again and again, until ``seconds`` have passed or
    ``max_requests`` were made in all. ``check(response)`` returns an error message or None."""
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    problems: list[str] = []
    issued = 0
    deadline = time.perf_counter() + seconds

    def run(browser: Browser) -> None:
        nonlocal issued
        while time.perf_counter() < deadline:
            with lock:
                if issued >= max_requests or problems:
                    return
                issued += 1
            response = browser.get(path)
            problem = check(response) if check else None
            with lock:
                latencies.append(response.milliseconds)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if problem:
                    problems.append(problem)

    threads = [threading.Thread(target=run, args=(browser,)) for browser in browsers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if problems:
        raise RuntimeError(f"{path}: {problems[0]}")
    return Burst(latencies, elapsed, statuses)


# --- forms ---------------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Every ``<form>`` of a page: its action and the values a browser would send unchanged (hidden and
    text inputs, checked boxes, textareas, selected options)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "fields": {}})
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        name = values.get("name")
        if tag == "input" and name:
            kind = values.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in values:
                    fields[name] = values.get("value", "on")
            elif kind not in ("submit", "button", "file"):
                fields[name] = values.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and ("selected" in values or self._select not in fields):
            fields[self._select] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def forms_of(response: Response) -> list[dict]:
    parser = _FormParser()
    parser.feed(response.text)
    return parser.forms


def form_with(response: Response, action_ending: str) -> dict:
    """The form whose action ends with ``action_ending`` (an empty action is the page itself)."""
    for form in forms_of(response):
        if form["action"].endswith(action_ending):
            return form
    actions = [form["action"] for form in forms_of(response)]
    raise FlowError(f"no form posting to …{action_ending} (forms: {actions})")


# --- the load test -------------------------------------------------------------------------------

#: the share of each flow among the operations the simulated users run (issue 12, point 7)
WEIGHTS = {"browse": 70, "enroll": 10, "invite": 10, "accept": 5, "sign_in": 5}
PAGE_GOAL_MS = 500
FORM_GOAL_MS = 800
REDIRECTS = (301, 302, 303)


ERROR_TEXT = re.compile(r'class="[^"]*(?:error|alert)[^"]*"[^>]*>(.*?)</(?:p|div|li|ul)>', re.S)
TAGS = re.compile(r"<[^>]+>")


def _page_error(response: Response) -> str:
    """The first error message a form page shows, for the error report."""
    found = ERROR_TEXT.search(response.text)
    return f" ({' '.join(unescape(TAGS.sub(' ', found.group(1))).split())[:200]})" if found else ""


class FlowError(Exception):
    """A flow met an answer it did not expect: counted as an error of the load test."""


@dataclass
class Persona:
    """One simulated user: a member (Global admin) of a reseller and of a provider of their own."""

    email: str
    password: str
    session: str
    pages: list[str]
    invite_path: str
    accept_links: list[str]


@dataclass
class Applicant:
    """A signed-up person without an organization, and the partner-membership account they enroll with."""

    session: str
    username: str
    password: str
    partner_id: str
    legal_name: str
    label: str


@dataclass
class LoadPlan:
    personas: list[Persona]
    applicants: list[Applicant]
    session_cookie: str


@dataclass
class Sample:
    flow: str
    kind: str  # "page" or "form"
    name: str
    milliseconds: float
    status: int


@dataclass
class LoadResult:
    users: int
    seconds: float
    samples: list[Sample]
    errors: list[str]
    flows: dict[str, int]
    skipped: dict[str, int]
    reconnects: int

    def of(self, kind: str) -> list[float]:
        return [sample.milliseconds for sample in self.samples if sample.kind == kind]

    def p95(self, kind: str) -> float:
        values = self.of(kind)
        return percentile(values, 0.95) if values else 0.0

    @property
    def server_errors(self) -> int:
        return sum(1 for sample in self.samples if sample.status >= 500)

    def table(self) -> list[str]:
        lines = [f"{'flow / kind':<22} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"]
        groups: dict[str, list[float]] = {}
        for sample in self.samples:
            groups.setdefault(f"{sample.flow} {sample.kind}", []).append(sample.milliseconds)
        for kind in ("page", "form"):
            groups[f"ALL {kind}s"] = self.of(kind)
        for name, values in groups.items():
            if values:
                lines.append(
                    f"{name:<22} {len(values):>8} {percentile(values, 0.5):>8.0f} "
                    f"{percentile(values, 0.95):>8.0f} {max(values):>8.0f}"
                )
        return lines


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class _User:
    """One simulated user's thread: picks a flow by weight, runs it, thinks, again."""

    def __init__(self, number: int, base_url: str, plan: LoadPlan, shared: _Shared, rng: random.Random):
        self.number = number
        self.base_url = base_url
        self.plan = plan
        self.persona = plan.personas[number % len(plan.personas)]
        self.shared = shared
        self.rng = rng
        self.forwarded_for = f"10.1.{number // 250}.{number % 250 + 1}"
        self.browser = self._browser(self.persona.session)
        self.browsers = [self.browser]

    def _browser(self, session: str | None) -> Browser:
        browser = Browser(self.base_url, forwarded_for=self.forwarded_for)
        if session:
            browser.cookies[self.plan.session_cookie] = session
        return browser

    def _call(self, flow: str, kind: str, name: str, browser: Browser, method: str, path: str, **kwargs):
        if not self.shared.may_request():
            raise _Stop
        response = browser.request(method, path, **kwargs)
        self.shared.record(Sample(flow, kind, name, response.milliseconds, response.status))
        return response

    def page(
        self, flow: str, name: str, path: str, browser: Browser | None = None, expect=(200,)
    ) -> Response:
        response = self._call(flow, "page", name, browser or self.browser, "GET", path)
        if response.status not in expect:
            raise FlowError(f"{flow}: GET {name} answered {response.status} {response.location}")
        return response

    def submit(
        self, flow: str, name: str, path: str, data: dict, browser: Browser | None = None, expect=REDIRECTS
    ) -> Response:
        response = self._call(flow, "form", name, browser or self.browser, "POST", path, data=data)
        if response.status not in expect:
            raise FlowError(
                f"{flow}: POST {name} answered {response.status} {response.location}{_page_error(response)}"
            )
        return response

    # --- the flows ---------------------------------------------------------------------------------

    def browse(self) -> None:
        path = self.rng.choice(self.persona.pages)
        self.page("browse", "organization page", path)

    def enroll(self) -> bool:
        applicant = self.shared.applicant()
        if applicant is None:
            return False
        browser = self._browser(applicant.session)
        self.browsers.append(browser)
        start = self.page("enroll", "start", "/enroll/", browser)
        tenant = self.submit(
            "enroll", "start", "/enroll/", {"csrfmiddlewaretoken": start.csrf_token()}, browser
        )
        root = urlsplit(tenant.location).path.removesuffix("tenant/")  # /enroll/<id>/
        steps = [
            (
                "tenant/new/",
                {
                    "name": f"Load {applicant.label}",
                    "country": "JP",
                    "initial_domain_label": applicant.label,
                    "admin_display_name": "Load Test Admin",
                    "admin_password": "Load-test-tenant-passphrase-42",
                    "admin_password_confirmation": "Load-test-tenant-passphrase-42",
                },
            ),
            ("membership/", {"username": applicant.username, "password": applicant.password}),
            ("membership/profile/", {"partner_id": applicant.partner_id}),
            (
                "details/",
                {
                    "legal_name": applicant.legal_name,
                    "postal_code": "100-0001",
                    "region": "13",
                    "city": "Chiyoda-ku",
                    "address_line1": "1-1 Marunouchi",
                    "contact_name": "Aiko Sato",
                    "contact_email": f"contact@{applicant.label}.example",
                    "contact_phone": "03-1234-5678",
                    "contact_language": "en",
                    "support_email": f"support@{applicant.label}.example",
                    "support_phone": "06-6123-4567",
                    "support_website": f"https://{applicant.label}.example",
                },
            ),
            ("review/", {}),
        ]
        for step, values in steps:
            shown = self.page("enroll", step, root + step, browser)
            fields = {"csrfmiddlewaretoken": shown.csrf_token(), **values}
            self.submit("enroll", step, root + step, fields, browser)
        self.page("enroll", "application", root, browser)
        browser.close()
        self.browsers.remove(browser)
        return True

    def invite(self) -> None:
        path = self.persona.invite_path
        shown = self.page("invite", "invite", path)
        email = f"reseller-{self.number}-{self.shared.next_number()}@load.example"
        values = {
            "csrfmiddlewaretoken": shown.csrf_token(),
            "email": email,
            "partner_id": "",
            "language": "en",
        }
        draft = self.submit("invite", "invite", path, values, expect=(200,))
        send = form_with(draft, "/send/")
        sent = self.submit("invite", "send", send["action"], send["fields"])
        self.browser.follow(sent)

    def accept(self) -> bool:
        link = self.shared.accept_link(self.persona)
        if link is None:
            return False
        landing = self.page("accept", "link", link, expect=REDIRECTS)
        shown = self.page("accept", "invitation", urlsplit(landing.location).path)
        form = form_with(shown, "/accept/")
        accepted = self.submit("accept", "accept", form["action"], {**form["fields"], "consent": "on"})
        self.page("accept", "partnership", urlsplit(accepted.location).path)
        return True

    def sign_in(self) -> None:
        browser = self._browser(None)
        self.browsers.append(browser)
        shown = self.page("sign_in", "sign-in page", "/accounts/login/", browser)
        values = {
            "csrfmiddlewaretoken": shown.csrf_token(),
            "login": self.persona.email,
            "password": self.persona.password,
        }
        signed_in = self.submit("sign_in", "sign in", "/accounts/login/", values, browser)
        self.page(
            "sign_in", "after sign-in", urlsplit(signed_in.location).path, browser, expect=(200, *REDIRECTS)
        )
        browser.close()
        self.browsers.remove(browser)

    def run(self) -> None:
        flows = list(self.shared.weights)
        weights = [self.shared.weights[flow] for flow in flows]
        # With every_flow_first, user n starts with flow n (mod the flows): each flow runs at least once.
        first = flows[self.number % len(flows)] if self.shared.every_flow_first else None
        try:
            while not self.shared.over():
                flow, first = first or self.rng.choices(flows, weights)[0], None
                try:
                    done = getattr(self, flow)()
                except FlowError as error:
                    self.shared.error(str(error))
                except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                    self.shared.error(f"{flow}: {type(error).__name__}: {error}")
                else:
                    self.shared.count(flow, done is not False)
                think = self.rng.uniform(*self.shared.think)
                if self.shared.stopping.wait(think):
                    break
        except _Stop:
            pass
        finally:
            for browser in self.browsers:
                browser.close()


class _Stop(Exception):
    pass


class _Shared:
    def __init__(self, plan: LoadPlan, duration: float, max_requests: int, weights, think, every_flow_first):
        self.lock = threading.Lock()
        self.every_flow_first = every_flow_first
        self.deadline = time.monotonic() + duration
        self.max_requests = max_requests
        self.weights = weights
        self.think = think
        self.stopping = threading.Event()
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self.flows: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.issued = 0
        self.numbers = iter(range(10**9))
        self.applicants = list(plan.applicants)
        self.links = {id(persona): list(persona.accept_links) for persona in plan.personas}

    def over(self) -> bool:
        if time.monotonic() >= self.deadline:
            self.stopping.set()
        return self.stopping.is_set()

    def may_request(self) -> bool:
        with self.lock:
            if self.issued >= self.max_requests or self.over():
                self.stopping.set()
                return False
            self.issued += 1
            return True

    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def count(self, flow: str, done: bool) -> None:
        with self.lock:
            counts = self.flows if done else self.skipped
            counts[flow] = counts.get(flow, 0) + 1

    def next_number(self) -> int:
        with self.lock:
            return next(self.numbers)

    def applicant(self) -> Applicant | None:
        with self.lock:
            return self.applicants.pop() if self.applicants else None

    def accept_link(self, persona: Persona) -> str | None:
        with self.lock:
            links = self.links[id(persona)]
            return links.pop() if links else None


def server_ready(base_url: str, *, timeout: float = 60, warm: int = 20) -> None:
    """Until ``/healthz`` answers 200 (gunicorn accepts connections before its workers have booted), then
    ``warm`` more requests so that every worker has served one; none of this is measured."""
    deadline = time.monotonic() + timeout
    browser = Browser(base_url)
    try:
        while True:
            try:
                if browser.get("/healthz").status == 200:
                    break
            except (OSError, http.client.HTTPException):
                browser.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{base_url}/healthz never answered 200")
            time.sleep(0.2)
        for _ in range(warm):
            browser.close()  # a new connection each time: gunicorn hands it to any worker
            browser.get("/healthz")
    finally:
        browser.close()


def run_load(
    base_url: str,
    users: int,
    duration: float,
    *,
    plan: LoadPlan,
    max_requests: int = 100_000,
    weights: dict[str, int] | None = None,
    think: tuple[float, float] = (0.5, 1.5),
    seed: int = 12,
    every_flow_first: bool = False,
) -> LoadResult:
    """``users`` simulated users (threads, started over the first second) run the flows against
    ``base_url`` for ``duration`` seconds or ``max_requests`` requests in all, whichever comes first, each
    thinking ``think`` seconds (uniform) between two operations. Bounded: a request in flight when time
    is up finishes (or times out after 30 s), nothing new starts. ``every_flow_first``: user n starts
    with the n-th flow, so that with 5 users or more every flow runs at least once."""
    server_ready(base_url)
    shared = _Shared(plan, duration, max_requests, weights or WEIGHTS, think, every_flow_first)
    rng = random.Random(seed)
    simulated = [_User(n, base_url, plan, shared, random.Random(rng.random())) for n in range(users)]
    threads = [threading.Thread(target=user.run, name=f"load-user-{user.number}") for user in simulated]
    started = time.monotonic()
    for thread in threads:
        thread.start()
        time.sleep(1 / max(users, 1))
    for thread in threads:
        thread.join(timeout=duration + 120)
    return LoadResult(
        users=users,
        seconds=time.monotonic() - started,
        samples=shared.samples,
        errors=shared.errors,
        flows=shared.flows,
        skipped=shared.skipped,
        reconnects=sum(browser.reconnects for user in simulated for browser in [user.browser]),
    )


# --- preparing the people (in a process with Django set up, on the server's database) -----------

PASSWORD = "load-test-passphrase-2026"  # noqa: S105 - the simulated users' password, test data only


def plan_prepare(
    *, users: int, applicants: int, accepts_per_user: int, session_for, session_cookie: str | None = None
) -> LoadPlan:
    """The people of a load test, made in the server's database: ``users`` members, each a Global admin
    of a reseller and of a provider of their own (a live partnership between the two), each with
    ``accepts_per_user`` pending partnership invitations (issued through the service by other providers,
    bound to the member's reseller by partner ID), and ``applicants`` signed-up people without an
    organization, each with a partner-membership account and profile to enroll with. One password hash
    is made (with the deployed settings' preferred hasher, once) and shared by every account.
    ``session_for(user)`` returns a signed-in session key in the server's session store, whose cookie is
    ``session_cookie`` (default: this process's SESSION_COOKIE_NAME)."""
    import uuid

    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.test import override_settings
    from django.urls import reverse
    from django.utils.module_loading import import_string

    from accounts.models import Organization, User
    from accounts.roles import Role
    from enrollment.models import MembershipAccount, PartnerProfile
    from portal import settings as deployed_settings
    from portal.invitations.services import invitation_link
    from portal.navigation import pages_open_to
    from providers.models import PartnershipInvitation
    from providers.services.invitations import partnership_invitation_create
    from tests.factories.accounts import MembershipFactory
    from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

    tag = uuid.uuid4().hex[:6]
    # With the deployed settings' preferred hasher, whatever this process's (the tests' is MD5): a hash
    # the server would rehash at sign-in would change the password, and end the user's other sessions.
    hasher = import_string(deployed_settings.PASSWORD_HASHERS[0])()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    partner_ids = iter(
        range(8_000_000 + Organization.objects.filter(partner_id__startswith="8").count(), 9_000_000)
    )

    def person(email: str) -> User:
        user = User.objects.create(email=email, full_name=email.split("@")[0], password=encoded)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        return user

    inviters = []
    for k in range(accepts_per_user):
        provider = ProviderFactory(legal_name=f"Load inviting provider {tag}-{k} KK")
        admin = person(f"load-{tag}-inviter-{k}@load.example")
        inviters.append(MembershipFactory(organization=provider, user=admin, roles=[Role.GLOBAL_ADMIN]))
    personas = []
    for n in range(users):
        user = person(f"load-{tag}-{n}@load.example")
        reseller = ResellerFactory(
            legal_name=f"Load reseller {tag}-{n} KK", partner_id=str(next(partner_ids))
        )
        provider = ProviderFactory(legal_name=f"Load provider {tag}-{n} KK")
        PartnershipFactory(provider=provider, reseller=reseller)
        memberships = [
            MembershipFactory(organization=organization, user=user, roles=[Role.GLOBAL_ADMIN])
            for organization in (reseller, provider)
        ]
        pages = [
            url
            for membership in memberships
            for entry, url in pages_open_to(membership)
            if entry.nav_label or entry.key == "users"
        ]
        links = []
        with override_settings(INVITATIONS_PER_HOUR=10**9):  # this process only: not the server's limit
            for inviter in inviters:
                _invitation, raw_token = partnership_invitation_create(
                    provider=inviter.organization,
                    email=user.email,
                    partner_id=reseller.partner_id,
                    language="en",
                    by=inviter,
                )
                links.append(urlsplit(invitation_link(PartnershipInvitation.PURPOSE, raw_token)).path)
        invite_path = reverse("providers:invite", kwargs={"organization_public_id": provider.public_id})
        personas.append(
            Persona(
                email=user.email,
                password=PASSWORD,
                session=session_for(user),
                pages=pages,
                invite_path=invite_path,
                accept_links=links,
            )
        )
    people = []
    membership_ids = iter(
        range(9_100_000 + PartnerProfile.objects.filter(partner_id__startswith="91").count(), 10**7)
    )
    for m in range(applicants):
        user = person(f"applicant-{tag}-{m}@load.example")
        account = MembershipAccount.objects.create(username=f"load-{tag}-{m}", password=encoded)
        profile = PartnerProfile.objects.create(
            account=account,
            partner_id=str(next(membership_ids)),
            legal_name=f"Load applicant {tag}-{m} KK",
            country="JP",
            location="Tokyo",
        )
        people.append(
            Applicant(
                session=session_for(user),
                username=account.username,
                password=PASSWORD,
                partner_id=profile.partner_id,
                legal_name=profile.legal_name,
                label=f"load{tag}{m}",
            )
        )
    return LoadPlan(
        personas=personas, applicants=people, session_cookie=session_cookie or settings.SESSION_COOKIE_NAME
    )


# --- after the load: queues, connections ---------------------------------------------------------


def backlog(since=None) -> dict[str, int]:
    """What is still to do: outbox emails (queued at ``since`` or later, a datetime) not yet sent
    (pending or sending), failed ones, and the tasks waiting in the broker's queue (Redis)."""
    import redis
    from django.conf import settings

    from portal.celery import queue_names
    from portal.mail.models import OutboxEmail

    rows = OutboxEmail.objects.filter(created_at__gte=since) if since else OutboxEmail.objects.all()
    counts = {
        "outbox unsent": rows.filter(status__in=["pending", "sending"]).count(),
        "outbox failed": rows.filter(status="dead").count(),
        "outbox sent": rows.filter(status="sent").count(),
    }
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        counts["broker queue"] = sum(broker.llen(name) for name in queue_names())
    finally:
        broker.close()
    return counts


def backlog_wait(timeout: float = 60, *, since=None) -> tuple[float | None, dict[str, int]]:
    """Seconds until nothing is left to send (None if still something after ``timeout``), and what was
    left at the end."""
    started = time.monotonic()
    while True:
        left = backlog(since)
        if left["outbox unsent"] == 0 and left["broker queue"] == 0:
            return time.monotonic() - started, left
        if time.monotonic() - started > timeout:
            return None, left
        time.sleep(0.5)


class ConnectionCount:
    """The most connections PostgreSQL had at once (pg_stat_activity, client backends), sampled every
    half second from a connection of its own, and its max_connections."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.most = 0
        self.limit = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as connection:
            self.limit = int(connection.execute("SHOW max_connections").fetchone()[0])
            while not self._stop.wait(0.5):
                count = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                ).fetchone()[0]
                self.most = max(self.most, count)

    def __enter__(self) -> ConnectionCount:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _goal_line(what: str, values: list[float], goal: float) -> str:
    if not values:
        return f"p95 {what}: none made"
    p95 = percentile(values, 0.95)
    return f"p95 {what} {p95:.0f} ms (goal < {goal:g}): {'yes' if p95 < goal else 'NO'}"


ACCESS_LINE = re.compile(r'"(GET|POST) (\S+) HTTP/1\.1" (\d{3}) .* (\d+)ms ')


def server_times(access_log: str) -> list[str]:
    """p50 / p95 of the time gunicorn measured (``%(M)s`` in gunicorn.conf.py's access log format), for
    GET and POST: beside the client's figures, what is the server's and what is waiting in line."""
    times: dict[str, list[float]] = {}
    for found in ACCESS_LINE.finditer(access_log):
        if found.group(2) != "/healthz":  # the readiness checks before the load
            times.setdefault(found.group(1), []).append(float(found.group(4)))
    return [
        f"server time (gunicorn access log) {method}: {len(values)} requests, p50 "
        f"{percentile(values, 0.5):.0f} ms, p95 {percentile(values, 0.95):.0f} ms"
        for method, values in sorted(times.items())
    ]


def report(result: LoadResult, *, drained: float | None, left: dict[str, int], extra: list[str]) -> list[str]:
    """The table, then each goal and whether it is met."""
    rate = len(result.samples) / result.seconds if result.seconds else 0
    lines = [
        f"{result.users} simulated users for {result.seconds:.0f} s: {len(result.samples)} requests "
        f"({rate:.1f}/s); flows run: {dict(sorted(result.flows.items()))}"
        + (f"; skipped (nothing prepared left): {result.skipped}" if result.skipped else ""),
        "",
        *result.table(),
        "",
        f"errors: {len(result.errors)} (goal 0): {'yes' if not result.errors else 'NO'}",
        *[f"  {message}" for message in result.errors[:10]],
        f"server 5xx: {result.server_errors}",
        _goal_line("pages", result.of("page"), PAGE_GOAL_MS),
        _goal_line("form submissions", result.of("form"), FORM_GOAL_MS),
        (
            f"queues empty {drained:.1f} s after the load stopped (goal <= 60 s): yes"
            if drained is not None
            else f"queues NOT empty 60 s after the load stopped: {left}"
        ),
        *extra,
    ]
    return lines


# --- the command line: the whole stack, on its own ------------------------------------------------


def main() -> None:
    import argparse
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from bench import throughput as stack

    parser = argparse.ArgumentParser(description="Load test (issue 12, point 7); full profile by default.")
    parser.add_argument("--short", action="store_true", help="the short profile: 20 users for 30 s")
    parser.add_argument("--users", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"))
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument(
        "--weights", help="another mix, e.g. browse=100 or browse=80,invite=20 (default: the issue's)"
    )
    options = parser.parse_args()
    weights = WEIGHTS
    if options.weights:
        weights = {
            flow: int(share) for flow, share in (item.split("=") for item in options.weights.split(","))
        }
        if not set(weights) <= set(WEIGHTS):
            parser.error(f"--weights: flows are {', '.join(WEIGHTS)}")
    users = options.users or (20 if options.short else 50)
    duration = options.duration or (30 if options.short else 120)
    operations = users * duration / (sum(options.think) / 2)

    from tests.support.services import SmtpSink

    stack.BENCH_VAR.mkdir(parents=True, exist_ok=True)
    sink = SmtpSink()
    sink.controller.start()
    try:
        with stack.services() as (database_url, redis_url):
            env = stack.production_environment(
                database_url,
                redis_url,
                secret_key=os.urandom(32).hex(),
                static_root=stack.BENCH_VAR / "throughput-static",
                port=stack.free_port(),
            )
            env["EMAIL_URL"] = f"smtp://127.0.0.1:{sink.port}"
            development = {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "PORTAL_VAR_DIR": str(stack.BENCH_VAR),
            }
            stack.manage(development, "migrate", "--noinput", "-v0")
            stack.manage(env, "collectstatic", "--noinput", "-v0")
            stack.django_setup(env)
            from django.utils import timezone

            started = time.monotonic()
            plan = plan_prepare(
                users=users,
                applicants=int(operations * WEIGHTS["enroll"] / 100 * 2) + 5,
                accepts_per_user=int(operations * WEIGHTS["accept"] / 100 * 2 / users) + 2,
                session_for=stack.session_for,
            )
            print(f"prepared {users} users in {time.monotonic() - started:.0f} s", file=sys.stderr)
            worker_log = stack.BENCH_VAR / "load-worker.log"
            with worker_log.open("wb") as output:
                worker = subprocess.Popen(
                    [
                        *[str(Path(sys.executable).parent / "celery"), "-A", "portal", "worker"],
                        *["--pool=prefork", "--concurrency=2", "--loglevel=WARNING"],
                        *["--without-gossip", "--without-mingle"],
                    ],
                    cwd=root,
                    env=stack.clean_environment(env),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            try:
                with (
                    stack.gunicorn(env, workers=options.workers, threads=options.threads) as server,
                    stack.PeakMemory(server.process.pid) as web_memory,
                    stack.PeakMemory(worker.pid) as worker_memory,
                    ConnectionCount(database_url) as connections,
                ):
                    since = timezone.now()
                    result = run_load(
                        server.url,
                        users,
                        duration,
                        plan=plan,
                        max_requests=options.max_requests,
                        think=tuple(options.think),
                        weights=weights,
                    )
                    drained, left = backlog_wait(60, since=since)
                    worker_memory.peaks[worker.pid] = stack.PeakMemory.high_water_kb(worker.pid) or 0
                gunicorn_log = server.log.read_text(errors="replace")
            finally:
                worker.terminate()
                worker.wait(timeout=30)
            logs = gunicorn_log + worker_log.read_text(errors="replace")
            access_5xx = sum(1 for found in ACCESS_LINE.finditer(gunicorn_log) if found.group(3)[0] == "5")
            extra = [
                *server_times(gunicorn_log),
                f"gunicorn access log 5xx: {access_5xx}; 'too many connections' in the logs: "
                f"{logs.lower().count('too many connections')}",
                f"PostgreSQL connections at most {connections.most} of max_connections {connections.limit}",
                f"emails delivered to the SMTP sink: {len(sink.messages)}; left: {left}",
                *stack.memory_lines(web_memory.peaks, "gunicorn workers"),
                *stack.memory_lines(worker_memory.peaks, "celery worker (main + pool)"),
                f"server: {server.workers} gunicorn workers x {server.threads} threads; think time "
                f"{options.think[0]:g}-{options.think[1]:g} s between operations",
            ]
            for line in report(result, drained=drained, left=left, extra=extra):
                print(line)
    finally:
        sink.controller.stop()


if __name__ == "__main__":
    main()

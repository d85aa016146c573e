"""Requests per second of the portal's pages beside a bare authenticated view, on gunicorn as deployed
(issue 12, point 5), printed as a table. Run on demand, never in the test suite.

What it does:

1. Without ``DATABASE_URL`` it starts its own PostgreSQL (port 47621) and Redis (47622) under
   ``/tmp/csp-throughput`` (stopped by PID at the end, whatever happens); with ``DATABASE_URL`` (and
   ``REDIS_URL``) it uses those. It migrates, loads the demo (``manage.py load_demo``) and adds volume to
   the demo reseller Fabrikam Cloud Solutions: 300 more members in every role, 3,000 activity events over
   90 days, 40 more customers shared with the demo provider Contoso (each with a subscription), and
   Contoso 60 more indirect resellers.
2. It starts gunicorn as deployed: ``gunicorn portal.wsgi -c gunicorn.conf.py`` (workers and threads from
   gunicorn.conf.py, i.e. ``WEB_CONCURRENCY`` / ``WEB_THREADS`` or 2 x cores + 1 workers of 2 threads;
   ``--workers`` / ``--threads`` override them through those variables), bound to loopback, with
   ``DJANGO_ENV=production`` and a complete production environment (the one tests/support/processes.py
   uses), ``TRUSTED_PROXY_COUNT=1`` as in docker-compose.yml: the load generator plays nginx and sends
   ``X-Forwarded-Proto: https``. The only difference: ``DJANGO_SETTINGS_MODULE=bench.throughput_settings``,
   the portal's settings plus the bare view ``/bench/bare/`` (login required, a few bytes, no template,
   no query of its own), which never exists in production.
3. Signed-in sessions are created directly (``SessionStore`` with the user's auth hash, in the shared
   database and cache): no Argon2 sign-in during the run. Three members: Fabrikam's Global admin
   (reseller), Contoso's Global admin (provider) and Sakura Logistics' Global admin (customer).
4. For the bare view and every organization page of the side navigation of each member (plus User
   management), ``--clients`` threads (default workers x threads), each with its own keep-alive
   connection, request the page again and again for ``--seconds`` or ``--requests``, whichever comes
   first. The targets take turns, ``--rounds`` times, so that a busy machine slows them down alike. The
   bare view is measured as each of the three members, so each page's ratio is against the bare view
   of its own member.
5. The table: req/s, p50 and p99 (milliseconds, at the client), the ratio of req/s to the bare view,
   the query count of one request (through Django's test client, same settings), and whether the goal
   is met (organization dashboard >= 0.7, every other page >= 0.5). The ratio is the median of the
   rounds' ratios, each round's page against the same round's bare view of its member, measured seconds
   before it (``rounds``: the lowest and highest of them); pooling every round's requests instead let a
   neighbour's burst of work on a shared machine move a page by 0.1 or more between runs. Then the peak
   RSS (VmHWM) of every gunicorn worker seen (workers are the master's children, sampled every half
   second: a worker that max_requests replaced keeps its figure) against the goal of 150 MB.
6. ``--profile``: cProfile of ``--profile-requests`` requests of each page that misses its goal, through
   Django's test client, the top functions written to ``var/bench/throughput-profiles/``.

Usage::

    .venv/bin/python bench/throughput.py                       # defaults: 3 rounds of 4 s per target
    .venv/bin/python bench/throughput.py --rounds 1 --seconds 2 --profile
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/throughput.py
    .venv/bin/python bench/throughput.py --memo-entries 0          # every fragment rendered anew

The pages print their shell, cards and rows through ``{% memo %}`` (portal/memo.py): after each page's
first requests (the warm-up) a worker prints an unchanged row from its memo, as it does for any member who
opens a page again while its rows stay the same. ``--memo-entries 0`` measures a worker that keeps none,
as on the first visit of every page.

Goals (issue 12): organization dashboard >= 0.7 of the bare view's req/s, User management and every other
organization page >= 0.5, peak RSS <= 150 MB per worker.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing
import os
import pstats
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import Browser, Burst, burst  # noqa: E402
from tests.support.processes import CONFIG_VARIABLES  # noqa: E402

PG_PORT = 47621
REDIS_PORT = 47622
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SERVICES_DIR = Path("/tmp/csp-throughput")  # noqa: S108 - a bench's own throwaway services
BENCH_VAR = ROOT / "var" / "bench"
SEED_MARKER = "bench-member-0@fabrikam.example"
BARE = "/bench/bare/"
DASHBOARD_GOAL = 0.7
PAGE_GOAL = 0.5
RSS_GOAL_MB = 150


# --- services ------------------------------------------------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the process listening on {port} stopped (status {process.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


@contextlib.contextmanager
def services() -> Iterator[tuple[str, str]]:
    """``(database_url, redis_url)``: the environment's, or a PostgreSQL and a Redis of our own."""
    if os.environ.get("DATABASE_URL"):
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            raise SystemExit("with DATABASE_URL, set REDIS_URL too (production sessions live in the cache)")
        yield os.environ["DATABASE_URL"], redis_url
        return
    shutil.rmtree(SERVICES_DIR, ignore_errors=True)
    SERVICES_DIR.mkdir(parents=True)
    data = SERVICES_DIR / "pg"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(SERVICES_DIR, "postgres")
        shutil.chown(data, "postgres")
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(
        _as_postgres(
            [
                *[str(PG_BIN / "initdb"), "-D", str(data / "data"), "-U", "postgres", "-A", "trust"],
                *["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            ]
        ),
        **quiet,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {PG_PORT} -k {data} -c max_connections=100"
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data / "data"), "-l", str(data / "server.log"), "-w"]
    subprocess.run(_as_postgres([*pg_ctl, "-o", options, "start"]), **quiet)
    redis_pid = SERVICES_DIR / "redis.pid"
    try:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(PG_PORT),
                "-U",
                "postgres",
                "-q",
                "-c",
                "CREATE DATABASE bench",
            ],
            **quiet,
        )
        subprocess.run(
            [
                *["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--daemonize", "yes"],
                *[
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(SERVICES_DIR),
                    "--pidfile",
                    str(redis_pid),
                ],
            ],
            **quiet,
        )
        _wait_for_port(REDIS_PORT, 10)
        yield f"postgres://postgres@127.0.0.1:{PG_PORT}/bench", f"redis://127.0.0.1:{REDIS_PORT}/0"
    finally:
        if redis_pid.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(redis_pid.read_text().strip()), 15)
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "stop"]), stdout=subprocess.DEVNULL, check=False)


def production_environment(
    database_url: str, redis_url: str, *, secret_key: str, static_root: Path, port: int
) -> dict[str, str]:
    """A complete production configuration (as tests/support/processes.py's PRODUCTION) on our services,
    behind one proxy of ours (docker-compose.yml), with the bench's URLs."""
    broker = redis_url.rsplit("/", 1)[0] + "/1"
    return {
        "DJANGO_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "bench.throughput_settings",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", broker),
        "EMAIL_URL": os.environ.get("EMAIL_URL", "smtp://127.0.0.1:1"),
        "STATIC_ROOT": str(static_root),
        "TRUSTED_PROXY_COUNT": "1",
        "PORT": str(port),
        "PORTAL_VAR_DIR": str(BENCH_VAR),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }


def clean_environment(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES} | env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- gunicorn ------------------------------------------------------------------------------------


class PeakMemory:
    """Peak RSS (VmHWM) of a process's children, sampled every half second in a thread."""

    def __init__(self, parent_pid: int) -> None:
        self.parent_pid = parent_pid
        self.peaks: dict[int, int] = {}  # pid -> kB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def children(parent_pid: int) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent_pid:
                    found.append(int(entry.name))
        return found

    @staticmethod
    def high_water_kb(pid: int) -> int | None:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def sample(self) -> None:
        for pid in self.children(self.parent_pid):
            peak = self.high_water_kb(pid)
            if peak is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0))

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    workers: int
    threads: int
    log: Path


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int | None, threads: int | None) -> Iterator[Server]:
    """``gunicorn portal.wsgi -c gunicorn.conf.py`` bound to loopback, stopped (SIGTERM, then SIGKILL)
    by its PID at the end."""
    env = dict(env)
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    if threads:
        env["WEB_THREADS"] = str(threads)
    worker_count = int(env.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
    thread_count = int(env.get("WEB_THREADS", "2"))
    port = int(env["PORT"])
    log = BENCH_VAR / "throughput-gunicorn.log"
    command = [
        *[str(Path(sys.executable).parent / "gunicorn"), "portal.wsgi", "-c", "gunicorn.conf.py"],
        *["--bind", f"127.0.0.1:{port}"],
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=clean_environment(env), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_port(port, 60, process)
        yield Server(process, f"http://127.0.0.1:{port}", worker_count, thread_count, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- data ----------------------------------------------------------------------------------------


def django_setup(env: dict[str, str]) -> None:
    """Django in this process on the server's very settings (same secret key, database and cache), so
    that the sessions made here are the server's and the test client's profile is the server's."""
    for name in CONFIG_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(env)
    import django

    django.setup()


def manage(env: dict[str, str], *args: str) -> None:
    """``manage.py`` in a subprocess (the demo refuses production: it runs in development settings)."""
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_environment(env),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def seed() -> None:
    """Volume on top of the demo: members, activity, customers and resellers (skipped when present)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Membership, MembershipRole, Organization, User
    from accounts.roles import Role
    from portal.audit.catalogue import action_choices
    from portal.audit.models import AuditEvent
    from tests.factories.commerce import SubscriptionFactory
    from tests.factories.customers import customer_linked
    from tests.factories.providers import PartnershipFactory

    if User.objects.filter(email=SEED_MARKER).exists():
        return
    fabrikam = Organization.objects.get(kind="reseller", legal_name="Fabrikam Cloud Solutions")
    contoso = Organization.objects.get(kind="provider", legal_name="Contoso Distribution KK")
    now = timezone.now()
    roles = [
        Role.SALES_AGENT,
        Role.HELPDESK_AGENT,
        Role.ADMIN_AGENT,
        Role.BILLING_ADMIN,
        Role.USER_MANAGEMENT_ADMIN,
    ]
    no_password = make_password(None)
    users = User.objects.bulk_create(
        User(email=f"bench-member-{n}@fabrikam.example", full_name=f"Bench Member {n}", password=no_password)
        for n in range(300)
    )
    EmailAddress.objects.bulk_create(
        EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users
    )
    memberships = Membership.objects.bulk_create(
        Membership(organization=fabrikam, user=user, created_at=now - timedelta(hours=n))
        for n, user in enumerate(users)
    )
    MembershipRole.objects.bulk_create(
        MembershipRole(membership=membership, role=roles[n % len(roles)])
        for n, membership in enumerate(memberships)
    )
    actions = [code for code, _label in action_choices()]
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=now - timedelta(minutes=43 * n),
            action=actions[n % len(actions)],
            organization_id=fabrikam.pk,
            actor_id=users[n % len(users)].pk,
            actor_label=users[n % len(users)].email,
            target_type="membership",
            target_label=f"Bench Member {(n * 7) % len(users)}",
            after={"n": n},
        )
        for n in range(3000)
    )
    for _ in range(40):
        customer, _relationship, _admin = customer_linked(fabrikam, provider=contoso)
        SubscriptionFactory(customer=customer, reseller=fabrikam, provider=contoso)
    for _ in range(60):
        PartnershipFactory(provider=contoso)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def members() -> dict[str, object]:
    """The signed-in members measured: kind -> Membership."""
    from accounts.models import Membership

    emails = {
        "reseller": "reseller.admin@demo.example",
        "provider": "provider.admin@demo.example",
        "customer": "customer1.admin@demo.example",
    }
    return {
        kind: Membership.objects.select_related("organization", "user").get(
            user__email=email, organization__kind=kind
        )
        for kind, email in emails.items()
    }


def session_for(user) -> str:
    """A signed-in session, as ``django.contrib.auth.login`` leaves it, in the production store."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return store.session_key


def pages(membership) -> list[tuple[str, str]]:
    """``(label, path)``: the organization pages of the member's side navigation, and User management."""
    from portal.navigation import pages_open_to

    found = [(str(entry.nav_label), url) for entry, url in pages_open_to(membership) if entry.nav_label]
    found += [("User management", url) for entry, url in pages_open_to(membership) if entry.key == "users"]
    return found


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Target:
    kind: str
    label: str
    path: str
    session: str
    runs: list[Burst]
    queries: int = 0

    @property
    def name(self) -> str:
        return f"{self.kind}: {self.label}"

    @property
    def requests(self) -> int:
        return sum(run.count for run in self.runs)

    @property
    def rate(self) -> float:
        return self.requests / sum(run.seconds for run in self.runs)

    def latencies(self) -> list[float]:
        return [ms for run in self.runs for ms in run.milliseconds]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def check_response(path: str):
    def check(response) -> str | None:
        if response.status != 200:
            return f"answered {response.status} {response.location}"
        if path == BARE and response.body != b"ok":
            return "the bare view answered something else"
        return None

    return check


def browsers_for(url: str, session: str, count: int) -> list[Browser]:
    from django.conf import settings

    browsers = [Browser(url, forwarded_for=f"10.0.0.{n + 1}") for n in range(count)]
    for browser in browsers:
        browser.cookies[settings.SESSION_COOKIE_NAME] = session
    return browsers


def count_queries(targets: list[Target], members_by_kind: dict) -> None:
    """Each page's queries, one request through Django's test client as its member (after one warming)."""
    from django.db import connection

    from bench.measure import QueryCounter

    for target in targets:
        client = _client(members_by_kind[target.kind].user)
        client.get(target.path, secure=True)
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            client.get(target.path, secure=True)
        target.queries = counter.count


def _client(user):
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.9", HTTP_X_FORWARDED_PROTO="https")
    client.force_login(user)
    return client


def profile(targets: list[Target], members_by_kind: dict, requests: int, directory: Path) -> list[Path]:
    """cProfile of ``requests`` requests of each target through the test client; the top functions."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for target in targets:
        client = _client(members_by_kind[target.kind].user)
        for _ in range(3):
            client.get(target.path, secure=True)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            client.get(target.path, secure=True)
        profiler.disable()
        report = io.StringIO()
        stats = pstats.Stats(profiler, stream=report).strip_dirs()
        report.write(f"{target.name} {target.path}: {requests} requests\n")
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        path = directory / f"{target.kind}-{target.label.lower().replace(' ', '-')}.txt"
        path.write_text(report.getvalue())
        written.append(path)
    return written


def goal(target: Target) -> float | None:
    if target.path == BARE:
        return None
    return DASHBOARD_GOAL if target.label == "Dashboard" else PAGE_GOAL


def round_ratios(target: Target, bare: Target) -> list[float]:
    """The target's req/s over its member's bare view's, round by round: each round measures the bare view
    and then the member's pages within seconds, so a neighbour's burst of work on a shared machine (which
    moved one page's pooled figure by 0.1 or more between runs) weighs on one round's ratio only."""
    return [
        (run.count / run.seconds) / (base.count / base.seconds)
        for run, base in zip(target.runs, bare.runs, strict=True)
    ]


def ratio_of(target: Target, bare: Target) -> float:
    """The median of ``round_ratios``: the ratio the goals are judged by."""
    return statistics.median(round_ratios(target, bare))


def table(targets: list[Target]) -> list[str]:
    bare = {target.kind: target for target in targets if target.path == BARE}
    lines = [
        f"{'page':<38} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} {'rounds':>10} {'goal':>5} "
        f"{'queries':>7} {'requests':>8}  met"
    ]
    for target in targets:
        latencies = target.latencies()
        rounds = round_ratios(target, bare[target.kind])
        ratio = statistics.median(rounds)
        wanted = goal(target)
        met = "" if wanted is None else ("yes" if ratio >= wanted else "NO")
        spread = f"{min(rounds):.2f}-{max(rounds):.2f}"
        lines.append(
            f"{target.name:<38} {target.rate:>7.1f} {percentile(latencies, 0.5):>7.1f} "
            f"{percentile(latencies, 0.99):>7.1f} {ratio:>6.2f} {spread:>10} {wanted or '':>5} "
            f"{target.queries:>7} {target.requests:>8}  {met}"
        )
    return lines


def memory_lines(peaks: dict[int, int], label: str) -> list[str]:
    if not peaks:
        return [f"{label}: no process seen"]
    worst = max(peaks.values()) / 1024
    each = ", ".join(f"{kb / 1024:.0f}" for _pid, kb in sorted(peaks.items()))
    verdict = "yes" if worst <= RSS_GOAL_MB else "NO"
    return [
        f"{label}: peak RSS (VmHWM) per process, MB: {each}",
        f"{label}: highest {worst:.0f} MB over {len(peaks)} processes (goal <= {RSS_GOAL_MB} MB): {verdict}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument("--clients", type=int, help="client threads (default: workers x threads)")
    parser.add_argument("--seconds", type=float, default=4, help="per target and round")
    parser.add_argument("--requests", type=int, default=2000, help="at most, per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="measure only the pages whose name contains this (and the bare view)")
    parser.add_argument("--profile", action="store_true", help="cProfile the pages that miss their goal")
    parser.add_argument("--profile-requests", type=int, default=30)
    parser.add_argument(
        "--memo-entries",
        type=int,
        help="TEMPLATE_MEMO_ENTRIES of the workers (default: the portal's); 0 renders every fragment anew,"
        " as a first visit does",
    )
    options = parser.parse_args()

    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    with services() as (database_url, redis_url):
        secret_key = secrets.token_urlsafe(48)
        static_root = BENCH_VAR / "throughput-static"
        env = production_environment(
            database_url, redis_url, secret_key=secret_key, static_root=static_root, port=free_port()
        )
        if options.memo_entries is not None:
            env["TEMPLATE_MEMO_ENTRIES"] = str(options.memo_entries)
        development = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": env["CELERY_BROKER_URL"],
            "PORTAL_VAR_DIR": str(BENCH_VAR),
            "LOG_LEVEL": "WARNING",
        }
        started = time.perf_counter()
        manage(development, "migrate", "--noinput", "-v0")
        manage(development, "load_demo")
        manage(env, "collectstatic", "--noinput", "-v0")
        django_setup(env)
        seed()
        print(f"migrated and seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        members_by_kind = members()
        targets: list[Target] = []
        for kind, membership in members_by_kind.items():
            session = session_for(membership.user)
            targets.append(Target(kind, "bare view", BARE, session, []))
            for label, path in pages(membership):
                if options.only is None or options.only.lower() in f"{kind}: {label}".lower():
                    targets.append(Target(kind, label, path, session, []))

        with gunicorn(env, workers=options.workers, threads=options.threads) as server:
            clients = options.clients or server.workers * server.threads
            with PeakMemory(server.process.pid) as memory:
                for target in targets:  # warm every worker up: imports, templates, connections
                    warm = browsers_for(server.url, target.session, clients)
                    burst(
                        warm,
                        target.path,
                        seconds=30,
                        max_requests=clients * 3,
                        check=check_response(target.path),
                    )
                for _round in range(options.rounds):
                    for target in targets:
                        browsers = browsers_for(server.url, target.session, clients)
                        target.runs.append(
                            burst(
                                browsers,
                                target.path,
                                seconds=options.seconds,
                                max_requests=options.requests,
                                check=check_response(target.path),
                            )
                        )
                        for browser in browsers:
                            browser.close()
            count_queries(targets, members_by_kind)
            print(
                f"\ngunicorn portal.wsgi -c gunicorn.conf.py: {server.workers} workers x {server.threads}"
                f" threads (gthread), DJANGO_ENV=production; {clients} client threads (keep-alive),"
                f" {options.rounds} rounds of <= {options.seconds:g} s / <= {options.requests} requests"
                " per target;"
                f" {multiprocessing.cpu_count()} cores shared by server, database and clients;"
                f" template memo: {env.get('TEMPLATE_MEMO_ENTRIES', 'default')} entries per worker"
                " (portal/memo.py: warm after each page's first request)\n"
            )
            for line in table(targets):
                print(line)
            print()
            for line in memory_lines(memory.peaks, "gunicorn workers"):
                print(line)
            booted = server.log.read_text(errors="replace").count("Booting worker")
            print(f"gunicorn workers started beyond the first {server.workers}: {booted - server.workers}")
        if options.profile:
            missing = [t for t in targets if goal(t) and ratio_of(t, _bare(targets, t.kind)) < goal(t)]
            for path in profile(
                missing, members_by_kind, options.profile_requests, BENCH_VAR / "throughput-profiles"
            ):
                print(f"profile: {path}")


def _bare(targets: list[Target], kind: str) -> Target:
    return next(t for t in targets if t.kind == kind and t.path == BARE)


if __name__ == "__main__":
    main()

"""Customer figures (issue 10), printed as a table. Run on demand, never in the test suite.

1. **The reseller's Customers page** (``customers:list`` as the reseller's Global admin), the same page
   **searched** (``?q=``, 10 matches at every size), and **the provider's View customers**
   (``customers:list?partnership=<id>`` as the provider's Global admin) at 10 and 10,000 customers
   (``--sizes``): median, minimum and p95 server time over ``--repeat`` requests through Django's test
   client (middleware, view, template), the query count, which must be the same at both sizes, and the
   ratio of the medians (and of the minimums, which a busy machine disturbs less). Each size is a
   reseller and a provider of their own (one live partnership); every customer has its reseller
   relationship, the provider relationship through that partnership and a live delegated admin
   relationship, one in twenty a pending role request too. The sizes take turns request by request. A
   page shows one page of customers (50): at 10 it renders 10 rows, at 10,000 a full page ("shown"), so
   part of the ratio is rendering five times the rows; ``--sizes 50 10000`` compares full pages only.
2. **The expiry job** (``customers.services.delegated.delegated_admins_run_due``, what the beat runs
   every 10 minutes) over ``--relationships`` (100,000) delegated admin relationships, 100 resellers with
   1,000 customers each, of which a realistic share is due: 1% end within 30 days (marked *expiring* and
   reminded), 0.5% are past their end (expired, one in five auto-extended instead), 0.1% are role
   requests unanswered for more than 30 days (expired); the rest end months away. Total time, rows
   processed per second, queries and emails queued; then the same job again, with nothing left to do.

Rows are made with ``bulk_create`` (no services, no audit), then ``ANALYZE``. Against PostgreSQL (what
production runs, and the only database where the numbers mean anything), on a throwaway cluster like the
one ``bin/test`` starts, stopped by PID (as root, run the PostgreSQL commands as ``runuser -u postgres
--``)::

    mkdir -p /tmp/bench-pg && initdb -D /tmp/bench-pg/data -U postgres -A trust -E UTF8 --locale=C.UTF-8
    pg_ctl -D /tmp/bench-pg/data -l /tmp/bench-pg/server.log -w \\
        -o "-c listen_addresses=127.0.0.1 -p 47533 -k /tmp/bench-pg" start
    createdb -h 127.0.0.1 -p 47533 -U postgres bench
    DATABASE_URL=postgres://postgres@127.0.0.1:47533/bench .venv/bin/python bench/customers.py
    kill -INT "$(head -1 /tmp/bench-pg/data/postmaster.pid)"   # PostgreSQL's fast shutdown

The job's emails go to the outbox and are published to the configured broker after each row's commit
(``CELERY_BROKER_URL``; without one, the filesystem broker under ``var/bench``, purged at the end).

Goal: the same query count at both sizes and a median at 10,000 customers within 1.3x of that at 10 for
the pages; the job through 100,000 relationships well inside one beat interval (10 minutes), with the
second run, which finds nothing due, in well under a second.
"""

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_VAR_DIR", str(ROOT / "var" / "bench"))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Membership, MembershipRole, Organization, User  # noqa: E402
from accounts.roles import Role  # noqa: E402
from bench.measure import QueryCounter, percentile, timed  # noqa: E402
from customers.models import (  # noqa: E402
    LEAST_PRIVILEGE_ROLES,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    PartnerRole,
)
from customers.services.delegated import delegated_admins_run_due  # noqa: E402
from portal.celery import app as celery_app  # noqa: E402
from portal.mail.models import OutboxEmail  # noqa: E402
from providers.models import Partnership  # noqa: E402

RUN = uuid.uuid4().hex[:6]
BATCH = 5_000
ROLES = [str(role) for role in LEAST_PRIVILEGE_ROLES]
NO_PASSWORD = make_password(None)
S = DelegatedAdminStatus


def batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have after a bulk load


def admins_seed(organizations: list[Organization], label: str) -> list[User]:
    """One Global admin per organization (no password: the bench signs them in with force_login)."""
    users = []
    for batch in batches(list(enumerate(organizations))):
        created = User.objects.bulk_create(
            User(
                email=f"bench-{label}-{RUN}-{n}@example.com",
                full_name=f"Bench {label} {n}",
                password=NO_PASSWORD,
            )
            for n, _organization in batch
        )
        memberships = Membership.objects.bulk_create(
            Membership(organization=organization, user=user)
            for (_n, organization), user in zip(batch, created, strict=True)
        )
        MembershipRole.objects.bulk_create(
            MembershipRole(membership=membership, role=Role.GLOBAL_ADMIN) for membership in memberships
        )
        users.extend(created)
    return users


def customers_seed(count: int, name: Callable[[int], str]) -> list[Organization]:
    created = []
    for batch in batches(range(count)):
        created.extend(
            Organization.objects.bulk_create(
                Organization(
                    kind=Organization.Kind.CUSTOMER, legal_name=name(n), country="JP" if n % 2 else "US"
                )
                for n in batch
            )
        )
    return created


# --- The pages ----------------------------------------------------------------------------------------


def page_world(size: int) -> tuple[Organization, Organization, Partnership]:
    """A reseller and a provider with a live partnership, sharing ``size`` customers; each customer with a
    live delegated admin relationship ending 65 to 365 days from now (one in twenty: a role request)."""
    now = timezone.now()
    reseller = Organization.objects.create(
        kind=Organization.Kind.RESELLER, legal_name=f"Bench Reseller {RUN} {size}", country="JP"
    )
    provider = Organization.objects.create(
        kind=Organization.Kind.PROVIDER, legal_name=f"Bench Provider {RUN} {size}", country="JP"
    )
    partnership = Partnership.objects.create(provider=provider, reseller=reseller)
    customers = customers_seed(size, lambda n: f"Bench Customer {RUN} {size:05d}-{n:05d}")
    for batch in batches(list(enumerate(customers))):
        CustomerRelationship.objects.bulk_create(
            CustomerRelationship(
                customer=customer,
                partner=partner,
                role=role,
                reseller=reseller,
                customer_name=customer.legal_name,
                started_at=now - timedelta(days=n % 300),
            )
            for n, customer in batch
            for partner, role in ((reseller, PartnerRole.RESELLER), (provider, PartnerRole.PROVIDER))
        )
        DelegatedAdminRelationship.objects.bulk_create(
            DelegatedAdminRelationship(
                customer=customer,
                partner=reseller,
                roles=ROLES,
                duration_days=365,
                auto_extend=n % 3 == 0,
                status=S.ACTIVE,
                requested_at=now - timedelta(days=n % 300 + 2),
                starts_at=now - timedelta(days=n % 300),
                ends_at=now - timedelta(days=n % 300) + timedelta(days=365),
            )
            for n, customer in batch
        )
        DelegatedAdminRelationship.objects.bulk_create(
            DelegatedAdminRelationship(
                customer=customer,
                partner=reseller,
                roles=[*ROLES, str(DelegatedRole.BILLING_ADMIN)],
                duration_days=365,
                status=S.APPROVAL_PENDING,
                requested_at=now - timedelta(days=1),
            )
            for n, customer in batch
            if n % 20 == 0
        )
    return reseller, provider, partnership


def page_getter(client: Client, url: str, pattern: re.Pattern, shown: dict) -> Callable[[], None]:
    """One GET of ``url``, checked: 200, and the customers it lists (distinct names matching ``pattern``)
    recorded in ``shown[url]``, the same every time."""

    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        listed = len(set(pattern.findall(response.content.decode())))
        if shown.setdefault(url, listed) != listed or not listed:
            raise SystemExit(f"{url}: {listed} customers, then {shown[url]}")

    return get


def pages(sizes: list[int], repeat: int) -> tuple[dict, dict]:
    """The three pages at every size; returns the timings and the customers each page showed."""
    urls: dict[str, dict[int, tuple[Client, str, re.Pattern]]] = {
        "Customers (reseller)": {},
        "Customers, search": {},
        "View customers (provider)": {},
    }
    for size in sizes:
        started = time.perf_counter()
        reseller, provider, partnership = page_world(size)
        [reseller_admin] = admins_seed([reseller], f"reseller{size}")
        [provider_admin] = admins_seed([provider], f"provider{size}")
        print(f"pages: {size:,} customers in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        names = re.compile(rf"Bench Customer {RUN} {size:05d}-\d{{5}}")
        as_reseller, as_provider = Client(), Client()
        as_reseller.force_login(reseller_admin)
        as_provider.force_login(provider_admin)
        reseller_url = reverse("customers:list", kwargs={"organization_public_id": reseller.public_id})
        provider_url = reverse("customers:list", kwargs={"organization_public_id": provider.public_id})
        urls["Customers (reseller)"][size] = (as_reseller, reseller_url, names)
        # names ending in -0000x: 10 matches at every size
        urls["Customers, search"][size] = (as_reseller, f"{reseller_url}?q={size:05d}-0000", names)
        urls["View customers (provider)"][size] = (
            as_provider,
            f"{provider_url}?partnership={partnership.public_id}",
            names,
        )
    analyze()
    shown: dict[str, int] = {}
    measured = {}
    for label, by_size in urls.items():
        actions = {
            size: page_getter(client, url, pattern, shown) for size, (client, url, pattern) in by_size.items()
        }
        for size, result in timed(actions, repeat).items():
            measured[label, size] = result
    listed = {
        (label, size): shown[url]
        for label, by_size in urls.items()
        for size, (_c, url, _p) in by_size.items()
    }
    return measured, listed


# --- The expiry job -----------------------------------------------------------------------------------

PER_RESELLER = 1_000


def kind_of(n: int) -> str:
    """What the ``n``-th relationship is, per thousand: 10 end within 30 days, 5 are past their end (one
    of them auto-extends), 1 is a role request unanswered for 31 days; the rest end months away."""
    k = n % 1000
    if k < 10:
        return "expiring_soon"
    if k < 14:
        return "ended"
    if k == 14:
        return "ended_auto_extend"
    if k == 15:
        return "stale_request"
    return "far"


def job_world(total: int) -> dict[str, int]:
    """``total`` customers over ``total // 1,000`` resellers, one delegated admin relationship each (and
    its reseller relationship); a Global admin in every reseller and in every customer with something
    due (the job emails them)."""
    now = timezone.now()
    resellers = Organization.objects.bulk_create(
        Organization(
            kind=Organization.Kind.RESELLER, legal_name=f"Bench Job Reseller {RUN} {r:03d}", country="JP"
        )
        for r in range(max(1, total // PER_RESELLER))
    )
    admins_seed(resellers, "job-reseller")
    customers = customers_seed(total, lambda n: f"Bench Job Customer {RUN} {n:06d}")
    kinds: dict[str, int] = {}
    due_customers = []
    for batch in batches(list(enumerate(customers))):
        rows = []
        relationships = []
        for n, customer in batch:
            reseller = resellers[n % len(resellers)]
            kind = kind_of(n)
            kinds[kind] = kinds.get(kind, 0) + 1
            relationships.append(
                CustomerRelationship(
                    customer=customer,
                    partner=reseller,
                    role=PartnerRole.RESELLER,
                    reseller=reseller,
                    customer_name=customer.legal_name,
                    started_at=now - timedelta(days=400),
                )
            )
            row = DelegatedAdminRelationship(
                customer=customer,
                partner=reseller,
                roles=ROLES,
                duration_days=365,
                status=S.ACTIVE,
                requested_at=now - timedelta(days=400),
            )
            if kind == "expiring_soon":
                row.ends_at = now + timedelta(hours=1 + (n * 7919) % (30 * 24 - 2))
            elif kind in ("ended", "ended_auto_extend"):
                row.ends_at = now - timedelta(minutes=1 + n % 600)
                row.auto_extend = kind == "ended_auto_extend"
                if n % 2 and not row.auto_extend:
                    row.status, row.reminded_days = S.EXPIRING, 1
            elif kind == "stale_request":
                row.status, row.requested_at = S.APPROVAL_PENDING, now - timedelta(days=31)
            else:
                row.ends_at = now + timedelta(days=31 + n % 700)
                row.auto_extend = n % 3 == 0
            if row.ends_at is not None:
                row.starts_at = row.ends_at - timedelta(days=row.duration_days)
            if kind != "far":
                due_customers.append(customer)
            rows.append(row)
        CustomerRelationship.objects.bulk_create(relationships)
        DelegatedAdminRelationship.objects.bulk_create(rows)
    admins_seed(due_customers, "job-customer")
    analyze()
    return kinds


def job(total: int) -> list[tuple[str, str, str]]:
    started = time.perf_counter()
    kinds = job_world(total)
    print(f"job: {total:,} relationships in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    emails_before = OutboxEmail.objects.count()
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        totals = delegated_admins_run_due()
        elapsed = time.perf_counter() - started
    emails = OutboxEmail.objects.count() - emails_before
    processed = sum(totals.values())
    with connection.execute_wrapper(again := QueryCounter()):
        started = time.perf_counter()
        second = delegated_admins_run_due()
        second_elapsed = time.perf_counter() - started
    expected = {
        "expiring": kinds.get("expiring_soon", 0),
        "reminded": kinds.get("expiring_soon", 0),
        "extended": kinds.get("ended_auto_extend", 0),
        "expired": kinds.get("ended", 0),
        "requests_expired": kinds.get("stale_request", 0),
    }
    check = "as seeded" if totals == expected else f"EXPECTED {expected}"
    return [
        (
            "relationships",
            f"{DelegatedAdminRelationship.objects.count():,}",
            f"in the table: {total:,} seeded for the job, the rest the pages'",
        ),
        (
            "due (seeded)",
            f"{total - kinds.get('far', 0):,}",
            f"{kinds.get('expiring_soon', 0):,} end within 30 days, "
            f"{kinds.get('ended', 0) + kinds.get('ended_auto_extend', 0):,} past their end, "
            f"{kinds.get('stale_request', 0):,} stale requests",
        ),
        (
            "processed",
            f"{processed:,}",
            ", ".join(f"{key} {value:,}" for key, value in totals.items()) + f" ({check})",
        ),
        (
            "total time",
            f"{elapsed:.2f} s",
            f"{counter.count:,} queries ({counter.count / max(processed, 1):.1f} per row)",
        ),
        (
            "rows/s",
            f"{processed / elapsed:,.0f}",
            f"{total / elapsed:,.0f} relationships/s over the whole table",
        ),
        ("emails queued", f"{emails:,}", "outbox rows, published to the broker after each commit"),
        (
            "second run",
            f"{second_elapsed * 1000:.0f} ms",
            f"{sum(second.values())} processed, {again.count} queries (nothing left due)",
        ),
    ]


# --- Report -------------------------------------------------------------------------------------------


def report(measured: dict, listed: dict, job_rows: list[tuple], sizes: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(f"database: PostgreSQL {version}; broker: {settings.CELERY_BROKER_URL.split(':', 1)[0]}")
    print(
        f"{'page':<26} {'customers':>9} {'shown':>6} {'median ms':>10} {'min ms':>8} {'p95 ms':>8} "
        f"{'queries':>8}"
    )
    for (label, size), (times, queries) in measured.items():
        median, fastest, p95 = statistics.median(times), min(times), percentile(times, 0.95)
        print(
            f"{label:<26} {size:>9,} {listed[label, size]:>6} {median:>10.1f} {fastest:>8.1f} {p95:>8.1f} "
            f"{queries:>8}"
        )
    small, large = min(sizes), max(sizes)
    if small != large:
        print(f"\nratio {large:,}/{small:,} (median time, minimum time; queries)")
        for label in dict.fromkeys(label for label, _size in measured):
            (small_times, small_queries), (large_times, large_queries) = (
                measured[label, small],
                measured[label, large],
            )
            ratio = statistics.median(large_times) / statistics.median(small_times)
            ratio_min = min(large_times) / min(small_times)
            same = "same" if small_queries == large_queries else "DIFFERENT"
            print(
                f"{label:<26} {ratio:>6.2f}x {ratio_min:>6.2f}x  "
                f"queries {small_queries} -> {large_queries} ({same})"
            )
    if job_rows:
        width = max(len(row[0]) for row in job_rows)
        print("\nexpiry job (delegated_admins_run_due)")
        for label, value, note in job_rows:
            print(f"{label.ljust(width)}  {value:>10}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--relationships", type=int, default=100_000)
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: see the docstring.")
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    if DelegatedAdminRelationship.objects.exists():
        # the job's counts are checked against what was seeded: nothing else may be due
        raise SystemExit("This database already holds delegated admin relationships: use a new one.")
    measured, listed = pages(options.sizes, options.repeat)
    job_rows = job(options.relationships) if options.relationships else []
    report(measured, listed, job_rows, options.sizes)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        celery_app.control.purge()  # the published emails: nobody consumes them here


if __name__ == "__main__":
    main()

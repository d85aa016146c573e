"""Customer management figures (issue 11), printed as a table. Run on demand, never in the test suite.

1. **The licence and user pages** of one customer with 10 and with 10,000 users in its built-in tenant
   (``--sizes``), each customer with 50 subscriptions (``--subscriptions``): the reseller's pages in the
   customer (``commerce:customer_licences``, ``commerce:customer_users``, as the reseller's Global admin
   with the User and License administrator delegated roles) and the customer's own
   (``commerce:licences``, ``commerce:users``, as its Global admin). Median, minimum and p95 server time
   over ``--repeat`` requests through Django's test client (middleware, view, template), the query count,
   which must be the same at both sizes, and the ratio of the medians (and of the minimums, which a busy
   machine disturbs less). Every user holds a licence of the first subscription (the one the licence page
   opens on) and of one other; the sizes take turns request by request. A page shows one page of rows
   (50): at 10 users it renders 10, at 10,000 a full page ("shown").
2. **Orders through the real worker**: ``--orders`` (1,000) new-subscription orders submitted one after
   the other by the provider's Global admin through ``commerce.services.orders.order_submit`` (each
   commits and publishes its ``order_provision`` task, as the order page does) while a real ``celery -A
   portal worker`` process provisions them (and delivers the emails each provisioned order queues for the
   customer, the reseller and the provider). Time from the first submission to all provisioned, orders/s,
   and each order's time from submitted to provisioned (the two timestamps the services write), p50 and
   p95. One order provisioned first warms the worker up; it is not counted.

Rows for the pages are made with ``bulk_create`` (no services, no audit), then ``ANALYZE``. Against
PostgreSQL and Redis (what production runs, and the only setup where the numbers mean anything), on a
throwaway cluster like the one ``bin/test`` starts, stopped by PID (as root, run the PostgreSQL commands
as ``runuser -u postgres --``)::

    mkdir -p /tmp/bench-pg && initdb -D /tmp/bench-pg/data -U postgres -A trust -E UTF8 --locale=C.UTF-8
    pg_ctl -D /tmp/bench-pg/data -l /tmp/bench-pg/server.log -w \\
        -o "-c listen_addresses=127.0.0.1 -p 47533 -k /tmp/bench-pg" start
    createdb -h 127.0.0.1 -p 47533 -U postgres bench
    redis-server --port 47534 --save "" --appendonly no --daemonize yes --pidfile /tmp/bench-pg/redis.pid
    DATABASE_URL=postgres://postgres@127.0.0.1:47533/bench CELERY_BROKER_URL=redis://127.0.0.1:47534/0 \\
        .venv/bin/python bench/commerce.py
    kill -INT "$(head -1 /tmp/bench-pg/data/postmaster.pid)"   # PostgreSQL's fast shutdown
    kill "$(cat /tmp/bench-pg/redis.pid)"

Without ``CELERY_BROKER_URL`` the worker reads the filesystem broker under ``var/bench`` (purged at the
end). The emails go to the development mailbox under ``var/bench`` unless ``EMAIL_URL`` says otherwise.

Goal: the same query count at both sizes and a median at 10,000 users within 1.3x of that at 10 for every
page; orders provisioned as fast as they are submitted (no backlog growing with the queue).
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
from decimal import Decimal
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

from accounts.models import (  # noqa: E402
    DirectoryTenant,
    DirectoryUser,
    Membership,
    MembershipRole,
    Organization,
    User,
)
from accounts.roles import Role  # noqa: E402
from bench.measure import percentile, timed, worker_start  # noqa: E402
from commerce.models import (  # noqa: E402
    BillingTerm,
    Commitment,
    LicenceAssignment,
    Offer,
    OfferPrice,
    Order,
    OrderKind,
    OrderStatus,
    Subscription,
)
from commerce.services.orders import order_submit  # noqa: E402
from customers.models import (  # noqa: E402
    LEAST_PRIVILEGE_ROLES,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    PartnerRole,
)
from portal.celery import app as celery_app  # noqa: E402
from portal.mail.models import OutboxEmail  # noqa: E402
from providers.models import Partnership  # noqa: E402

RUN = uuid.uuid4().hex[:6]
BATCH = 5_000
ROLES = [*(str(role) for role in LEAST_PRIVILEGE_ROLES), str(DelegatedRole.USER_ADMIN)]
NO_PASSWORD = make_password(None)


def batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have after a bulk load


def admins_seed(organizations: list[Organization], label: str) -> list[Membership]:
    """One Global admin per organization (no password: the bench signs them in with force_login)."""
    memberships = []
    for n, organization in enumerate(organizations):
        user = User.objects.create(
            email=f"bench-{label}-{RUN}-{n}@example.com", full_name=f"Bench {label} {n}", password=NO_PASSWORD
        )
        membership = Membership.objects.create(organization=organization, user=user)
        MembershipRole.objects.create(membership=membership, role=Role.GLOBAL_ADMIN)
        memberships.append(membership)
    return memberships


def offer_seed() -> Offer:
    offer = Offer.objects.create(
        name=f"Bench Suite {RUN}",
        product_code=f"BENCH-{RUN.upper()}",
        seat_based=True,
        billing_term=BillingTerm.MONTHLY,
        commitment=Commitment.NONE,
        max_seats=100_000,
    )
    OfferPrice.objects.create(offer=offer, country="JP", currency="JPY", unit_price=Decimal("1200"))
    return offer


def shared_customer(label: str) -> tuple[Organization, Organization, Organization]:
    """A reseller and a provider with a live partnership, and a Japanese customer of the reseller shared
    with the provider, with a built-in tenant and a live delegated admin relationship (User and License
    administrator among its roles): the rows an accepted invitation leaves."""
    now = timezone.now()
    reseller = Organization.objects.create(
        kind=Organization.Kind.RESELLER, legal_name=f"Bench Reseller {RUN} {label}", country="JP"
    )
    provider = Organization.objects.create(
        kind=Organization.Kind.PROVIDER, legal_name=f"Bench Provider {RUN} {label}", country="JP"
    )
    Partnership.objects.create(provider=provider, reseller=reseller)
    tenant = DirectoryTenant.objects.create(
        tenant_id=uuid.uuid4(),
        name=f"Bench Tenant {RUN} {label}",
        verified_domains=[domain_of(label)],
        country="JP",
        source=DirectoryTenant.Source.BUILTIN,
    )
    customer = Organization.objects.create(
        kind=Organization.Kind.CUSTOMER,
        legal_name=f"Bench Customer {RUN} {label}",
        country="JP",
        directory_tenant=tenant,
    )
    CustomerRelationship.objects.bulk_create(
        CustomerRelationship(
            customer=customer,
            partner=partner,
            role=role,
            reseller=reseller,
            customer_name=customer.legal_name,
            started_at=now - timedelta(days=30),
        )
        for partner, role in ((reseller, PartnerRole.RESELLER), (provider, PartnerRole.PROVIDER))
    )
    DelegatedAdminRelationship.objects.create(
        customer=customer,
        partner=reseller,
        roles=ROLES,
        duration_days=365,
        status=DelegatedAdminStatus.ACTIVE,
        requested_at=now - timedelta(days=32),
        starts_at=now - timedelta(days=30),
        ends_at=now + timedelta(days=335),
    )
    return reseller, provider, customer


def domain_of(label: str) -> str:
    return f"bench-{RUN}-{label}.example"


# --- The pages ----------------------------------------------------------------------------------------


def page_world(size: int, subscription_count: int, offer: Offer, password: str) -> dict:
    """A shared customer with ``size`` tenant users and ``subscription_count`` subscriptions; every user
    holds a licence of the first subscription and of one other."""
    now = timezone.now()
    reseller, provider, customer = shared_customer(f"{size}")
    subscriptions = Subscription.objects.bulk_create(
        Subscription(
            customer=customer,
            reseller=reseller,
            provider=provider,
            offer=offer,
            name=f"Bench Plan {n:02d}",
            seats=max(size, 1),
            billing_term=offer.billing_term,
            commitment=offer.commitment,
            currency="JPY",
            unit_price=Decimal("1200"),
            started_at=now - timedelta(days=30),
            term_started_at=now - timedelta(days=10),
            renews_at=now + timedelta(days=20),
        )
        for n in range(subscription_count)
    )
    domain = domain_of(f"{size}")
    for batch in batches(range(size)):
        users = DirectoryUser.objects.bulk_create(
            DirectoryUser(
                tenant=customer.directory_tenant,
                user_principal_name=f"u{n:05d}@{domain}",
                display_name=f"Bench User {n:05d}",
                password=password,
            )
            for n in batch
        )
        LicenceAssignment.objects.bulk_create(
            LicenceAssignment(
                customer=customer,
                subscription=subscription,
                directory_user=user,
                user_principal_name=user.user_principal_name,
                assigned_at=now - timedelta(days=5),
            )
            for n, user in zip(batch, users, strict=True)
            for subscription in (subscriptions[0], subscriptions[1 + n % (len(subscriptions) - 1)])
        )
    [reseller_admin] = admins_seed([reseller], f"reseller{size}")
    [customer_admin] = admins_seed([customer], f"customer{size}")
    return {
        "reseller": reseller,
        "customer": customer,
        "reseller_admin": reseller_admin,
        "customer_admin": customer_admin,
        "domain": domain,
    }


def page_getter(client: Client, url: str, pattern: re.Pattern, shown: dict) -> Callable[[], None]:
    """One GET of ``url``, checked: 200, and the users it lists (distinct names matching ``pattern``)
    recorded in ``shown[url]``, the same every time."""

    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        listed = len(set(pattern.findall(response.content.decode())))
        if shown.setdefault(url, listed) != listed or not listed:
            raise SystemExit(f"{url}: {listed} users, then {shown[url]}")

    return get


PAGES = {
    # label: (route, whose page: the reseller's in the customer, or the customer's own)
    "Licences (reseller)": ("commerce:customer_licences", "reseller"),
    "Licences (customer)": ("commerce:licences", "customer"),
    "Tenant users (reseller)": ("commerce:customer_users", "reseller"),
    "Tenant users (customer)": ("commerce:users", "customer"),
}


def pages(sizes: list[int], subscription_count: int, repeat: int) -> tuple[dict, dict]:
    """The four pages at every size; returns the timings and the users each page showed."""
    offer = offer_seed()
    password = make_password("bench-directory-password")  # one hash for every user: sign-in is not measured
    urls: dict[str, dict[int, tuple[Client, str, re.Pattern]]] = {label: {} for label in PAGES}
    for size in sizes:
        started = time.perf_counter()
        world = page_world(size, subscription_count, offer, password)
        elapsed = time.perf_counter() - started
        print(
            f"pages: {size:,} users, {subscription_count} subscriptions in {elapsed:.1f} s", file=sys.stderr
        )
        names = re.compile(rf"u\d{{5}}@{re.escape(world['domain'])}")
        as_reseller, as_customer = Client(), Client()
        as_reseller.force_login(world["reseller_admin"].user)
        as_customer.force_login(world["customer_admin"].user)
        for label, (route, side) in PAGES.items():
            if side == "reseller":
                kwargs = {
                    "organization_public_id": world["reseller"].public_id,
                    "customer_id": world["customer"].public_id,
                }
                client = as_reseller
            else:
                kwargs = {"organization_public_id": world["customer"].public_id}
                client = as_customer
            urls[label][size] = (client, reverse(route, kwargs=kwargs), names)
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


# --- Orders through the worker ------------------------------------------------------------------------


def wait_for(ids: list[int], timeout: float) -> int:
    """Wait until every order of ``ids`` is done (provisioned or failed); returns how many are."""
    deadline = time.perf_counter() + timeout
    done = 0
    while time.perf_counter() < deadline:
        done = Order.objects.filter(
            pk__in=ids, status__in=[OrderStatus.PROVISIONED, OrderStatus.FAILED]
        ).count()
        if done == len(ids):
            break
        time.sleep(0.05)
    return done


def orders_throughput(count: int, timeout: float) -> list[tuple[str, str, str]]:
    offer = Offer.objects.get(product_code=f"BENCH-{RUN.upper()}")
    reseller, provider, customer = shared_customer("orders")
    [provider_admin] = admins_seed([provider], "provider-orders")
    admins_seed([reseller], "reseller-orders")
    admins_seed([customer], "customer-orders")

    def submit(seats: int) -> Order:
        return order_submit(
            by=provider_admin,
            customer=customer,
            reseller=reseller,
            kind=OrderKind.NEW,
            offer=offer,
            seats=seats,
            idempotency_key=uuid.uuid4(),
        )

    worker = worker_start()
    try:
        warm_up = submit(1)
        if wait_for([warm_up.pk], timeout) != 1:
            raise SystemExit("The worker did not provision the warm-up order: see var/bench/worker.log")
        emails_before = OutboxEmail.objects.count()
        started = time.perf_counter()
        ids = [submit(1 + n % 25).pk for n in range(count)]
        submitted = time.perf_counter() - started
        done = wait_for(ids, timeout)
        drained = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    rows = list(
        Order.objects.filter(pk__in=ids).values_list("status", "submitted_at", "completed_at", "failure_code")
    )
    provisioned = [row for row in rows if row[0] == OrderStatus.PROVISIONED]
    failed = [row for row in rows if row[0] == OrderStatus.FAILED]
    latencies = [
        (completed - submitted_at).total_seconds() for _s, submitted_at, completed, _f in provisioned
    ]
    first = min(row[1] for row in rows)
    last = max((row[2] for row in rows if row[2] is not None), default=first)
    span = (last - first).total_seconds()
    emails = OutboxEmail.objects.count() - emails_before
    return [
        ("orders submitted", f"{count:,}", f"{submitted:.2f} s to submit all ({count / submitted:,.0f}/s)"),
        (
            "provisioned",
            f"{len(provisioned):,}",
            f"{len(failed)} failed, {count - done} unfinished after {timeout:.0f} s",
        ),
        (
            "submit → all provisioned",
            f"{span:.2f} s",
            f"first submission to last completion (database time); {drained:.2f} s wall clock incl. polling",
        ),
        (
            "orders/s",
            f"{len(provisioned) / span:,.1f}" if span else "-",
            "provisioned per second over that span",
        ),
        (
            "submitted → provisioned p50",
            f"{statistics.median(latencies):.2f} s" if latencies else "-",
            "each order's own wait (queue included)",
        ),
        ("submitted → provisioned p95", f"{percentile(latencies, 0.95):.2f} s" if latencies else "-", ""),
        ("submitted → provisioned max", f"{max(latencies):.2f} s" if latencies else "-", ""),
        (
            "emails queued",
            f"{emails:,}",
            "customer, reseller and provider per order (the worker sent them too)",
        ),
    ]


# --- Report -------------------------------------------------------------------------------------------


def report(
    measured: dict, listed: dict, order_rows: list[tuple], sizes: list[int], subscriptions: int
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(f"database: PostgreSQL {version}; broker: {settings.CELERY_BROKER_URL.split(':', 1)[0]}")
    print(f"each customer: {subscriptions} subscriptions; every user holds 2 licences")
    print(
        f"{'page':<24} {'users':>7} {'shown':>6} {'median ms':>10} {'min ms':>8} {'p95 ms':>8} {'queries':>8}"
    )
    for (label, size), (times, queries) in measured.items():
        median, fastest, p95 = statistics.median(times), min(times), percentile(times, 0.95)
        print(
            f"{label:<24} {size:>7,} {listed[label, size]:>6} {median:>10.1f} {fastest:>8.1f} {p95:>8.1f} "
            f"{queries:>8}"
        )
    small, large = min(sizes), max(sizes)
    if small != large:
        print(f"\nratio {large:,}/{small:,} users (median time, minimum time; queries)")
        for label in dict.fromkeys(label for label, _size in measured):
            (small_times, small_queries), (large_times, large_queries) = (
                measured[label, small],
                measured[label, large],
            )
            ratio = statistics.median(large_times) / statistics.median(small_times)
            ratio_min = min(large_times) / min(small_times)
            same = "same" if small_queries == large_queries else "DIFFERENT"
            print(
                f"{label:<24} {ratio:>6.2f}x {ratio_min:>6.2f}x  "
                f"queries {small_queries} -> {large_queries} ({same})"
            )
    if order_rows:
        width = max(len(row[0]) for row in order_rows)
        print("\norders through the worker (order_submit → order_provision)")
        for label, value, note in order_rows:
            print(f"{label.ljust(width)}  {value:>10}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: see the docstring.")
    if options.subscriptions < 2:
        raise SystemExit("--subscriptions: at least 2 (every user holds the first and one other)")
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    measured, listed = pages(options.sizes, options.subscriptions, options.repeat)
    order_rows = orders_throughput(options.orders, options.timeout) if options.orders else []
    report(measured, listed, order_rows, options.sizes, options.subscriptions)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        celery_app.control.purge()  # whatever the worker left: nobody consumes it after the run


if __name__ == "__main__":
    main()

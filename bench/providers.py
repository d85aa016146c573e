"""Provider figures (issue 9), printed as a table. Run on demand, never in the test suite.

1. **Find a provider** (a reseller's directory search page) and the provider's **Indirect resellers** page
   at 10 and 10,000 rows (``--sizes``): median, minimum and p95 server time over ``--repeat`` requests
   through Django's test client (middleware, view, template), the query count, which must be the same at
   both sizes, and the ratio of the medians (and of the minimums, which a busy machine disturbs less).
   Each Indirect resellers size is a provider of its own, and the sizes take turns request by request.
   The directory is one table for every reseller, so it is measured at 10 listings, then filled up to
   10,000 and measured again. It is read as a first visit shows it (the listings serving the reseller's
   country) and as a search (a word, a language and a kind of help). A page shows at most 20 listings
   or 50 resellers: at 10 rows it renders fewer results than at 10,000.
2. **A 5,000-row CSV invitation run** (``--rows``) end to end: the file uploaded through the upload page,
   a real ``celery -A portal worker`` process (prefork, 4 processes: what docker-compose.yml runs) sends
   every row, one task after another (each hands the rest on after ``TASK_SECONDS``), while the
   invitation emails go out through the outbox on the same worker. Time from the upload to the run
   done, rows per second, and to the last invitation email delivered. ``INVITATIONS_PER_HOUR`` is set
   high for it (the worker inherits it).

Against PostgreSQL and Redis (what production runs), on a throwaway cluster and server, stopped by PID::

    /usr/lib/postgresql/15/bin/initdb -D /tmp/bench-pg -U postgres -A trust
    /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/bench-pg -l /tmp/bench-pg.log \\
        -o "-p 47532 -k /tmp -c listen_addresses=127.0.0.1" start
    createdb -h 127.0.0.1 -p 47532 -U postgres bench
    redis-server --port 47579 --bind 127.0.0.1 --daemonize yes --save '' --dir /tmp \\
        --pidfile /tmp/bench-redis.pid
    DATABASE_URL=postgres://postgres@127.0.0.1:47532/bench CELERY_BROKER_URL=redis://127.0.0.1:47579/0 \\
        .venv/bin/python bench/providers.py
    /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/bench-pg stop; kill "$(cat /tmp/bench-redis.pid)"

It refuses to run without both (the worker needs a broker another process can reach).

Goal: the same query count at both sizes, and a median at 10,000 rows within 1.3x of that at 10 for the
pages; a 5,000-row file done without any task meeting the worker's time limit
(``CELERY_TASK_SOFT_TIME_LIMIT``, 240 s).
"""

import argparse
import os
import statistics
import subprocess
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
# The invitation run must not meet the hourly limit: this process and the worker read it from here.
os.environ["INVITATIONS_PER_HOUR"] = "10000000"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Membership, MembershipRole, Organization, User  # noqa: E402
from accounts.roles import Role  # noqa: E402
from bench.measure import percentile, timed, worker_start  # noqa: E402
from portal.celery import app as celery_app  # noqa: E402
from portal.mail.models import OutboxEmail  # noqa: E402
from providers.models import (  # noqa: E402
    BulkInvitationRun,
    Partnership,
    ProviderCountry,
    ProviderLanguage,
    ProviderListing,
)

RUN = uuid.uuid4().hex[:6]
BATCH = 5_000


def batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have after a bulk load


def member(organization: Organization, label: str) -> User:
    """A Global admin of ``organization``, signed in by the bench's clients."""
    user = User.objects.create(email=f"bench-{label}-{RUN}@example.com", full_name=f"Bench {label}")
    membership = Membership.objects.create(organization=organization, user=user)
    MembershipRole.objects.create(membership=membership, role=Role.GLOBAL_ADMIN)
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Seeding ------------------------------------------------------------------------------------------


def providers_seed(count: int, *, start: int) -> list[Organization]:
    """``count`` authorised, shown providers serving Japan (every other one the United States too), with
    varied languages and kinds of help, numbered from ``start``."""
    now = timezone.now()
    created = []
    for batch in batches(range(start, start + count)):
        organizations = Organization.objects.bulk_create(
            Organization(
                kind=Organization.Kind.PROVIDER, legal_name=f"Bench Provider {RUN} {n:05d}", country="JP"
            )
            for n in batch
        )
        listings = ProviderListing.objects.bulk_create(
            ProviderListing(
                organization=organization,
                name=organization.legal_name,
                description=f"Licensing and support for resellers, team {n}.",
                website=f"https://provider{n}.example",
                contact_email=f"partners@provider{n}.example",
                offers_customer_support=n % 2 == 0,
                offers_technical_support=n % 3 == 0,
                offers_marketing=n % 4 == 0,
                offers_financing=n % 5 == 0,
                authorized_at=now,
            )
            for n, organization in zip(batch, organizations, strict=True)
        )
        ProviderCountry.objects.bulk_create(
            [ProviderCountry(listing=listing, country="JP") for listing in listings]
            + [ProviderCountry(listing=listing, country="US") for listing in listings[::2]]
        )
        ProviderLanguage.objects.bulk_create(
            [ProviderLanguage(listing=listing, language="en") for listing in listings]
            + [ProviderLanguage(listing=listing, language="ja") for listing in listings[::3]]
        )
        created.extend(organizations)
    analyze()
    return created


def resellers_seed(provider: Organization, count: int, *, partner_base: int) -> None:
    """``count`` active partnerships of ``provider``, one reseller each (partner IDs from
    ``partner_base``), started a minute apart."""
    now = timezone.now()
    for batch in batches(range(count)):
        resellers = Organization.objects.bulk_create(
            Organization(
                kind=Organization.Kind.RESELLER,
                legal_name=f"Bench Reseller {RUN} {n:05d}",
                country="JP",
                partner_id=f"{partner_base + n:07d}",
            )
            for n in batch
        )
        Partnership.objects.bulk_create(
            Partnership(provider=provider, reseller=reseller, started_at=now - timedelta(minutes=n))
            for n, reseller in zip(batch, resellers, strict=True)
        )
    analyze()


# --- Page timing --------------------------------------------------------------------------------------


def page_getter(client: Client, url: str, *, rows: int, marker: str) -> Callable[[], None]:
    """One GET of ``url``, checked: 200 and ``rows`` results (each result's HTML holds ``marker`` once)."""

    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        listed = response.content.decode().count(marker)
        if listed != rows:
            raise SystemExit(f"{url}: {listed} results, expected {rows}")

    return get


LISTING_MARKER = 'class="card listing-card"'  # once per result of the directory
SEARCH = "?q=support&country=JP&language=ja&help=offers_marketing"


def directory(sizes: list[int], repeat: int) -> dict[tuple[str, int], tuple[list[float], int]]:
    """The directory as one reseller reads it, with the table at each size in turn (it is one table for
    every reseller: the sizes cannot take turns here, hence the minimum next to the median)."""
    reseller = Organization.objects.create(
        kind=Organization.Kind.RESELLER, legal_name=f"Bench Reseller Reader {RUN}", country="JP"
    )
    reader = client_for(member(reseller, "reseller"))
    url = reverse("providers:directory", kwargs={"organization_public_id": reseller.public_id})
    results = {}
    seeded = 0
    for size in sorted(sizes):
        started = time.perf_counter()
        providers_seed(size - seeded, start=seeded)
        seeded = size
        print(f"directory: {size} listings in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        listed = ProviderListing.objects.filter(visible=True, authorized_at__isnull=False)
        first_visit = min(20, listed.filter(countries__country="JP").count())
        searched = listed.filter(
            description__icontains="support",
            countries__country="JP",
            languages__language="ja",
            offers_marketing=True,
        )
        runs = {
            "directory, first visit": page_getter(reader, url, rows=first_visit, marker=LISTING_MARKER),
            "directory, search": page_getter(
                reader, url + SEARCH, rows=min(20, searched.count()), marker=LISTING_MARKER
            ),
        }
        for label, action in runs.items():
            results[label, size] = timed({size: action}, repeat)[size]
    return results


def resellers(sizes: list[int], repeat: int) -> dict[tuple[str, int], tuple[list[float], int]]:
    """The Indirect resellers page of a provider with each number of partners (the sizes take turns)."""
    actions = {}
    for size in sizes:
        started = time.perf_counter()
        provider = Organization.objects.create(
            kind=Organization.Kind.PROVIDER, legal_name=f"Bench Provider Reader {RUN} {size}", country="JP"
        )
        resellers_seed(provider, size, partner_base=1_000_000 + size * 2)
        print(f"resellers: {size} partnerships in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        url = reverse("providers:resellers", kwargs={"organization_public_id": provider.public_id})
        actions[size] = page_getter(
            client_for(member(provider, f"provider{size}")), url, rows=min(50, size), marker="Bench Reseller "
        )
    return {("Indirect resellers", size): result for size, result in timed(actions, repeat).items()}


# --- The invitation run through a worker process -----------------------------------------------------


def worker_wait(worker: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit("The worker stopped: see var/bench/providers-worker.log")
        if celery_app.control.ping(timeout=0.5):
            return
    raise SystemExit("The worker did not answer in time: see var/bench/providers-worker.log")


def invitation_run(rows: int, timeout: float) -> list[tuple[str, str, str]]:
    provider = Organization.objects.create(
        kind=Organization.Kind.PROVIDER, legal_name=f"Bench Bulk Provider {RUN}", country="JP"
    )
    ProviderListing.objects.create(
        organization=provider, name=provider.legal_name, authorized_at=timezone.now()
    )
    client = client_for(member(provider, "bulk"))
    upload_url = reverse("providers:bulk", kwargs={"organization_public_id": provider.public_id})
    text = "email,partner_id\n" + "".join(f"reseller{n}-{RUN}@bench.example,\n" for n in range(rows))
    worker = worker_start("providers-worker.log", pool="--concurrency=4")
    try:
        worker_wait(worker)
        started = time.perf_counter()
        response = client.post(
            upload_url,
            {
                "file": SimpleUploadedFile("bench.csv", text.encode(), content_type="text/csv"),
                "language": "en",
            },
        )
        uploaded = time.perf_counter() - started
        if response.status_code != 302:
            raise SystemExit(f"The upload answered {response.status_code}")
        run = BulkInvitationRun.objects.get(organization=provider)
        progress_url = response["Location"] + "?format=json"
        deadline = time.perf_counter() + timeout
        poll_times = []
        while True:  # as the run's page does, a little more often
            poll_started = time.perf_counter()
            progress = client.get(progress_url).json()
            poll_times.append((time.perf_counter() - poll_started) * 1000)
            if progress["done"] or time.perf_counter() > deadline:
                break
            time.sleep(0.25)
        done = time.perf_counter() - started
        emails = OutboxEmail.objects.filter(organization_id=provider.pk, template="partnership_invitation")
        while True:
            delivered = emails.filter(status=OutboxEmail.Status.SENT).count()
            if delivered >= rows or time.perf_counter() > deadline:
                break
            time.sleep(0.25)
        mailed = time.perf_counter() - started

    finally:
        worker.terminate()
        worker.wait(timeout=60)
    run.refresh_from_db()
    finished = run.status == BulkInvitationRun.Status.DONE
    return [
        ("CSV upload (POST, rows stored)", f"{uploaded * 1000:.0f} ms", f"{rows:,} rows"),
        (
            "upload → run done",
            f"{done:.1f} s" if finished else f"not done after {done:.0f} s",
            f"{run.processed_rows / done:.0f} rows/s; sent {run.sent}, skipped {run.skipped}, "
            f"refused {run.refused}",
        ),
        (
            "upload → last email delivered",
            f"{mailed:.1f} s" if delivered >= rows else f"{delivered} of {rows} after {mailed:.0f} s",
            f"{delivered / mailed:.0f} emails/s (outbox, {settings.EMAIL_BACKEND.rsplit('.', 1)[-1]})",
        ),
        (
            "progress poll (?format=json)",
            f"{statistics.median(poll_times):.1f} ms",
            f"median of {len(poll_times)} polls while running",
        ),
    ]


# --- Report -------------------------------------------------------------------------------------------


def report(measured: dict[tuple[str, int], tuple[list[float], int]], run_rows: list[tuple], sizes) -> None:
    print(f"database: {connection.vendor}")
    print(f"{'page':<24} {'rows':>7} {'median ms':>10} {'min ms':>8} {'p95 ms':>8} {'queries':>8}")
    for (label, size), (times, queries) in sorted(
        measured.items(), key=lambda item: (item[0][0], item[0][1])
    ):
        median, fastest, p95 = statistics.median(times), min(times), percentile(times, 0.95)
        print(f"{label:<24} {size:>7,} {median:>10.1f} {fastest:>8.1f} {p95:>8.1f} {queries:>8}")
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
            counts = f"queries {small_queries} -> {large_queries} ({same})"
            print(f"{label:<24} {ratio:>6.2f}x {ratio_min:>6.2f}x  {counts}")
    if run_rows:
        width = max(len(row[0]) for row in run_rows)
        print(f"\n{'invitation run'.ljust(width)}  {'value':<24}  note")
        for label, value, note in run_rows:
            print(f"{label.ljust(width)}  {value:<24}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--timeout", type=float, default=900.0)
    options = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis): see the docstring.")
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    measured = {**directory(options.sizes, options.repeat), **resellers(options.sizes, options.repeat)}
    run_rows = invitation_run(options.rows, options.timeout) if options.rows else []
    report(measured, run_rows, options.sizes)


if __name__ == "__main__":
    main()

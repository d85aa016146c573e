"""Cost of the organization list pages as they grow, printed as a table. Run on demand.

What it measures, for each size (rows in each list):

* User management and the Activity log, first page and last page (the last page's cursor is built
  directly from the row just before it, then checked: the page has the expected rows and no Next link);
  the Activity log filtered by one action, first page;
* the CSV export: time to the first byte, to the first data row and to the end, next to PostgreSQL's
  own ``COPY (SELECT ...) TO STDOUT`` of the same rows (the floor for any export).

Times are wall-clock medians and 95th percentiles of ``--repeat`` requests through Django's test
client (the whole server side: middleware, views, templates); the sizes take turns, request by
request, so that a busy machine slows them down alike. Queries are counted with
``connection.execute_wrapper``, which sees every query however many there are (CaptureQueriesContext
stops at ``queries_log``'s 9,000 entries). Peak memory is measured in a separate pass with tracemalloc,
which slows Python down a lot, so it is never on while timing.

Against PostgreSQL (what production runs, and the only database where the numbers mean anything),
on a throwaway cluster like the one ``bin/test`` starts::

    initdb -D <dir> -U postgres -A trust && pg_ctl -D <dir> -o "-p 55432 -k <dir>" start
    createdb -h 127.0.0.1 -p 55432 -U postgres bench
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/bench .venv/bin/python bench/pages.py
    pg_ctl -D <dir> stop

Options: ``--sizes 100 100000`` and ``--repeat 21`` (the defaults). Without ``DATABASE_URL`` it runs
on the embedded SQLite database under ``var/bench/`` (and skips the COPY line). Each size gets a new
organization; seeding 100,000 rows of each kind takes well under a minute.

Goal: at 100,000 rows, median time within 1.3x of that at 100 rows with the same query count, for the
first and the last pages, and an export that starts within a second.
"""

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import selectors  # noqa: E402
from accounts.models import Membership, MembershipRole, Organization, User  # noqa: E402
from accounts.roles import Role  # noqa: E402
from portal.audit.catalogue import action_choices  # noqa: E402
from portal.audit.models import AuditEvent  # noqa: E402
from portal.lists import DEFAULT_PAGE_SIZE, cursor_for  # noqa: E402

BATCH = 5_000


def batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def build(size: int) -> tuple[Organization, User, str]:
    """An organization with ``size`` members (the first one a Global admin) and ``size`` audit events."""
    tag = uuid.uuid4().hex[:8]
    now = timezone.now()
    organization = Organization.objects.create(
        kind="reseller", legal_name=f"Bench {size} {tag}", country="JP"
    )
    actions = [code for code, _label in action_choices()]
    users: list[User] = []
    no_password = make_password(None)
    for batch in batches(range(size)):
        created = User.objects.bulk_create(
            User(email=f"bench-{tag}-{n}@example.com", full_name=f"Bench {n}", password=no_password)
            for n in batch
        )
        memberships = Membership.objects.bulk_create(
            # The admin is the newest member; the others joined a second apart before.
            Membership(organization=organization, user=user, created_at=now - timedelta(seconds=n))
            for n, user in zip(batch, created, strict=True)
        )
        MembershipRole.objects.bulk_create(
            MembershipRole(membership=m, role=Role.GLOBAL_ADMIN if n == 0 else Role.SALES_AGENT)
            for n, m in zip(batch, memberships, strict=True)
        )
        users.extend(created[:: max(1, size // 50)])  # a few actors for the events
    for batch in batches(range(size)):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                occurred_at=now - timedelta(seconds=n),
                action=actions[n % len(actions)],
                organization_id=organization.pk,
                actor_id=users[n % len(users)].pk,
                actor_label=users[n % len(users)].email,
                target_type="membership",
                target_label=f"=bench {n}",
                after={"n": n},
            )
            for n in batch
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have after a bulk load
    return organization, users[0], actions[0]


def last_page_after(queryset, ordering: tuple[str, ...], total: int) -> tuple[str, int]:
    """The ``after`` cursor of the last page, built from the row just before it (an OFFSET here, in the
    bench only), and how many rows that page has."""
    rows_on_last = total - (total - 1) // DEFAULT_PAGE_SIZE * DEFAULT_PAGE_SIZE
    if total <= DEFAULT_PAGE_SIZE:
        return "", total
    before_last = queryset.order_by(*ordering)[total - rows_on_last - 1]
    return cursor_for(before_last, ordering=ordering), rows_on_last


class QueryCounter:
    """Counts every query (no cap, unlike ``connection.queries_log``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counting() -> Iterator[QueryCounter]:
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def timed(actions: dict[int, Callable[[], None]], repeat: int) -> dict[int, tuple[list[float], int]]:
    """For each size, the milliseconds of each run and the most queries one run made.

    The sizes take turns, run after run, so that a busy machine slows them down alike and their ratio
    stays meaningful. Never with tracemalloc on.
    """
    assert not tracemalloc.is_tracing(), "tracemalloc would slow down what is being timed"  # noqa: S101
    for action in actions.values():
        action()  # warm: session rows, template and connection caches
    times: dict[int, list[float]] = {size: [] for size in actions}
    queries = dict.fromkeys(actions, 0)
    for _ in range(repeat):
        for size, action in actions.items():
            with counting() as counter:
                started = time.perf_counter()
                action()
                times[size].append((time.perf_counter() - started) * 1000)
            queries[size] = max(queries[size], counter.count)
    return {size: (times[size], queries[size]) for size in actions}


def peak_memory(action: Callable[[], None]) -> float:
    """Peak MiB allocated by one run, in a pass of its own."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 1024 / 1024
    finally:
        tracemalloc.stop()


def page_getter(client: Client, url: str, *, rows: int, last: bool) -> Callable[[], None]:
    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        body = response.content.decode()
        listed = body.count("<tr>") - body.count("<thead>")  # table rows, without the header rows
        if listed != rows or (last and 'rel="next"' in body):
            raise SystemExit(f"{url}: {listed} rows, expected {rows} (last page: {last})")

    return get


def export_getter(
    client: Client, url: str, *, rows: int, marks: dict[str, list[float]]
) -> Callable[[], None]:
    """Downloads the export; appends the times to its first byte and first data row to ``marks``."""

    def get() -> None:
        started = time.perf_counter()
        response = client.get(url)
        chunks = iter(response.streaming_content)
        received = next(chunks)
        marks.setdefault("export 1st byte", []).append((time.perf_counter() - started) * 1000)
        while received.count(b"\n") < 2:
            received += next(chunks)
        marks.setdefault("export 1st row", []).append((time.perf_counter() - started) * 1000)
        lines = received.count(b"\n") + sum(chunk.count(b"\n") for chunk in chunks)
        if lines != rows + 1:
            raise SystemExit(f"{url}: {lines - 1} rows exported, expected {rows}")

    return get


def copy_getter(organization: Organization) -> Callable[[], None]:
    """PostgreSQL writing the same rows as CSV itself: the floor for the export."""
    sql = (
        "COPY (SELECT occurred_at, action, actor_label, target_type, target_label, request_id, ip,"
        " before, after FROM audit_auditevent WHERE organization_id = %s ORDER BY occurred_at DESC, id DESC)"
        " TO STDOUT WITH (FORMAT csv, HEADER)"
    )

    def run() -> None:
        with connection.cursor() as cursor, cursor.cursor.copy(sql, (organization.pk,)) as copy:
            for _block in copy:
                pass

    return run


def scenarios(size: int) -> dict[str, Callable[[], None]]:
    """What is measured on an organization of ``size`` rows: label → one run."""
    started = time.perf_counter()
    organization, admin, action = build(size)
    print(
        f"seeded {size} members and {size} events in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )
    client = Client()
    client.force_login(admin)
    kwargs = {"organization_public_id": organization.public_id}
    users_url = reverse("accounts:users", kwargs=kwargs)
    activity_url = reverse("accounts:activity", kwargs=kwargs)
    export_url = reverse("accounts:activity_export", kwargs=kwargs)
    members = selectors.organization_members(organization=organization)
    events = selectors.activity_events(organization=organization)
    by_action = events.filter(action=action).count()
    users_after, users_last_rows = last_page_after(members, selectors.MEMBERS_ORDERING, size)
    events_after, events_last_rows = last_page_after(events, selectors.ACTIVITY_ORDERING, size)
    first = min(size, DEFAULT_PAGE_SIZE)
    runs = {
        "users first": page_getter(client, users_url, rows=first, last=size <= first),
        "users last": page_getter(
            client, f"{users_url}?after={users_after}", rows=users_last_rows, last=True
        ),
        "activity first": page_getter(client, activity_url, rows=first, last=size <= first),
        "activity last": page_getter(
            client, f"{activity_url}?after={events_after}", rows=events_last_rows, last=True
        ),
        "activity action": page_getter(
            client, f"{activity_url}?action={action}", rows=min(by_action, DEFAULT_PAGE_SIZE), last=False
        ),
        "export": export_getter(client, export_url, rows=size, marks=EXPORT_MARKS.setdefault(size, {})),
    }
    if connection.vendor == "postgresql":
        runs["COPY TO STDOUT"] = copy_getter(organization)
    return runs


#: Per size, the export's times to its first byte and first data row, one per run (the first: warming).
EXPORT_MARKS: dict[int, dict[str, list[float]]] = {}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--repeat", type=int, default=21)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    runs = {size: scenarios(size) for size in options.sizes}
    measured: dict[tuple[str, int], tuple[list[float], int | None, float | None]] = {}
    for label in runs[options.sizes[0]]:
        whole_downloads = label in ("export", "COPY TO STDOUT")
        repeat = max(3, options.repeat // 3) if whole_downloads else options.repeat
        for size, (times, queries) in timed({size: runs[size][label] for size in runs}, repeat).items():
            if label == "COPY TO STDOUT":
                measured[label, size] = (times, None, None)  # psycopg's copy(), not execute(): uncounted
                continue
            if label == "export":
                for mark, mark_times in EXPORT_MARKS[size].items():
                    measured[mark, size] = (mark_times[1:], queries, None)  # [0]: the warming run
            peak = peak_memory(runs[size][label])
            measured["export total" if label == "export" else label, size] = (times, queries, peak)
    results = [
        (label, size, *measured[label, size])
        for size in options.sizes
        for label, at in measured
        if at == size
    ]
    report(results, connection.vendor)


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]


def report(results: list[tuple[str, int, list[float], int | None, float | None]], vendor: str) -> None:
    print(f"database: {vendor}")
    print(f"{'page':<16} {'rows':>7} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'peak MiB':>9}")
    for label, size, times, queries, peak in results:
        median, memory = statistics.median(times), "-" if peak is None else f"{peak:.1f}"
        counted = "-" if queries is None else queries
        print(f"{label:<16} {size:>7} {median:>10.1f} {p95(times):>8.1f} {counted:>8} {memory:>9}")
    sizes = sorted({size for _label, size, *_rest in results})
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    by_key = {(label, size): (times, queries) for label, size, times, queries, _peak in results}
    print(f"\nratio {large}/{small} (median time; queries)")
    for label in dict.fromkeys(label for label, *_rest in results):
        if (label, small) in by_key and (label, large) in by_key:
            (small_times, small_queries), (large_times, large_queries) = (
                by_key[label, small],
                by_key[label, large],
            )
            ratio = statistics.median(large_times) / statistics.median(small_times)
            queries = "" if small_queries is None else f"  queries {small_queries} -> {large_queries}"
            print(f"{label:<16} {ratio:>7.2f}x{queries}")


if __name__ == "__main__":
    main()

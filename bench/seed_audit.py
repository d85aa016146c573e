"""The audit trail at size (issue 12): seed millions of audit events with COPY, then time the pages that
read them, printed as a table. Run on demand, never in the test suite.

``audit_events_copy(cursor, count, organizations, months)`` is the seeding, also used by
``bench/scale.py``: ``count`` events over the last ``months`` months, oldest first (as they would have
been appended), dealt in turn to ``organizations`` (organization id, actor id, actor label), each
organization's events cycling through every declared action and over 200 objects (``accounts.user``
targets). On PostgreSQL, where the table is partitioned by month, the partitions of those months are
made first by the database's own ``audit_partitions_ensure`` (one marker row per month, outside every
organization, waits in DEFAULT until it moves it), so that COPY writes each row straight into its month.

Run alone, it seeds ``--count`` (10,000,000) events for ``--organizations`` (1,000) organizations over
``--months`` (36) months and times, for ``--repeat`` (51) organizations in turn, through the selectors the
pages use (``accounts.selectors.activity_events`` + ``portal.lists.keyset_page``, and
``portal.audit.selectors.audit_history``):

* the activity log's first page, a deep page (a cursor half-way down the organization's history), the
  page filtered by one action, and the history of one object (its first 20 events);

each as the Django call (p50 / p95 ms, query count) and as ``EXPLAIN ANALYZE`` of the same SQL (planning
+ execution, p50 / p95 ms), first with the statistics the load left, then after ``ANALYZE``.
On a throwaway cluster (PostgreSQL commands as the postgres user; autovacuum off, so that "before
ANALYZE" means what it says)::

    initdb -D /tmp/audit/pg -U postgres -A trust -E UTF8 --locale=C.UTF-8
    pg_ctl -D /tmp/audit/pg -l /tmp/audit/log -w -o "-c listen_addresses=127.0.0.1 -p 47641 \\
        -k /tmp/audit -c shared_buffers=1GB -c maintenance_work_mem=1GB -c autovacuum=off" start
    createdb -h 127.0.0.1 -p 47641 -U postgres audit
    DATABASE_URL=postgres://postgres@127.0.0.1:47641/audit .venv/bin/python bench/seed_audit.py
    pg_ctl -D /tmp/audit/pg stop -m fast

Options: ``--keep`` (measure the events already there), ``--quick`` (100,000 events: a smoke run).
Goal: every line p95 < 100 ms (a few ms is expected).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Objects per organization that its events are about (the history of one is count / orgs / this).
TARGETS_PER_ORGANIZATION = 200
MARKER_ACTION = "bench.partition_marker"


def _is_partitioned(cursor) -> bool:
    cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = 'audit_auditevent'::regclass")
    return bool(cursor.fetchone()[0])


def _month_starts(first: datetime, last: datetime) -> list[datetime]:
    months = []
    month = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _partitions_prepare(cursor, first: datetime, last: datetime) -> None:
    """The partitions of every month from ``first`` to ``last``, by the database's own function."""
    for month in _month_starts(first, last):
        cursor.execute(
            "INSERT INTO audit_auditevent (occurred_at, actor_label, action, target_type, target_id,"
            " target_label, request_id) VALUES (%s, 'system', %s, '', '', '', '')",
            [month, MARKER_ACTION],
        )
    cursor.execute("SELECT audit_partitions_ensure(1)")


def audit_events_copy(
    cursor,
    count: int,
    organizations: list[tuple[int, int | None, str]],
    months: float,
    *,
    until: datetime | None = None,
) -> int:
    """Write ``count`` audit events over the ``months`` months before ``until`` (now) with COPY
    (a psycopg ``cursor``); returns the number written."""
    from portal.audit.catalogue import action_choices

    actions = [code for code, _label in action_choices()] or ["bench.happened"]
    now = until or datetime.now(UTC)
    start = now - timedelta(days=30.4375 * months)
    step = (now - start) / max(1, count)
    if _is_partitioned(cursor):
        _partitions_prepare(cursor, start, now)
    columns = (
        "occurred_at, actor_id, actor_label, organization_id, action, target_type, target_id, target_label,"
        " after, request_id"
    )
    per_round = len(organizations)
    written = 0
    with cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
        for n in range(count):
            organization_id, actor_id, actor_label = organizations[n % per_round]
            round_ = n // per_round
            target = organization_id * 1000 + round_ % TARGETS_PER_ORGANIZATION
            copy.write_row(
                (
                    start + step * n,
                    actor_id,
                    actor_label,
                    organization_id,
                    actions[round_ % len(actions)],
                    "accounts.user",
                    str(target),
                    f"user {target}",
                    f'{{"n": {n}}}',
                    "",
                )
            )
            written += 1
    return written


# --- Run alone: seed and measure ---------------------------------------------------------------------


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("PORTAL_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def _seed(count: int, organization_count: int, months: int) -> None:
    """In slices of a million events, oldest first (each its own COPY and transaction), with progress."""
    from django.db import connection

    organizations = [
        (organization_id, 10_000 + organization_id, f"admin-{organization_id}@bench.example")
        for organization_id in range(1, organization_count + 1)
    ]
    started = time.perf_counter()
    now = datetime.now(UTC)
    slices = max(1, count // 1_000_000)
    span = months / slices
    written = 0
    with connection.cursor() as cursor:
        for index in range(slices):
            size = count // slices + (1 if index < count % slices else 0)
            until = now - timedelta(days=30.4375 * span * (slices - 1 - index))
            written += audit_events_copy(cursor.cursor, size, organizations, span, until=until)
            print(f"  {written:,} events in {time.perf_counter() - started:.0f} s", flush=True)


def _explain_ms(sql: str, params) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        document = cursor.fetchone()[0]
    [plan] = document if isinstance(document, list) else json.loads(document)
    return plan["Planning Time"] + plan["Execution Time"]


def _measure(label: str, calls: list, results: list) -> None:
    """Each call returns (rows, sql, params) of its page query; timed as Django and as EXPLAIN ANALYZE."""
    from django.db import connection

    from bench.measure import QueryCounter, percentile

    for call in calls[:2]:
        call()
    django_ms, explain_ms, queries = [], [], 0
    for call in calls:
        captured: list = []

        def capture(execute, sql, params, many, context, captured=captured):
            captured.append((sql, params))
            return execute(sql, params, many, context)

        counter = QueryCounter()
        with connection.execute_wrapper(counter), connection.execute_wrapper(capture):
            started = time.perf_counter()
            rows = call()
            django_ms.append((time.perf_counter() - started) * 1000)
        if not rows:
            raise RuntimeError(f"{label}: an empty page measures nothing")
        queries = max(queries, counter.count)
        sql, params = captured[-1]
        explain_ms.append(_explain_ms(sql, params))
    results.append(
        (
            label,
            percentile(django_ms, 0.5),
            percentile(django_ms, 0.95),
            queries,
            percentile(explain_ms, 0.5),
            percentile(explain_ms, 0.95),
        )
    )


def _pages(repeat: int, organization_count: int, events_per_organization: int, rng: random.Random) -> list:
    from django.http import QueryDict

    from accounts.models import Organization, User
    from accounts.selectors import ACTIVITY_ORDERING, activity_events
    from portal.audit.catalogue import action_choices
    from portal.audit.models import AuditEvent
    from portal.audit.selectors import audit_history
    from portal.lists import cursor_for, keyset_page

    organization_ids = [rng.randint(1, organization_count) for _ in range(repeat)]
    # The actions every organization has events of (they cycle, one per round of organizations).
    actions = [code for code, _label in action_choices()][: max(1, events_per_organization)]

    def first_page(organization_id):
        events = activity_events(organization=Organization(pk=organization_id))
        return lambda: keyset_page(events, ordering=ACTIVITY_ORDERING, query=QueryDict()).object_list

    def deep_page(organization_id):
        middle = (
            AuditEvent.objects.filter(organization_id=organization_id).order_by(*ACTIVITY_ORDERING).count()
            // 2
        )
        row = AuditEvent.objects.filter(organization_id=organization_id).order_by(*ACTIVITY_ORDERING)[middle]
        query = QueryDict(mutable=True)
        query["after"] = cursor_for(row, ordering=ACTIVITY_ORDERING)
        events = activity_events(organization=Organization(pk=organization_id))
        return lambda: keyset_page(events, ordering=ACTIVITY_ORDERING, query=query).object_list

    def action_page(organization_id):
        events = activity_events(organization=Organization(pk=organization_id), action=rng.choice(actions))
        return lambda: keyset_page(events, ordering=ACTIVITY_ORDERING, query=QueryDict()).object_list

    def history(organization_id):
        target = User(
            pk=organization_id * 1000 + rng.randrange(min(TARGETS_PER_ORGANIZATION, events_per_organization))
        )
        return lambda: list(audit_history(organization_id=organization_id, target=target)[:20])

    return [
        ("activity log, first page", [first_page(o) for o in organization_ids]),
        ("activity log, deep page (cursor)", [deep_page(o) for o in organization_ids]),
        ("activity log, one action", [action_page(o) for o in organization_ids]),
        ("history of one object", [history(o) for o in organization_ids]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--organizations", type=int, default=1_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=51)
    parser.add_argument("--keep", action="store_true", help="measure the events already seeded")
    parser.add_argument("--quick", action="store_true", help="100,000 events: a smoke run")
    options = parser.parse_args()
    if options.quick:
        options.count = 100_000
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own.")
    call_command("migrate", verbosity=0)
    if not options.keep:
        print(
            f"Seeding {options.count:,} audit events "
            f"({options.organizations:,} organizations, {options.months} months)"
        )
        _seed(options.count, options.organizations, options.months)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), pg_size_pretty(sum(pg_total_relation_size(relid))) "
            "FROM pg_partition_tree('audit_auditevent') WHERE isleaf"
        )
        partitions, size = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        [rows] = cursor.fetchone()
    print(f"{rows:,} audit events in {partitions} partitions ({size} with indexes)")

    results: list = []
    for stage in ("before ANALYZE", "after ANALYZE"):
        if stage == "after ANALYZE":
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE audit_auditevent")
            print(f"ANALYZE took {time.perf_counter() - started:.1f} s")
        rng = random.Random(12)
        for label, calls in _pages(options.repeat, options.organizations, rows // options.organizations, rng):
            _measure(f"{label} ({stage})", calls, results)
    width = max(len(row[0]) for row in results)
    print()
    print(f"{'page'.ljust(width)}  Django p50 / p95 ms  queries  EXPLAIN ANALYZE p50 / p95 ms")
    for label, p50, p95, queries, explain50, explain95 in results:
        print(
            f"{label.ljust(width)}  {p50:8.2f} / {p95:7.2f}  {queries:7d}  "
            f"{explain50:12.2f} / {explain95:7.2f}"
        )


if __name__ == "__main__":
    main()

"""Cost of the organization list pages as they grow, printed as a table. Run on demand:

    .venv/bin/python bench/pages.py [--sizes 10 100 1000] [--repeat 5]

It builds a throwaway organization per size in the configured database (embedded SQLite by default,
under var/bench/), requests each page with Django's test client and reports median time, queries and
peak memory per request. Query counts must not grow with the rows; time may, a little.
"""

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import Membership, MembershipRole, Organization, User  # noqa: E402
from accounts.roles import Role  # noqa: E402
from portal.audit.models import AuditEvent  # noqa: E402


def build(size: int) -> tuple[Organization, User]:
    tag = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(
        kind="reseller", legal_name=f"Bench {size} {tag}", country="JP"
    )
    users = User.objects.bulk_create(
        User(email=f"bench-{tag}-{n}@example.com", full_name=f"Bench {n}") for n in range(size)
    )
    memberships = Membership.objects.bulk_create(Membership(organization=organization, user=u) for u in users)
    MembershipRole.objects.bulk_create(
        MembershipRole(membership=m, role=Role.GLOBAL_ADMIN if i == 0 else Role.SALES_AGENT)
        for i, m in enumerate(memberships)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            action=f"bench.event{n % 9}", organization_id=organization.pk, actor_label=users[n % size].email
        )
        for n in range(size * 3)
    )
    return organization, users[0]


def measure(client: Client, url: str, repeat: int) -> tuple[float, int, float]:
    client.get(url)  # warm: session rows, template cache
    times, queries = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        queries.append(len(captured))
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    tracemalloc.start()  # memory in a pass of its own: tracing slows everything down
    client.get(url)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times) * 1000, max(queries), peak / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    rows = []
    for size in options.sizes:
        organization, admin = build(size)
        client = Client()
        client.force_login(admin)
        kwargs = {"organization_public_id": organization.public_id}
        for label, name in (("users", "accounts:users"), ("activity log", "accounts:activity")):
            rows.append((label, size, *measure(client, reverse(name, kwargs=kwargs), options.repeat)))
    print(f"database: {connection.vendor}")
    print("{:<14} {:>7} {:>12} {:>9} {:>9}".format("page", "rows", "median ms", "queries", "peak MiB"))
    for label, size, ms, queries, peak in rows:
        print(f"{label:<14} {size:>7} {ms:>12.1f} {queries:>9} {peak:>9.1f}")


if __name__ == "__main__":
    main()

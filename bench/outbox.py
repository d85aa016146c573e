"""Outbox throughput and page cost, printed as a table. Run on demand, never in the test suite:

    .venv/bin/python bench/outbox.py [--emails 500]

It uses whatever DATABASE_URL points at (embedded SQLite by default) and the capture email backend.
"""

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from portal.mail import services  # noqa: E402
from portal.mail.models import OutboxEmail  # noqa: E402


def measure(label: str, count: int, action) -> tuple[str, int, float, float, float]:
    tracemalloc.start()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        action()
        elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return label, count, elapsed, len(queries) / count, peak / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=500)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    services.outbox_email_publish = lambda **kwargs: True  # measure the database side only
    OutboxEmail.objects.filter(template="bench").delete()

    def enqueue_all():
        for number in range(options.emails):
            with transaction.atomic():
                services.email_enqueue(
                    to=f"bench{number}@example.com", template="test_message", context={}, language="ja"
                )
        OutboxEmail.objects.filter(template="test_message", to__startswith="bench").update(template="bench")

    ids = []

    def deliver_all():
        for email_id in ids:
            services.outbox_email_deliver(email_id=email_id)

    rows = [measure("render + store (ja)", options.emails, enqueue_all)]
    ids.extend(OutboxEmail.objects.filter(template="bench").values_list("pk", flat=True))
    rows.append(measure("claim + send + mark", len(ids), deliver_all))
    rows.append(measure("sweep (nothing due)", 1, services.outbox_sweep))
    OutboxEmail.objects.filter(template="bench").delete()

    print(f"database: {connection.vendor}")
    header = ("operation", "n", "total s", "per op ms", "queries/op", "peak MiB")
    print("{:<24} {:>6} {:>9} {:>10} {:>11} {:>9}".format(*header))
    for label, count, elapsed, queries, peak in rows:
        per_op = elapsed / count * 1000
        print(f"{label:<24} {count:>6} {elapsed:>9.3f} {per_op:>10.2f} {queries:>11.1f} {peak:>9.1f}")


if __name__ == "__main__":
    main()

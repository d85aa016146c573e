"""Enrollment figures, printed as a table. Run on demand, never in the test suite.

1. **Checks throughput through the real worker**: ``--confirmations`` (100) applications awaiting their
   primary contact are confirmed at once (each confirmation commits and publishes its checks, as the
   confirmation page does); a real ``celery -A portal worker`` process runs them. For each application:
   the time from the contact's confirmation to all checks done (the application in review). Goal: p95
   ≤ 60 s with 100 confirmations queued at once.
2. **The review queue** (``/review/enrollment/enrollmentapplication/?status=in_review``) at 10, 100 and
   10,000 enrollments in review: median and p95 server time over ``--repeat`` requests of its first page
   and of a page at the end (a keyset cursor, ``enrollment/admin/queue.py``), and the query count, which
   must be the same at every size and page. No query may COUNT or use OFFSET: the run stops if one does.

Against PostgreSQL and Redis (what production runs; a throwaway cluster like the one ``bin/test``
starts)::

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/bench CELERY_BROKER_URL=redis://127.0.0.1:56379/0 \\
        .venv/bin/python bench/enrollment.py

Without them it runs on the embedded SQLite database and the filesystem broker under ``var/bench/``.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_VAR_DIR", str(ROOT / "var" / "bench"))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from allauth.mfa.totp.internal.auth import TOTP  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.http import urlencode  # noqa: E402

from accounts.models import DirectoryTenant, User  # noqa: E402
from bench.measure import percentile, worker_start  # noqa: E402
from enrollment.admin.queue import QUEUE_ORDERING  # noqa: E402
from enrollment.models import (  # noqa: E402
    ApplicationStatus,
    EnrollmentApplication,
    MembershipAccount,
    PartnerProfile,
)
from enrollment.services.confirmation import contact_confirm, contact_confirmation_send  # noqa: E402
from portal.lists import cursor_for  # noqa: E402

RUN = uuid.uuid4().hex[:6]


def applications_seed(count: int, *, status: str, label: str) -> list[EnrollmentApplication]:
    """``count`` complete applications in ``status``, written in bulk (the wizard's services are not what
    this measures), each with its own tenant, partner profile and applicant."""
    password = make_password(None)
    users = User.objects.bulk_create(
        User(
            email=f"bench-{label}-{RUN}-{number}@example.com", password=password, full_name=f"Bench {number}"
        )
        for number in range(count)
    )
    account = MembershipAccount.objects.create(
        username=f"bench-{label}-{RUN}", password=make_password("x" * 20)
    )
    base = int(uuid.uuid4().int % 9_000_000)
    profiles = PartnerProfile.objects.bulk_create(
        PartnerProfile(
            account=account,
            partner_id=f"{(base + number) % 10_000_000:07d}",
            legal_name=f"Bench {label} {number} KK",
            country="JP",
            location="Tokyo",
        )
        for number in range(count)
    )
    now = timezone.now()
    rows = []
    for number, (user, profile) in enumerate(zip(users, profiles, strict=True)):
        tenant_id = uuid.uuid4()
        domain = f"bench{number}-{RUN}.onportal.example"
        rows.append(
            EnrollmentApplication(
                applicant=user,
                status=status,
                tenant_id=tenant_id,
                tenant={
                    "tenant_id": str(tenant_id),
                    "display_name": f"Bench {number}",
                    "verified_domains": [domain],
                    "country": "JP",
                    "source": DirectoryTenant.Source.BUILTIN,
                    "admin": {
                        "object_id": str(uuid.uuid4()),
                        "user_principal_name": f"admin@{domain}",
                        "email": "",
                        "display_name": "Admin",
                    },
                },
                partner_profile=profile,
                partner_id=profile.partner_id,
                legal_name=profile.legal_name,
                country="JP",
                address_line1="1-1 Marunouchi",
                city="Chiyoda-ku",
                region="13",
                postal_code="100-0001",
                contact_name="Bench Contact",
                contact_email=f"contact@{domain}",
                contact_phone="+81312345678",
                contact_language="en",
                support_email=f"support@{domain}",
                support_phone="+81312345679",
                support_website=f"https://{domain}",
                submitted_at=now,
                review_started_at=now if status == ApplicationStatus.IN_REVIEW else None,
            )
        )
    return EnrollmentApplication.objects.bulk_create(rows, batch_size=2_000)


def checks_throughput(count: int, timeout: float) -> list[tuple]:
    applications = applications_seed(count, status=ApplicationStatus.AWAITING_CONFIRMATION, label="checks")
    confirmations = []
    for application in applications:
        with transaction.atomic():
            confirmations.append(contact_confirmation_send(application=application, reminder=False))
    worker = worker_start()
    try:
        started = time.perf_counter()
        confirmed_at = {}
        for confirmation in confirmations:  # the contacts confirm, one after the other, as fast as they can
            contact_confirm(
                confirmation=confirmation, user=None, is_the_contact=True, address_is_the_company=True
            )
            confirmed_at[confirmation.application_id] = time.perf_counter()
        queued = time.perf_counter() - started
        ids = list(confirmed_at)
        done_at: dict[int, float] = {}
        deadline = time.perf_counter() + timeout
        while len(done_at) < len(ids) and time.perf_counter() < deadline:
            finished = EnrollmentApplication.objects.filter(
                pk__in=[pk for pk in ids if pk not in done_at], status=ApplicationStatus.IN_REVIEW
            ).values_list("pk", flat=True)
            now = time.perf_counter()
            for pk in finished:
                done_at[pk] = now
            time.sleep(0.05)
        drained = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    latencies = [done_at[pk] - confirmed_at[pk] for pk in done_at]
    lost = len(ids) - len(done_at)
    return [
        ("confirmations queued", f"{len(ids)}", f"{queued:.2f} s to confirm all"),
        ("checks done", f"{len(done_at)} ({lost} unfinished)", f"{drained:.2f} s to drain"),
        ("confirmation → checks done p50", f"{statistics.median(latencies):.2f} s" if latencies else "-", ""),
        (
            "confirmation → checks done p95",
            f"{percentile(latencies, 0.95):.2f} s" if latencies else "-",
            "goal ≤ 60 s",
        ),
        ("confirmation → checks done max", f"{max(latencies):.2f} s" if latencies else "-", ""),
    ]


def reviewer_client() -> Client:
    reviewer = User.objects.create(
        email=f"bench-reviewer-{RUN}@example.com", is_staff=True, is_superuser=True
    )
    TOTP.activate(reviewer, "JBSWY3DPEHPK3PXPBENCHREVIEWER234")
    client = Client()
    client.force_login(reviewer)
    return client


def queue_cost(sizes: list[int], repeat: int) -> list[tuple]:
    EnrollmentApplication.objects.filter(status=ApplicationStatus.IN_REVIEW).update(
        status=ApplicationStatus.WITHDRAWN
    )  # a fresh queue: earlier runs' rows leave it
    client = reviewer_client()
    url = reverse("admin:enrollment_enrollmentapplication_changelist") + "?status=in_review"
    results = []
    seeded = 0
    for size in sizes:
        applications_seed(size - seeded, status=ApplicationStatus.IN_REVIEW, label=f"queue{size}")
        seeded = size
        # The last page: the rows after the one that precedes its last few (found here by OFFSET; the
        # queue itself never uses one).
        in_queue = EnrollmentApplication.objects.filter(status=ApplicationStatus.IN_REVIEW)
        boundary = in_queue.order_by(*QUEUE_ORDERING)[max(size - 11, 0)]
        last_page = f"{url}&{urlencode({'after': cursor_for(boundary, ordering=QUEUE_ORDERING)})}"
        for page, page_url in (("first page", url), ("last page", last_page)):
            queries = []

            def count(execute, sql, params, many, context, queries=queries):
                queries.append(sql)
                return execute(sql, params, many, context)

            times = []
            for _ in range(repeat):
                queries.clear()
                with connection.execute_wrapper(count):
                    started = time.perf_counter()
                    response = client.get(page_url)
                    times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"The review queue answered {response.status_code}")
            rows = response.content.decode().count('class="field-name"')
            counted = [sql for sql in queries if "COUNT(" in sql.upper() or "OFFSET" in sql.upper()]
            if counted:
                raise SystemExit(f"The review queue counted or skipped rows: {counted}")
            results.append(
                (
                    f"review queue, {size:,} in review, {page}",
                    f"{statistics.median(times):.1f} ms (p95 {percentile(times, 0.95):.1f} ms)",
                    f"{len(queries)} queries, {rows} rows",
                )
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--confirmations", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 10_000])
    parser.add_argument("--repeat", type=int, default=21)
    options = parser.parse_args()
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    rows = [
        *checks_throughput(options.confirmations, options.timeout),
        *queue_cost(options.sizes, options.repeat),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'figure'.ljust(width)}  {'value':<36}  note")
    for label, value, note in rows:
        print(f"{label.ljust(width)}  {value:<36}  {note}")


if __name__ == "__main__":
    main()

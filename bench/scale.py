"""Every list page, search and export at production size (issue 12), printed as a table. Run on demand,
never in the test suite.

Seeds, in a PostgreSQL of its own (``DATABASE_URL``), with COPY (psycopg's ``cursor.copy`` and
``write_row``, no ORM saves):

* ``--resellers`` (100,000) resellers, each with its Global admin, its approved enrollment application,
  an accepted partnership invitation and a live partnership with one provider, *Big provider*, which
  therefore has every reseller (one in ten also asked it first: a partnership request);
* ``--relationships`` (1,000,000) customer relationships: *Big reseller* has a tenth of them as customers
  (100,000, each with its reseller relationship, the provider relationship with Big provider, a live
  delegated admin relationship, an accepted invitation, a subscription and its order), the other
  resellers share the rest (a few customers each, Big provider their indirect provider too);
* *Big customer* (Big reseller's first customer): a tenant with as many users as Big reseller has
  customers, one licence of one subscription each, and a thousand more subscriptions;
* ``--audit-events`` (10,000,000) audit events, a tenth of them Big reseller's and a tenth Big
  provider's, the rest spread over every reseller, over twelve months; a tenth as many sent outbox emails;
* a small side beside each large one (*Small reseller* with 10 customers, *Small provider* with 10
  resellers, *Small customer* with 10 tenant users, 100 audit events each), so that every page is
  measured on both and its query count compared: it must not depend on size.

Then, for every list page, search and export of the organization pages, and the review site's
changelists (admin: their COUNT queries included), it prints the p50 / p95 server time (Django's test
client: middleware, view and template) and the query count (``bench.measure.QueryCounter``), at the large
and the small organization; a keyset list also on a deep page (a cursor built from a row half-way down);
an export: the time to its first byte and to its first data row.

On a throwaway cluster (as root, the PostgreSQL commands through ``runuser -u postgres --``), with the
settings a production server would have::

    initdb -D /tmp/scale/pg -U postgres -A trust -E UTF8 --locale=C.UTF-8
    pg_ctl -D /tmp/scale/pg -l /tmp/scale/log -w -o "-c listen_addresses=127.0.0.1 -p 47611 \\
        -k /tmp/scale -c shared_buffers=1GB -c work_mem=16MB -c maintenance_work_mem=512MB" start
    createdb -h 127.0.0.1 -p 47611 -U postgres scale
    DATABASE_URL=postgres://postgres@127.0.0.1:47611/scale .venv/bin/python bench/scale.py
    pg_ctl -D /tmp/scale/pg stop -m fast

Options: ``--quick`` (every size divided by 100: a smoke run), ``--repeat 21``, ``--keep`` (measure an
already seeded database again: the seed is recorded in the table ``bench_scale_seed``; seeding is the
expensive part), ``--only <label part>`` (measure the pages whose label contains it).

Goal: every page p95 < 100 ms on 2 cores, every export's first data row in < 1 s, the same query count
at both sizes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
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
from django.db import connection, models  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import selectors as account_selectors  # noqa: E402
from accounts.models import (  # noqa: E402
    DirectoryTenant,
    DirectoryUser,
    Membership,
    MembershipRole,
    Organization,
    User,
)
from accounts.roles import Role  # noqa: E402
from bench.measure import QueryCounter, percentile  # noqa: E402
from commerce.models import LicenceAssignment, Offer, Order, Subscription  # noqa: E402
from customers.models import (  # noqa: E402
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedRole,
)
from enrollment.models import EnrollmentApplication  # noqa: E402
from portal.audit.catalogue import action_choices  # noqa: E402
from portal.audit.models import AuditEvent  # noqa: E402
from portal.lists import cursor_for  # noqa: E402
from portal.mail.models import OutboxEmail  # noqa: E402
from providers.models import (  # noqa: E402
    Partnership,
    PartnershipInvitation,
    PartnershipRequest,
    ProviderListing,
)

MARKER_TABLE = "bench_scale_seed"
NO_PASSWORD = make_password(None)
TENANT_PASSWORD = make_password("bench tenant password")  # a tenant user's password must be a hash
DAY = timedelta(days=1)
#: the delegated roles of every seeded relationship: enough for the reseller's pages in the tenant
DELEGATED_ROLES = [
    str(DelegatedRole.DIRECTORY_READER),
    str(DelegatedRole.USER_ADMIN),
    str(DelegatedRole.LICENSE_ADMIN),
]


# --- Seeding: COPY --------------------------------------------------------------------------------


class Ids:
    """The next free id of each table (the rows are given their ids, so that others can point at
    them without reading them back); the sequences are moved past them at the end."""

    def __init__(self) -> None:
        self.next: dict[type[models.Model], int] = {}

    def take(self, model: type[models.Model], count: int) -> range:
        if model not in self.next:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")  # noqa: S608
                self.next[model] = cursor.fetchone()[0]
        start = self.next[model]
        self.next[model] = start + count
        return range(start, start + count)

    def sequences_update(self) -> None:
        with connection.cursor() as cursor:
            for model in self.next:
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" (SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )


def _column_plan(model: type[models.Model], given: Iterable[str], now) -> list[tuple[str, Callable | None]]:
    """For each concrete column: its name and how to fill it when a row does not say (None: the row
    always says). Python defaults, as the ORM would apply them (the tables have no database defaults)."""
    plan = []
    given = set(given)
    for field in model._meta.concrete_fields:
        name = field.attname
        if name in given:
            plan.append((name, None))
            continue
        if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
            continue  # the identity column numbers the row
        if field.has_default():
            default = field.default
            if default is timezone.now:
                value = now
                plan.append((name, lambda value=value: value))
            elif callable(default):
                plan.append((name, default))
            else:
                plan.append((name, lambda value=default: value))
        elif field.null:
            plan.append((name, lambda: None))
        elif isinstance(field, models.CharField | models.TextField) and field.blank:
            plan.append((name, lambda: ""))
        else:
            raise SystemExit(f"{model.__name__}.{name}: no value and no default")
    return plan


def copy_rows(model: type[models.Model], rows: Iterable[dict]) -> int:
    """COPY ``rows`` (dicts of column attnames) into ``model``'s table; missing columns get the field's
    default. Returns how many rows were written."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    now = timezone.now()
    plan = _column_plan(model, first.keys(), now)
    json_columns = {
        field.attname for field in model._meta.concrete_fields if isinstance(field, models.JSONField)
    }
    columns = ", ".join(f'"{name}"' for name, _fill in plan)
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in _chain(first, iterator):
                values = []
                for name, fill in plan:
                    value = row[name] if fill is None else fill()
                    if name in json_columns and value is not None:
                        value = json.dumps(value)
                    values.append(value)
                copy.write_row(values)
                count += 1
    return count


@contextmanager
def indexes_deferred(table: str) -> Iterator[None]:
    """Drop ``table``'s secondary indexes (not those of its constraints) for a bulk load and build them
    again after it: one sorted build is many times faster than millions of random index inserts. On a
    partitioned table, its partitioned indexes (and so every partition's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT index.relname, pg_get_indexdef(index.oid) FROM pg_index
               JOIN pg_class index ON index.oid = pg_index.indexrelid
               WHERE pg_index.indrelid = %s::regclass
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = index.oid)""",
            [table],
        )
        definitions = cursor.fetchall()
        for name, _definition in definitions:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _name, definition in definitions:
                # pg_get_indexdef() writes a partitioned index as "ON ONLY <table>": built so, it would be
                # an INVALID index of the parent alone, and no partition would have one.
                cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


# --- Seeding: audit events ---------------------------------------------------------------------------


def audit_events_copy_here(cursor, count: int, organizations: list[tuple[int, int, str]], months: int) -> int:
    """``count`` audit events over the last ``months`` months, dealt to ``organizations`` (organization
    id, actor id, actor label) in turn, through the current (unpartitioned) table. The one place that
    writes audit rows: bench/seed_audit.py replaces it when it exists."""
    actions = [code for code, _label in action_choices()]
    now = timezone.now()
    step = timedelta(days=30 * months) / max(1, count)
    columns = "occurred_at, actor_id, actor_label, organization_id, action, target_type, target_id,"
    columns += " target_label, after, request_id"
    written = 0
    with cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
        for n in range(count):
            organization_id, actor_id, actor_label = organizations[n % len(organizations)]
            copy.write_row(
                (
                    now - step * n,
                    actor_id,
                    actor_label,
                    organization_id,
                    actions[n % len(actions)],
                    "membership",
                    str(n),
                    f"bench {n}",
                    f'{{"n": {n}}}',
                    "",
                )
            )
            written += 1
    return written


def audit_events_copy(cursor, count: int, organizations: list[tuple[int, int, str]], months: int) -> int:
    """Through bench/seed_audit.py (the partitioned table's own seeding) when it exists."""
    path = ROOT / "bench" / "seed_audit.py"
    if path.exists():
        spec = importlib.util.spec_from_file_location("bench.seed_audit", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.audit_events_copy(cursor, count, organizations, months)
    return audit_events_copy_here(cursor, count, organizations, months)


# --- Seeding: the world ------------------------------------------------------------------------------


@dataclass
class Sizes:
    resellers: int
    relationships: int
    audit_events: int

    @property
    def big_customers(self) -> int:
        return max(10, self.relationships // 10)


SMALL = 10  # customers, resellers and tenant users of the small side


def token() -> str:
    return secrets.token_hex(32)


def seed(sizes: Sizes) -> dict[str, int]:
    """Everything, by COPY; returns the ids the pages need (stored in the marker table too)."""
    ids = Ids()
    now = timezone.now()
    timings: list[tuple[str, float]] = []
    started = time.perf_counter()

    def done(label: str) -> None:
        nonlocal started
        timings.append((label, time.perf_counter() - started))
        print(f"  {label}: {timings[-1][1]:.1f} s", file=sys.stderr, flush=True)
        started = time.perf_counter()

    n_resellers = sizes.resellers
    big_customers = sizes.big_customers
    # Customers of the other resellers (two relationships each: reseller and provider).
    rest_customers = max(0, (sizes.relationships - 2 * big_customers - 2 * SMALL) // 2)
    other_resellers = max(1, n_resellers - 2)

    # Organizations: 2 providers, the resellers (0: Big reseller, 1: Small reseller), the customers.
    provider_ids = ids.take(Organization, 2)
    big_provider, small_provider = provider_ids
    reseller_ids = ids.take(Organization, n_resellers)
    big_reseller, small_reseller = reseller_ids[0], reseller_ids[1]
    customer_ids = ids.take(Organization, big_customers + SMALL + rest_customers)
    big_customer_ids = customer_ids[:big_customers]
    small_customer_ids = customer_ids[big_customers : big_customers + SMALL]
    rest_customer_ids = customer_ids[big_customers + SMALL :]
    big_customer, small_customer = big_customer_ids[0], small_customer_ids[0]
    tenant_ids = ids.take(DirectoryTenant, 2)

    def organizations() -> Iterator[dict]:
        for index, pk in enumerate(provider_ids):
            name = ("Big provider", "Small provider")[index]
            yield {
                "id": pk,
                "kind": "provider",
                "legal_name": name,
                "country": "JP",
                "partner_id": None,
                "directory_tenant_id": None,
                "created_at": now,
            }
        for n, pk in enumerate(reseller_ids):
            name = "Big reseller" if n == 0 else "Small reseller" if n == 1 else f"Reseller {n:06d}"
            yield {
                "id": pk,
                "kind": "reseller",
                "legal_name": name,
                "country": "JP",
                "partner_id": f"{1_000_000 + n:07d}",
                "directory_tenant_id": None,
                "created_at": now - timedelta(minutes=n),
            }
        for n, pk in enumerate(customer_ids):
            tenant = tenant_ids[0] if pk == big_customer else tenant_ids[1] if pk == small_customer else None
            yield {
                "id": pk,
                "kind": "customer",
                "legal_name": f"Customer {n:07d}",
                "country": "JP" if n % 2 else "US",
                "partner_id": None,
                "directory_tenant_id": tenant,
                "created_at": now - timedelta(minutes=n),
            }

    copy_rows(
        DirectoryTenant,
        (
            {
                "id": pk,
                "tenant_id": uuid.uuid4(),
                "name": f"tenant{n}",
                "verified_domains": [f"t{n}.example"],
                "country": "JP",
                "source": "builtin",
            }
            for n, pk in enumerate(tenant_ids)
        ),
    )
    copy_rows(Organization, organizations())
    done("organizations")

    # Users and memberships: every reseller's Global admin, each provider's and customer's, extra
    # members of Big reseller (its User management), the staff reviewer.
    big_members = max(10, n_resellers // 10)
    owners = [*provider_ids, *reseller_ids, big_customer, small_customer]
    user_ids = ids.take(User, len(owners) + big_members + 1)
    staff_id = user_ids[-1]
    admin_of = dict(zip(owners, user_ids, strict=False))
    member_rows = list(admin_of.items())
    member_rows += [(big_reseller, user) for user in user_ids[len(owners) : len(owners) + big_members]]
    copy_rows(
        User,
        (
            {
                "id": pk,
                "email": f"user{n}@bench.example",
                "full_name": f"Bench user {n}",
                "password": NO_PASSWORD,
                "is_staff": pk == staff_id,
                "is_superuser": pk == staff_id,
            }
            for n, pk in enumerate(user_ids)
        ),
    )
    membership_ids = ids.take(Membership, len(member_rows))
    copy_rows(
        Membership,
        (
            {
                "id": pk,
                "organization_id": organization,
                "user_id": user,
                "created_at": now - timedelta(seconds=n),
            }
            for n, (pk, (organization, user)) in enumerate(zip(membership_ids, member_rows, strict=True))
        ),
    )
    owner_count = len(owners)
    copy_rows(
        MembershipRole,
        (
            {"membership_id": pk, "role": str(Role.GLOBAL_ADMIN if n < owner_count else Role.SALES_AGENT)}
            for n, pk in enumerate(membership_ids)
        ),
    )
    done("users and memberships")

    # Enrollment: every reseller's approved application; a thousandth of them also a rejected earlier one.
    def applications() -> Iterator[dict]:
        for n, pk in enumerate(reseller_ids):
            yield {
                "organization_id": pk,
                "applicant_id": admin_of[pk],
                "status": "approved",
                "partner_id": f"{1_000_000 + n:07d}",
                "legal_name": f"Reseller {n:06d}",
                "country": "JP",
                "contact_name": f"Contact {n}",
                "contact_email": f"contact{n}@bench.example",
                "created_at": now - timedelta(minutes=n),
                "updated_at": now,
                "submitted_at": now - timedelta(minutes=n),
                "decided_at": now,
                "tenant_id": None,
                "tenant": {},
                "information_items": [],
            }

    copy_rows(EnrollmentApplication, applications())
    done("enrollment applications")

    # Providers: listings, partnerships (Big provider: every reseller; Small provider: 10), accepted
    # invitations, and requests (one reseller in ten asked Big provider first).
    copy_rows(
        ProviderListing,
        (
            {
                "organization_id": pk,
                "name": name,
                "description": "Licensing and support for resellers.",
                "authorized_at": now,
            }
            for pk, name in ((big_provider, "Big provider"), (small_provider, "Small provider"))
        ),
    )
    pairs = [(big_provider, reseller) for reseller in reseller_ids]
    pairs += [(small_provider, reseller) for reseller in reseller_ids[1 : 1 + SMALL]]
    invitation_ids = ids.take(PartnershipInvitation, len(pairs))
    copy_rows(
        PartnershipInvitation,
        (
            {
                "id": pk,
                "organization_id": provider,
                "email": f"user-of-{reseller}@bench.example",
                "token_hash": token(),
                "status": "accepted",
                "purpose": "partnership",
                "created_at": now - timedelta(minutes=n + 1),
                "expires_at": now + 30 * DAY,
                "decided_at": now - timedelta(minutes=n),
                "invited_by_id": admin_of[provider],
            }
            for n, (pk, (provider, reseller)) in enumerate(zip(invitation_ids, pairs, strict=True))
        ),
    )
    copy_rows(
        Partnership,
        (
            {
                "provider_id": provider,
                "reseller_id": reseller,
                "status": "active",
                "invitation_id": pk,
                "started_at": now - timedelta(minutes=n),
            }
            for n, (pk, (provider, reseller)) in enumerate(zip(invitation_ids, pairs, strict=True))
        ),
    )
    copy_rows(
        PartnershipRequest,
        (
            {
                "provider_id": provider,
                "reseller_id": reseller,
                "requested_by_id": admin_of[reseller],
                "status": "open" if n % 10 == 0 else "invited",
                "message": "We would like to work with you.",
                "created_at": now - timedelta(minutes=n),
            }
            for n, (provider, reseller) in enumerate(pairs)
            if n % 10 == 0 or provider == small_provider
        ),
    )
    done("partnerships")

    # Customers: relationships, delegated admin, invitations.
    def customers_of() -> Iterator[tuple[int, int, int]]:
        """(customer, reseller, provider) for every customer."""
        for customer in big_customer_ids:
            yield customer, big_reseller, big_provider
        for customer in small_customer_ids:
            yield customer, small_reseller, small_provider
        for n, customer in enumerate(rest_customer_ids):
            yield customer, reseller_ids[2 + n % other_resellers], big_provider

    names = {pk: f"Customer {n:07d}" for n, pk in enumerate(customer_ids)}
    count = copy_rows(
        CustomerRelationship,
        (
            {
                "customer_id": customer,
                "partner_id": partner,
                "role": role,
                "reseller_id": reseller,
                "customer_name": names[customer],
                "status": "active",
                "started_at": now - timedelta(minutes=customer % 500_000),
            }
            for customer, reseller, provider in customers_of()
            for partner, role in ((reseller, "reseller"), (provider, "provider"))
        ),
    )
    print(f"  {count:,} customer relationships", file=sys.stderr)
    detailed = [*big_customer_ids, *small_customer_ids]
    reseller_of = dict.fromkeys(big_customer_ids, big_reseller)
    reseller_of.update(dict.fromkeys(small_customer_ids, small_reseller))
    copy_rows(
        DelegatedAdminRelationship,
        (
            {
                "customer_id": customer,
                "partner_id": reseller_of[customer],
                "roles": DELEGATED_ROLES,
                "duration_days": 365,
                "auto_extend": n % 3 == 0,
                "status": "expiring" if n % 100 < 8 else "active",
                "requested_at": now - 200 * DAY,
                "starts_at": now - 200 * DAY,
                "ends_at": now + timedelta(days=1 + n % 365),
            }
            for n, customer in enumerate(detailed)
        ),
    )
    copy_rows(
        CustomerInvitation,
        (
            {
                "organization_id": reseller_of[customer],
                "kind": "with_provider",
                "provider_id": big_provider if reseller_of[customer] == big_reseller else small_provider,
                "email": f"admin-of-{customer}@bench.example",
                "token_hash": token(),
                "status": "accepted",
                "purpose": "customer",
                "customer_name": names[customer],
                "roles": DELEGATED_ROLES,
                "customer_id": customer,
                "created_at": now - timedelta(minutes=n + 1),
                "expires_at": now + 30 * DAY,
                "decided_at": now - timedelta(minutes=n),
            }
            for n, customer in enumerate(detailed)
        ),
    )
    done("customers")

    # Commerce: one offer; a subscription and its order per detailed customer, a thousand more
    # subscriptions for Big customer; Big customer's tenant users, each with a licence of one subscription.
    [offer_id] = ids.take(Offer, 1)
    copy_rows(
        Offer,
        [
            {
                "id": offer_id,
                "name": "Bench Suite",
                "product_code": f"BENCH-{offer_id}",
                "seat_based": True,
                "billing_term": "monthly",
                "commitment": "none",
                "min_seats": 1,
                "max_seats": 1_000_000,
                "is_active": True,
            }
        ],
    )
    provider_of = {big_reseller: big_provider, small_reseller: small_provider}
    extra = 1_000 if sizes.big_customers >= 10_000 else 10
    owners_of_subscriptions = [*detailed, *([big_customer] * extra), *([small_customer] * 2)]
    subscription_ids = ids.take(Subscription, len(owners_of_subscriptions))
    copy_rows(
        Subscription,
        (
            {
                "id": pk,
                "customer_id": customer,
                "reseller_id": reseller_of[customer],
                "provider_id": provider_of[reseller_of[customer]],
                "offer_id": offer_id,
                "name": f"Bench Suite {n:07d}",
                "seats": 10,
                "billing_term": "monthly",
                "commitment": "none",
                "currency": "JPY",
                "unit_price": Decimal("1000.00"),
                "started_at": now - 100 * DAY,
                "term_started_at": now - 10 * DAY,
                "renews_at": now + timedelta(days=1 + n % 30),
                "auto_renew": True,
                "status": "active",
            }
            for n, (pk, customer) in enumerate(zip(subscription_ids, owners_of_subscriptions, strict=True))
        ),
    )
    copy_rows(
        Order,
        (
            {
                "customer_id": customer,
                "reseller_id": reseller_of[customer],
                "provider_id": provider_of[reseller_of[customer]],
                "offer_id": offer_id,
                "kind": "new",
                "seats": 10,
                "currency": "JPY",
                "unit_price": Decimal("1000.00"),
                "status": "provisioned",
                "idempotency_key": uuid.uuid4(),
                "requested_by_reseller": n % 2 == 0,
                "created_at": now - timedelta(minutes=n),
                "submitted_at": now - timedelta(minutes=n),
                "completed_at": now - timedelta(minutes=n),
                "subscription_id": pk,
                "created_by_id": admin_of[reseller_of[customer]],
            }
            for n, (pk, customer) in enumerate(zip(subscription_ids, owners_of_subscriptions, strict=True))
            if n < len(detailed)
        ),
    )
    tenant_sizes = ((tenant_ids[0], big_customer, big_customers), (tenant_ids[1], small_customer, SMALL))
    licensed = {big_customer: subscription_ids[0], small_customer: subscription_ids[big_customers]}
    for tenant, customer, count in tenant_sizes:
        directory_user_ids = ids.take(DirectoryUser, count)
        copy_rows(
            DirectoryUser,
            (
                {
                    "id": pk,
                    "tenant_id": tenant,
                    "user_principal_name": f"user{n:07d}@t{tenant}.example",
                    "display_name": f"User {n:07d}",
                    "password": TENANT_PASSWORD,
                    "is_global_admin": n == 0,
                    "status": "active",
                    "language": "en",
                }
                for n, pk in enumerate(directory_user_ids)
            ),
        )
        copy_rows(
            LicenceAssignment,
            (
                {
                    "customer_id": customer,
                    "subscription_id": licensed[customer],
                    "directory_user_id": pk,
                    "user_principal_name": f"user{n:07d}@t{tenant}.example",
                    "assigned_at": now,
                }
                for n, pk in enumerate(directory_user_ids)
            ),
        )
    done("commerce")

    # Audit events and outbox emails.
    actor = {
        organization: (admin_of.get(organization), f"user-of-{organization}@bench.example")
        for organization in [*provider_ids, *reseller_ids]
    }
    tenth = sizes.audit_events // 10

    def dealt(organizations: list[int]) -> list[tuple[int, int, str]]:
        return [(organization, *actor[organization]) for organization in organizations]

    with indexes_deferred(AuditEvent._meta.db_table), connection.cursor() as cursor:
        plan = [
            (tenth, dealt([big_reseller])),
            (tenth, dealt([big_provider])),
            (100, dealt([small_reseller])),
            (100, dealt([small_provider])),
            (sizes.audit_events - 2 * tenth - 200, dealt(list(reseller_ids[2:]) or [big_reseller])),
        ]
        for count, organizations in plan:
            audit_events_copy(cursor.cursor, count, organizations, 12)
    done(f"{sizes.audit_events:,} audit events")
    copy_rows(
        OutboxEmail,
        (
            {
                "id": uuid.uuid4(),
                "template": "bench",
                "to": f"user{n}@bench.example",
                "from_email": "portal@bench.example",
                "subject": f"Bench message {n}",
                "body_text": "Hello.",
                "language": "en",
                "organization_id": reseller_ids[n % n_resellers],
                "status": "sent",
                "attempts": 1,
                "next_attempt_at": now - timedelta(seconds=n),
                "sent_at": now - timedelta(seconds=n),
                "created_at": now - timedelta(seconds=n),
            }
            for n in range(max(100, sizes.audit_events // 10))
        ),
    )
    done("outbox emails")

    ids.sequences_update()
    TOTP.activate(User.objects.get(pk=staff_id), "JBSWY3DPEHPK3PXP")  # the review site asks staff for MFA
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    done("VACUUM ANALYZE")
    return {
        "big_provider": big_provider,
        "small_provider": small_provider,
        "big_reseller": big_reseller,
        "small_reseller": small_reseller,
        "big_customer": big_customer,
        "small_customer": small_customer,
        "staff": staff_id,
        "big_provider_admin": admin_of[big_provider],
        "small_provider_admin": admin_of[small_provider],
        "big_reseller_admin": admin_of[big_reseller],
        "small_reseller_admin": admin_of[small_reseller],
        "big_customer_admin": admin_of[big_customer],
        "small_customer_admin": admin_of[small_customer],
    }


def marker_read(sizes: Sizes) -> dict[str, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (sizes jsonb NOT NULL, world jsonb NOT NULL)"
        )
        cursor.execute(f"SELECT sizes, world FROM {MARKER_TABLE}")  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    stored_sizes, world = (json.loads(value) if isinstance(value, str) else value for value in row)
    if stored_sizes != sizes.__dict__:
        raise SystemExit(f"--keep: the database was seeded with {stored_sizes}, not {sizes.__dict__}")
    return world


def marker_write(sizes: Sizes, world: dict[str, int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE} (sizes, world) VALUES (%s, %s)",  # noqa: S608
            [json.dumps(sizes.__dict__), json.dumps(world)],
        )


# --- Measuring ---------------------------------------------------------------------------------------


@dataclass
class Target:
    client: Client
    url: str


@dataclass
class Page:
    label: str
    large: Target
    small: Target
    export: bool = False


def measure_once(target: Target, *, export: bool) -> tuple[float, int, float | None]:
    """One GET: milliseconds, queries, and for an export the milliseconds to its first byte (an export
    is read up to its first data row only: the time that counts is when the download starts)."""
    counter = QueryCounter()
    first_byte = None
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        response = target.client.get(target.url)
        if export:
            if not response.streaming:
                raise SystemExit(f"{target.url}: not a streamed export ({response.status_code})")
            chunks = iter(response.streaming_content)
            received = next(chunks, b"")
            first_byte = (time.perf_counter() - started) * 1000
            while received.count(b"\n") < 2 and (chunk := next(chunks, None)) is not None:
                received += chunk
            if received.count(b"\n") < 2:
                raise SystemExit(f"{target.url}: no data row")
        elapsed = (time.perf_counter() - started) * 1000
        if export:
            response.close()
    if response.status_code != 200:
        raise SystemExit(f"{target.url} answered {response.status_code}")
    return elapsed, counter.count, first_byte


def measure(pages: list[Page], repeat: int) -> list[tuple]:
    rows = []
    for page in pages:
        results = {}
        for target in (page.large, page.small):
            measure_once(target, export=page.export)  # warm
        times = {"large": [], "small": []}
        queries = {"large": 0, "small": 0}
        firsts = {"large": [], "small": []}
        runs = max(3, repeat // 3) if page.export else repeat
        for _ in range(runs):
            for side, target in (("large", page.large), ("small", page.small)):
                elapsed, count, first_byte = measure_once(target, export=page.export)
                times[side].append(elapsed)
                queries[side] = max(queries[side], count)
                if page.export:
                    firsts[side].append(first_byte)
        for side in ("large", "small"):
            results[side] = (
                statistics.median(times[side]),
                percentile(times[side], 0.95),
                queries[side],
                statistics.median(firsts[side]) if firsts[side] else None,
            )
        rows.append((page.label, results))
        large, small = results["large"], results["small"]
        verdict = "ok"
        if (page.export and large[1] > 1000) or (not page.export and large[1] > 100):
            verdict = "SLOW"
        if large[2] != small[2]:
            verdict += " QUERIES"
        print(_row(page.label, results, verdict, page.export), flush=True)
    return rows


HEADER = (
    f"{'page':<44} {'p50 ms':>8} {'p95 ms':>8} {'queries':>7} {'1st byte':>8} │"
    f" {'small p50':>9} {'p95':>7} {'queries':>7}  verdict"
)


def _row(label: str, results: dict, verdict: str, export: bool) -> str:
    large, small = results["large"], results["small"]
    first = f"{large[3]:8.1f}" if export and large[3] is not None else f"{'-':>8}"
    return (
        f"{label:<44} {large[0]:8.1f} {large[1]:8.1f} {large[2]:7d} {first} │"
        f" {small[0]:9.1f} {small[1]:7.1f} {small[2]:7d}  {verdict}"
    )


def client_of(user_id: int) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=user_id))
    return client


def deep(url: str, model_queryset, ordering: tuple[str, ...], position: int) -> str:
    """``url`` on the page after the row at ``position`` of the list (an OFFSET here, in the bench)."""
    position = max(0, min(position, model_queryset.count() - 1))
    row = model_queryset.order_by(*ordering)[position]
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}after={cursor_for(row, ordering=ordering)}"


def pages_build(world: dict[str, int], sizes: Sizes) -> list[Page]:
    from commerce.views.directory import USER_ORDERING
    from commerce.views.licences import ASSIGNMENT_ORDERING
    from commerce.views.orders import ORDER_ORDERING
    from customers.views.partner_side import CUSTOMER_ORDERING
    from customers.views.partner_side import INVITATION_ORDERING as CUSTOMER_INVITATION_ORDERING
    from providers import selectors as provider_selectors

    organization = {
        name: Organization.objects.get(pk=pk)
        for name, pk in world.items()
        if "_" in name and not name.endswith("admin") and name != "staff"
    }
    clients = {name: client_of(world[f"{name}_admin"]) for name in organization}
    staff = client_of(world["staff"])
    pages: list[Page] = []

    def org_url(route: str, name: str, **kwargs) -> str:
        return reverse(route, kwargs={"organization_public_id": organization[name].public_id, **kwargs})

    def pair(
        label: str, route: str, kind: str, query: str = "", *, export: bool = False, deep_of=None
    ) -> None:
        """The page on the big and the small organization of ``kind``; ``deep_of(name)`` → (queryset,
        ordering, position) adds the deep page too."""
        targets = {}
        for size in ("big", "small"):
            name = f"{size}_{kind}"
            targets[size] = Target(clients[name], org_url(route, name) + query)
        pages.append(Page(label, targets["big"], targets["small"], export=export))
        if deep_of is not None:
            deep_targets = {}
            for size in ("big", "small"):
                name = f"{size}_{kind}"
                queryset, ordering, position = deep_of(name)
                url = deep(org_url(route, name) + query, queryset, ordering, position)
                deep_targets[size] = Target(clients[name], url)
            pages.append(Page(f"{label}, deep page", deep_targets["big"], deep_targets["small"]))

    def half(count: int) -> int:
        return max(0, count // 2)

    # accounts: User management, Activity log (and its filters), the export
    pair(
        "User management (reseller)",
        "accounts:users",
        "reseller",
        deep_of=lambda name: (
            account_selectors.organization_members(organization=organization[name]),
            account_selectors.MEMBERS_ORDERING,
            5 if "small" in name else half(sizes.resellers // 10),
        ),
    )
    for kind in ("reseller", "provider"):
        pair(
            f"Activity log ({kind})",
            "accounts:activity",
            kind,
            deep_of=lambda name: (
                account_selectors.activity_events(organization=organization[name]),
                account_selectors.ACTIVITY_ORDERING,
                50 if "small" in name else half(sizes.audit_events // 10),
            ),
        )
    action = action_choices()[0][0]
    today = timezone.now().date()
    pair("Activity log, by action", "accounts:activity", "reseller", f"?action={action}")
    pair(
        "Activity log, by dates",
        "accounts:activity",
        "reseller",
        f"?date_from={today - 200 * DAY}&date_to={today - 100 * DAY}",
    )
    pair(
        "Activity log, by action and dates",
        "accounts:activity",
        "reseller",
        f"?action={action}&date_from={today - 200 * DAY}&date_to={today - 100 * DAY}",
    )
    pair("Activity export (reseller)", "accounts:activity_export", "reseller", export=True)

    # providers: the reseller's providers, the directory, the provider's resellers, invitations, requests
    pair("Indirect providers (reseller)", "providers:providers", "reseller")
    pair("Provider directory (reseller)", "providers:directory", "reseller")
    pair("Provider directory, search", "providers:directory", "reseller", "?q=provider")
    pair(
        "Indirect resellers (provider)",
        "providers:resellers",
        "provider",
        deep_of=lambda name: (
            provider_selectors.partnerships_of(organization[name], status="active"),
            provider_selectors.PARTNERSHIP_ORDERING,
            5 if "small" in name else half(sizes.resellers),
        ),
    )
    pair("Indirect resellers, search name", "providers:resellers", "provider", "?q=Reseller+00012")
    pair("Indirect resellers, search partner ID", "providers:resellers", "provider", "?q=1000005")
    pair("Indirect resellers, all statuses", "providers:resellers", "provider", "?status=all")
    pair("Indirect resellers export", "providers:resellers_export", "provider", export=True)
    pair("Reseller invitations (provider)", "providers:invitations", "provider")
    pair("Reseller invitations, search", "providers:invitations", "provider", "?q=user-of-1")
    pair("Partnership requests (provider)", "providers:requests", "provider")

    # customers: the Customers list (reseller, provider, search), expiry radar, invitations
    pair(
        "Customers (reseller)",
        "customers:list",
        "reseller",
        deep_of=lambda name: (
            CustomerRelationship.objects.filter(partner=organization[name], status="active"),
            CUSTOMER_ORDERING,
            5 if "small" in name else half(sizes.big_customers),
        ),
    )
    pair("Customers, search (reseller)", "customers:list", "reseller", "?q=00001")
    pair("Customers, search many (reseller)", "customers:list", "reseller", "?q=00000")
    pair(
        "Customers (provider)",
        "customers:list",
        "provider",
        deep_of=lambda name: (
            CustomerRelationship.objects.filter(partner=organization[name], status="active"),
            CUSTOMER_ORDERING,
            5 if "small" in name else half(sizes.big_customers),
        ),
    )
    pair("Customers, search (provider)", "customers:list", "provider", "?q=00001")
    for size in ("big", "small"):
        partnership = Partnership.objects.get(
            provider=organization[f"{size}_provider"], reseller=organization[f"{size}_reseller"]
        )
        world[f"{size}_partnership"] = str(partnership.public_id)
    pages.append(
        Page(
            "Customers via partnership (provider)",
            Target(
                clients["big_provider"],
                org_url("customers:list", "big_provider") + f"?partnership={world['big_partnership']}",
            ),
            Target(
                clients["small_provider"],
                org_url("customers:list", "small_provider") + f"?partnership={world['small_partnership']}",
            ),
        )
    )
    pair("Expiry radar (reseller)", "customers:expiring", "reseller")
    pair(
        "Customer invitations (reseller)",
        "customers:invitations",
        "reseller",
        deep_of=lambda name: (
            CustomerInvitation.objects.filter(organization=organization[name]),
            CUSTOMER_INVITATION_ORDERING,
            5 if "small" in name else half(sizes.big_customers),
        ),
    )
    pair("Customer invitations, search", "customers:invitations", "reseller", "?q=admin-of-1")
    pair("Partner relationships (customer)", "customers:partners", "customer")

    # commerce: orders, subscriptions, tenant users, licences, exports
    for kind in ("provider", "reseller"):
        pair(
            f"Orders ({kind})",
            "commerce:orders",
            kind,
            deep_of=lambda name, kind=kind: (
                Order.objects.filter(**{kind: organization[name]}),
                ORDER_ORDERING,
                5 if "small" in name else half(sizes.big_customers),
            ),
        )
        pair(f"Orders, by status ({kind})", "commerce:orders", kind, "?status=provisioned")
        pair(f"Subscriptions export ({kind})", "commerce:partner_subscriptions_export", kind, export=True)
    pair("Subscriptions (customer)", "commerce:subscriptions", "customer")
    pair("Subscriptions export (customer)", "commerce:subscriptions_export", "customer", export=True)
    pair(
        "Tenant users (customer)",
        "commerce:users",
        "customer",
        deep_of=lambda name: (
            DirectoryUser.objects.filter(tenant=organization[name].directory_tenant_id),
            USER_ORDERING,
            5 if "small" in name else half(sizes.big_customers),
        ),
    )
    pair("Tenant users, search (customer)", "commerce:users", "customer", "?q=user0000001")
    subscriptions = {
        size: Subscription.objects.filter(customer=organization[f"{size}_customer"]).order_by("id").first()
        for size in ("big", "small")
    }
    pair("Licences (customer)", "commerce:licences", "customer")
    pages.append(
        Page(
            "Licences of a subscription (customer)",
            *(
                Target(
                    clients[f"{size}_customer"],
                    org_url("commerce:licences", f"{size}_customer")
                    + f"?subscription={subscriptions[size].public_id}",
                )
                for size in ("big", "small")
            ),
        )
    )
    deep_targets = []
    for size in ("big", "small"):
        url = (
            org_url("commerce:licences", f"{size}_customer")
            + f"?subscription={subscriptions[size].public_id}"
        )
        url = deep(
            url,
            LicenceAssignment.objects.filter(subscription=subscriptions[size]),
            ASSIGNMENT_ORDERING,
            5 if size == "small" else half(sizes.big_customers),
        )
        deep_targets.append(Target(clients[f"{size}_customer"], url))
    pages.append(Page("Licences of a subscription, deep page", *deep_targets))
    pages.append(
        Page(
            "Licences export (customer)",
            *(
                Target(
                    clients[f"{size}_customer"],
                    org_url("commerce:licences_export", f"{size}_customer")
                    + f"?subscription={subscriptions[size].public_id}",
                )
                for size in ("big", "small")
            ),
            export=True,
        )
    )
    # the reseller in its customer's tenant
    for label, route, query in (
        ("Tenant users (reseller in tenant)", "commerce:customer_users", ""),
        ("Tenant users, search (reseller in tenant)", "commerce:customer_users", "?q=user0000001"),
        ("Licences (reseller in tenant)", "commerce:customer_licences", ""),
    ):
        pages.append(
            Page(
                label,
                *(
                    Target(
                        clients[f"{size}_reseller"],
                        org_url(
                            route, f"{size}_reseller", customer_id=organization[f"{size}_customer"].public_id
                        )
                        + query,
                    )
                    for size in ("big", "small")
                ),
            )
        )

    # the review site: changelists (their counts included) and their search boxes
    small_org = organization["small_reseller"]
    for label, route, query, small_query in (
        ("Review: enrollments", "admin:enrollment_enrollmentapplication_changelist", "", "?q=Small+reseller"),
        (
            "Review: enrollments, search",
            "admin:enrollment_enrollmentapplication_changelist",
            "?q=Reseller+000123",
            "?q=Small+reseller",
        ),
        ("Review: organizations", "admin:accounts_organization_changelist", "", f"?q={small_org.public_id}"),
        (
            "Review: organizations, search",
            "admin:accounts_organization_changelist",
            "?q=Customer+0000123",
            "?q=Small+reseller",
        ),
        (
            "Review: organizations, by kind",
            "admin:accounts_organization_changelist",
            "?kind__exact=customer",
            "?kind__exact=provider",
        ),
        ("Review: audit events", "admin:audit_auditevent_changelist", "", f"?q=user-of-{small_org.pk}@"),
        (
            "Review: audit events, search",
            "admin:audit_auditevent_changelist",
            "?q=bench+12345",
            f"?q=user-of-{small_org.pk}@",
        ),
        ("Review: outbox", "admin:mail_outboxemail_changelist", "", "?q=user1@bench.example"),
        (
            "Review: outbox, search",
            "admin:mail_outboxemail_changelist",
            "?q=user12345@bench",
            "?q=user1@bench.example",
        ),
        ("Review: users", "admin:accounts_user_changelist", "", "?q=user1@bench.example"),
        ("Review: memberships", "admin:accounts_membership_changelist", "", "?q=user1@bench.example"),
    ):
        url = reverse(route)
        pages.append(Page(label, Target(staff, url + query), Target(staff, url + small_query)))
    return pages


def report(rows: list[tuple], sizes: Sizes) -> None:
    print()
    print(
        f"sizes: {sizes.resellers:,} resellers, {sizes.relationships:,} customer relationships,"
        f" {sizes.audit_events:,} audit events"
    )
    print(HEADER)
    for label, results in rows:
        print(_row(label, results, "", results["large"][3] is not None))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resellers", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=1_000_000)
    parser.add_argument("--audit-events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--keep", action="store_true", help="measure the database seeded by an earlier run")
    parser.add_argument("--quick", action="store_true", help="every size divided by 100")
    parser.add_argument("--only", default="", help="only the pages whose label contains this")
    options = parser.parse_args()
    divisor = 100 if options.quick else 1
    sizes = Sizes(
        options.resellers // divisor, options.relationships // divisor, options.audit_events // divisor
    )
    if connection.vendor != "postgresql":
        raise SystemExit("bench/scale.py measures PostgreSQL: set DATABASE_URL")
    call_command("migrate", verbosity=0)
    world = marker_read(sizes)
    if world is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM accounts_organization)")
            if cursor.fetchone()[0]:
                raise SystemExit("The database has data but no seed marker: give scale.py an empty database")
        print(f"seeding {sizes}", file=sys.stderr)
        started = time.perf_counter()
        world = seed(sizes)
        marker_write(sizes, world)
        print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    elif not options.keep:
        raise SystemExit("The database is already seeded: measure it again with --keep, or drop it")
    pages = [page for page in pages_build(world, sizes) if options.only.lower() in page.label.lower()]
    print(HEADER, flush=True)
    rows = measure(pages, options.repeat)
    report(rows, sizes)


if __name__ == "__main__":
    main()

"""What keeps the list pages, searches and exports flat at production size (issue 12, bench/scale.py),
checked on PostgreSQL's plans and cursors rather than on timings: each search condition can be answered by
an index, and an export's cursor is not materialised before its first row."""

import pytest
from django.db import connection
from django.db.models import Q

from accounts.models import DirectoryUser, Organization
from customers.models import CustomerInvitation, CustomerRelationship
from portal.csv_export import EXPORT_LINES_PER_CHUNK, csv_lines
from providers.models import PartnershipInvitation

pytestmark = pytest.mark.django_db


def plan(queryset, *, off=("enable_seqscan", "enable_indexscan")) -> str:
    """The plan with ``off`` plans forbidden: a few rows would otherwise always be read whole, so the
    question is whether the indexes can answer the condition itself (a bitmap scan needs an index
    condition)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        for setting in off:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("queryset", "indexes"),
    [
        # the Customers page's search (customers.views.partner_side.CustomerListView)
        (
            lambda: CustomerRelationship.objects.filter(customer_name__icontains="contoso"),
            ["customer_rel_name_trgm"],
        ),
        # a reseller's customer invitations (customers.partner_selectors.invitations_filtered)
        (
            lambda: CustomerInvitation.objects.filter(
                Q(email__icontains="contoso") | Q(customer_name__icontains="contoso")
            ),
            ["customer_inv_email_trgm", "customer_inv_name_trgm"],
        ),
        # a provider's reseller invitations (providers.selectors)
        (
            lambda: PartnershipInvitation.objects.filter(
                Q(email__icontains="1234567") | Q(partner_id="1234567")
            ),
            ["partnership_inv_email_trgm", "partnership_inv_partner_idx"],
        ),
        # a tenant's Users page (commerce.views.directory.UserListView)
        (
            lambda: DirectoryUser.objects.filter(
                Q(user_principal_name__icontains="adele") | Q(display_name__icontains="adele")
            ),
            ["directory_user_upn_trgm", "directory_user_name_trgm"],
        ),
        # a provider's Indirect resellers, the resellers' side (providers.selectors.partnerships_of)
        (
            lambda: Organization.objects.filter(Q(legal_name__icontains="contoso") | Q(partner_id="1234567")),
            ["organization_legal_name_trgm", "on accounts_organization_partner_id_"],
        ),
    ],
    ids=["customers", "customer invitations", "reseller invitations", "tenant users", "resellers"],
)
def test_every_arm_of_a_search_is_answered_by_an_index(queryset, indexes):
    found = plan(queryset())

    for index in indexes:
        assert index in found, found
    assert "Seq Scan" not in found, found


@pytest.mark.django_db(transaction=True)
def test_an_export_reads_a_cursor_that_is_not_held_past_its_transaction():
    """Outside a transaction Django declares ``WITH HOLD``, and PostgreSQL copies the whole result at the
    commit before the first row comes back (1.5 s for a million audit events)."""
    Organization.objects.bulk_create(
        Organization(kind="customer", legal_name=f"Org {n:04d}", country="JP")
        for n in range(EXPORT_LINES_PER_CHUNK + 100)
    )
    lines = csv_lines(["name"], Organization.objects.order_by("legal_name").values_list("legal_name"))
    next(lines)  # the header, before any query

    first_chunk = next(lines)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT is_holdable FROM pg_cursors WHERE statement LIKE %s", ["%accounts_organization%"]
        )
        cursors = cursor.fetchall()
    rest = list(lines)

    assert cursors == [(False,)]
    assert first_chunk.startswith("Org 0000\r\n")
    assert sum(chunk.count("\n") for chunk in [first_chunk, *rest]) == EXPORT_LINES_PER_CHUNK + 100
    assert not connection.in_atomic_block
    Organization.objects.all().delete()


def test_the_portals_connections_never_compile_plans():
    """JIT spent 0.5-1 s on an export's first rows over a table of millions (bench/scale.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)

"""The review site's organizations list at any size (issue 12, bench/scale.py): a keyset list that never
counts the table, whose filters and search are answered by indexes, with the same queries at every size.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Organization
from tests.factories.accounts import StaffFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:accounts_organization_changelist")


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(is_superuser=True, email="reviewer@program.example"))
    return client


def organizations_add(count: int, *, start: int = 0, **fields) -> list[Organization]:
    return Organization.objects.bulk_create(
        Organization(**{"kind": "customer", "legal_name": f"Org {start + n:03d}", "country": "JP", **fields})
        for n in range(count)
    )


def listed(response) -> list[str]:
    return [organization.legal_name for organization in response.context["cl"].result_list]


def next_query(response) -> str | None:
    found = re.search(r'href="\?([^"]*)" rel="next"', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_organizations_list_pages_by_legal_name_without_counting(staff_client):
    organizations_add(55)

    with CaptureQueriesContext(connection) as captured:
        first = staff_client.get(URL)
    second = staff_client.get(f"{URL}?{next_query(first)}")

    assert first.status_code == 200
    assert listed(first) == [f"Org {n:03d}" for n in range(50)]
    assert listed(second) == [f"Org {n:03d}" for n in range(50, 55)]
    assert next_query(second) is None
    assert [query["sql"] for query in captured if "COUNT(" in query["sql"].upper()] == []
    assert "OFFSET" not in " ".join(query["sql"] for query in captured)


def test_the_organizations_list_makes_the_same_queries_at_every_size(staff_client):
    organizations_add(3)
    staff_client.get(URL)  # the session's and the permissions' first reads
    with CaptureQueriesContext(connection) as small:
        staff_client.get(URL, {"kind__exact": "customer"})
    organizations_add(120, start=3)
    with CaptureQueriesContext(connection) as large:
        response = staff_client.get(URL, {"kind__exact": "customer"})

    assert len(listed(response)) == 50
    assert len(large) == len(small)


def test_the_organizations_search_finds_a_public_id_a_legal_name_part_and_a_support_email(staff_client):
    contoso, fabrikam, _other = organizations_add(3)
    Organization.objects.filter(pk=contoso.pk).update(legal_name="Contoso KK")
    Organization.objects.filter(pk=fabrikam.pk).update(support_email="help@fabrikam.example")

    assert listed(staff_client.get(URL, {"q": str(contoso.public_id)})) == ["Contoso KK"]
    assert listed(staff_client.get(URL, {"q": f" {str(contoso.public_id).upper()} "})) == ["Contoso KK"]
    assert listed(staff_client.get(URL, {"q": "ntoso"})) == ["Contoso KK"]
    assert listed(staff_client.get(URL, {"q": "FABRIKAM.example"})) == ["Org 001"]
    assert listed(staff_client.get(URL, {"q": "contoso kk"})) == ["Contoso KK"]
    assert listed(staff_client.get(URL, {"q": "contoso fabrikam"})) == []


def test_the_country_filter_offers_the_countries_organizations_have(staff_client):
    organizations_add(2, country="US")
    organizations_add(1, start=2, country="DE")
    organizations_add(1, start=3, country="JP")

    response = staff_client.get(URL, {"country": "DE"})

    [country_filter] = [
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "country"
    ]
    assert [code for code, _name in country_filter.lookup_choices] == ["DE", "JP", "US"]
    assert listed(response) == ["Org 002"]


def plan_of(sql: str, params, *, forbidden=("enable_seqscan", "enable_sort")) -> str:
    """The plan PostgreSQL chooses when ``forbidden`` plans are off: a few rows would otherwise always be
    read whole, whatever the indexes."""
    with connection.cursor() as cursor:
        for setting in forbidden:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "organization_name_idx"),
        ({"kind__exact": "provider"}, "organization_kind_idx"),
        ({"status__exact": "suspended"}, "organization_status_idx"),
        ({"country": "JP"}, "organization_country_idx"),
    ],
)
def test_each_way_of_filtering_the_list_reads_one_index_in_its_order(staff_client, filters, index):
    organizations_add(5)
    with CaptureQueriesContext(connection) as captured:
        staff_client.get(URL, filters)
    [page_sql] = [
        query["sql"] for query in captured if 'ORDER BY "accounts_organization"."legal_name"' in query["sql"]
    ]

    plan = plan_of(page_sql, None)

    assert f"using {index} on accounts_organization" in plan.lower(), plan
    assert "Sort" not in plan.replace("Sort Key", ""), plan


def test_the_search_is_answered_by_trigram_indexes(staff_client):
    organizations_add(5)
    with CaptureQueriesContext(connection) as captured:
        staff_client.get(URL, {"q": "contoso"})
    [search_sql] = [query["sql"] for query in captured if "LIKE" in query["sql"]]

    plan = plan_of(search_sql, None, forbidden=("enable_seqscan", "enable_indexscan"))

    assert "organization_legal_name_trgm" in plan, plan
    assert "organization_support_email_trgm" in plan, plan


def test_the_country_choices_are_found_by_one_seek_per_country(staff_client):
    organizations_add(5)
    with CaptureQueriesContext(connection) as captured:
        staff_client.get(URL)
    [countries_sql] = [query["sql"] for query in captured if "WITH RECURSIVE" in query["sql"]]

    plan = plan_of(countries_sql, None, forbidden=("enable_seqscan", "enable_bitmapscan"))

    assert "organization_country_idx" in plan, plan
    assert "HashAggregate" not in plan and "Unique" not in plan, plan

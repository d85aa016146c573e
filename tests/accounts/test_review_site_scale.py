"""The review site's organizations and memberships lists at any size (issue 12, bench/scale.py): keyset
lists that never count the table, whose filters and searches are answered by indexes, with the same
queries at every size.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from tests.factories.accounts import MembershipFactory, OrganizationFactory, StaffFactory, UserFactory

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


# --- Memberships ------------------------------------------------------------------------------------

MEMBERSHIPS_URL = reverse("admin:accounts_membership_changelist")


def memberships_add(count: int, *, organization=None, start: int = 0) -> list[Membership]:
    """``count`` people, each a member of ``organization`` (a new reseller when None), created one
    minute apart: the newest is the last one."""
    organization = organization or OrganizationFactory(legal_name="Contoso Japan KK")
    now = timezone.now()
    memberships = []
    for number in range(start, start + count):
        membership = MembershipFactory(
            organization=organization, user=UserFactory(email=f"person{number:03d}@contoso.example")
        )
        Membership.objects.filter(pk=membership.pk).update(created_at=now + timedelta(minutes=number))
        memberships.append(membership)
    return memberships


def members_listed(response) -> list[str]:
    return [membership.user.email for membership in response.context["cl"].result_list]


def test_the_memberships_list_pages_newest_first_without_counting(staff_client):
    memberships_add(55)

    with CaptureQueriesContext(connection) as captured:
        first = staff_client.get(MEMBERSHIPS_URL)
    second = staff_client.get(f"{MEMBERSHIPS_URL}?{next_query(first)}")

    assert first.status_code == 200
    people = [f"person{number:03d}@contoso.example" for number in reversed(range(55))]
    # the reviewer's own account is a person too, but a member of no organization
    assert members_listed(first) == people[:50]
    assert members_listed(second) == people[50:]
    assert next_query(second) is None
    assert [query["sql"] for query in captured if "COUNT(" in query["sql"].upper()] == []
    assert "OFFSET" not in " ".join(query["sql"] for query in captured)
    body = first.content.decode()
    assert "Search by a person&#x27;s email address or part of it" in body
    assert "results (" not in body  # no total: the list is never counted


def test_the_memberships_list_makes_the_same_queries_at_every_size(staff_client):
    contoso = OrganizationFactory(legal_name="Contoso Japan KK")
    memberships_add(3, organization=contoso)
    staff_client.get(MEMBERSHIPS_URL)  # the session's and the permissions' first reads
    with CaptureQueriesContext(connection) as small:
        staff_client.get(MEMBERSHIPS_URL, {"status__exact": "active", "q": "contoso"})
    memberships_add(60, organization=contoso, start=3)
    with CaptureQueriesContext(connection) as large:
        response = staff_client.get(MEMBERSHIPS_URL, {"status__exact": "active", "q": "contoso"})

    assert len(members_listed(response)) == 50
    assert len(large) == len(small)


def test_the_memberships_search_finds_an_organization_id_an_email_part_and_a_legal_name_part(staff_client):
    contoso = OrganizationFactory(legal_name="Contoso Japan KK")
    fabrikam = OrganizationFactory(legal_name="Fabrikam KK", kind=Organization.Kind.CUSTOMER)
    ann = MembershipFactory(organization=contoso, user=UserFactory(email="ann@contoso.example"))
    ann_at_fabrikam = MembershipFactory(organization=fabrikam, user=ann.user)
    MembershipFactory(organization=fabrikam, user=UserFactory(email="ken@fabrikam.example"))

    def found(term: str) -> list[tuple[str, str]]:
        response = staff_client.get(MEMBERSHIPS_URL, {"q": term})
        assert response.status_code == 200
        rows = response.context["cl"].result_list
        return sorted((row.user.email, row.organization.legal_name) for row in rows)

    assert found(str(fabrikam.public_id).upper()) == [
        ("ann@contoso.example", "Fabrikam KK"),
        ("ken@fabrikam.example", "Fabrikam KK"),
    ]
    assert found("ANN@") == [
        ("ann@contoso.example", "Contoso Japan KK"),
        ("ann@contoso.example", "Fabrikam KK"),
    ]
    assert found("@fabrikam.example") == [("ken@fabrikam.example", "Fabrikam KK")]
    assert found("japan") == [("ann@contoso.example", "Contoso Japan KK")]
    # each term narrows: a person's address and an organization's name together
    assert found("ann@ fabrikam") == [("ann@contoso.example", "Fabrikam KK")]
    assert found('"contoso japan"') == [("ann@contoso.example", "Contoso Japan KK")]
    # a word without an @ is a legal name: no organization is called "ken"
    assert found("ken") == []
    assert found("nobody@") == []
    assert found(str(uuid.uuid4())) == []
    filtered = staff_client.get(MEMBERSHIPS_URL, {"q": "ann@", "organization__kind__exact": "customer"})
    assert list(filtered.context["cl"].result_list) == [ann_at_fabrikam]


def test_the_memberships_list_and_its_searches_are_read_through_their_indexes(staff_client):
    memberships_add(5)
    plans = {}
    for name, query in (("list", {}), ("email", {"q": "person001@"}), ("name", {"q": "contoso"})):
        with CaptureQueriesContext(connection) as captured:
            staff_client.get(MEMBERSHIPS_URL, query)
        [page_sql] = [
            entry["sql"]
            for entry in captured
            if 'ORDER BY "accounts_membership"."created_at" DESC' in entry["sql"]
        ]
        # a search: the people or organizations it finds come first, from their trigram index
        forbidden = ("enable_seqscan",) if name == "list" else ("enable_seqscan", "enable_indexscan")
        plans[name] = plan_of(page_sql, None, forbidden=forbidden)

    assert "membership_created_idx" in plans["list"], plans["list"]
    assert "Sort" not in plans["list"].replace("Sort Key", ""), plans["list"]
    assert "user_email_trgm" in plans["email"], plans["email"]
    assert "organization_legal_name_trgm" in plans["name"], plans["name"]


# --- People (accounts.admin.UserAdmin) -----------------------------------------------------------------

USERS_URL = reverse("admin:accounts_user_changelist")


def people_listed(response) -> list[str]:
    return [user.email for user in response.context["cl"].result_list]


def test_the_people_list_pages_by_email_address_without_counting(staff_client):
    for n in range(55):
        UserFactory(email=f"person{n:03d}@contoso.example", full_name=f"Person {n:03d}")

    with CaptureQueriesContext(connection) as captured:
        first = staff_client.get(USERS_URL)
    second = staff_client.get(f"{USERS_URL}?{next_query(first)}")
    found = staff_client.get(USERS_URL, {"q": "PERSON054@"})
    by_name = staff_client.get(USERS_URL, {"q": "person 007"})

    people = [f"person{n:03d}@contoso.example" for n in range(55)]
    assert people_listed(first) == people[:50]
    assert people_listed(second) == [*people[50:], "reviewer@program.example"]
    assert next_query(second) is None
    assert people_listed(found) == ["person054@contoso.example"]
    assert 'class="small quiet"' not in found.content.decode()  # the admin's "1 result (Show all)": a count
    assert people_listed(by_name) == ["person007@contoso.example"]
    assert [query["sql"] for query in captured if "COUNT(" in query["sql"].upper()] == []
    assert "OFFSET" not in " ".join(query["sql"] for query in captured)


def test_the_people_search_is_answered_by_both_columns_trigram_indexes(staff_client):
    UserFactory(email="ann@contoso.example", full_name="Ann Lee")
    with CaptureQueriesContext(connection) as captured:
        staff_client.get(USERS_URL, {"q": "ann@contoso"})
    [search_sql] = [query["sql"] for query in captured if "LIKE" in query["sql"]]

    plan = plan_of(search_sql, None, forbidden=("enable_seqscan", "enable_indexscan"))

    assert "user_email_trgm" in plan and "user_full_name_trgm" in plan, plan
    assert "BitmapOr" in plan, plan

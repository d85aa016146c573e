"""The review queue as a keyset list (enrollment/admin/queue.py on portal/lists.py): no COUNT and no OFFSET,
the same queries at any size, pages that visit every row exactly once forward and back with the filters
and the search kept, a forged cursor that shows the first page, and links that start a new filter or
search at the top."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment.models import EnrollmentApplication
from enrollment.services.review import application_reject
from portal.lists import cursor_for
from tests.enrollment.builders import application_in_review, complete_draft
from tests.enrollment.test_review_admin import QUEUE_URL, in_review, queue, reviewer_group
from tests.factories.accounts import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer_client(client):
    reviewer = StaffFactory(email="rei@program.example", full_name="Rei Tanaka")
    reviewer.groups.add(reviewer_group())
    client.force_login(reviewer)
    return client


@pytest.fixture
def page_size(monkeypatch):
    """Pages of three rows, so that a few applications make several pages."""
    monkeypatch.setattr(admin.site._registry[EnrollmentApplication], "list_per_page", 3)
    return 3


def page_links(body: str) -> dict[str, str]:
    """The pagination's links by what they do ("first", "prev", "next"): their query strings."""
    nav = re.search(r'<nav class="pagination"[^>]*>(.*?)</nav>', body, flags=re.S)
    if nav is None:
        return {}
    links = {}
    for href, rel in re.findall(r'<a href="([^"]*)"(?: rel="(\w+)")?>', nav.group(1)):
        links[rel or "first"] = unescape(href)
    return links


def visit(client, query: str = "", **params) -> tuple[list[str], dict[str, str]]:
    """One page of the queue: its legal names, in order, and its links."""
    response = client.get(QUEUE_URL + query, params)
    assert response.status_code == 200
    names = [str(application) for application in response.context["cl"].result_list]
    return names, page_links(response.content.decode())


def queue_sql(client, query: str = "") -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(QUEUE_URL + query).status_code == 200
    return [entry["sql"] for entry in captured.captured_queries]


def test_the_queue_reads_no_count_no_offset_and_the_same_queries_for_3_as_for_60(reviewer_client):
    for _ in range(3):
        in_review()
    reviewer_client.get(QUEUE_URL)  # caches that fill once per process (content types, permissions)
    three = queue_sql(reviewer_client)
    assert len(visit(reviewer_client)[0]) == 3

    for _ in range(57):
        in_review()
    sixty = queue_sql(reviewer_client)
    names, links = visit(reviewer_client)
    assert len(names) == 50 and set(links) == {"next"}
    second = queue_sql(reviewer_client, links["next"])
    filtered = queue_sql(reviewer_client, "?status=in_review&sla=within&country=JP&q=KK")
    # The filters' choices never show counts either: facets are off, even when asked for.
    facets = queue_sql(reviewer_client, "?_facets=1")

    assert len(sixty) == len(three) == len(second) == len(filtered) == len(facets)
    for sql in [*three, *sixty, *second, *filtered, *facets]:
        assert "COUNT(" not in sql.upper(), sql
        assert "OFFSET" not in sql.upper(), sql
    body = reviewer_client.get(QUEUE_URL).content.decode()
    assert "60 enrollment applications" not in body and "Show all" not in body and " results" not in body


def test_paging_forward_and_back_visits_every_row_once_with_a_filter_and_a_search(reviewer_client, page_size):
    japanese = [in_review(f"Northwind {number} KK").legal_name for number in range(8)]
    for number in range(2):
        application_in_review(country="US", details={"legal_name": f"Northwind {number} LLC"})
    rejected = in_review("Northwind Rejected KK")
    application_reject(
        application=rejected, by=StaffFactory(is_superuser=True), reason="other", message="No."
    )
    in_review("Contoso KK")  # in Japan and in review, but not what the search asks for

    # Forward from the first page, following the Next links.
    pages, links_of = [], []
    names, links = visit(reviewer_client, country="JP", status="in_review", q="northwind")
    while True:
        pages.append(names)
        links_of.append(links)
        if "next" not in links:
            break
        names, links = visit(reviewer_client, links["next"])

    assert pages == [japanese[0:3], japanese[3:6], japanese[6:8]]
    assert [sorted(links) for links in links_of] == [["next"], ["first", "next", "prev"], ["first", "prev"]]
    for links in links_of:
        for query in links.values():
            params = parse_qs(urlsplit(query).query)
            assert (params["country"], params["status"], params["q"]) == (
                ["JP"],
                ["in_review"],
                ["northwind"],
            )

    # Back from the last page, following the Previous links: the same pages, in reverse.
    backwards = []
    links = links_of[-1]
    while "prev" in links:
        names, links = visit(reviewer_client, links["prev"])
        backwards.append(names)
    assert backwards == [japanese[3:6], japanese[0:3]]
    assert set(links) == {"next"}  # back at the first page: nothing before it
    assert visit(reviewer_client, links_of[-1]["first"])[0] == japanese[0:3]


@pytest.mark.parametrize(
    "cursor",
    [
        "forged",
        "WyIyMDI2LTA2LTAxVDAwOjAwOjAwKzAwOjAwIiwgMV0:1tampered:signature",
        "truncated",
        "another list",
        "both ways",
    ],
)
def test_a_forged_truncated_or_foreign_cursor_shows_the_first_page(reviewer_client, page_size, cursor):
    names = [in_review(f"Tailspin {number} KK").legal_name for number in range(5)]
    real = parse_qs(urlsplit(visit(reviewer_client)[1]["next"]).query)["after"][0]
    params = {
        "forged": {"after": cursor},
        "truncated": {"after": real[:-6]},
        # A real row's cursor, signed for another ordering (another list): it opens nothing here.
        "another list": {
            "after": cursor_for(EnrollmentApplication.objects.get(legal_name=names[2]), ordering=("-id",))
        },
        "both ways": {"after": real, "before": real},
    }.get(cursor, {"before": cursor})

    response = reviewer_client.get(QUEUE_URL, params)

    assert response.status_code == 200  # not the admin's "?e=1" for an unknown filter
    assert [str(application) for application in response.context["cl"].result_list] == names[0:3]
    assert set(page_links(response.content.decode())) == {"next"}


def test_a_filter_or_a_search_starts_again_at_the_top(reviewer_client, page_size):
    names = [in_review(f"Tailspin {number} KK").legal_name for number in range(5)]
    second_page = visit(reviewer_client, status="in_review")[1]["next"]

    response = reviewer_client.get(QUEUE_URL + second_page)
    body = response.content.decode()

    assert [str(application) for application in response.context["cl"].result_list] == names[3:5]
    sidebar = re.search(r'<nav id="changelist-filter".*?</nav>', body, flags=re.S).group(0)
    search = re.search(r'<form id="changelist-search".*?</form>', body, flags=re.S).group(0)
    assert "after=" not in sidebar and 'name="after"' not in search
    assert '<input type="hidden" name="status" value="in_review">' in search
    assert 'href="?country=JP&amp;status=in_review"' in sidebar


def test_the_queue_searches_across_pages_and_says_when_nothing_matches(reviewer_client, page_size):
    wanted = [
        in_review(f"Tailspin {number} KK", applicant=UserFactory(email=f"ken{number}@contoso.example"))
        for number in range(4)
    ]
    in_review("Fabrikam KK")
    complete_draft(details={"legal_name": "Tailspin Draft KK", "contact_email": "draft@tailspin.jp"})

    first, links = visit(reviewer_client, q="contoso.example")
    rest, last_links = visit(reviewer_client, links["next"])

    assert first + rest == [application.legal_name for application in wanted]
    assert "next" not in last_links
    assert queue(reviewer_client, q="tailspin draft") == []
    body = reviewer_client.get(QUEUE_URL, {"q": "tailspin draft"}).content.decode()
    assert "No enrollment application matches." in body
    assert queue(reviewer_client, q="tailspin draft", status="all") == ["Tailspin Draft KK"]


def test_the_queue_search_is_one_bitmap_or_of_indexes_and_never_joins_every_applicant(reviewer_client):
    """Each term is one condition per column, each answered by an index: the trigrams of the legal name
    and of the contact email (migration 0008), the applicant ids found first by their address's trigrams
    (accounts 0010), the partner ID's B-tree; a tenant ID is its own B-tree. No application is joined
    with its applicant to be searched."""
    from tests.accounts.test_review_site_scale import plan_of

    contoso = in_review("Contoso KK", applicant=UserFactory(email="ken@contoso-applicant.example"))
    in_review("Fabrikam KK")
    plans = {}
    for name, term in (("words", "contoso-applicant"), ("partner", contoso.partner_id)):
        with CaptureQueriesContext(connection) as captured:
            assert queue(reviewer_client, q=term) == ["Contoso KK"]
        [search_sql] = [entry["sql"] for entry in captured if "LIKE" in entry["sql"]]
        assert 'INNER JOIN "accounts_user"' not in search_sql.split("WHERE")[1], search_sql
        plans[name] = plan_of(search_sql, None, forbidden=("enable_seqscan", "enable_indexscan"))
    with CaptureQueriesContext(connection) as captured:
        assert queue(reviewer_client, q=str(contoso.tenant_id)) == ["Contoso KK"]
    [tenant_sql] = [entry["sql"] for entry in captured if '"tenant_id" =' in entry["sql"]]
    plans["tenant"] = plan_of(tenant_sql, None, forbidden=("enable_seqscan", "enable_indexscan"))

    for index in ("enrollment_app_name_trgm", "enrollment_app_contact_email_trgm", "user_email_trgm"):
        assert index in plans["words"], plans["words"]
    assert "BitmapOr" in plans["words"], plans["words"]
    assert "enrollment_app_partner_idx" in plans["partner"], plans["partner"]
    assert "enrollment_app_tenant_idx" in plans["tenant"], plans["tenant"]


def test_a_search_term_with_a_quote_or_a_percent_sign_is_text_not_sql(reviewer_client):
    in_review("O'Brien 100% KK", details={"contact_email": "info@obrien.example"})
    in_review("Fabrikam KK")

    assert queue(reviewer_client, q="o'brien") == ["O'Brien 100% KK"]
    assert queue(reviewer_client, q="100%") == ["O'Brien 100% KK"]
    assert queue(reviewer_client, q="%") == ["O'Brien 100% KK"]
    assert queue(reviewer_client, q="'") == ["O'Brien 100% KK"]

"""The keyset list mechanism (portal/lists.py): total order, cursors that round-trip and cannot be forged,
filters carried over, and SQL that neither counts nor skips rows."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from portal.audit.models import AuditEvent
from portal.lists import cursor_for, keyset_page
from tests.factories.accounts import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

ORDERING = ("-occurred_at", "-id")
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def events() -> list[AuditEvent]:
    """Seven events of organization 1, three of them at the very same instant (the tie-breaker's job),
    and one of another organization that no page may show."""
    times = [START, START + timedelta(minutes=1), START + timedelta(minutes=1), START + timedelta(minutes=1)]
    times += [
        START + timedelta(minutes=2),
        START + timedelta(minutes=3, microseconds=1),
        START - timedelta(days=1),
    ]
    created = [
        AuditEvent.objects.create(action=f"list.{n}", organization_id=1, occurred_at=t)
        for n, t in enumerate(times)
    ]
    AuditEvent.objects.create(action="list.foreign", organization_id=2, occurred_at=START)
    return sorted(created, key=lambda event: (event.occurred_at, event.id), reverse=True)


def listed(query: str = "", size: int = 3, **kwargs):
    return keyset_page(
        AuditEvent.objects.filter(organization_id=1),
        ordering=ORDERING,
        query=QueryDict(query),
        size=size,
        **kwargs,
    )


def test_pages_follow_the_ordering_and_the_tie_breaker_without_gaps_or_repeats(events):
    pages, page = [], listed()
    while True:
        pages.append([event.pk for event in page])
        if not page.has_next:
            break
        page = listed(page.next_query)

    assert pages == [[e.pk for e in events[0:3]], [e.pk for e in events[3:6]], [events[6].pk]]
    assert [e.action for e in events[2:5]] == ["list.3", "list.2", "list.1"]  # same instant: higher id first


def test_previous_links_walk_back_to_the_first_page(events):
    first = listed()
    second = listed(first.next_query)
    third = listed(second.next_query)
    assert not third.has_next

    back = listed(third.previous_query)
    assert [e.pk for e in back] == [e.pk for e in second]
    assert back.has_next and back.has_previous
    again = listed(back.previous_query)
    assert [e.pk for e in again] == [e.pk for e in first]
    assert not again.has_previous and again.first_query is None  # back at the start: no link to itself
    assert again.has_next


def test_the_first_page_has_no_first_or_previous_link_and_later_pages_have_both(events):
    first = listed()
    assert (first.first_query, first.previous_query) == (None, None)
    second = listed(first.next_query)
    assert second.first_query == ""  # "?" — this list, without any cursor
    assert second.previous_query is not None


def test_a_cursor_round_trips_to_the_row_right_after_its_own(events):
    token = cursor_for(events[2], ordering=ORDERING)
    page = listed(f"after={token}", size=2)
    assert [e.pk for e in page] == [events[3].pk, events[4].pk]

    # Full precision: the microsecond of events[0] survives the trip (a millisecond cut would skip it).
    assert events[0].occurred_at.microsecond == 1
    assert [e.pk for e in listed(f"after={cursor_for(events[0], ordering=ORDERING)}", size=1)] == [
        events[1].pk
    ]


def test_filters_and_other_parameters_are_carried_over_and_only_this_lists_cursor_changes(events):
    page = listed("action=list.1&lang=ja&other_after=keep", size=2)
    next_query = QueryDict(page.next_query)
    assert next_query["action"] == "list.1"
    assert next_query["lang"] == "ja"
    assert next_query["other_after"] == "keep"
    assert "before" not in next_query

    later = listed(page.next_query, size=2)
    assert QueryDict(later.first_query).dict() == {"action": "list.1", "lang": "ja", "other_after": "keep"}
    assert QueryDict(later.previous_query)["action"] == "list.1"


def test_two_lists_on_one_page_each_read_their_own_cursor(events):
    first = listed(size=2)
    moved = listed(first.next_query, size=2, prefix="other_")
    assert [e.pk for e in moved] == [e.pk for e in first]  # "after" is not this list's parameter
    assert "other_after" in QueryDict(moved.next_query)


@pytest.mark.parametrize(
    "query",
    [
        "after=not-a-cursor",
        "after=",
        "before=%00%FF",
        "after=" + signing.Signer(salt="someone-elses-salt").sign_object(["2026-03-01T09:00:00+00:00", 1]),
        # Signed for another list (another ordering): it does not open this one.
        "after="
        + signing.Signer(salt="portal.lists:audit.auditevent:id").sign_object(
            ["2026-03-01T09:00:00+00:00", 1]
        ),
        # Signed right, but the values are not an (occurred_at, id) pair.
        "after="
        + signing.Signer(salt="portal.lists:audit.auditevent:-occurred_at,-id").sign_object(
            ["yesterday", "x"]
        ),
        "after=" + signing.Signer(salt="portal.lists:audit.auditevent:-occurred_at,-id").sign_object([1]),
        "after="
        + signing.Signer(salt="portal.lists:audit.auditevent:-occurred_at,-id").sign_object({"id": 1}),
    ],
)
def test_a_bad_or_forged_cursor_shows_the_first_page(events, query):
    page = listed(query)
    assert [e.pk for e in page] == [e.pk for e in events[:3]]
    assert page.first_query is None


def test_a_tampered_cursor_is_refused(events):
    token = cursor_for(events[3], ordering=ORDERING)
    payload, _, signature = token.partition(":")
    forged = signing.b64_encode(b'["2000-01-01T00:00:00+00:00",1]').decode() + ":" + signature
    assert [e.pk for e in listed(f"after={forged}")] == [e.pk for e in events[:3]]
    assert [e.pk for e in listed(f"after={payload}")] == [e.pk for e in events[:3]]


def test_a_rows_cursor_is_the_same_whenever_it_is_made(events):
    from unittest import mock

    token = cursor_for(events[3], ordering=ORDERING)
    with mock.patch("time.time", return_value=4_000_000_000):
        assert cursor_for(events[3], ordering=ORDERING) == token
    assert [e.pk for e in listed(f"after={token}")] == [e.pk for e in events[4:7]]


def test_after_and_before_together_start_again_from_the_top(events):
    token = cursor_for(events[3], ordering=ORDERING)
    assert [e.pk for e in listed(f"after={token}&before={token}")] == [e.pk for e in events[:3]]


def test_the_sql_seeks_with_a_row_comparison_and_never_counts_or_offsets(events):
    token = cursor_for(events[2], ordering=ORDERING)
    with CaptureQueriesContext(connection) as captured:
        listed(f"after={token}")
        listed(f"before={token}")
        listed()
    assert len(captured) == 3  # one query per page, whatever the page
    for query in captured:
        sql = query["sql"].upper()
        assert "OFFSET" not in sql
        assert "COUNT(" not in sql
        assert sql.endswith("LIMIT 4")  # page size + 1: is there a next page?
    after, before = captured[0]["sql"], captured[1]["sql"]
    assert '("audit_auditevent"."occurred_at", "audit_auditevent"."id") < (' in after
    assert 'ORDER BY "audit_auditevent"."occurred_at" DESC, "audit_auditevent"."id" DESC' in after
    assert '("audit_auditevent"."occurred_at", "audit_auditevent"."id") > (' in before
    assert 'ORDER BY "audit_auditevent"."occurred_at" ASC, "audit_auditevent"."id" ASC' in before


def test_an_empty_list_has_no_links():
    page = listed()
    assert (list(page), page.next_query, page.previous_query, page.first_query) == ([], None, None, None)
    assert not page.has_other_pages


def test_a_cursor_past_the_end_lists_nothing_and_links_to_the_first_page(events):
    page = listed(f"after={cursor_for(events[-1], ordering=ORDERING)}")
    assert list(page) == []
    assert (page.next_query, page.previous_query, page.first_query) == (None, None, "")


def test_going_back_from_the_newest_row_lists_nothing_but_links_to_the_first_page(events):
    page = listed(f"before={cursor_for(events[0], ordering=ORDERING)}")
    assert list(page) == []
    assert (page.next_query, page.previous_query, page.first_query) == (None, None, "")


@pytest.mark.parametrize(
    ("ordering", "reason"),
    [
        (("-occurred_at", "id"), "same direction"),
        (("occurred_at",), "must be unique"),
        (("action", "occurred_at"), "must be unique"),
        (("actor", "id"), "NOT NULL"),
        (("organization__legal_name", "id"), "own columns"),
        ((), "needs an ordering"),
    ],
)
def test_an_ordering_that_an_index_cannot_page_is_refused(ordering, reason):
    with pytest.raises(ValueError, match=reason):
        keyset_page(AuditEvent.objects.all(), ordering=ordering, query=QueryDict())


def test_foreign_keys_and_ascending_orders_work_too():
    """Ascending, on another model, with a foreign key in the ordering: pages in (organization, id) order."""
    first, second = OrganizationFactory(), OrganizationFactory()
    members = [
        MembershipFactory(organization=organization) for organization in (second, first, second, first)
    ]
    expected = sorted(members, key=lambda m: (m.organization_id, m.pk))
    ordering = ("organization", "id")
    queryset = Membership.objects.filter(pk__in=[m.pk for m in members])
    page = keyset_page(queryset, ordering=ordering, query=QueryDict(), size=3)
    rest = keyset_page(queryset, ordering=ordering, query=QueryDict(page.next_query), size=3)
    assert [m.pk for m in [*page, *rest]] == [m.pk for m in expected]
    assert not rest.has_next

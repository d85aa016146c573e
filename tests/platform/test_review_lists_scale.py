"""The review site's audit events and outbox lists at any size (issue 12, bench/scale.py): keyset lists
that never count, offset or de-duplicate the table, whose filters and searches are index seeks, with the
same queries at every size (portal/audit/admin.py, portal/mail/admin.py)."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from portal.audit.catalogue import action_choices
from portal.audit.models import AuditEvent
from portal.mail.admin import email_templates
from portal.mail.models import OutboxEmail, OutboxStatus
from tests.factories.accounts import StaffFactory
from tests.factories.mail import OutboxEmailFactory

pytestmark = pytest.mark.django_db

AUDIT_URL = reverse("admin:audit_auditevent_changelist")
OUTBOX_URL = reverse("admin:mail_outboxemail_changelist")
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(is_superuser=True, email="reviewer@program.example"))
    client.get(AUDIT_URL)  # the session's and the permissions' first reads
    return client


def events_add(count: int, *, start: int = 0, **fields) -> list[AuditEvent]:
    """Event n happened n minutes ago; bulk_create writes them as the partitioned table takes them."""
    return AuditEvent.objects.bulk_create(
        AuditEvent(
            **{
                "occurred_at": NOW - timedelta(minutes=start + n),
                "action": "organization.suspended",
                "actor_label": "system",
                "target_label": f"Event {start + n:03d}",
                **fields,
            }
        )
        for n in range(count)
    )


def emails_add(count: int, *, start: int = 0, **fields) -> list[OutboxEmail]:
    return OutboxEmail.objects.bulk_create(
        OutboxEmail(
            **{
                "created_at": NOW - timedelta(minutes=start + n),
                "to": f"person{start + n:03d}@example.com",
                "from_email": "Portal <no-reply@portal.test>",
                "subject": f"Email {start + n:03d}",
                "body_text": "Hello\n",
                "language": "en",
                "template": "test_message",
                "status": OutboxStatus.SENT,
                **fields,
            }
        )
        for n in range(count)
    )


def events_listed(response) -> list[str]:
    assert response.status_code == 200
    return [event.target_label for event in response.context["cl"].result_list]


def emails_listed(response) -> list[str]:
    assert response.status_code == 200
    return [email.subject for email in response.context["cl"].result_list]


def link(response, rel: str) -> str | None:
    found = re.search(rf'href="\?([^"]*)" rel="{rel}"', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def first_page_link(response) -> str | None:
    found = re.search(r'href="\?([^"]*)">First page<', response.content.decode())
    return found.group(1).replace("&amp;", "&") if found else None


def assert_never_counts_offsets_or_distincts(captured, table: str) -> None:
    statements = [query["sql"].upper() for query in captured if f'"{table}"' in query["sql"]]
    assert statements, "the list was read"
    for sql in statements:
        assert "COUNT(" not in sql, sql
        assert "OFFSET" not in sql, sql
        assert "DISTINCT" not in sql, sql


# --- Audit events ------------------------------------------------------------------------------------


def test_the_audit_list_pages_newest_first_without_counting(staff_client):
    events_add(55)

    with CaptureQueriesContext(connection) as captured:
        first = staff_client.get(AUDIT_URL)
        second = staff_client.get(f"{AUDIT_URL}?{link(first, 'next')}")

    assert events_listed(first) == [f"Event {n:03d}" for n in range(50)]
    assert events_listed(second) == [f"Event {n:03d}" for n in range(50, 55)]
    assert link(second, "next") is None
    assert_never_counts_offsets_or_distincts(captured, "audit_auditevent")
    # No date hierarchy: it would read the table's first and last times and its months.
    assert "MIN(" not in " ".join(query["sql"].upper() for query in captured)


def test_the_audit_list_makes_the_same_queries_at_every_size(staff_client):
    events_add(3, organization_id=7)
    query = {"action": "organization.suspended", "q": "7"}
    with CaptureQueriesContext(connection) as small:
        staff_client.get(AUDIT_URL, query)
    events_add(120, start=3, organization_id=7)
    with CaptureQueriesContext(connection) as large:
        response = staff_client.get(AUDIT_URL, query)

    assert len(events_listed(response)) == 50
    assert len(large) == len(small)
    assert_never_counts_offsets_or_distincts(large, "audit_auditevent")


def test_audit_pages_keep_the_filter_and_the_search(staff_client):
    events_add(60, organization_id=7)
    events_add(60, start=60, organization_id=8)
    events_add(10, start=120, organization_id=7, action="user.deactivated")
    query = {"action": "organization.suspended", "q": "7"}

    first = staff_client.get(AUDIT_URL, query)
    second = staff_client.get(f"{AUDIT_URL}?{link(first, 'next')}")
    back = staff_client.get(f"{AUDIT_URL}?{link(second, 'prev')}")
    top = staff_client.get(f"{AUDIT_URL}?{first_page_link(second)}")

    assert events_listed(first) == [f"Event {n:03d}" for n in range(50)]
    assert events_listed(second) == [f"Event {n:03d}" for n in range(50, 60)]
    assert events_listed(back) == events_listed(top) == events_listed(first)
    for response in (second, back, top):
        assert response.context["cl"].query == "7"
        assert response.context["cl"].get_filters_params() == {"action": ["organization.suspended"]}


def test_the_action_filter_offers_the_catalogue_and_reads_no_rows_for_it(staff_client):
    events_add(2)
    with CaptureQueriesContext(connection) as captured:
        response = staff_client.get(AUDIT_URL)

    [action_filter] = [
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "action"
    ]
    assert sorted(action_filter.lookup_choices) == sorted(action_choices())
    assert len(action_filter.lookup_choices) > 10
    # One read of the rows: the page itself.
    assert len([query for query in captured if '"audit_auditevent"' in query["sql"]]) == 1


def test_each_audit_filter_and_search_finds_exactly_its_rows(staff_client):
    organization = Organization.objects.create(kind="customer", legal_name="Contoso KK", country="JP")
    events_add(2, organization_id=organization.pk)  # Event 000, 001
    events_add(1, start=2, action="user.deactivated", target_type="accounts.user", target_id="42")  # 002
    events_add(
        1,
        start=3,
        target_type="accounts.organization",
        target_id=str(organization.public_id),
        request_id="a" * 32,
    )  # 003
    events_add(1, start=60 * 24 * 40)  # Event 57600, forty days ago

    def found(**query) -> list[str]:
        return events_listed(staff_client.get(AUDIT_URL, query))

    assert found() == ["Event 000", "Event 001", "Event 002", "Event 003", "Event 57600"]
    assert found(action="user.deactivated") == ["Event 002"]
    assert found(action="provider.listing_published") == []
    week_ago = str(NOW - timedelta(days=7))
    assert found(occurred_at__gte=week_ago) == [f"Event {n:03d}" for n in range(4)]
    assert found(q="user.deactivated") == found(q=" User.Deactivated ") == ["Event 002"]
    assert found(q=f" {organization.pk} ") == ["Event 000", "Event 001"]
    assert found(q=str(organization.public_id).upper()) == ["Event 003"]
    assert found(q=str(organization.public_id), action="user.deactivated") == []
    # Neither labels nor request ids are searched (no index could answer them); nothing bad is an error.
    for nothing in ("Event 000", "system", "a" * 32, "contoso", "9" * 30, "%", "' OR 1=1 --", "x" * 300):
        assert found(q=nothing) == [], nothing


def plan_of(sql: str, params, *, forbidden=("enable_seqscan",)) -> str:
    """The plan PostgreSQL chooses when ``forbidden`` plans are off: a few rows would otherwise always be
    read whole, whatever the indexes."""
    with connection.cursor() as cursor:
        for setting in forbidden:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def index_family(table: str, columns: str) -> set[str]:
    """The index of ``table`` whose definition ends in ``(columns)``, and its partitions' indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass "
            "AND pg_get_indexdef(indexrelid) LIKE %s",
            [table, f"%({columns})"],
        )
        [(parent,)] = cursor.fetchall()
        cursor.execute("SELECT relid::regclass::text FROM pg_partition_tree(%s)", [parent])
        return {parent} | {name for (name,) in cursor.fetchall()}


def scanned_indexes(plan: str) -> set[str]:
    return set(re.findall(r"(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)", plan))


def page_sql(client, url: str, table: str, query: dict) -> str:
    with CaptureQueriesContext(connection) as captured:
        client.get(url, query)
    [sql] = [q["sql"] for q in captured if f'ORDER BY "{table}"' in q["sql"] and "LIMIT 51" in q["sql"]]
    return sql


def full_sorts(plan: str) -> list[str]:
    """A Sort node over the rows read (an Incremental Sort of rows already in time order is not one)."""
    return [line for line in plan.splitlines() if re.search(r"(?<!Incremental )\bSort\b(?! Key)", line)]


@pytest.mark.parametrize(
    ("query", "columns", "sorted_rows"),
    [
        ({}, "occurred_at", False),
        ({"occurred_at__gte": "2026-01-01 00:00:00+00:00"}, "occurred_at", False),
        ({"action": "user.deactivated"}, "lower((action)::text), occurred_at DESC, id DESC", False),
        ({"q": "user.deactivated"}, "lower((action)::text), occurred_at DESC, id DESC", False),
        ({"q": "7"}, "organization_id, occurred_at DESC, id DESC", False),
        # One seek per kind of object, then the object's few events in time order.
        ({"q": str(uuid.UUID(int=7))}, "target_type, target_id, occurred_at DESC, id DESC", True),
    ],
)
def test_each_way_of_reading_the_audit_list_is_an_index_seek(staff_client, query, columns, sorted_rows):
    events_add(5, organization_id=7)
    # The plan must not depend on what earlier tests left in the statistics (a run of the whole suite once
    # made the organization's index look no better than reading in time order): organization 7 is a few
    # rows among many, and the statistics say so (ANALYZE is undone with the test's transaction).
    events_add(300, start=5, organization_id=8)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
    sql = page_sql(staff_client, AUDIT_URL, "audit_auditevent", query)

    # Rows that need sorting: the condition itself must be an index's (a bitmap scan needs one), else a
    # scan in time order with no sort at all.
    forbidden = (
        ("enable_seqscan", "enable_indexscan")
        if sorted_rows
        else ("enable_seqscan", "enable_bitmapscan", "enable_sort")
    )
    plan = plan_of(sql, None, forbidden=forbidden)

    used = scanned_indexes(plan)
    assert used and used <= index_family("audit_auditevent", columns), plan
    assert "Seq Scan" not in plan, plan
    if not sorted_rows:
        assert full_sorts(plan) == [], plan


# --- Outbox ------------------------------------------------------------------------------------------


def test_the_outbox_pages_newest_first_without_counting(staff_client):
    emails_add(55)

    with CaptureQueriesContext(connection) as captured:
        first = staff_client.get(OUTBOX_URL)
        second = staff_client.get(f"{OUTBOX_URL}?{link(first, 'next')}")

    assert emails_listed(first) == [f"Email {n:03d}" for n in range(50)]
    assert emails_listed(second) == [f"Email {n:03d}" for n in range(50, 55)]
    assert link(second, "next") is None
    assert_never_counts_offsets_or_distincts(captured, "mail_outboxemail")


def test_the_outbox_makes_the_same_queries_at_every_size(staff_client):
    emails_add(3)
    query = {"status__exact": "sent", "template": "test_message"}
    with CaptureQueriesContext(connection) as small:
        staff_client.get(OUTBOX_URL, query)
    emails_add(120, start=3)
    with CaptureQueriesContext(connection) as large:
        response = staff_client.get(OUTBOX_URL, query)

    assert len(emails_listed(response)) == 50
    assert len(large) == len(small)
    assert_never_counts_offsets_or_distincts(large, "mail_outboxemail")


def test_outbox_pages_keep_the_filters_and_the_search(staff_client):
    emails_add(60, to="ann@example.com", status=OutboxStatus.DEAD)
    emails_add(5, start=60, to="ann@example.com")
    emails_add(5, start=65, status=OutboxStatus.DEAD)
    query = {"status__exact": "dead", "q": "ann@example.com"}

    first = staff_client.get(OUTBOX_URL, query)
    second = staff_client.get(f"{OUTBOX_URL}?{link(first, 'next')}")
    back = staff_client.get(f"{OUTBOX_URL}?{link(second, 'prev')}")
    top = staff_client.get(f"{OUTBOX_URL}?{first_page_link(second)}")

    assert emails_listed(first) == [f"Email {n:03d}" for n in range(50)]
    assert emails_listed(second) == [f"Email {n:03d}" for n in range(50, 60)]
    assert emails_listed(back) == emails_listed(top) == emails_listed(first)
    for response in (second, back, top):
        assert response.context["cl"].query == "ann@example.com"
        assert response.context["cl"].get_filters_params() == {"status__exact": ["dead"]}


def test_the_template_filter_offers_the_templates_that_exist(staff_client):
    emails_add(1)
    with CaptureQueriesContext(connection) as captured:
        response = staff_client.get(OUTBOX_URL)

    [template_filter] = [
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", "") == "template"
    ]
    names = [name for name, _label in template_filter.lookup_choices]
    assert names == email_templates()
    assert {"membership_invitation", "test_message", "enrollment_status"} <= set(names)
    assert "base.html" not in names
    assert len([query for query in captured if '"mail_outboxemail"' in query["sql"]]) == 1


def test_each_outbox_filter_and_search_finds_exactly_its_rows(staff_client):
    [sent] = emails_add(1, to="ann@example.com")  # Email 000
    emails_add(1, start=1, status=OutboxStatus.DEAD, template="membership_invitation")  # Email 001
    emails_add(1, start=2, language="ja", status=OutboxStatus.PENDING)  # Email 002

    def found(**query) -> list[str]:
        return emails_listed(staff_client.get(OUTBOX_URL, query))

    assert found() == ["Email 000", "Email 001", "Email 002"]
    assert found(status__exact="dead") == ["Email 001"]
    assert found(status__exact="pending") == ["Email 002"]
    assert found(language__exact="ja") == ["Email 002"]
    assert found(template="membership_invitation") == ["Email 001"]
    assert found(template="membership_invitation", status__exact="sent") == []
    assert found(q=" ann@example.com ") == ["Email 000"]
    assert found(q=str(sent.pk).upper()) == ["Email 000"]
    assert found(q="ann@example.com", language__exact="ja") == []
    for nothing in ("ann", "example.com", "Email 000", "%", "' OR 1=1 --", "x" * 300):
        assert found(q=nothing) == [], nothing


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        # The field's own index, each time's few rows put in id order (an Incremental Sort).
        ({}, "created_at"),
        ({"status__exact": "dead"}, "status, created_at DESC, id DESC"),
        ({"template": "membership_invitation"}, "template, created_at DESC, id DESC"),
        ({"q": "ann@example.com"}, '"to", created_at DESC, id DESC'),
    ],
)
def test_each_way_of_reading_the_outbox_is_an_index_seek(staff_client, query, columns):
    emails_add(5)
    sql = page_sql(staff_client, OUTBOX_URL, "mail_outboxemail", query)

    plan = plan_of(sql, None, forbidden=("enable_seqscan", "enable_bitmapscan", "enable_sort"))

    assert scanned_indexes(plan) == index_family("mail_outboxemail", columns), plan
    assert full_sorts(plan) == [], plan


def test_the_outbox_id_search_is_a_primary_key_seek(staff_client):
    [email] = emails_add(1)
    with CaptureQueriesContext(connection) as captured:
        staff_client.get(OUTBOX_URL, {"q": str(email.pk)})
    [sql] = [q["sql"] for q in captured if "LIMIT 51" in q["sql"]]

    assert "mail_outboxemail_pkey" in plan_of(sql, None)


def test_send_again_requeues_a_dead_email_from_a_filtered_keyset_page(staff_client):
    dead = OutboxEmailFactory(
        status=OutboxStatus.DEAD, attempts=6, last_error="SMTP 451", created_at=NOW - timedelta(hours=2)
    )
    sent = OutboxEmailFactory(status=OutboxStatus.SENT, attempts=1)
    emails_add(60, status=OutboxStatus.DEAD)  # the selected email is not on the first page of the list
    page = staff_client.get(OUTBOX_URL, {"status__exact": "dead"})
    second_page = f"{OUTBOX_URL}?{link(page, 'next')}"
    assert dead.subject in emails_listed(staff_client.get(second_page))

    response = staff_client.post(
        second_page, {"action": "send_again", "index": "0", "_selected_action": [str(dead.pk), str(sent.pk)]}
    )

    assert response.status_code == 302
    dead.refresh_from_db()
    sent.refresh_from_db()
    assert (dead.status, dead.attempts) == (OutboxStatus.PENDING, 0)
    assert (sent.status, sent.attempts) == (OutboxStatus.SENT, 1)
    assert OutboxEmail.objects.filter(status=OutboxStatus.DEAD).count() == 60
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "1 email will be sent again."
    ]

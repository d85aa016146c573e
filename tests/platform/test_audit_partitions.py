"""The audit trail at size: on PostgreSQL partitioned by month, retention drops whole months, and the
application's role can only read and append (portal/audit/migrations/0005, manage.py db_app_role)."""

import io
import logging
import uuid
from datetime import UTC, date, datetime

import psycopg
import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from portal.audit.models import AuditEvent
from portal.audit.services import (
    DroppedPartition,
    audit_partitions_ensure,
    audit_record,
    audit_retention_apply,
)


def _month(day: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _partition(month: date) -> str:
    return f"audit_auditevent_p{month:%Y%m}"


def _database_month() -> date:
    """This month by the database's clock (UTC), which the partition functions go by."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date")
        return cursor.fetchone()[0]


def _partitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relid::regclass::text FROM pg_partition_tree('audit_auditevent') WHERE isleaf ORDER BY 1"
        )
        return [name for (name,) in cursor.fetchall()]


def _partition_of(event: AuditEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_auditevent WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def _event_at(when: datetime, action: str = "test.happened") -> AuditEvent:
    with time_machine.travel(when, tick=False):
        return audit_record(action=action, organization_id=7)


@pytest.fixture(autouse=True)
def _postgresql():
    assert connection.vendor == "postgresql", "the test command runs on PostgreSQL"


@pytest.mark.django_db
def test_each_row_lands_in_the_partition_of_its_month():
    this_month = _database_month()
    audit_partitions_ensure(months_ahead=1)
    now = audit_record(action="test.now", organization_id=7)
    next_month = _event_at(datetime.combine(_month(this_month, 1), datetime.min.time(), tzinfo=UTC))
    first_instant = _event_at(datetime(this_month.year, this_month.month, 1, tzinfo=UTC))

    assert _partition_of(now) == _partition(this_month)
    assert _partition_of(next_month) == _partition(_month(this_month, 1))  # lower bound included
    assert _partition_of(first_instant) == _partition(this_month)


@pytest.mark.django_db
def test_a_month_without_partition_goes_to_default_until_the_next_ensure_run_moves_it():
    past = _event_at(datetime(1999, 5, 10, 12, tzinfo=UTC), action="test.past")
    future = _event_at(datetime(2100, 1, 31, 23, 59, 59, tzinfo=UTC), action="test.future")
    assert _partition_of(past) == _partition_of(future) == "audit_auditevent_default"

    created = audit_partitions_ensure(months_ahead=0)

    assert "audit_auditevent_p199905" in created
    assert "audit_auditevent_p210001" in created
    assert _partition_of(past) == "audit_auditevent_p199905"
    assert _partition_of(future) == "audit_auditevent_p210001"
    assert AuditEvent.objects.get(pk=past.pk).action == "test.past"  # same id, same row
    assert AuditEvent.objects.get(pk=future.pk).occurred_at == datetime(2100, 1, 31, 23, 59, 59, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent_default")
        assert cursor.fetchone()[0] == 0
        # The moved partition is a full partition: the parent's indexes, and the append-only trigger.
        cursor.execute(
            "SELECT count(*) FROM pg_partition_tree('audit_org_time_id_idx') tree "
            "JOIN pg_index ON pg_index.indexrelid = tree.relid WHERE pg_index.indrelid = %s::regclass",
            ["audit_auditevent_p199905"],
        )
        assert cursor.fetchone()[0] == 1
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditevent_default")
            cursor.execute("DELETE FROM audit_auditevent_p199905")


@pytest.mark.django_db
def test_ensuring_partitions_is_idempotent():
    this_month = _database_month()
    audit_partitions_ensure(months_ahead=3)
    before = _partitions()

    assert audit_partitions_ensure(months_ahead=3) == []
    assert audit_partitions_ensure(months_ahead=2) == []
    assert _partitions() == before
    for months in range(4):
        assert _partition(_month(this_month, months)) in before


@pytest.mark.django_db
def test_ensuring_refuses_an_unreasonable_horizon():
    before = _partitions()
    with pytest.raises(DatabaseError, match="months_ahead"), transaction.atomic():
        audit_partitions_ensure(months_ahead=1000)
    assert _partitions() == before


@pytest.mark.django_db
def test_retention_drops_exactly_the_months_older_than_the_cutoff_and_records_each(caplog):
    this_month = _database_month()
    cutoff = _month(this_month, -12)  # retention 12: this month and the 12 before it stay
    events = {
        months: _event_at(
            datetime.combine(_month(cutoff, months), datetime.min.time(), tzinfo=UTC).replace(day=15)
        )
        for months in (-30, -2, -1, 0, 1)
    }
    _event_at(datetime.combine(_month(cutoff, -1), datetime.min.time(), tzinfo=UTC).replace(day=28))
    audit_partitions_ensure(months_ahead=1)
    before = _partitions()
    expired = [name for name in before if name.startswith("audit_auditevent_p") and name < _partition(cutoff)]
    assert set(expired) >= {_partition(_month(cutoff, months)) for months in (-30, -2, -1)}

    with caplog.at_level(logging.INFO, logger="portal.audit.services"):
        dropped = audit_retention_apply(retention_months=12)

    assert [partition.name for partition in dropped] == expired
    by_name = {partition.name: partition for partition in dropped}
    assert by_name[_partition(_month(cutoff, -1))] == DroppedPartition(
        name=_partition(_month(cutoff, -1)), month=_month(cutoff, -1), row_estimate=2
    )
    assert _partitions() == [name for name in before if name not in expired]
    remaining = set(AuditEvent.objects.filter(action="test.happened").values_list("pk", flat=True))
    assert remaining == {events[0].pk, events[1].pk}
    records = AuditEvent.objects.filter(action="audit.partition_dropped").order_by("id")
    assert [record.after["partition"] for record in records] == expired
    assert records.get(after__partition=_partition(_month(cutoff, -1))).after == {
        "partition": _partition(_month(cutoff, -1)),
        "month": f"{_month(cutoff, -1):%Y-%m}",
        "row_estimate": 2,
        "retention_months": 12,
    }
    assert records[0].actor_label == "system"
    assert f"Audit partition {_partition(_month(cutoff, -1))} ({_month(cutoff, -1):%Y-%m}, about 2 rows)" in (
        caplog.text
    )
    assert audit_retention_apply(retention_months=12) == []  # nothing left to drop


@pytest.mark.django_db
def test_retention_zero_keeps_everything_and_below_a_year_is_refused_even_by_the_database():
    old = _event_at(datetime(2001, 1, 5, tzinfo=UTC))
    audit_partitions_ensure(months_ahead=0)
    before = _partitions()

    assert audit_retention_apply(retention_months=0) == []
    with pytest.raises(ValueError, match="at least 12"):
        audit_retention_apply(retention_months=3)
    with pytest.raises(DatabaseError, match="at least 12"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM audit_partitions_drop_expired(3)")
    assert _partitions() == before
    assert AuditEvent.objects.filter(pk=old.pk).exists()
    assert not AuditEvent.objects.filter(action="audit.partition_dropped").exists()


@pytest.mark.django_db
def test_the_database_refuses_to_change_or_delete_rows_in_any_partition():
    audit_partitions_ensure(months_ahead=0)
    event = audit_record(action="test.happened")
    waiting = _event_at(datetime(1990, 1, 1, tzinfo=UTC), action="test.waiting")  # in DEFAULT
    partition = _partition_of(event)
    for statement, pk in (
        (f"UPDATE {partition} SET action = 'test.rewritten' WHERE id = %s", event.pk),  # noqa: S608
        (f"DELETE FROM {partition} WHERE id = %s", event.pk),  # noqa: S608
        ("UPDATE audit_auditevent SET occurred_at = '1999-01-01' WHERE id = %s", event.pk),  # moving it out
        ("UPDATE audit_auditevent_default SET action = 'test.rewritten' WHERE id = %s", waiting.pk),
        ("DELETE FROM audit_auditevent_default WHERE id = %s", waiting.pk),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.happened"
    assert AuditEvent.objects.get(pk=waiting.pk).action == "test.waiting"
    assert _partition_of(event) == partition
    assert _partition_of(waiting) == "audit_auditevent_default"


# --- The application's role -------------------------------------------------------------------------


def _connect(user: str) -> psycopg.Connection:
    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"], port=database["PORT"], dbname=database["NAME"], user=user, autocommit=True
    )


@pytest.fixture
def application_role(transactional_db):
    """A login role made for this test (the test cluster trusts loopback), granted by db_app_role."""
    role = f"portal_app_{uuid.uuid4().hex[:8]}"
    with _connect("postgres") as superuser:
        superuser.execute(f"CREATE ROLE {role} LOGIN")
    created_before = set(_partitions())
    try:
        call_command("db_app_role", role, stdout=io.StringIO())
        yield role
    finally:
        with connection.cursor() as cursor:
            for name in set(_partitions()) - created_before:  # leave the partitions as the test found them
                cursor.execute(f"DROP TABLE {name}")
        with _connect("postgres") as superuser:
            superuser.execute(f"DROP OWNED BY {role}")
            superuser.execute(f"DROP ROLE {role}")


def _refused(application: psycopg.Connection, statement: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        application.execute(statement)
    return str(refused.value)


def test_the_application_role_reads_and_appends_audit_rows_and_nothing_more(application_role):
    audit_partitions_ensure(months_ahead=0)
    event = audit_record(action="test.happened")
    partition = _partition_of(event)
    insert = (
        "INSERT INTO audit_auditevent (occurred_at, actor_label, action, target_type, target_id,"
        " target_label, request_id) VALUES (now(), 'system', 'test.appended', '', '', '', '') RETURNING id"
    )
    with _connect(application_role) as application:
        assert application.execute(
            "SELECT action FROM audit_auditevent WHERE id = %s", [event.pk]
        ).fetchone() == ("test.happened",)
        count_partition = f"SELECT count(*) FROM {partition}"  # noqa: S608 - a partition's name
        assert application.execute(count_partition).fetchone() == (1,)
        [appended] = application.execute(insert).fetchone()
        # Every other table: read and write (here the sessions).
        application.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES ('k', 'd', now())"
        )
        assert (
            application.execute(
                "UPDATE django_session SET session_data = 'e' WHERE session_key = 'k'"
            ).rowcount
            == 1
        )
        assert application.execute("DELETE FROM django_session WHERE session_key = 'k'").rowcount == 1

        for table in ("audit_auditevent", partition, "audit_auditevent_default"):
            for statement in (
                f"UPDATE {table} SET action = 'test.rewritten'",  # noqa: S608 - partition names
                f"DELETE FROM {table}",  # noqa: S608
                f"TRUNCATE {table}",
            ):
                assert "permission denied" in _refused(application, statement)
        _refused(application, "ALTER TABLE audit_auditevent_default DISABLE TRIGGER audit_event_append_only")
        _refused(application, "DROP TABLE audit_auditevent_default")

    assert list(AuditEvent.objects.order_by("id").values_list("id", "action")) == [
        (event.pk, "test.happened"),
        (appended, "test.appended"),
    ]


def test_the_application_role_runs_partition_upkeep_and_new_partitions_carry_its_grants(application_role):
    this_month = _database_month()
    expired_month = _month(this_month, -13)
    with _connect(application_role) as application:
        for day in (date(2100, 3, 3), expired_month.replace(day=9)):
            application.execute(
                "INSERT INTO audit_auditevent (occurred_at, actor_label, action, target_type, target_id,"
                " target_label, request_id) VALUES (%s, 'system', 'test.appended', '', '', '', '')",
                [datetime.combine(day, datetime.min.time(), tzinfo=UTC)],
            )
        created = [name for (name,) in application.execute("SELECT audit_partitions_ensure(0)").fetchall()]
        assert {"audit_auditevent_p210003", _partition(expired_month)} <= set(created)
        # A partition made later has the parent's grants: readable directly, never writable but by insert.
        assert application.execute("SELECT count(*) FROM audit_auditevent_p210003").fetchone() == (1,)
        assert "permission denied" in _refused(application, "DELETE FROM audit_auditevent_p210003")
        assert "permission denied" in _refused(application, "TRUNCATE audit_auditevent_p210003")

        dropped = application.execute(
            "SELECT partition_name, row_estimate FROM audit_partitions_drop_expired(12)"
        ).fetchall()

        assert (_partition(expired_month), 1) in dropped
        assert "audit_auditevent_p210003" not in {name for name, _rows in dropped}
    assert _partition(expired_month) not in _partitions()
    assert "audit_auditevent_p210003" in _partitions()


def test_the_owner_flushes_the_trail_between_tests(transactional_db):
    """pytest-django empties tables with TRUNCATE, which fires no row trigger: it keeps working."""
    audit_record(action="test.happened")
    call_command("flush", "--no-input", verbosity=0)
    assert AuditEvent.objects.count() == 0


def test_the_migration_reverses_to_a_plain_table_and_back_keeping_every_row(transactional_db):
    events = [
        _event_at(datetime(2003, 4, 5, tzinfo=UTC), action="test.old"),
        audit_record(action="test.now", organization_id=7),
    ]
    call_command("migrate", "audit", "0004", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'audit_auditevent'::regclass")
        assert cursor.fetchone() == ("r",)
    plain = list(AuditEvent.objects.order_by("id").values_list("id", "occurred_at", "action"))

    call_command("migrate", "audit", verbosity=0)

    assert list(AuditEvent.objects.order_by("id").values_list("id", "occurred_at", "action")) == plain
    assert [pk for pk, _at, _action in plain] == [event.pk for event in events]
    assert _partition_of(events[0]) == "audit_auditevent_p200304"
    newer = audit_record(action="test.after")
    assert newer.pk > events[1].pk  # the identity continues after the copied rows
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_auditevent' ORDER BY 1")
        names = [name for (name,) in cursor.fetchall()]
    assert {
        "audit_auditevent_pkey",
        "audit_org_time_id_idx",
        "audit_org_action_time_idx",
        "audit_org_actor_time_idx",
        "audit_target_history_idx",
    } <= set(names)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE audit_auditevent_p200304")


@pytest.mark.django_db
def test_beat_runs_both_upkeep_tasks_daily_with_the_settings(settings):
    from portal.audit import tasks
    from portal.celery import app

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("portal.audit.tasks.audit_partitions_ensure", "portal.audit.tasks.audit_retention_apply"):
        assert name in app.tasks
        assert schedule[name].hour == {2}  # once a day, at night (UTC)
    this_month = _database_month()
    old = _event_at(datetime.combine(_month(this_month, -20), datetime.min.time(), tzinfo=UTC))
    settings.AUDIT_PARTITION_MONTHS_AHEAD = 2
    settings.AUDIT_RETENTION_MONTHS = 12

    assert tasks.audit_partitions_ensure() >= 1
    assert _partition(_month(this_month, 2)) in _partitions()
    assert _partition_of(old) == _partition(_month(this_month, -20))
    assert tasks.audit_retention_apply() >= 1

    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert _partition(_month(this_month, -20)) not in _partitions()
    assert (
        AuditEvent.objects.get(
            action="audit.partition_dropped", after__partition=_partition(_month(this_month, -20))
        ).after["retention_months"]
        == 12
    )

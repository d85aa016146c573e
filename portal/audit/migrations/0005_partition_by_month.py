"""On PostgreSQL the audit trail becomes a table partitioned by month of ``occurred_at``.

The activity log and the history of an object stay index seeks at any size, and retention removes whole
months (a partition dropped) instead of deleting rows, which stay append-only. In the database the
primary key becomes (id, occurred_at), as PostgreSQL requires the partition key in every unique index;
``id`` still comes from the table's identity, so it stays unique and Django keeps it as the primary key
(the model state does not change). Every index keeps its name and columns, as a partitioned index. A
DEFAULT partition takes any row whose month has no partition yet, so an insert never fails.

Two functions, owned by the role that migrates, are the only way the application's role touches the
partitions (see ``manage.py db_app_role``):

- ``audit_partitions_ensure(months_ahead)`` creates the partition of the current month (database clock,
  UTC) and of the next ``months_ahead`` months, and of every month that has rows in the DEFAULT
  partition, moving those rows into it. It is idempotent and gives each new partition the grants of the
  parent table.
- ``audit_partitions_drop_expired(retention_months)`` drops every monthly partition entirely older than
  the retention (months before the current month, at least 12), and returns each one dropped with its
  month and row estimate. The cutoff comes from the database clock: the caller cannot move it.

On SQLite (the embedded defaults of ``bin/run``) the table stays a plain table and nothing here runs.
"""

from django.db import migrations

PARENT = "audit_auditevent"
DEFAULT_PARTITION = "audit_auditevent_default"
TRIGGER = "audit_event_append_only"

FUNCTIONS = """
CREATE OR REPLACE FUNCTION audit_partitions_ensure(months_ahead integer) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp
-- Creating or dropping a partition locks the parent: rather fail (and try again the next day) than
-- queue behind a long read while every insert of an audit row queues behind us.
SET lock_timeout = '5s' AS $$
DECLARE
    current_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    months date[];
    partition_month date;
    partition_name text;
    lower_bound timestamptz;
    upper_bound timestamptz;
    privilege record;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 36 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 36, not %', months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One maintenance run at a time (beat and a migration may overlap).
    PERFORM pg_advisory_xact_lock(hashtext('audit_auditevent partitions'));
    -- Read before the loop: the DEFAULT partition cannot be altered while a query on it is open.
    months := ARRAY(
        SELECT generate_series(current_month, current_month + make_interval(months => months_ahead),
                               interval '1 month')::date
        UNION
        SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date FROM audit_auditevent_default
        ORDER BY 1
    );
    FOREACH partition_month IN ARRAY months LOOP
        partition_name := 'audit_auditevent_p' || to_char(partition_month, 'YYYYMM');
        CONTINUE WHEN to_regclass(quote_ident(partition_name)) IS NOT NULL;
        lower_bound := partition_month::timestamp AT TIME ZONE 'UTC';
        upper_bound := (partition_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        IF EXISTS (SELECT FROM audit_auditevent_default
                   WHERE occurred_at >= lower_bound AND occurred_at < upper_bound) THEN
            -- Rows of this month wait in the DEFAULT partition: they move into the new partition, in
            -- this transaction, with the append-only trigger off for this one statement only.
            EXECUTE format('CREATE TABLE %I (LIKE audit_auditevent INCLUDING DEFAULTS)', partition_name);
            EXECUTE format('INSERT INTO %I SELECT * FROM audit_auditevent_default '
                           'WHERE occurred_at >= $1 AND occurred_at < $2', partition_name)
                USING lower_bound, upper_bound;
            ALTER TABLE audit_auditevent_default DISABLE TRIGGER audit_event_append_only;
            DELETE FROM audit_auditevent_default WHERE occurred_at >= lower_bound AND occurred_at < upper_bound;
            ALTER TABLE audit_auditevent_default ENABLE TRIGGER audit_event_append_only;
            EXECUTE format('ALTER TABLE audit_auditevent ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           partition_name, to_char(partition_month, 'YYYY-MM-DD "00:00:00+00"'),
                           to_char(partition_month + interval '1 month', 'YYYY-MM-DD "00:00:00+00"'));
        ELSE
            EXECUTE format('CREATE TABLE %I PARTITION OF audit_auditevent FOR VALUES FROM (%L) TO (%L)',
                           partition_name, to_char(partition_month, 'YYYY-MM-DD "00:00:00+00"'),
                           to_char(partition_month + interval '1 month', 'YYYY-MM-DD "00:00:00+00"'));
        END IF;
        -- A partition can be read directly: it carries the parent's grants (SELECT, INSERT for the
        -- application's role), never more.
        FOR privilege IN
            SELECT acl.privilege_type,
                   CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(grantee.rolname) END AS role
            FROM pg_class parent
            CROSS JOIN LATERAL aclexplode(parent.relacl) acl
            LEFT JOIN pg_roles grantee ON grantee.oid = acl.grantee
            WHERE parent.oid = 'audit_auditevent'::regclass AND acl.grantee <> parent.relowner
        LOOP
            EXECUTE format('GRANT %s ON TABLE %I TO %s', privilege.privilege_type, partition_name, privilege.role);
        END LOOP;
        RETURN NEXT partition_name;
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION audit_partitions_drop_expired(retention_months integer)
RETURNS TABLE (partition_name text, partition_month date, row_estimate bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp
-- Creating or dropping a partition locks the parent: rather fail (and try again the next day) than
-- queue behind a long read while every insert of an audit row queues behind us.
SET lock_timeout = '5s' AS $$
DECLARE
    cutoff date;
BEGIN
    -- Whoever calls this (the application's role), no month younger than a year is ever dropped.
    IF retention_months IS NULL OR retention_months < 12 THEN
        RAISE EXCEPTION 'retention_months must be at least 12, not %', retention_months
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => retention_months))::date;
    PERFORM pg_advisory_xact_lock(hashtext('audit_auditevent partitions'));
    FOR partition_name IN
        SELECT child.relname FROM pg_inherits
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        WHERE pg_inherits.inhparent = 'audit_auditevent'::regclass
          AND child.relname ~ '^audit_auditevent_p[0-9]{{6}}$'
        ORDER BY child.relname
    LOOP
        partition_month := to_date(right(partition_name, 6), 'YYYYMM');
        -- Only partitions whose every row is older than the cutoff: the month ends on or before it.
        CONTINUE WHEN partition_month + interval '1 month' > cutoff;
        SELECT reltuples::bigint INTO row_estimate FROM pg_class WHERE oid = to_regclass(quote_ident(partition_name));
        IF row_estimate < 0 THEN  -- never analysed: count it
            EXECUTE format('SELECT count(*) FROM %I', partition_name) INTO row_estimate;
        END IF;
        EXECUTE format('DROP TABLE %I', partition_name);
        RETURN NEXT;
    END LOOP;
END;
$$;

REVOKE ALL ON FUNCTION audit_partitions_ensure(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_partitions_drop_expired(integer) FROM PUBLIC;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS audit_partitions_ensure(integer);
DROP FUNCTION IF EXISTS audit_partitions_drop_expired(integer);
"""


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of every index of ``table`` but its primary key."""
    cursor.execute(
        """
        SELECT index_class.relname, pg_get_indexdef(pg_index.indexrelid)
        FROM pg_index JOIN pg_class index_class ON index_class.oid = pg_index.indexrelid
        WHERE pg_index.indrelid = %s::regclass AND NOT pg_index.indisprimary
        ORDER BY index_class.relname
        """,
        [table],
    )
    # A partitioned index reads "ON ONLY table": recreated on either kind of table, it must recurse.
    return [(name, definition.replace(" ON ONLY ", " ON ")) for name, definition in cursor.fetchall()]


def _rebuild(cursor, *, partitioned: bool) -> None:
    """Move the audit rows into a new audit_auditevent table, partitioned or plain, with the same
    columns, indexes, identity and append-only trigger; the old table is dropped."""
    old = f"{PARENT}_{'unpartitioned' if partitioned else 'partitioned'}"
    indexes = _secondary_indexes(cursor, PARENT)
    cursor.execute(f"SELECT COALESCE(max(id), 0) + 1 FROM {PARENT}")
    [next_id] = cursor.fetchone()
    cursor.execute(f"ALTER TABLE {PARENT} RENAME TO {old}")
    cursor.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {PARENT}_pkey TO {old}_pkey")
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    # The identity's sequence goes with it; the new table gets its own, continuing after the last id.
    cursor.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP IDENTITY IF EXISTS")
    partition_by = " PARTITION BY RANGE (occurred_at)" if partitioned else ""
    cursor.execute(f"CREATE TABLE {PARENT} (LIKE {old} INCLUDING DEFAULTS){partition_by}")
    cursor.execute(f"ALTER TABLE {PARENT} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{PARENT}', 'id'), %s, false)", [next_id])
    primary_key = "id, occurred_at" if partitioned else "id"
    cursor.execute(f"ALTER TABLE {PARENT} ADD CONSTRAINT {PARENT}_pkey PRIMARY KEY ({primary_key})")
    for _name, definition in indexes:
        cursor.execute(definition)
    if partitioned:
        cursor.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {PARENT} DEFAULT")
    cursor.execute(
        f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {PARENT} "
        f"FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    )
    cursor.execute(f"INSERT INTO {PARENT} SELECT * FROM {old}")
    cursor.execute(f"DROP TABLE {old}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        [schema] = cursor.fetchone()
        _rebuild(cursor, partitioned=True)
        cursor.execute(FUNCTIONS.format(schema=f'"{schema}"'))
        # The current and the next month, and every month of the rows copied into the DEFAULT partition.
        cursor.execute("SELECT audit_partitions_ensure(1)")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP_FUNCTIONS)
        _rebuild(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_audit_target_history_index")]

    operations = [migrations.RunPython(partition, unpartition)]

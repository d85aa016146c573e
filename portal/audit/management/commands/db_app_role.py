"""Grant the application's database role what the portal needs at run time, and no more.

Two roles (README, Operations): the owner migrates and owns every table and function; the application
(web, worker, beat) connects as a role that reads and writes the tables but only reads and appends to
the audit trail: SELECT and INSERT on ``audit_auditevent`` and each of its partitions (partitions
created later get the parent's grants), never UPDATE, DELETE or TRUNCATE, and EXECUTE on the two
functions that create partitions ahead and drop whole expired months. Run it as the owner after every
``migrate`` (new tables need their grants): ``manage.py db_app_role portal_app``. The role must exist.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

AUDIT_PARENT = "audit_auditevent"
AUDIT_FUNCTIONS = ("audit_partitions_ensure(integer)", "audit_partitions_drop_expired(integer)")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class Command(BaseCommand):
    help = "Grant the application's database role its privileges (audit trail: SELECT and INSERT only)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the application's PostgreSQL role (it must exist)")

    def handle(self, *args, role: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist on PostgreSQL only.")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, current_schema(), EXISTS (SELECT FROM pg_roles WHERE rolname = %s)",
                [role],
            )
            owner, schema, exists = cursor.fetchone()
            if not exists:
                raise CommandError(f"There is no role {role!r}: create it first (CREATE ROLE ... LOGIN).")
            if role == owner:
                raise CommandError("The application's role must not be the role that owns the tables.")
            cursor.execute(
                """
                SELECT relname FROM pg_class
                WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
                ORDER BY relname
                """
            )
            tables = [name for (name,) in cursor.fetchall()]
            cursor.execute(
                "SELECT relid::regclass::text FROM pg_partition_tree(%s::regclass)", [AUDIT_PARENT]
            )
            audit_tables = {name.strip('"') for (name,) in cursor.fetchall()}
            grantee = _quote(role)
            cursor.execute(f"GRANT USAGE ON SCHEMA {_quote(schema)} TO {grantee}")
            for table in tables:
                privileges = "SELECT, INSERT" if table in audit_tables else "SELECT, INSERT, UPDATE, DELETE"
                cursor.execute(f"REVOKE ALL ON TABLE {_quote(table)} FROM {grantee}")
                cursor.execute(f"GRANT {privileges} ON TABLE {_quote(table)} TO {grantee}")
            cursor.execute(
                f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {_quote(schema)} TO {grantee}"
            )
            for function in AUDIT_FUNCTIONS:
                cursor.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {grantee}")
        self.stdout.write(
            f"Granted {role}: read and write on {len(tables) - len(audit_tables)} tables, read and append on "
            f"{len(audit_tables)} audit tables, the sequences, and the audit partition functions."
        )

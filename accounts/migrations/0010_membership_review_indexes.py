"""The review site's lists of people at a hundred thousand of them: the memberships list
(accounts.admin.MembershipAdmin), a keyset list newest first, served by an index on (created_at, id); and
the searches by a person's email address or part of it, ``icontains`` (``UPPER(email::text) LIKE
UPPER('%…%')`` on PostgreSQL), served by a trigram index, in the memberships list and in the review
queue (the applicant's address: enrollment.admin.queue). The trigram index is PostgreSQL only (pg_trgm is
a trusted extension, the database owner may create it; other databases skip it)."""

from django.db import migrations, models

TRIGRAM_INDEXES = {"user_email_trgm": ("accounts_user", "email")}


def trigram_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # Kept when this migration is reversed: other apps' searches use it too.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )
    # An expression index has statistics of its own only once its table is analysed: until then the
    # planner guesses that any pattern matches a few rows, and may start from one that matches them all.
    for table in sorted({table for table, _column in TRIGRAM_INDEXES.values()}):
        schema_editor.execute(f"ANALYZE {table}")


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_organization_list_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["created_at", "id"], name="membership_created_idx"),
        ),
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop),
    ]

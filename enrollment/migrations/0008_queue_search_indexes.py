"""The review queue's search (enrollment.admin.queue.queue_search) at a hundred thousand applications:
each of its conditions has an index, so that one search is one BitmapOr of them. ``icontains``
(``UPPER(col) LIKE UPPER('%…%')`` on PostgreSQL) on the legal name and the primary contact email: trigram
indexes (PostgreSQL only: pg_trgm is a trusted extension, the database owner may create it; other
databases skip them); the partner ID and the tenant ID, whatever the status: B-trees. The applicant's
email address: accounts 0010."""

from django.db import migrations, models

TRIGRAM_INDEXES = {
    "enrollment_app_name_trgm": ("enrollment_enrollmentapplication", "legal_name"),
    "enrollment_app_contact_email_trgm": ("enrollment_enrollmentapplication", "contact_email"),
}


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
    dependencies = [("enrollment", "0007_queue_keyset_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="enrollmentapplication",
            index=models.Index(fields=["partner_id"], name="enrollment_app_partner_idx"),
        ),
        migrations.AddIndex(
            model_name="enrollmentapplication",
            index=models.Index(fields=["tenant_id"], name="enrollment_app_tenant_idx"),
        ),
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop),
    ]

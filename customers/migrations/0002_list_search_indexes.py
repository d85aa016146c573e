"""The Customers pages at a hundred thousand customers per partner (bench/scale.py): the searches,
``icontains`` (``UPPER(col) LIKE UPPER('%…%')`` on PostgreSQL) on the customer's name and on an invitation's
email and customer name, have trigram indexes (PostgreSQL only: pg_trgm is a trusted extension, the
database owner may create it; other databases skip them)."""

from django.db import migrations

TRIGRAM_INDEXES = {
    "customer_rel_name_trgm": ("customers_customerrelationship", "customer_name"),
    "customer_inv_email_trgm": ("customers_customerinvitation", "email"),
    "customer_inv_name_trgm": ("customers_customerinvitation", "customer_name"),
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


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop),
    ]

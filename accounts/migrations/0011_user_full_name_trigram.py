"""The review site's people list at a hundred thousand of them (accounts.admin.UserAdmin): its search,
``icontains`` on the email address or the name, is an OR of both columns, which PostgreSQL answers from
their trigram indexes together (a BitmapOr) only when both have one. With the address's alone (migration
0010) it read every person, twice (the page and its count): 0.1 s at 110,000 in bench/scale.py. PostgreSQL
only, like 0010."""

from django.db import migrations

TRIGRAM_INDEXES = {"user_full_name_trgm": ("accounts_user", "full_name")}


def trigram_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )
    # an expression index has statistics of its own only once its table is analysed (0010)
    for table in sorted({table for table, _column in TRIGRAM_INDEXES.values()}):
        schema_editor.execute(f"ANALYZE {table}")


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_membership_review_indexes")]

    operations = [migrations.RunPython(trigram_indexes_create, trigram_indexes_drop)]

"""The review site's organizations list at hundreds of thousands of rows (a keyset list, accounts.admin):
one B-tree index per way of filtering it, each ending in the list's order (legal name, id); and trigram
indexes for its search, which runs ``icontains`` (``UPPER(col) LIKE UPPER('%…%')`` on PostgreSQL) on the
legal name and the support email, and for the search of a tenant's users (name and display name). The
trigram indexes are PostgreSQL only (pg_trgm is a trusted extension: the database owner may create it;
other databases skip them)."""

from django.db import migrations, models

TRIGRAM_INDEXES = {
    "organization_legal_name_trgm": ("accounts_organization", "legal_name"),
    "organization_support_email_trgm": ("accounts_organization", "support_email"),
    # a tenant's Users page searches its users' names (commerce.views.directory), 100,000 in a tenant
    "directory_user_upn_trgm": ("accounts_directoryuser", "user_principal_name"),
    "directory_user_name_trgm": ("accounts_directoryuser", "display_name"),
}


def trigram_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # Kept when this migration is reversed: providers' directory search uses it too.
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
    dependencies = [("accounts", "0008_directory_user_setup")]

    operations = [
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(fields=["legal_name", "id"], name="organization_name_idx"),
        ),
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(fields=["kind", "legal_name", "id"], name="organization_kind_idx"),
        ),
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(fields=["status", "legal_name", "id"], name="organization_status_idx"),
        ),
        migrations.AddIndex(
            model_name="organization",
            index=models.Index(fields=["country", "legal_name", "id"], name="organization_country_idx"),
        ),
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop),
    ]

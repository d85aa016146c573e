"""Find a provider searches names and descriptions with ``icontains`` (``UPPER(col) LIKE UPPER('%…%')``
on PostgreSQL): trigram indexes on those expressions answer it without reading every listing. PostgreSQL
only (pg_trgm is a trusted extension: the database owner may create it); other databases skip both."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "provider_listing_name_trgm": "name",
    "provider_listing_description_trgm": "description",
}


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON providers_providerlisting "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]

    operations = [TrigramExtension(), migrations.RunPython(indexes_create, indexes_drop)]

"""The Invitations page's search at a hundred thousand invitations (bench/scale.py): ``email icontains``
(``UPPER(email) LIKE UPPER('%…%')`` on PostgreSQL) or the partner ID, each with its index, so that
PostgreSQL reads only the matches of either. The trigram index is PostgreSQL only (pg_trgm, created by
0002); other databases skip it."""

from django.db import migrations, models


def trigram_index_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS partnership_inv_email_trgm ON providers_partnershipinvitation "
        'USING gin ((UPPER("email"::text)) gin_trgm_ops)'
    )


def trigram_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS partnership_inv_email_trgm")


class Migration(migrations.Migration):
    dependencies = [("providers", "0002_directory_search_trigrams")]

    operations = [
        migrations.AddIndex(
            model_name="partnershipinvitation",
            index=models.Index(fields=["partner_id"], name="partnership_inv_partner_idx"),
        ),
        migrations.RunPython(trigram_index_create, trigram_index_drop),
    ]

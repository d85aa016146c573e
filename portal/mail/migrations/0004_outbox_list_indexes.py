"""The review site's outbox list at millions of rows (portal/mail/admin.py): a keyset list newest first on
(created_at, id). Unfiltered, the index of ``created_at`` (0001) reads the newest rows, and the rare
emails of the same instant are put in id order as they come (an Incremental Sort); filtered or searched,
one index per way, each ending in those columns, so that every page is a seek: a status, a template, an
exact recipient address.

Plain SQL that PostgreSQL and SQLite (``bin/run``) both read; not in the model's state, like the trigram
indexes of accounts 0009.
"""

from django.db import migrations

INDEXES = {
    "outbox_status_created_idx": "status, created_at DESC, id DESC",
    "outbox_template_created_idx": "template, created_at DESC, id DESC",
    "outbox_to_created_idx": '"to", created_at DESC, id DESC',
}


class Migration(migrations.Migration):
    dependencies = [("mail", "0003_outbox_queued_at")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON mail_outboxemail ({columns})",
            f"DROP INDEX IF EXISTS {name}",
        )
        for name, columns in INDEXES.items()
    ]

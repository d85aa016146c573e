"""The review site's audit list filtered by action (portal/audit/admin.py): one index on (lower(action),
occurred_at, id), newest first, so that a page of one action is a seek, however rare or frequent it is.
On the expression, not the column: only the review list (no organization) asks for ``lower(action)``, so
a tenant's activity log filtered by action keeps its (organization, action, occurred_at, id) index
(``audit_org_action_time_idx``) instead of weighing this one against it.

Plain SQL that both databases read: on PostgreSQL a CREATE INDEX on the partitioned parent creates it on
every partition and on every partition created later (not CONCURRENTLY, which a partitioned table does
not allow); on SQLite (``bin/run``) the table is a plain table. The index is not in the model's state,
like the trigram indexes of accounts 0009: Django never creates or drops it elsewhere.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_partition_by_month")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS audit_action_time_idx "
            "ON audit_auditevent (lower(action), occurred_at DESC, id DESC)",
            "DROP INDEX IF EXISTS audit_action_time_idx",
        ),
    ]

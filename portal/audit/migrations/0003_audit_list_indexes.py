"""Indexes for the activity log's keyset pages: (organization, [action | actor,] occurred_at, id).

The new (organization_id, occurred_at, id) index covers what audit_org_time_idx did, so that one goes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization_id", "-occurred_at", "-id"], name="audit_org_time_id_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization_id", "action", "-occurred_at", "-id"], name="audit_org_action_time_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization_id", "actor", "-occurred_at", "-id"], name="audit_org_actor_time_idx"
            ),
        ),
        migrations.RemoveIndex(model_name="auditevent", name="audit_org_time_idx"),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    """The index that serves User management's keyset list: (organization, created_at, id)."""

    dependencies = [
        ("accounts", "0003_names_refuse_control_characters"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["organization", "created_at", "id"], name="membership_org_created_idx"),
        ),
    ]

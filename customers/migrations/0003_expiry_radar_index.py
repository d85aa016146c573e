"""The expiry radar (customers.views.partner_side.ExpiryRadarView) is a keyset list of a partner's live
delegated admin access by end date: a partial index of the live relationships, (partner, ends_at, id),
answers its filter and its order with one seek per page, at a hundred thousand customers per partner."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_list_search_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="delegatedadminrelationship",
            index=models.Index(
                condition=models.Q(status__in=["active", "expiring"]),
                fields=["partner", "ends_at", "id"],
                name="delegated_admin_radar_idx",
            ),
        ),
    ]

"""Membership invitations move onto the platform's link invitations: accepted_by becomes decided_by
(whoever accepted, declined or revoked), plus the purpose and an optional reason."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_membership_list_index"),
    ]

    operations = [
        migrations.RenameField(
            model_name="membershipinvitation", old_name="accepted_by", new_name="decided_by"
        ),
        migrations.AlterField(
            model_name="membershipinvitation",
            name="decided_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=models.deletion.SET_NULL,
                related_name="+",
                to="accounts.user",
                verbose_name="decided by",
            ),
        ),
        migrations.AddField(
            model_name="membershipinvitation",
            name="purpose",
            field=models.CharField(default="membership", editable=False, max_length=40, verbose_name="purpose"),
        ),
        migrations.AddField(
            model_name="membershipinvitation",
            name="reason",
            field=models.TextField(blank=True, max_length=500, verbose_name="reason"),
        ),
        migrations.AddConstraint(
            model_name="membershipinvitation",
            constraint=models.CheckConstraint(
                condition=models.Q(("purpose", "membership")), name="membership_invitation_purpose_valid"
            ),
        ),
    ]

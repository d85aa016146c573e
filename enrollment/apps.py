from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = _("Enrollment")

    def ready(self):
        from enrollment.audit_actions import ENROLLMENT_ACTION_LABELS
        from enrollment.reviewers import reviewer_group_after_migrate
        from portal.audit.catalogue import register

        register(ENROLLMENT_ACTION_LABELS)
        # The reviewers' group is data a flush empties and no migration makes again: keep it after each.
        post_migrate.connect(
            reviewer_group_after_migrate, sender=self, dispatch_uid="enrollment.reviewer_group"
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = _("Enrollment")

    def ready(self):
        from enrollment.audit_actions import ENROLLMENT_ACTION_LABELS
        from portal.audit.catalogue import register

        register(ENROLLMENT_ACTION_LABELS)

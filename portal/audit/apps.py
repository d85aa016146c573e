from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "portal.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self):
        from portal.audit.audit_actions import ACTION_LABELS
        from portal.audit.catalogue import register

        register(ACTION_LABELS)

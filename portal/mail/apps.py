from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "portal.mail"
    label = "mail"
    verbose_name = _("Outgoing email")

    def ready(self):
        from portal.audit.catalogue import register
        from portal.mail.audit_actions import ACTION_LABELS

        register(ACTION_LABELS)

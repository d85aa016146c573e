from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from accounts.audit_actions import ACTION_LABELS, REVIEW_ACTION_LABELS
        from accounts.pages import PAGES
        from portal.audit.catalogue import register
        from portal.navigation import page_register

        register(ACTION_LABELS)
        register(REVIEW_ACTION_LABELS)
        page_register(*PAGES)

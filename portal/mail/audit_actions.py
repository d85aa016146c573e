"""The audit actions of the outbox, with their labels (registered in MailConfig.ready)."""

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "outbox.dead": _("Email could not be delivered"),
    "outbox.requeued": _("Email queued to be sent again"),
}

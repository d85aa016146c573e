"""The audit actions of the audit trail itself, with their labels (registered in AuditConfig.ready)."""

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "audit.partition_dropped": _("Audit events of a month removed by retention"),
}

from django.contrib import admin

from portal.admin import ViewOnlyAdminMixin
from portal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit trail is evidence, so nobody edits it, staff included."""

    list_display = ["occurred_at", "action", "actor_label", "organization_id", "target_label"]
    list_filter = ["action", "occurred_at"]
    search_fields = ["action", "actor_label", "target_label", "target_id", "request_id"]
    date_hierarchy = "occurred_at"
    list_select_related = False
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.admin import ViewOnlyAdminMixin
from portal.audit.catalogue import action_label
from portal.audit.models import AuditEvent


class ActionListFilter(admin.SimpleListFilter):
    """The actions on record, by their readable label (in the reader's language)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
        return sorted(((action, action_label(action)) for action in actions), key=lambda item: item[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit trail is evidence, so nobody edits it, staff included."""

    list_display = ["occurred_at", "action_shown", "actor_label", "organization_id", "target_label"]
    list_filter = [ActionListFilter, "occurred_at"]
    search_fields = ["action", "actor_label", "target_label", "target_id", "request_id"]
    date_hierarchy = "occurred_at"
    list_select_related = False
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    @admin.display(description=_("action"), ordering="action")
    def action_shown(self, event: AuditEvent) -> str:
        return event.action_label

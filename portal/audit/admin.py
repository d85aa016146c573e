"""The review site's audit trail: tens of millions of rows, partitioned by month on PostgreSQL.

A keyset list newest first (``portal.admin.KeysetChangeList``), never counted; every filter and every
search is an index seek that ends in (occurred_at, id), so that a page costs the same at any size:

- no filter: ``audit_auditevent_occurred_at`` of each partition, merged;
- an action (the filter, or its code searched, in any case): ``audit_action_time_idx`` (migration 0006),
  on ``lower(action)`` so that only this list, which has no organization, reads it: a tenant's activity
  log filtered by action keeps its (organization, action, occurred_at, id) index;
- a time range (the date filter): the same time index, only the partitions of those months;
- an organization number searched: ``audit_org_time_id_idx``;
- an object's ID searched: ``audit_target_history_idx``, one seek per kind of object (model label).

Nothing else is searched: the actor's and the object's labels would need a scan of every row.
"""

import re
import uuid

from django.apps import apps
from django.contrib import admin
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from portal.admin import KeysetAdminMixin, ViewOnlyAdminMixin
from portal.audit.catalogue import action_choices, is_declared
from portal.audit.models import AuditEvent

#: an object's ID as audit events write it (portal.audit.services.target_identity): a public ID or a pk
_TARGET_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
#: organization ids are PostgreSQL bigints
_BIGINT_MAX = 2**63 - 1


class ActionListFilter(admin.SimpleListFilter):
    """The actions of the audit catalogue, by their readable label (in the reader's language): a fixed
    list in memory, never a scan of the rows."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(action_choices(), key=lambda item: item[1])

    def queryset(self, request, queryset):
        return _with_action(queryset, self.value()) if self.value() else queryset


def _with_action(queryset, action: str):
    """The events of one action, read through ``audit_action_time_idx`` (its expression: lower(action))."""
    return queryset.alias(action_code=Lower("action")).filter(action_code=action.lower())


def _target_types() -> list[str]:
    """Every kind of object an audit event can name (``target_identity``: a model's label)."""
    return sorted(model._meta.label_lower for model in apps.get_models())


@admin.register(AuditEvent)
class AuditEventAdmin(KeysetAdminMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit trail is evidence, so nobody edits it, staff included."""

    list_display = ["occurred_at", "action_shown", "actor_label", "organization_id", "target_label"]
    list_filter = [ActionListFilter, "occurred_at"]
    search_fields = ["action"]  # the search itself: get_search_results
    search_help_text = _(
        "Search by an exact action code (such as organization.suspended), an organization number, or the "
        "ID of the object that changed."
    )
    list_select_related = False
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    keyset_ordering = ("-occurred_at", "-id")

    def get_search_results(self, request, queryset, search_term):
        """One exact term: an action code, else an organization number, else an object's ID."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if is_declared(term.lower()):
            return _with_action(queryset, term), False
        if term.isascii() and term.isdigit():
            number = int(term)
            if number > _BIGINT_MAX:
                return queryset.none(), False
            return queryset.filter(organization_id=number), False
        if _TARGET_ID.match(term):
            try:
                target_id = str(uuid.UUID(term))  # a public ID, as target_identity writes it
            except ValueError:
                target_id = term
            return queryset.filter(Q(target_type__in=_target_types()) & Q(target_id=target_id)), False
        return queryset.none(), False

    @admin.display(description=_("action"))
    def action_shown(self, event: AuditEvent) -> str:
        return event.action_label

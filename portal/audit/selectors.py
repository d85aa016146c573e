"""Reads of the audit trail that pages need, always scoped."""

from django.db import models
from django.db.models import QuerySet

from portal.audit.models import AuditEvent
from portal.audit.services import target_identity


def audit_history(*, organization_id: int, target: models.Model) -> QuerySet:
    """The events about one object of one organization, newest first (served by
    ``audit_target_history_idx``); slice it, or page it with portal.lists."""
    target_type, target_id = target_identity(target)
    return AuditEvent.objects.filter(
        organization_id=organization_id, target_type=target_type, target_id=target_id
    ).order_by("-occurred_at", "-id")

"""The one way to write an audit event. Call it inside the transaction of the change it records."""

from typing import Any

from django.db import models

from portal import request_context
from portal.audit.models import AuditEvent


def target_identity(target: models.Model) -> tuple[str, str]:
    """How an audit event names its object: model label and public id (else primary key)."""
    identifier = getattr(target, "public_id", None) or target.pk
    return target._meta.label_lower, str(identifier)[:64]


def _target_fields(target: models.Model | None) -> dict[str, str]:
    if target is None:
        return {"target_type": "", "target_id": "", "target_label": ""}
    target_type, target_id = target_identity(target)
    return {"target_type": target_type, "target_id": target_id, "target_label": str(target)[:255]}


def audit_record(
    *,
    action: str,
    actor=None,
    organization=None,
    organization_id: int | None = None,
    target: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; request id and client IP come from the current request or task."""
    if organization is not None:
        organization_id = organization.pk
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        action=action,
        actor=actor if authenticated else None,
        actor_label=actor.email if authenticated else "system",
        organization_id=organization_id,
        before=before,
        after=after,
        request_id=request_context.get_request_id() or "",
        ip=request_context.get_client_ip(),
        **_target_fields(target),
    )

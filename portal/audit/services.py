"""The one way to write an audit event. Call it inside the transaction of the change it records.

Also the upkeep of the trail on PostgreSQL, where it is partitioned by month (migration 0005): the
partitions of the coming months are created ahead, and retention drops whole months, never single rows.
"""

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from portal import request_context
from portal.audit.models import AuditEvent

logger = logging.getLogger(__name__)

#: Whoever asks, the database never drops a month younger than this (audit_partitions_drop_expired).
RETENTION_MINIMUM_MONTHS = 12


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


def audit_partitions_ensure(*, months_ahead: int | None = None) -> list[str]:
    """Create the partitions of this month and the next ``months_ahead`` (default
    AUDIT_PARTITION_MONTHS_AHEAD), and of any month whose rows wait in the DEFAULT partition; idempotent.
    Returns the partitions created (none on SQLite, where the table is not partitioned)."""
    if connection.vendor != "postgresql":
        return []
    if months_ahead is None:
        months_ahead = settings.AUDIT_PARTITION_MONTHS_AHEAD
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT audit_partitions_ensure(%s)", [months_ahead])
        created = [name for (name,) in cursor.fetchall()]
    for name in created:
        logger.info("Audit partition %s created", name, extra={"partition": name})
    return created


@dataclass(frozen=True)
class DroppedPartition:
    name: str
    month: date
    row_estimate: int


def audit_retention_apply(*, retention_months: int | None = None) -> list[DroppedPartition]:
    """Drop every monthly partition entirely older than the retention (default AUDIT_RETENTION_MONTHS;
    0 keeps everything), each one recorded as an ``audit.partition_dropped`` event (same transaction)
    and logged."""
    if retention_months is None:
        retention_months = settings.AUDIT_RETENTION_MONTHS
    if retention_months == 0 or connection.vendor != "postgresql":
        return []
    if retention_months < RETENTION_MINIMUM_MONTHS:
        raise ValueError(f"Audit retention is 0 (keep forever) or at least {RETENTION_MINIMUM_MONTHS} months")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT partition_name, partition_month, row_estimate FROM audit_partitions_drop_expired(%s)",
            [retention_months],
        )
        dropped = [DroppedPartition(*row) for row in cursor.fetchall()]
        for partition in dropped:
            audit_record(
                action="audit.partition_dropped",
                after={
                    "partition": partition.name,
                    "month": f"{partition.month:%Y-%m}",
                    "row_estimate": partition.row_estimate,
                    "retention_months": retention_months,
                },
            )
    for partition in dropped:
        logger.info(
            "Audit partition %s (%s, about %s rows) dropped by retention",
            partition.name,
            f"{partition.month:%Y-%m}",
            partition.row_estimate,
            extra={"partition": partition.name, "row_estimate": partition.row_estimate},
        )
    return dropped

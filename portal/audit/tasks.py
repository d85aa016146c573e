"""Daily upkeep of the partitioned audit trail (scheduled by beat, see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from portal.audit import services


@shared_task(name="portal.audit.tasks.audit_partitions_ensure")
def audit_partitions_ensure() -> int:
    return len(services.audit_partitions_ensure())


@shared_task(name="portal.audit.tasks.audit_retention_apply")
def audit_retention_apply() -> int:
    return len(services.audit_retention_apply())

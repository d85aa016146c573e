"""What the isolation matrix needs to know about the platform's own tables (see tests/isolation.py).

The audit log and the outbox are append-only from a request's point of view: a denied request adds no
row to either (no audit event, no email queued), so their counts are enough."""

from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.isolation import snapshot_table

snapshot_table(AuditEvent)
snapshot_table(OutboxEmail)

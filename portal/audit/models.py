"""The append-only record of every state change: who did what to which object, when and from where."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(RuntimeError):
    """Audit events are never changed or deleted."""


class AuditEvent(models.Model):
    # On PostgreSQL the table is partitioned by month of occurred_at, its primary key (id, occurred_at)
    # in the database (migration 0005); ids come from the table's identity, so ``id`` stays unique here.
    occurred_at = models.DateTimeField(_("time (UTC)"), default=timezone.now, db_index=True)
    # No database constraint and no cascade: removing a user must never rewrite history.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(_("actor"), max_length=254, blank=True)
    organization_id = models.BigIntegerField(_("organization"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    target_type = models.CharField(_("target type"), max_length=100, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=255, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-occurred_at", "-id"]
        # The activity log is a keyset list on (occurred_at, id), newest first: one index per way of
        # filtering it, each ending in those two columns, so that every page is a seek, filtered or not.
        # With both an action and an actor, PostgreSQL uses one of these and filters the other.
        indexes = [
            models.Index(fields=["organization_id", "-occurred_at", "-id"], name="audit_org_time_id_idx"),
            models.Index(
                fields=["organization_id", "action", "-occurred_at", "-id"], name="audit_org_action_time_idx"
            ),
            models.Index(
                fields=["organization_id", "actor", "-occurred_at", "-id"], name="audit_org_actor_time_idx"
            ),
            # The history of one object (a membership, an invitation, a partnership), newest first.
            models.Index(
                fields=["target_type", "target_id", "-occurred_at", "-id"], name="audit_target_history_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted")

    @property
    def action_label(self) -> str:
        from portal.audit.catalogue import action_label

        return action_label(self.action)

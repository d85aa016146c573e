"""The outbox: every outgoing email, stored in the transaction of the change that causes it."""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.transitions import status_constraint


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Failed")


class OutboxEmail(models.Model):
    Status = OutboxStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, unique=True, null=True, blank=True)
    template = models.CharField(_("template"), max_length=100, blank=True)
    to = models.EmailField(_("recipient"), max_length=254)
    from_email = models.CharField(_("sender"), max_length=254)
    reply_to = models.EmailField(_("reply to"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=255)
    body_text = models.TextField(_("text body"))
    body_html = models.TextField(_("HTML body"), blank=True)
    # Link tokens and codes, encrypted; erased once the email is sent (portal.mail.sealing).
    sealed_secrets = models.TextField(_("sealed secrets"), blank=True, default="")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    organization_id = models.BigIntegerField(_("organization"), null=True, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    # When the sweep last handed it to the broker: later sweeps leave it alone while it waits in the queue.
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("outbox email")
        verbose_name_plural = _("outbox emails")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]
        constraints = [
            status_constraint("outbox", OutboxStatus),
            models.CheckConstraint(
                condition=~models.Q(subject__contains="\n") & ~models.Q(subject__contains="\r"),
                name="outbox_subject_single_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"

    @property
    def message_id(self) -> str:
        """Stable across retries, so that a rare duplicate delivery is recognisable as one."""
        domain = urlsplit(settings.SITE_URL).hostname or "portal.invalid"
        return f"<outbox-{self.id}@{domain}>"

"""The abstract link invitation. A concrete model adds what the invitation is about (the organization,
the roles, the partner) and its constraints from ``link_invitation_constraints``."""

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.invitations.binding import RecipientBinding, VerifiedEmailBinding
from portal.transitions import Transitions, status_constraint


class LinkInvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


_S = LinkInvitationStatus
#: Only a pending invitation can be decided; every decision is final (a new link is a new invitation).
LINK_INVITATION_STATUS = Transitions(
    LinkInvitationStatus, {_S.PENDING: {_S.ACCEPTED, _S.DECLINED, _S.REVOKED, _S.EXPIRED}}
)


class LinkInvitation(models.Model):
    """An emailed, single-use, expiring link; only the SHA-256 of its token is stored."""

    Status = LinkInvitationStatus

    #: the path segment of the link (``/invitations/<purpose>/<token>/``) and the stored ``purpose``
    PURPOSE: str = ""
    #: the prefix of the audit actions (``<prefix>.sent``, ``.accepted``, …), declared by the app
    AUDIT_PREFIX: str = ""
    #: the fields that, with the email, identify "the same invitation": issuing a new one supersedes it
    SCOPE_FIELDS: tuple[str, ...] = ("organization",)
    #: what ties the invitation to the person who may use it
    binding: RecipientBinding = VerifiedEmailBinding()

    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)
    purpose = models.CharField(_("purpose"), max_length=40, editable=False)
    email = models.EmailField(_("email address"))
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=LinkInvitationStatus.choices, default=LinkInvitationStatus.PENDING
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.TextField(_("reason"), max_length=500, blank=True)

    class Meta:
        abstract = True

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_pending(self) -> bool:
        return self.status == LinkInvitationStatus.PENDING

    @property
    def audit_organization_id(self) -> int | None:
        """The organization whose activity log records this invitation."""
        return getattr(self, "organization_id", None)


def link_invitation_constraints(label: str, *, purpose: str, scope: Iterable[str]) -> list:
    """The constraints every concrete invitation table carries: known statuses, its own purpose, and one
    pending invitation per recipient and scope (issuing a new one supersedes the old)."""
    return [
        status_constraint(label, LinkInvitationStatus),
        models.CheckConstraint(condition=models.Q(purpose=purpose), name=f"{label}_purpose_valid"),
        models.UniqueConstraint(
            fields=[*scope, "email"],
            condition=models.Q(status=LinkInvitationStatus.PENDING),
            name=f"{label}_one_pending",
        ),
    ]

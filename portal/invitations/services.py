"""Every write to a link invitation. Call them inside the app's service transaction, after the app has
taken its own locks (for membership: the organization row) and checked its own rules."""

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.audit.services import audit_record
from portal.errors import DomainError, InvalidTransition
from portal.invitations.binding import InvitationUnusable
from portal.invitations.models import LINK_INVITATION_STATUS, LinkInvitation, LinkInvitationStatus
from portal.ratelimit import rate_limit_hit
from portal.tokens import token_hash, token_new
from portal.transitions import transition_claim

Status = LinkInvitationStatus
#: audit action suffix per closing status; "superseded" is a revocation by a newer invitation
CLOSE_ACTIONS = {Status.REVOKED: "revoked", Status.DECLINED: "declined", Status.EXPIRED: "expired"}


def invitation_link(purpose: str, raw_token: str) -> str:
    """Built from SITE_URL, never from the request's Host header."""
    return f"{settings.SITE_URL}/invitations/{purpose}/{raw_token}/"


def link_invitation_issue(
    model: type[LinkInvitation],
    *,
    scope: Mapping[str, Any],
    email: str,
    invited_by,
    rate_limit_key: str | None,
    lifetime: timedelta,
    audit_after: Mapping[str, Any] | None = None,
    **fields,
) -> tuple[LinkInvitation, str]:
    """Create a pending invitation and return it with its raw token (the only time the token exists).

    Applies the hourly limit per ``rate_limit_key`` (the inviting organization) and supersedes the
    pending invitation to the same address in the same scope."""
    if set(scope) != set(model.SCOPE_FIELDS):
        raise ValueError(f"{model.__name__} is scoped by {model.SCOPE_FIELDS}, not {tuple(scope)}")
    if rate_limit_key is not None and not rate_limit_hit(
        scope=f"{model.PURPOSE}_invitations",
        key=rate_limit_key,
        limit=settings.INVITATIONS_PER_HOUR,
        window_seconds=3600,
    ):
        raise DomainError(
            _("Too many invitations were sent in the last hour. Try again later."), code="rate_limited"
        )
    for previous in model.objects.select_for_update().filter(**scope, email=email, status=Status.PENDING):
        link_invitation_close(previous, Status.REVOKED, actor=invited_by, action="superseded")
    raw_token, hashed = token_new()
    invitation = model.objects.create(
        **scope,
        **fields,
        purpose=model.PURPOSE,
        email=email,
        token_hash=hashed,
        invited_by=invited_by,
        expires_at=timezone.now() + lifetime,
    )
    audit_record(
        action=f"{model.AUDIT_PREFIX}.sent",
        actor=invited_by,
        organization_id=invitation.audit_organization_id,
        target=invitation,
        after={"email": email, **(audit_after or {}), "expires_at": invitation.expires_at.isoformat()},
    )
    return invitation, raw_token


def link_invitation_lookup(model: type[LinkInvitation], raw_token: str) -> LinkInvitation:
    """What a link points to (no state change); unknown tokens raise InvitationUnusable."""
    invitation = model.objects.select_related("invited_by").filter(token_hash=token_hash(raw_token)).first()
    if invitation is None:
        raise InvitationUnusable(_("This invitation link is not valid."), code="invitation_unknown")
    return invitation


def link_invitation_check(invitation: LinkInvitation, user) -> None:
    """Raise InvitationUnusable unless the invitation is pending, unexpired and ``user`` is its
    recipient (the model's binding decides)."""
    if invitation.is_pending and invitation.is_expired:
        raise InvitationUnusable(
            _("This invitation has expired. Ask for a new one."), code="invitation_expired"
        )
    if not invitation.is_pending:
        raise InvitationUnusable(
            _("This invitation was already used or withdrawn."), code="invitation_closed"
        )
    invitation.binding.check(invitation, user)


def link_invitation_consume(
    invitation: LinkInvitation, *, user, audit_after: Mapping[str, Any] | None = None
) -> None:
    """pending → accepted for exactly one caller (conditional UPDATE, rowcount 1), before expiry."""
    now = timezone.now()
    # A link held by whoever has it (a contact's confirmation) may be used without signing in.
    decider = user if getattr(user, "is_authenticated", False) else None
    claimed = transition_claim(
        type(invitation),
        invitation.pk,
        Status.PENDING,
        Status.ACCEPTED,
        transitions=LINK_INVITATION_STATUS,
        conditions={"expires_at__gt": now},
        changes={"decided_by": decider, "decided_at": now},
    )
    if not claimed:
        raise InvitationUnusable(
            _("This invitation was already used or withdrawn."), code="invitation_closed"
        )
    invitation.status, invitation.decided_by, invitation.decided_at = Status.ACCEPTED, decider, now
    audit_record(
        action=f"{invitation.AUDIT_PREFIX}.accepted",
        actor=user,
        organization_id=invitation.audit_organization_id,
        target=invitation,
        before={"status": Status.PENDING},
        after={"status": Status.ACCEPTED, **(audit_after or {})},
    )


def link_invitation_close(
    invitation: LinkInvitation, status: str, *, actor, action: str | None = None, reason: str = ""
) -> bool:
    """pending → revoked, declined or expired (compare-and-swap); True when this call made the change."""
    if status not in CLOSE_ACTIONS:
        raise ValueError(f"{status} does not close an invitation")
    now = timezone.now()
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    changed = transition_claim(
        type(invitation),
        invitation.pk,
        Status.PENDING,
        status,
        transitions=LINK_INVITATION_STATUS,
        changes={"decided_by": actor if authenticated else None, "decided_at": now, "reason": reason},
    )
    if changed:
        invitation.status, invitation.decided_at, invitation.reason = status, now, reason
        after = {"status": status, **({"reason": reason} if reason else {})}
        audit_record(
            action=f"{invitation.AUDIT_PREFIX}.{action or CLOSE_ACTIONS[status]}",
            actor=actor,
            organization_id=invitation.audit_organization_id,
            target=invitation,
            before={"status": Status.PENDING},
            after=after,
        )
    return changed


def link_invitation_revoke(invitation: LinkInvitation, *, by) -> None:
    """The sender withdraws a pending invitation; anything else is an InvalidTransition."""
    if not link_invitation_close(invitation, Status.REVOKED, actor=by):
        invitation.refresh_from_db(fields=["status"])
        raise InvalidTransition(invitation.get_status_display(), LINK_INVITATION_STATUS.label(Status.REVOKED))


def link_invitation_decline(invitation: LinkInvitation, *, user, reason: str = "") -> None:
    """The recipient says no (optionally why); the invitation must still be open."""
    if not link_invitation_close(invitation, Status.DECLINED, actor=user, reason=reason):
        raise InvitationUnusable(
            _("This invitation was already used or withdrawn."), code="invitation_closed"
        )


def link_invitations_expire_due(
    model: type[LinkInvitation],
    *,
    limit: int = 500,
    on_expired: Callable[[LinkInvitation], None] | None = None,
    select_related: Sequence[str] = (),
) -> int:
    """pending → expired for invitations past their date (beat job; safe to run again). ``on_expired``
    runs in the same transaction as each expiry this call made (to tell the sender)."""
    due = list(
        model.objects.filter(status=Status.PENDING, expires_at__lte=timezone.now())
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for invitation in model.objects.filter(pk__in=due).select_related(*select_related):
        with transaction.atomic():
            if link_invitation_close(invitation, Status.EXPIRED, actor=None):
                if on_expired is not None:
                    on_expired(invitation)
                expired += 1
    return expired


def link_invitations_remind_due(
    model: type[LinkInvitation],
    *,
    within: timedelta,
    remind: Callable[[LinkInvitation, str], None],
    select_related: Sequence[str] = (),
    limit: int = 500,
) -> int:
    """One reminder per pending invitation, ``within`` its end, with a fresh link: the same invitation and
    end date, the earlier link dead. ``remind(invitation, raw_token)`` sends it in the same transaction
    that sets ``reminded_at`` (the model has that field), so the job is safe to run again."""
    now = timezone.now()
    due = list(
        model.objects.filter(
            status=Status.PENDING, reminded_at__isnull=True, expires_at__gt=now, expires_at__lte=now + within
        )
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    reminded = 0
    for pk in due:
        with transaction.atomic():
            invitation = (
                model.objects.select_for_update(of=("self",))
                .select_related(*select_related)
                .filter(pk=pk, status=Status.PENDING, reminded_at__isnull=True, expires_at__gt=timezone.now())
                .first()
            )
            if invitation is None:
                continue
            raw_token, hashed = token_new()
            invitation.token_hash, invitation.reminded_at = hashed, timezone.now()
            invitation.save(update_fields=["token_hash", "reminded_at"])
            remind(invitation, raw_token)
            audit_record(
                action=f"{model.AUDIT_PREFIX}.reminded",
                actor=None,
                organization_id=invitation.audit_organization_id,
                target=invitation,
                after={"email": invitation.email, "expires_at": invitation.expires_at.isoformat()},
            )
            reminded += 1
    return reminded

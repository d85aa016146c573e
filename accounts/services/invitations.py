"""Invitations to join an organization: a 256-bit link, stored as a hash, single use, expiring,
bound to the invited address, revocable."""

from collections.abc import Iterable
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, MembershipInvitation, Organization, User
from accounts.roles import Permission, Role
from accounts.services.memberships import (
    _clean_roles,
    _current_actor,
    _lock_organization,
    _membership_create,
    _require_global_admin_rights,
)
from accounts.services.people import canonical_email
from portal.audit.services import audit_record
from portal.errors import DomainError, InvalidTransition
from portal.mail.services import email_enqueue
from portal.tokens import token_hash, token_new

INVITATION_LIFETIME = timedelta(days=7)


def invitation_link(raw_token: str) -> str:
    """Built from SITE_URL, never from the request's Host header."""
    return f"{settings.SITE_URL}/invitations/membership/{raw_token}/"


def _language_for(email: str, fallback: str) -> str:
    user = User.objects.filter(email__iexact=email).only("preferred_language").first()
    return user.preferred_language if user else fallback


@transaction.atomic
def membership_invitation_create(
    *, organization: Organization, email: str, roles: Iterable[str], by: Membership
) -> tuple[MembershipInvitation, str]:
    """Invite a person by email; a pending invitation to the same address is replaced."""
    organization = _lock_organization(organization)
    by = _current_actor(by, organization)
    email = canonical_email(email)
    chosen = _clean_roles(roles)
    _require_global_admin_rights(actor_membership=by, before=set(), after=set(chosen))
    existing = Membership.objects.filter(organization=organization, user__email__iexact=email).first()
    if existing is not None and existing.status == Membership.Status.ACTIVE:
        raise DomainError(
            _("This person is already a member of the organization."), code="already_member", field="email"
        )
    if existing is not None:
        # An invitation must never bring a deactivated member back: reactivation has its own rules.
        raise DomainError(
            _(
                "This person's membership is deactivated. Reactivate it from their page in User "
                "management instead of inviting them again."
            ),
            code="member_deactivated",
            field="email",
        )
    for previous in MembershipInvitation.objects.select_for_update().filter(
        organization=organization, email=email, status=MembershipInvitation.Status.PENDING
    ):
        _invitation_close(previous, MembershipInvitation.Status.REVOKED, actor=by.user, action="superseded")
    raw_token, hashed = token_new()
    invitation = MembershipInvitation.objects.create(
        organization=organization,
        email=email,
        roles=chosen,
        token_hash=hashed,
        invited_by=by.user,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    audit_record(
        action="membership_invitation.sent",
        actor=by.user,
        organization=organization,
        target=invitation,
        after={"email": email, "roles": chosen, "expires_at": invitation.expires_at.isoformat()},
    )
    email_enqueue(
        to=email,
        template="membership_invitation",
        context={
            "organization_name": organization.legal_name,
            "inviter_name": by.user.get_full_name(),
            "roles": invitation.get_roles_display,
            "link": invitation_link(raw_token),
            "expires_at": invitation.expires_at,
        },
        language=_language_for(email, by.user.preferred_language),
        secrets=("link",),
        organization_id=organization.pk,
        dedupe_key=f"membership_invitation:{invitation.pk}:sent",
    )
    return invitation, raw_token


def _invitation_close(invitation: MembershipInvitation, status: str, *, actor, action: str) -> bool:
    """pending → status, compare-and-swap; returns whether this call made the change."""
    changed = MembershipInvitation.objects.filter(
        pk=invitation.pk, status=MembershipInvitation.Status.PENDING
    ).update(status=status, decided_at=timezone.now())
    if changed:
        audit_record(
            action=f"membership_invitation.{action}",
            actor=actor,
            organization_id=invitation.organization_id,
            target=invitation,
            before={"status": MembershipInvitation.Status.PENDING},
            after={"status": status},
        )
    return bool(changed)


@transaction.atomic
def membership_invitation_revoke(*, invitation: MembershipInvitation, by: Membership) -> None:
    by = _current_actor(by, _lock_organization(invitation.organization))
    if not _invitation_close(
        invitation, MembershipInvitation.Status.REVOKED, actor=by.user, action="revoked"
    ):
        invitation.refresh_from_db(fields=["status"])
        raise InvalidTransition(invitation.get_status_display(), MembershipInvitation.Status.REVOKED)


class InvitationUnusable(DomainError):
    """The link is unknown, used, revoked, expired or meant for someone else."""


def membership_invitation_lookup(raw_token: str) -> MembershipInvitation:
    """What a link points to, for the page that shows it (no state changes)."""
    invitation = (
        MembershipInvitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=token_hash(raw_token))
        .first()
    )
    if invitation is None:
        raise InvitationUnusable(_("This invitation link is not valid."), code="invitation_unknown")
    return invitation


def _user_owns_email(user: User, email: str) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def _inviter_may_still_grant(invitation: MembershipInvitation) -> bool:
    """The rights of the person who sent the invitation, read now: someone who has since lost the right
    to grant these roles (or left) no longer vouches for the invitation."""
    if invitation.invited_by_id is None:
        return False
    inviter = (
        Membership.objects.prefetch_related("roles")
        .filter(
            organization_id=invitation.organization_id,
            user_id=invitation.invited_by_id,
            status=Membership.Status.ACTIVE,
        )
        .first()
    )
    if inviter is None or not inviter.can(Permission.USERS_MANAGE):
        return False
    return Role.GLOBAL_ADMIN not in invitation.roles or inviter.can(Permission.GLOBAL_ADMIN_ASSIGN)


def membership_invitation_check(
    invitation: MembershipInvitation, user: User, *, to_accept: bool = True
) -> None:
    """Raise InvitationUnusable unless this user may accept (or, with ``to_accept=False``, decline)
    this invitation now."""
    if invitation.status == MembershipInvitation.Status.PENDING and invitation.is_expired:
        raise InvitationUnusable(
            _("This invitation has expired. Ask for a new one."), code="invitation_expired"
        )
    if invitation.status != MembershipInvitation.Status.PENDING:
        raise InvitationUnusable(
            _("This invitation was already used or withdrawn."), code="invitation_closed"
        )
    if not _user_owns_email(user, invitation.email):
        raise InvitationUnusable(
            _("This invitation is for %(email)s. Sign in with that address to accept it.")
            % {"email": invitation.email},
            code="invitation_wrong_email",
        )
    if not to_accept:
        return
    existing = Membership.objects.filter(organization_id=invitation.organization_id, user=user).first()
    if existing is not None and existing.status == Membership.Status.ACTIVE:
        raise InvitationUnusable(_("You are already a member of this organization."), code="already_member")
    if existing is not None:
        raise InvitationUnusable(
            _(
                "Your membership in this organization is deactivated. Ask one of its admins to "
                "reactivate it; an invitation cannot."
            ),
            code="member_deactivated",
        )
    if not _inviter_may_still_grant(invitation):
        raise InvitationUnusable(
            _(
                "This invitation can no longer be accepted: the person who sent it may no longer "
                "grant these roles. Ask the organization for a new invitation."
            ),
            code="inviter_lost_rights",
        )


@transaction.atomic
def membership_invitation_accept(*, invitation: MembershipInvitation, user: User) -> Membership:
    """Join the organization with exactly the invited roles; the link works once, for its own address,
    before it expires, and only while its sender may still grant those roles."""
    # Lock order everywhere: organization, then its invitations and memberships.
    organization = _lock_organization(invitation.organization)
    invitation.refresh_from_db()
    membership_invitation_check(invitation, user)
    accepted = MembershipInvitation.objects.filter(
        pk=invitation.pk, status=MembershipInvitation.Status.PENDING, expires_at__gt=timezone.now()
    ).update(status=MembershipInvitation.Status.ACCEPTED, accepted_by=user, decided_at=timezone.now())
    if accepted != 1:
        raise InvitationUnusable(
            _("This invitation was already used or withdrawn."), code="invitation_closed"
        )
    inviter = invitation.invited_by.email if invitation.invited_by else None
    audit_record(
        action="membership_invitation.accepted",
        actor=user,
        organization=organization,
        target=invitation,
        before={"status": MembershipInvitation.Status.PENDING},
        after={"status": MembershipInvitation.Status.ACCEPTED, "invited_by": inviter},
    )
    return _membership_create(
        organization=organization,
        user=user,
        roles=list(invitation.roles),
        by=user,
        audit_extra={"invited_by": inviter, "invitation": str(invitation.public_id)},
    )


@transaction.atomic
def membership_invitation_decline(*, invitation: MembershipInvitation, user: User) -> MembershipInvitation:
    _lock_organization(invitation.organization)
    invitation.refresh_from_db()
    membership_invitation_check(invitation, user, to_accept=False)
    if not _invitation_close(invitation, MembershipInvitation.Status.DECLINED, actor=user, action="declined"):
        raise InvitationUnusable(
            _("This invitation was already used or withdrawn."), code="invitation_closed"
        )
    return invitation


def membership_invitations_expire_due(*, limit: int = 500) -> int:
    """pending → expired for invitations past their date (beat job; safe to run again)."""
    expired = 0
    due = MembershipInvitation.objects.filter(
        status=MembershipInvitation.Status.PENDING, expires_at__lte=timezone.now()
    ).values_list("pk", flat=True)[:limit]
    for invitation in MembershipInvitation.objects.filter(pk__in=list(due)):
        with transaction.atomic():
            if _invitation_close(
                invitation, MembershipInvitation.Status.EXPIRED, actor=None, action="expired"
            ):
                expired += 1
    return expired

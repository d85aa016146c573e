"""Invitations to join an organization, on the platform's link invitations (portal.invitations): a
256-bit link stored as a hash, single use, expiring, bound to the invited (verified) address,
revocable; accepting grants exactly the invited roles while the sender may still grant them."""

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, MembershipInvitation, Organization, User
from accounts.roles import Permission, Role
from accounts.services.memberships import (
    acting_member_refresh,
    global_admin_rights_require,
    membership_create,
    organization_lock,
    roles_clean,
)
from accounts.services.people import canonical_email, email_language
from portal.errors import DomainError
from portal.invitations import services as links
from portal.invitations.binding import InvitationUnusable
from portal.mail.services import email_enqueue

INVITATION_LIFETIME = timedelta(days=7)


def invitation_link(raw_token: str) -> str:
    return links.invitation_link(MembershipInvitation.PURPOSE, raw_token)


@transaction.atomic
def membership_invitation_create(
    *, organization: Organization, email: str, roles: Iterable[str], by: Membership
) -> tuple[MembershipInvitation, str]:
    """Invite a person by email; a pending invitation to the same address is replaced."""
    organization = organization_lock(organization)
    by = acting_member_refresh(by, organization)
    email = canonical_email(email)
    chosen = roles_clean(roles, kind=organization.kind)
    global_admin_rights_require(actor_membership=by, before=set(), after=set(chosen))
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
    invitation, raw_token = links.link_invitation_issue(
        MembershipInvitation,
        scope={"organization": organization},
        email=email,
        invited_by=by.user,
        rate_limit_key=str(organization.pk),
        lifetime=INVITATION_LIFETIME,
        audit_after={"roles": chosen},
        roles=chosen,
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
        language=email_language(email, fallback=by.user.preferred_language),
        secrets=("link",),
        organization_id=organization.pk,
        dedupe_key=f"membership_invitation:{invitation.pk}:sent",
    )
    return invitation, raw_token


@transaction.atomic
def membership_invitation_first_admin(
    *, organization: Organization, email: str, language: str, by: User
) -> tuple[MembershipInvitation, str]:
    """Program staff invite the first Global admin of an organization they created (a provider). The
    staff member vouches for it while they remain active staff (see ``_inviter_may_still_grant``)."""
    if not (by.is_active and by.is_staff):
        raise DomainError(_("Only program staff can do this."), code="not_staff")
    organization = organization_lock(organization)
    invitation, raw_token = links.link_invitation_issue(
        MembershipInvitation,
        scope={"organization": organization},
        email=canonical_email(email),
        invited_by=by,
        rate_limit_key=None,
        lifetime=INVITATION_LIFETIME,
        audit_after={"roles": [Role.GLOBAL_ADMIN], "by_program_staff": True},
        roles=[Role.GLOBAL_ADMIN],
    )
    email_enqueue(
        to=invitation.email,
        template="membership_invitation",
        context={
            "organization_name": organization.legal_name,
            "inviter_name": by.get_full_name(),
            "roles": invitation.get_roles_display,
            "link": invitation_link(raw_token),
            "expires_at": invitation.expires_at,
        },
        language=email_language(invitation.email, fallback=language),
        secrets=("link",),
        organization_id=organization.pk,
        dedupe_key=f"membership_invitation:{invitation.pk}:sent",
    )
    return invitation, raw_token


@transaction.atomic
def membership_invitation_revoke(*, invitation: MembershipInvitation, by: Membership) -> None:
    by = acting_member_refresh(by, organization_lock(invitation.organization))
    links.link_invitation_revoke(invitation, by=by.user)


def membership_invitation_lookup(raw_token: str) -> MembershipInvitation:
    """What a link points to, for the page that shows it (no state changes)."""
    return links.link_invitation_lookup(MembershipInvitation, raw_token)


def _inviter_may_still_grant(invitation: MembershipInvitation) -> bool:
    """The rights of the person who sent the invitation, read now: someone who has since lost the right
    to grant these roles (or left) no longer vouches for the invitation."""
    if invitation.invited_by_id is None:
        return False
    staff = User.objects.filter(pk=invitation.invited_by_id, is_active=True, is_staff=True).exists()
    if (
        staff
        and not Membership.objects.filter(
            organization_id=invitation.organization_id, user_id=invitation.invited_by_id
        ).exists()
    ):
        return True  # program staff inviting an organization's first administrator
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
    links.link_invitation_check(invitation, user)
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
    organization = organization_lock(invitation.organization)
    invitation.refresh_from_db()
    membership_invitation_check(invitation, user)
    inviter = invitation.invited_by.email if invitation.invited_by else None
    links.link_invitation_consume(invitation, user=user, audit_after={"invited_by": inviter})
    return membership_create(
        organization=organization,
        user=user,
        roles=list(invitation.roles),
        by=user,
        audit_extra={"invited_by": inviter, "invitation": str(invitation.public_id)},
    )


@transaction.atomic
def membership_invitation_decline(*, invitation: MembershipInvitation, user: User) -> MembershipInvitation:
    organization_lock(invitation.organization)
    invitation.refresh_from_db()
    membership_invitation_check(invitation, user, to_accept=False)
    links.link_invitation_decline(invitation, user=user)
    return invitation


def membership_invitations_expire_due(*, limit: int = 500) -> int:
    """pending → expired for invitations past their date (beat job; safe to run again)."""
    return links.link_invitations_expire_due(MembershipInvitation, limit=limit)

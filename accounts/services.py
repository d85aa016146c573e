"""Every write to people, organizations, memberships and invitations.

Each service is one transaction: the change, its audit event and its outbox emails commit together.
Services that could strand an organization without a Global admin lock the organization row first, so
concurrent changes are serialised and the last Global admin can never be removed.
"""

from collections.abc import Iterable
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    DirectoryTenant,
    Membership,
    MembershipInvitation,
    MembershipRole,
    Organization,
    User,
)
from accounts.roles import Permission, Role
from portal.audit.services import audit_record
from portal.errors import DomainError, InvalidTransition
from portal.mail.services import email_enqueue
from portal.tokens import token_hash, token_new

INVITATION_LIFETIME = timedelta(days=7)


def canonical_email(address: str) -> str:
    """Email addresses compare case-insensitively (the whole address, as every mail provider does)."""
    return address.strip().lower()


# --- People ---------------------------------------------------------------------------------------


@transaction.atomic
def user_profile_update(*, user: User, full_name: str, preferred_language: str) -> User:
    """Change a user's own name and language; the language is also the language of their emails."""
    user = User.objects.select_for_update().get(pk=user.pk)
    before = {"full_name": user.full_name, "preferred_language": user.preferred_language}
    after = {"full_name": full_name, "preferred_language": preferred_language}
    if before == after:
        return user
    user.full_name = full_name
    user.preferred_language = preferred_language
    user.save(update_fields=["full_name", "preferred_language"])
    audit_record(action="user.profile_updated", actor=user, target=user, before=before, after=after)
    return user


# --- Organizations --------------------------------------------------------------------------------


@transaction.atomic
def organization_create(
    *,
    kind: str,
    legal_name: str,
    country: str,
    global_admin: User,
    by: User | None = None,
    directory_tenant: DirectoryTenant | None = None,
    **details,
) -> Organization:
    """Create an organization with its first Global admin."""
    organization = Organization.objects.create(
        kind=kind, legal_name=legal_name, country=country, directory_tenant=directory_tenant, **details
    )
    audit_record(
        action="organization.created",
        actor=by,
        organization=organization,
        target=organization,
        after={"kind": kind, "legal_name": legal_name, "country": country},
    )
    _membership_grant(organization=organization, user=global_admin, roles=[Role.GLOBAL_ADMIN], by=by)
    return organization


def _lock_organization(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _current_actor(by: Membership, organization: Organization) -> Membership:
    """Re-read the actor's membership inside the transaction: rights removed a moment ago are gone."""
    actor = (
        Membership.objects.select_related("user")
        .prefetch_related("roles")
        .filter(pk=by.pk, organization=organization, status=Membership.Status.ACTIVE)
        .first()
    )
    if actor is None or not actor.can(Permission.USERS_MANAGE):
        raise DomainError(
            _("Your access to this organization has changed. Reload the page."), code="actor_not_permitted"
        )
    return actor


def _clean_roles(roles: Iterable[str]) -> list[str]:
    chosen = [role for role in Role.values if role in set(roles)]
    if not chosen:
        raise DomainError(_("Choose at least one role."), code="roles_required", field="roles")
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise DomainError(_("Unknown role."), code="roles_unknown", field="roles")
    return chosen


def _require_global_admin_rights(*, actor_membership: Membership | None, before: set, after: set) -> None:
    touches_global_admin = (Role.GLOBAL_ADMIN in before) != (Role.GLOBAL_ADMIN in after)
    if touches_global_admin and (
        actor_membership is None or not actor_membership.can(Permission.GLOBAL_ADMIN_ASSIGN)
    ):
        raise DomainError(
            _("Only a Global admin can grant or remove the Global admin role."),
            code="global_admin_required",
            field="roles",
        )


def _other_active_global_admins(organization: Organization, *, excluding: Membership) -> int:
    return (
        Membership.objects.filter(
            organization=organization, status=Membership.Status.ACTIVE, roles__role=Role.GLOBAL_ADMIN
        )
        .exclude(pk=excluding.pk)
        .count()
    )


def _guard_last_global_admin(membership: Membership) -> None:
    if (
        membership.status == Membership.Status.ACTIVE
        and Role.GLOBAL_ADMIN in membership.role_names
        and _other_active_global_admins(membership.organization, excluding=membership) == 0
    ):
        raise DomainError(
            _("An organization always keeps at least one active Global admin. Add another first."),
            code="last_global_admin",
            field="roles",
        )


def _membership_grant(*, organization: Organization, user: User, roles: list[str], by) -> Membership:
    membership, created = Membership.objects.get_or_create(organization=organization, user=user)
    before = {"status": membership.status, "roles": membership.role_names} if not created else None
    if membership.status != Membership.Status.ACTIVE:
        membership.status = Membership.Status.ACTIVE
        membership.save(update_fields=["status"])
    for role in roles:
        MembershipRole.objects.get_or_create(membership=membership, role=role)
    membership = Membership.objects.prefetch_related("roles").get(pk=membership.pk)
    audit_record(
        action="membership.created" if created else "membership.updated",
        actor=by,
        organization=organization,
        target=membership,
        before=before,
        after={"user": user.email, "status": membership.status, "roles": membership.role_names},
    )
    return membership


@transaction.atomic
def membership_roles_change(*, membership: Membership, roles: Iterable[str], by: Membership) -> Membership:
    """Set a member's roles; the last active Global admin cannot be demoted."""
    organization = _lock_organization(membership.organization)
    by = _current_actor(by, organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=organization)
    chosen = _clean_roles(roles)
    before = set(membership.role_names)
    _require_global_admin_rights(actor_membership=by, before=before, after=set(chosen))
    if Role.GLOBAL_ADMIN in before and Role.GLOBAL_ADMIN not in chosen:
        _guard_last_global_admin(membership)
    if before == set(chosen):
        return membership
    MembershipRole.objects.filter(membership=membership).exclude(role__in=chosen).delete()
    for role in chosen:
        MembershipRole.objects.get_or_create(membership=membership, role=role)
    audit_record(
        action="membership.roles_changed",
        actor=by.user,
        organization=organization,
        target=membership,
        before={"roles": [role for role in Role.values if role in before]},
        after={"roles": chosen},
    )
    return Membership.objects.prefetch_related("roles").get(pk=membership.pk)


def _membership_status_set(*, membership: Membership, by: Membership, status: str, action: str) -> Membership:
    organization = _lock_organization(membership.organization)
    by = _current_actor(by, organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=organization)
    if membership.status == status:
        raise InvalidTransition(membership.get_status_display(), status)
    roles = set(membership.role_names)
    # Switching a Global admin on or off is the same act as granting or removing the role.
    if status == Membership.Status.ACTIVE:
        _require_global_admin_rights(actor_membership=by, before=roles - {Role.GLOBAL_ADMIN}, after=roles)
    else:
        _require_global_admin_rights(actor_membership=by, before=roles, after=roles - {Role.GLOBAL_ADMIN})
        _guard_last_global_admin(membership)
    before = membership.status
    membership.status = status
    membership.save(update_fields=["status"])
    audit_record(
        action=action,
        actor=by.user,
        organization=organization,
        target=membership,
        before={"status": before},
        after={"status": status},
    )
    return membership


@transaction.atomic
def membership_deactivate(*, membership: Membership, by: Membership) -> Membership:
    """A deactivated member keeps their roles on record but can no longer act in the organization."""
    return _membership_status_set(
        membership=membership, by=by, status=Membership.Status.DEACTIVATED, action="membership.deactivated"
    )


@transaction.atomic
def membership_reactivate(*, membership: Membership, by: Membership) -> Membership:
    return _membership_status_set(
        membership=membership, by=by, status=Membership.Status.ACTIVE, action="membership.reactivated"
    )


@transaction.atomic
def membership_remove(*, membership: Membership, by: Membership) -> None:
    """Remove a person from the organization (their account stays); never the last Global admin."""
    organization = _lock_organization(membership.organization)
    by = _current_actor(by, organization)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(pk=membership.pk, organization=organization)
        .first()
    )
    if membership is None:
        raise DomainError(_("This person is no longer a member."), code="membership_gone")
    roles = membership.role_names
    _require_global_admin_rights(actor_membership=by, before=set(roles), after=set())
    _guard_last_global_admin(membership)
    audit_record(
        action="membership.removed",
        actor=by.user,
        organization=organization,
        target=membership,
        before={"user": membership.user.email, "status": membership.status, "roles": roles},
    )
    membership.delete()


# --- Invitations ----------------------------------------------------------------------------------


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
    if Membership.objects.filter(
        organization=organization, user__email__iexact=email, status=Membership.Status.ACTIVE
    ).exists():
        raise DomainError(
            _("This person is already a member of the organization."), code="already_member", field="email"
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


def membership_invitation_check(invitation: MembershipInvitation, user: User) -> None:
    """Raise InvitationUnusable unless this user may accept this invitation now."""
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


@transaction.atomic
def membership_invitation_accept(*, raw_token: str, user: User) -> Membership:
    """Join the organization; the link works once, for its own address, before it expires."""
    invitation = membership_invitation_lookup(raw_token)
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
    audit_record(
        action="membership_invitation.accepted",
        actor=user,
        organization=organization,
        target=invitation,
        before={"status": MembershipInvitation.Status.PENDING},
        after={"status": MembershipInvitation.Status.ACCEPTED},
    )
    return _membership_grant(organization=organization, user=user, roles=invitation.roles, by=user)


@transaction.atomic
def membership_invitation_decline(*, raw_token: str, user: User) -> MembershipInvitation:
    invitation = membership_invitation_lookup(raw_token)
    _lock_organization(invitation.organization)
    invitation.refresh_from_db()
    membership_invitation_check(invitation, user)
    if not _invitation_close(invitation, MembershipInvitation.Status.DECLINED, actor=user, action="declined"):
        raise InvitationUnusable(
            _("This invitation was already used or withdrawn."), code="invitation_closed"
        )
    return invitation

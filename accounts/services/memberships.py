"""Organizations and their members: roles, deactivation, removal.

Every service that could strand an organization without a Global admin locks the organization row
first, so concurrent changes are serialised; the acting member's rights are re-read under that lock.
Lock order everywhere: organization, then its memberships and invitations.
"""

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenant, Membership, MembershipRole, Organization, User
from accounts.roles import Permission, Role, roles_for_kind
from accounts.services.people import name_check
from accounts.transitions import MEMBERSHIP_STATUS
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.transitions import transition_apply


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
    name_check(legal_name, field="legal_name")
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
    membership_create(organization=organization, user=global_admin, roles=[Role.GLOBAL_ADMIN], by=by)
    return organization


def organization_lock(organization: Organization) -> Organization:
    """Lock the organization row: every change to its members and invitations is serialised here."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


def acting_member_refresh(by: Membership, organization: Organization) -> Membership:
    """Re-read the actor's membership inside the transaction (after ``organization_lock``): rights
    removed a moment ago are gone. Refused unless the actor may still manage users."""
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


def roles_clean(roles: Iterable[str], *, kind: str) -> list[str]:
    """The chosen roles in catalogue order; refused when empty, unknown or not offered to this kind of
    organization (a customer has no agents)."""
    chosen = [role for role in Role.values if role in set(roles)]
    if not chosen:
        raise DomainError(_("Choose at least one role."), code="roles_required", field="roles")
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise DomainError(_("Unknown role."), code="roles_unknown", field="roles")
    if set(chosen) - set(roles_for_kind(kind)):
        raise DomainError(
            _("This role is not offered to this kind of organization."),
            code="role_not_offered",
            field="roles",
        )
    return chosen


def global_admin_rights_require(*, actor_membership: Membership | None, before: set, after: set) -> None:
    touches_global_admin = (Role.GLOBAL_ADMIN in before) != (Role.GLOBAL_ADMIN in after)
    if touches_global_admin and (
        actor_membership is None or not actor_membership.can(Permission.GLOBAL_ADMIN_ASSIGN)
    ):
        raise DomainError(
            _("Only a Global admin can grant or remove the Global admin role."),
            code="global_admin_required",
            field="roles",
        )


def _refuse_self(membership: Membership, by: Membership, message) -> None:
    """Nobody changes their own roles or access: another admin does, so that one person cannot lock
    themselves in or out by mistake."""
    if membership.user_id == by.user_id:
        raise DomainError(message, code="own_membership", field="roles")


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


def membership_create(
    *, organization: Organization, user: User, roles: list[str], by, audit_extra: dict | None = None
) -> Membership:
    """A new membership with exactly these roles. Never reuses an existing one: a deactivated member
    comes back only through reactivation, with the rights that rule checks."""
    membership = Membership.objects.create(organization=organization, user=user)
    MembershipRole.objects.bulk_create(MembershipRole(membership=membership, role=role) for role in roles)
    membership = Membership.objects.prefetch_related("roles").get(pk=membership.pk)
    audit_record(
        action="membership.created",
        actor=by,
        organization=organization,
        target=membership,
        after={
            "user": user.email,
            "status": membership.status,
            "roles": membership.role_names,
            **(audit_extra or {}),
        },
    )
    return membership


@transaction.atomic
def membership_roles_change(*, membership: Membership, roles: Iterable[str], by: Membership) -> Membership:
    """Set a member's roles; the last active Global admin cannot be demoted."""
    organization = organization_lock(membership.organization)
    by = acting_member_refresh(by, organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=organization)
    _refuse_self(
        membership, by, _("You cannot change your own roles. Ask another admin of the organization.")
    )
    chosen = roles_clean(roles, kind=organization.kind)
    before = set(membership.role_names)
    global_admin_rights_require(actor_membership=by, before=before, after=set(chosen))
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


@transaction.atomic
def membership_admin_agent_join(*, membership: Membership) -> Membership:
    """The seed's last enrollment step, in one click: a Global admin puts themself in the **Admin agent**
    group (the agents who act for customers). Adding a role to oneself is otherwise refused; a Global
    admin may grant every role, so this grants nothing they could not grant another member."""
    organization = organization_lock(membership.organization)
    membership = acting_member_refresh(membership, organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=organization)
    held = set(membership.role_names)
    if Role.GLOBAL_ADMIN not in held:
        raise DomainError(
            _("Only a Global admin can add themself to the Admin agent group."), code="not_global_admin"
        )
    if Role.ADMIN_AGENT not in roles_for_kind(organization.kind):
        raise DomainError(_("This organization has no Admin agent group."), code="role_not_offered")
    if Role.ADMIN_AGENT in held:
        return membership
    MembershipRole.objects.create(membership=membership, role=Role.ADMIN_AGENT)
    audit_record(
        action="membership.roles_changed",
        actor=membership.user,
        organization=organization,
        target=membership,
        before={"roles": [role for role in Role.values if role in held]},
        after={"roles": [role for role in Role.values if role in held | {Role.ADMIN_AGENT}]},
    )
    return Membership.objects.prefetch_related("roles").get(pk=membership.pk)


def _membership_status_set(*, membership: Membership, by: Membership, status: str, action: str) -> Membership:
    organization = organization_lock(membership.organization)
    by = acting_member_refresh(by, organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk, organization=organization)
    _refuse_self(
        membership,
        by,
        _("You cannot deactivate or reactivate yourself. To leave the organization, use Leave organization."),
    )
    MEMBERSHIP_STATUS.check(membership.status, status)
    roles = set(membership.role_names)
    # Switching a Global admin on or off is the same act as granting or removing the role.
    if status == Membership.Status.ACTIVE:
        global_admin_rights_require(actor_membership=by, before=roles - {Role.GLOBAL_ADMIN}, after=roles)
    else:
        global_admin_rights_require(actor_membership=by, before=roles, after=roles - {Role.GLOBAL_ADMIN})
        _guard_last_global_admin(membership)
    membership = transition_apply(
        membership,
        status,
        transitions=MEMBERSHIP_STATUS,
        action=action,
        actor=by.user,
        organization_id=organization.pk,
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
    organization = organization_lock(membership.organization)
    by = acting_member_refresh(by, organization)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(pk=membership.pk, organization=organization)
        .first()
    )
    if membership is None:
        raise DomainError(_("This person is no longer a member."), code="membership_gone")
    _refuse_self(membership, by, _("To leave the organization yourself, use Leave organization."))
    roles = membership.role_names
    global_admin_rights_require(actor_membership=by, before=set(roles), after=set())
    _guard_last_global_admin(membership)
    audit_record(
        action="membership.removed",
        actor=by.user,
        organization=organization,
        target=membership,
        before={"user": membership.user.email, "status": membership.status, "roles": roles},
    )
    membership.delete()


@transaction.atomic
def membership_leave(*, membership: Membership) -> None:
    """A member leaves the organization of their own accord; the last active Global admin cannot."""
    organization = organization_lock(membership.organization)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(pk=membership.pk, organization=organization, user_id=membership.user_id)
        .first()
    )
    if membership is None:
        raise DomainError(_("You are no longer a member of this organization."), code="membership_gone")
    if (
        Role.GLOBAL_ADMIN in membership.role_names
        and _other_active_global_admins(organization, excluding=membership) == 0
    ):
        raise DomainError(
            _("You are the only active Global admin. Make another member Global admin first, then leave."),
            code="last_global_admin",
        )
    audit_record(
        action="membership.left",
        actor=membership.user,
        organization=organization,
        target=membership,
        before={"user": membership.user.email, "status": membership.status, "roles": membership.role_names},
    )
    membership.delete()

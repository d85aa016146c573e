"""Every read an accounts page needs, always starting from the user or the organization."""

from datetime import UTC, date, datetime, time

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Membership, MembershipInvitation, MembershipRole, Organization, User
from portal.audit.models import AuditEvent


def _with_roles(queryset: QuerySet) -> QuerySet:
    return queryset.prefetch_related(Prefetch("roles", queryset=MembershipRole.objects.order_by("role")))


def memberships_for_user(*, user: User) -> QuerySet:
    """The organizations a user can act in now."""
    return _with_roles(
        Membership.objects.filter(
            user=user, status=Membership.Status.ACTIVE, organization__status=Organization.Status.ACTIVE
        )
        .select_related("organization")
        .order_by("organization__legal_name")
    )


def membership_active_for_user(*, user: User, organization_public_id) -> Membership | None:
    return memberships_for_user(user=user).filter(organization__public_id=organization_public_id).first()


def organization_members(*, organization: Organization) -> QuerySet:
    return _with_roles(
        Membership.objects.filter(organization=organization).select_related("user").order_by("user__email")
    )


def organization_invitations_pending(*, organization: Organization) -> QuerySet:
    return MembershipInvitation.objects.filter(
        organization=organization, status=MembershipInvitation.Status.PENDING
    ).select_related("invited_by")


def organization_member_counts(*, organization: Organization) -> dict[str, int]:
    members = Membership.objects.filter(organization=organization, status=Membership.Status.ACTIVE).count()
    pending = organization_invitations_pending(organization=organization).filter(
        expires_at__gt=timezone.now()
    )
    return {"members": members, "pending_invitations": pending.count()}


def activity_events(
    *,
    organization: Organization,
    date_from: date | None = None,
    date_to: date | None = None,
    action: str = "",
    actor_id: int | None = None,
) -> QuerySet:
    """The organization's audit events, newest first, filtered."""
    events = AuditEvent.objects.filter(organization_id=organization.pk)
    if date_from:
        events = events.filter(occurred_at__gte=datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to:
        events = events.filter(occurred_at__lte=datetime.combine(date_to, time.max, tzinfo=UTC))
    if action:
        events = events.filter(action=action)
    if actor_id:
        events = events.filter(actor_id=actor_id)
    return events.order_by("-occurred_at", "-id")


def activity_latest(*, organization: Organization) -> AuditEvent | None:
    """The newest event (one indexed row, never a count over the whole history)."""
    return activity_events(organization=organization).only("occurred_at", "action").first()


def activity_actions(*, organization: Organization) -> list[str]:
    return list(
        AuditEvent.objects.filter(organization_id=organization.pk)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def activity_actors(*, organization: Organization) -> list[tuple[int, str]]:
    """The people who appear in the organization's log (members or former members)."""
    return list(
        AuditEvent.objects.filter(organization_id=organization.pk, actor_id__isnull=False)
        .order_by("actor_label")
        .values_list("actor_id", "actor_label")
        .distinct()
    )

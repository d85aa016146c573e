"""Every read an accounts page needs, always starting from the user or the organization."""

from datetime import UTC, date, datetime, time

from django.db.models import Aggregate, CharField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
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


#: How many organizations the switcher of every page lists; a user in more sees a link to them all.
SWITCHER_SIZE = 10


def organizations_of_user(*, user: User) -> QuerySet:
    """The organizations a user can act in now, by name (``id`` breaks ties, for keyset pages)."""
    return Organization.objects.filter(
        status=Organization.Status.ACTIVE,
        memberships__user=user,
        memberships__status=Membership.Status.ACTIVE,
    ).order_by("legal_name", "id")


def organizations_switcher(*, user: User) -> tuple[list[dict], bool]:
    """What the organization switcher of every page shows, in one query of a few columns: the first
    ``SWITCHER_SIZE`` organizations by name, and whether there are more."""
    rows = list(
        organizations_of_user(user=user).values("id", "public_id", "legal_name", "kind")[: SWITCHER_SIZE + 1]
    )
    for row in rows:
        row["kind_label"] = Organization.Kind(row["kind"]).label
    return rows[:SWITCHER_SIZE], len(rows) > SWITCHER_SIZE


class _RoleCodes(Aggregate):
    """The role codes of a membership joined by commas (codes never hold one: a check constraint)."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)


def membership_active_for_user(*, user: User, organization_public_id) -> Membership | None:
    """The member's active membership in this active organization, with its organization and its roles,
    in one query: every organization page asks this first."""
    role_codes = (
        MembershipRole.objects.filter(membership=OuterRef("pk"))
        .values("membership")
        .annotate(codes=_RoleCodes("role"))
        .values("codes")
    )
    return (
        Membership.objects.filter(
            user=user,
            status=Membership.Status.ACTIVE,
            organization__status=Organization.Status.ACTIVE,
            organization__public_id=organization_public_id,
        )
        .select_related("organization")
        .annotate(role_codes=Coalesce(Subquery(role_codes), Value("")))
        .first()
    )


#: User management lists members newest first, by the membership's own columns. Alphabetical by email
#: would sort on a joined table: PostgreSQL would then read every member of the organization (or walk
#: the email index of every user of every organization) before it could return the first 50, so no page
#: would be flat. ``membership_org_created_idx`` (organization, created_at, id) serves this order, first
#: page and last alike, read backwards.
MEMBERS_ORDERING = ("-created_at", "-id")

#: Pending invitations by address: the partial unique index (organization, email) WHERE status='pending'
#: serves this order, and ``id`` breaks ties for the row comparison. Paged like members, a short page.
INVITATIONS_ORDERING = ("email", "id")
INVITATIONS_PAGE_SIZE = 20

#: The activity log, newest first: ``audit_org_time_id_idx`` and its action and actor variants.
ACTIVITY_ORDERING = ("-occurred_at", "-id")


def organization_members(*, organization: Organization) -> QuerySet:
    return _with_roles(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by(*MEMBERS_ORDERING)
    )


def organization_invitations_pending(*, organization: Organization) -> QuerySet:
    return (
        MembershipInvitation.objects.filter(
            organization=organization, status=MembershipInvitation.Status.PENDING
        )
        .select_related("invited_by")
        .order_by(*INVITATIONS_ORDERING)
    )


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
    return events.order_by(*ACTIVITY_ORDERING)


def activity_latest(*, organization: Organization) -> AuditEvent | None:
    """The newest event (one indexed row, never a count over the whole history)."""
    return activity_events(organization=organization).only("occurred_at", "action").first()


def activity_actor_id(*, organization: Organization, email: str) -> int | None:
    """The user id of the organization's member (active or deactivated) with this address, if any.

    The activity log filters by a person typed in, not picked from a list: a list of every member would
    grow with the organization. One indexed lookup (users by email, then the membership pair).
    """
    addresses = {email, email.lower()}  # exact matches use the unique index; iexact would not
    return (
        Membership.objects.filter(organization=organization, user__email__in=addresses)
        .values_list("user_id", flat=True)
        .first()
    )

"""Every read an accounts page needs, always starting from the user or the organization."""

import functools
import uuid
from datetime import UTC, date, datetime, time

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    F,
    Func,
    IntegerField,
    JSONField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, JSONObject, Now

from accounts.models import Membership, MembershipInvitation, MembershipRole, Organization, User
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.prepared import Many, PreparedQuery
from portal.queries import InValues


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


def _switcher_organizations(*, user_id) -> QuerySet:
    return Organization.objects.filter(
        status=Organization.Status.ACTIVE,
        memberships__user_id=user_id,
        memberships__status=Membership.Status.ACTIVE,
    ).order_by("legal_name", "id")


def _switcher_queryset(*, user_id) -> QuerySet:
    return _switcher_organizations(user_id=user_id).values("id", "public_id", "legal_name", "kind")[
        : SWITCHER_SIZE + 1
    ]


_switcher_query = PreparedQuery(_switcher_queryset, user_id=Membership._meta.get_field("user"))


def organizations_switcher(*, user: User) -> tuple[list[dict], bool]:
    """What the organization switcher of every page shows, in one query of a few columns: the first
    ``SWITCHER_SIZE`` organizations by name, and whether there are more (prepared once: every page)."""
    return _switcher_shown(_switcher_query.values(user_id=user.pk))


def _switcher_shown(rows: list[dict]) -> tuple[list[dict], bool]:
    for row in rows:
        row["kind_label"] = Organization.Kind(row["kind"]).label
    return rows[:SWITCHER_SIZE], len(rows) > SWITCHER_SIZE


def _switcher_rows(user_id) -> ArraySubquery:
    """The switcher's rows as an array of JSON objects, for the membership query to bring along."""
    return ArraySubquery(
        _switcher_organizations(user_id=user_id).values(
            row=JSONObject(id="id", public_id="public_id", legal_name="legal_name", kind="kind")
        )[: SWITCHER_SIZE + 1]
    )


def membership_switcher(membership: Membership) -> tuple[list[dict], bool] | None:
    """What ``organizations_switcher`` says of the member's user, when the membership query brought it
    (PostgreSQL: one query fewer on every organization page), else None."""
    rows = membership.__dict__.get("switcher_rows")
    if rows is None:
        return None
    return _switcher_shown([{**row, "public_id": uuid.UUID(row["public_id"])} for row in rows])


class _RoleCodes(Aggregate):
    """The role codes of a membership joined by commas (codes never hold one: a check constraint)."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)


def _membership_queryset(
    *, user_id, organization_public_id, switcher: bool = False, with_user: bool = False
) -> QuerySet:
    role_codes = (
        MembershipRole.objects.filter(membership=OuterRef("pk"))
        .values("membership")
        .annotate(codes=_RoleCodes("role"))
        .values("codes")
    )
    return (
        Membership.objects.filter(
            user_id=user_id,
            status=Membership.Status.ACTIVE,
            organization__status=Organization.Status.ACTIVE,
            organization__public_id=organization_public_id,
        )
        # The directory tenant comes along: settings, tenant users and licences pages show it. The user
        # too when the request's user is read with it (membership_with_user).
        .select_related("organization", "organization__directory_tenant", *(["user"] if with_user else []))
        .annotate(
            role_codes=Coalesce(Subquery(role_codes), Value("")),
            # the organization switcher's rows, on PostgreSQL (an array of JSON objects)
            **({"switcher_rows": _switcher_rows(OuterRef("user_id"))} if switcher else {}),
        )
        .order_by()[:1]
    )


_MEMBERSHIP_PARAMETERS = {
    "user_id": Membership._meta.get_field("user"),
    "organization_public_id": Organization._meta.get_field("public_id"),
}
_membership_query = PreparedQuery(_membership_queryset, **_MEMBERSHIP_PARAMETERS)
_membership_switcher_query = PreparedQuery(
    functools.partial(_membership_queryset, switcher=True), **_MEMBERSHIP_PARAMETERS
)
_membership_user_query = PreparedQuery(
    functools.partial(_membership_queryset, with_user=True), **_MEMBERSHIP_PARAMETERS
)
_membership_user_switcher_query = PreparedQuery(
    functools.partial(_membership_queryset, switcher=True, with_user=True), **_MEMBERSHIP_PARAMETERS
)


def membership_active_for_user(*, user: User, organization_public_id) -> Membership | None:
    """The member's active membership in this active organization, with its organization and its roles,
    in one query: every organization page asks this first, so its SQL is prepared once per process."""
    if not isinstance(organization_public_id, uuid.UUID):
        try:
            organization_public_id = uuid.UUID(str(organization_public_id))
        except ValueError:
            return None
    query = _membership_switcher_query if connection.vendor == "postgresql" else _membership_query
    found = query.objects(user_id=user.pk, organization_public_id=organization_public_id)
    return found[0] if found else None


def membership_with_user(*, user_id: int, organization_public_id: uuid.UUID) -> Membership | None:
    """What ``membership_active_for_user`` reads, with the user of the membership too (``membership.user``:
    every column, as ``User.objects.get(pk=user_id)`` reads it), in the same one query: an organization
    page's signed-in user is read this way (accounts.authentication)."""
    query = _membership_user_switcher_query if connection.vendor == "postgresql" else _membership_user_query
    found = query.objects(user_id=user_id, organization_public_id=organization_public_id)
    return found[0] if found else None


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


def member_rows(members: QuerySet) -> QuerySet:
    """What User management lists of each of ``members`` (organization_members): its own columns and the
    user's name and address (``user_full_name``, ``user_email``: one model instance a row, not two); the
    roles come from ``member_role_codes``, not a role object per row."""
    return (
        members.prefetch_related(None)
        .select_related(None)
        .only("public_id", "status", "created_at", "user")
        .annotate(user_full_name=F("user__full_name"), user_email=F("user__email"))
    )


_ROLE_ORDER = {role: position for position, role in enumerate(Role.values)}


def member_role_codes(members: list[Membership]) -> dict[int, list[str]]:
    """The role codes of each of ``members`` (a page's rows, read with their organization's scope), in
    the catalogue's order (Global admin first), as ``Membership.role_names`` gives them: one query of two
    columns."""
    codes: dict[int, list[str]] = {member.pk: [] for member in members}
    if not codes:
        return codes
    for membership_id, role in _member_roles_query.tuples(membership_ids=list(codes)):
        codes[membership_id].append(role)
    for held in codes.values():
        held.sort(key=_ROLE_ORDER.__getitem__)
    return codes


# the page's member ids as one array: the SQL is compiled once (portal.prepared)
_member_roles_query = PreparedQuery(
    lambda membership_ids: (
        MembershipRole.objects.filter(InValues("membership_id", membership_ids))
        .order_by()
        .values_list("membership_id", "role")
    ),
    membership_ids=Many(MembershipRole._meta.get_field("membership")),
)


#: count -> the compiled query of ``member_rows_first``
_member_rows_first: dict[int, PreparedQuery] = {}


def member_rows_first(organization: Organization, *, count: int) -> list[Membership]:
    """The first ``count`` rows of User management's members, as ``member_rows(organization_members(...))``
    reads them in ``MEMBERS_ORDERING``: the first page, which nearly every visit is, its SQL compiled once
    per process (``portal.prepared``)."""
    query = _member_rows_first.get(count)
    if query is None:

        def build(organization_id):
            members = organization_members(organization=Organization(pk=organization_id))
            return member_rows(members).order_by(*MEMBERS_ORDERING)[:count]

        query = _member_rows_first[count] = PreparedQuery(
            build, organization_id=Membership._meta.get_field("organization")
        )
    return query.objects(organization_id=organization.pk)


def organization_invitations_pending(*, organization: Organization) -> QuerySet:
    """What User management lists of each pending invitation."""
    return (
        MembershipInvitation.objects.filter(
            organization=organization, status=MembershipInvitation.Status.PENDING
        )
        .only("public_id", "email", "roles", "status", "expires_at")
        .order_by(*INVITATIONS_ORDERING)
    )


#: count -> the compiled query of ``organization_invitations_pending_first``
_invitations_pending_first: dict[int, PreparedQuery] = {}


def organization_invitations_pending_first(organization: Organization, *, count: int) -> list:
    """The first ``count`` of ``organization_invitations_pending`` in ``INVITATIONS_ORDERING``, its SQL
    compiled once per process (``portal.prepared``)."""
    query = _invitations_pending_first.get(count)
    if query is None:

        def build(organization_id):
            invitations = organization_invitations_pending(organization=Organization(pk=organization_id))
            return invitations.order_by(*INVITATIONS_ORDERING)[:count]

        query = _invitations_pending_first[count] = PreparedQuery(
            build, organization_id=MembershipInvitation._meta.get_field("organization")
        )
    return query.objects(organization_id=organization.pk)


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


def activity_rows(events: QuerySet) -> QuerySet:
    """What a row of the activity log page shows of ``events``: the partner a change was made as comes out
    of ``after`` in the database (the page never decodes the whole before and after of 50 events)."""
    return events.only(
        "occurred_at", "action", "actor_id", "actor_label", "target_type", "target_label"
    ).annotate(acting_partner=KT("after__acting_partner"))


#: count -> the compiled query of ``activity_rows_first``
_activity_rows_first: dict[int, PreparedQuery] = {}


def activity_rows_first(organization: Organization, *, count: int) -> list[AuditEvent]:
    """The newest ``count`` rows of the organization's activity log without filters, as
    ``activity_rows(activity_events(organization=organization))`` reads them: the first page, which
    nearly every visit is, its SQL compiled once per process (``portal.prepared``)."""
    query = _activity_rows_first.get(count)
    if query is None:

        def build(organization_id):
            events = activity_events(organization=Organization(pk=organization_id))
            return activity_rows(events).order_by(*ACTIVITY_ORDERING)[:count]

        query = _activity_rows_first[count] = PreparedQuery(
            build, organization_id=AuditEvent._meta.get_field("organization_id")
        )
    return query.objects(organization_id=organization.pk)


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


# --- The dashboard's figures (accounts.dashboard): expressions of OuterRef("organization") ------------


def _count(queryset: QuerySet) -> Subquery:
    """How many rows ``queryset`` has, as a scalar subquery: an aggregate without GROUP BY, so 0 for none."""
    return Subquery(
        queryset.order_by().values(count=Func("pk", function="COUNT")), output_field=IntegerField()
    )


def members_active_figure() -> Subquery:
    """How many active members the organization has."""
    return _count(
        Membership.objects.filter(organization=OuterRef("organization"), status=Membership.Status.ACTIVE)
    )


def invitations_pending_figure() -> Subquery:
    """How many invitations to the organization wait for an answer and have not expired."""
    return _count(
        MembershipInvitation.objects.filter(
            organization=OuterRef("organization"),
            status=MembershipInvitation.Status.PENDING,
            expires_at__gt=Now(),
        )
    )


def activity_newest_figure() -> Subquery:
    """The newest event of the organization's activity log, as a JSON object: ``occurred_at`` (ISO 8601)
    and ``action``; None when the log is empty. One row at the start of audit_org_time_id_idx (never a
    count over the history), in one subquery: PostgreSQL plans each one anew on every request."""
    return Subquery(
        AuditEvent.objects.filter(organization_id=OuterRef("organization"))
        .order_by(*ACTIVITY_ORDERING)
        .values(json=JSONObject(occurred_at="occurred_at", action="action"))[:1],
        output_field=JSONField(),
    )

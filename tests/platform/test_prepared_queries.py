"""portal.prepared: a queryset compiled once returns exactly what the queryset returns, for every case of
the two queries every page runs (the member's membership with its roles, the organization switcher)."""

import uuid

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from accounts import selectors
from accounts.models import Membership, Organization
from accounts.roles import Role
from portal.prepared import Many, PreparedQuery
from portal.queries import CheckedOnly, InValues
from tests.factories.accounts import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def _orm_membership(user, public_id) -> Membership | None:
    """The selector's queryset, evaluated by Django itself."""
    return next(iter(selectors._membership_queryset(user_id=user.pk, organization_public_id=public_id)), None)


def _same(prepared: Membership | None, orm: Membership | None) -> None:
    assert (prepared is None) == (orm is None)
    if orm is None:
        return
    assert _fields(prepared) == _fields(orm)
    assert _fields(prepared.organization) == _fields(orm.organization)
    tenant, orm_tenant = prepared.organization.directory_tenant, orm.organization.directory_tenant
    assert (tenant and _fields(tenant)) == (orm_tenant and _fields(orm_tenant))
    assert prepared.role_codes == orm.role_codes
    assert sorted(prepared.role_names) == sorted(orm.role_names)
    assert prepared._state.adding is False and prepared._state.db == "default"


def test_the_membership_is_the_querysets_in_every_case():
    organization = OrganizationFactory(kind=Organization.Kind.RESELLER)
    admin = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN, Role.BILLING_ADMIN])
    no_roles = MembershipFactory(organization=organization, roles=[])
    suspended = MembershipFactory(organization=organization, status=Membership.Status.DEACTIVATED)
    closed = OrganizationFactory(status=Organization.Status.SUSPENDED)
    in_closed = MembershipFactory(organization=closed, user=admin.user)
    stranger = UserFactory()
    no_tenant = MembershipFactory(organization=OrganizationFactory(directory_tenant=None))
    cases = [
        (no_tenant.user, no_tenant.organization.public_id),
        (admin.user, organization.public_id),
        (no_roles.user, organization.public_id),
        (suspended.user, organization.public_id),
        (in_closed.user, closed.public_id),
        (stranger, organization.public_id),
        (admin.user, uuid.uuid4()),
    ]
    found = []
    for user, public_id in cases:
        prepared = selectors.membership_active_for_user(user=user, organization_public_id=public_id)
        _same(prepared, _orm_membership(user, public_id))
        found.append(prepared.pk if prepared else None)
    assert found == [no_tenant.pk, admin.pk, no_roles.pk, None, None, None, None]
    membership = selectors.membership_active_for_user(
        user=admin.user, organization_public_id=str(organization.public_id)
    )
    assert membership.pk == admin.pk  # a string id is read as the UUID it spells
    assert sorted(membership.role_names) == sorted([Role.GLOBAL_ADMIN, Role.BILLING_ADMIN])
    assert membership.organization.legal_name == organization.legal_name
    assert selectors.membership_active_for_user(user=admin.user, organization_public_id="not-a-uuid") is None


def test_the_membership_is_one_query_and_its_organization_comes_along():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    with CaptureQueriesContext(connection) as queries:
        membership = selectors.membership_active_for_user(
            user=member.user, organization_public_id=member.organization.public_id
        )
        assert membership.organization.kind == member.organization.kind
        assert membership.role_names == [Role.GLOBAL_ADMIN]
        assert (
            membership.organization.directory_tenant.tenant_id
            == member.organization.directory_tenant.tenant_id
        )
    assert len(queries) == 1
    assert "accounts_membershiprole" in queries[0]["sql"]


def test_the_switcher_is_the_querysets():
    user = UserFactory()
    names = ["Beta KK", "alpha KK", "Alpha KK", "Gamma KK"] + [f"Org {n:02d} KK" for n in range(9)]
    for name in names:
        MembershipFactory(user=user, organization=OrganizationFactory(legal_name=name))
    MembershipFactory(
        user=user,
        organization=OrganizationFactory(legal_name="Aaa gone", status=Organization.Status.SUSPENDED),
    )
    MembershipFactory(user=user, status=Membership.Status.DEACTIVATED, organization=OrganizationFactory())
    MembershipFactory(organization=OrganizationFactory(legal_name="AAA not mine"))
    orm = list(selectors._switcher_queryset(user_id=user.pk))
    rows, more = selectors.organizations_switcher(user=user)
    assert [{k: row[k] for k in ("id", "public_id", "legal_name", "kind")} for row in rows] == orm[:10]
    assert more is True and len(orm) == 11
    assert all(row["kind_label"] == Organization.Kind(row["kind"]).label for row in rows)
    assert all(isinstance(row["public_id"], uuid.UUID) for row in rows)


@pytest.mark.parametrize("organizations", [1, 10, 11, 14])
def test_the_membership_brings_the_switcher_the_switcher_query_gives(organizations):
    """On PostgreSQL the membership query carries the switcher's rows: the same rows, in the same order,
    with the same "more", as the switcher's own query (which pages without a membership still run)."""
    user = UserFactory()
    page = MembershipFactory(user=user, organization=OrganizationFactory(legal_name="Mid KK"))
    for n in range(organizations - 1):
        name = f"{'zAbB'[n % 4]}{n:02d} KK"  # before and after the page's, in both cases
        MembershipFactory(user=user, organization=OrganizationFactory(legal_name=name))
    MembershipFactory(user=user, organization=OrganizationFactory(status=Organization.Status.SUSPENDED))
    MembershipFactory(user=user, status=Membership.Status.DEACTIVATED, organization=OrganizationFactory())
    MembershipFactory(organization=page.organization)  # another user's

    with CaptureQueriesContext(connection) as queries:
        membership = selectors.membership_active_for_user(
            user=user, organization_public_id=page.organization.public_id
        )
        carried = selectors.membership_switcher(membership)
    assert len(queries) == 1
    assert carried == selectors.organizations_switcher(user=user)
    assert len(carried[0]) == min(organizations, 10)
    assert carried[1] is (organizations > 10)


def test_a_parameter_the_sql_does_not_carry_is_refused():
    def build(*, user_id):
        return Membership.objects.filter(status=Membership.Status.ACTIVE)

    query = PreparedQuery(build, user_id=Membership._meta.get_field("user"))
    with pytest.raises(ValueError, match="user_id is not in the SQL"):
        query.values(user_id=1)


def test_a_parameter_in_two_places_gets_its_value_in_both():
    ours = MembershipFactory()
    MembershipFactory(organization=ours.organization)  # another user's, in the same organization
    MembershipFactory(user=ours.user)  # the same user's, in another organization

    def build(*, user_id):
        return Membership.objects.filter(user_id=user_id, organization__memberships__user_id=user_id).values(
            "pk"
        )

    query = PreparedQuery(build, user_id=Membership._meta.get_field("user"))
    for user_id in (ours.user_id, UserFactory().pk):
        assert sorted(row["pk"] for row in query.values(user_id=user_id)) == sorted(
            row["pk"] for row in build(user_id=user_id)
        )


def _by_organizations(*, organization_ids):
    return (
        Membership.objects.filter(InValues("organization_id", organization_ids))
        .annotate(kind=F("organization__kind"))
        .values_list("kind", "user_id", "pk")
        .order_by("pk")
    )


@pytest.mark.parametrize("count", [1, 2, 7])
def test_a_list_parameter_is_one_array_whatever_its_length(count):
    memberships = [MembershipFactory() for _ in range(count + 1)]
    MembershipFactory()  # in none of them
    ids = [membership.organization_id for membership in memberships[:count]]
    query = PreparedQuery(
        _by_organizations, organization_ids=Many(Membership._meta.get_field("organization"))
    )
    with CaptureQueriesContext(connection) as queries:
        rows = query.tuples(organization_ids=ids)
    # an annotation named first: the tuples still come in the order values_list names them
    assert rows == list(_by_organizations(organization_ids=ids))
    assert [row[2] for row in rows] == [membership.pk for membership in memberships[:count]]
    assert rows[0] == (memberships[0].organization.kind, memberships[0].user_id, memberships[0].pk)
    assert "= ANY(" in queries[0]["sql"] and queries[0]["sql"].count("%s") == 0
    assert query.compiled().sql.count("ANY(%s::bigint[])") == 1
    assert query.tuples(organization_ids=[OrganizationFactory().pk]) == []


def test_in_values_is_a_plain_in_elsewhere_and_matches_nothing_when_empty():
    membership = MembershipFactory()
    assert list(Membership.objects.filter(InValues("organization_id", [])).values_list("pk")) == []
    assert list(
        Membership.objects.filter(InValues("organization_id", [membership.organization_id])).values_list("pk")
    ) == [(membership.pk,)]
    query = Membership.objects.filter(InValues("organization_id", [1, 2])).query
    compiler = query.get_compiler("default")
    node = query.where.children[0].lhs  # filter() wraps a condition in Exact(condition, True)
    assert isinstance(node, InValues)
    sql, params = InValues.as_sql(node, compiler, connection)  # what another database gets
    assert sql.endswith("IN (%s, %s)") and params == [1, 2]


def test_checked_only_is_the_same_condition_that_no_index_can_serve():
    mine, other = MembershipFactory(), MembershipFactory()
    for membership in (mine, other):
        found = Membership.objects.filter(CheckedOnly("organization_id", membership.organization_id))
        assert list(found.values_list("pk")) == [(membership.pk,)]
    assert not Membership.objects.filter(CheckedOnly("organization_id", -1)).exists()
    query = Membership.objects.filter(CheckedOnly("organization_id", mine.organization_id)).query
    compiler = query.get_compiler("default")
    node = query.where.children[0].lhs
    sql, params = compiler.compile(node)
    assert sql == '("accounts_membership"."organization_id" = %s) IS TRUE' and params == [
        mine.organization_id
    ]
    sql, params = CheckedOnly.as_sql(node, compiler, connection)  # what another database gets
    assert sql == '"accounts_membership"."organization_id" = %s' and params == [mine.organization_id]
    # PostgreSQL finds the rows another way: with only this condition, by reading the table
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + str(query.sql_with_params()[0]), query.sql_with_params()[1])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Cond" not in plan and "Seq Scan on accounts_membership" in plan

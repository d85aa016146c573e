"""Meta-tests of tenant isolation: the structure that the isolation matrix relies on.

- every organization route goes through ``OrganizationView`` (which resolves the membership, the kind and
  the permission before any handler runs);
- no organization page reads a tenant-owned table without the organization's scope, checked twice: on
  the SQL each page really runs, and on the source of the view modules;
- every tenant-owned table is in the matrix's "nothing changed" snapshot.

Each check is proved able to fail, on a fake route, a fake module or a view made to forget its scope.
"""

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpResponse
from django.urls import get_resolver, path, reverse
from django.views import View

from accounts import selectors
from accounts.models import Membership, MembershipRole, Organization
from accounts.scoping import OrganizationView
from portal.access_policy import ACCESS_POLICY, kinds_for
from tests import isolation
from tests.isolation import (
    linked_organizations,
    make_tenant,
    organization_columns,
    organization_routes,
    published_tables,
    route_kwargs,
    snapshot_tables,
    tenant_kind,
    tenant_owned_models,
)

# -- every organization route goes through OrganizationView ------------------------------------------


def routes_outside_organization_view(patterns=None) -> list[str]:
    """Organization routes whose view is not an ``OrganizationView``: nothing would resolve their
    membership, check their permission or scope their reads."""
    return sorted(
        name
        for name, _route, callback in organization_routes(patterns)
        if not issubclass(getattr(callback, "view_class", type(None)), OrganizationView)
    )


def test_every_organization_route_goes_through_organization_view():
    assert routes_outside_organization_view() == []


def test_an_organization_route_with_another_kind_of_view_is_reported(monkeypatch):
    def plain_function(request, organization_public_id):
        return HttpResponse("no scoping here")

    class PlainClass(View):
        def get(self, request, organization_public_id):
            return HttpResponse("no scoping here either")

    monkeypatch.setitem(ACCESS_POLICY, "rogue_function", "users.view")
    monkeypatch.setitem(ACCESS_POLICY, "rogue_class", "users.view")
    patterns = [
        *get_resolver().url_patterns,
        path("o/<uuid:organization_public_id>/rogue-f/", plain_function, name="rogue_function"),
        path("o/<uuid:organization_public_id>/rogue-c/", PlainClass.as_view(), name="rogue_class"),
    ]
    assert routes_outside_organization_view(patterns) == ["rogue_class", "rogue_function"]


# -- every tenant-owned table is in the snapshot -------------------------------------------------------


def tables_outside_the_snapshot() -> list[str]:
    covered = {table.model for table in snapshot_tables()}
    return sorted(model._meta.label for model in tenant_owned_models() if model not in covered)


def test_tenant_owned_models_are_discovered():
    # Direct (a ForeignKey, or the audit log's and the outbox's plain organization_id) and through a parent.
    owned = {model._meta.label: lookup for model, lookup in tenant_owned_models().items()}
    assert (
        owned.items()
        >= {
            "accounts.Membership": "organization_id",
            "accounts.MembershipInvitation": "organization_id",
            "accounts.MembershipRole": "membership__organization_id",
            "audit.AuditEvent": "organization_id",
            "mail.OutboxEmail": "organization_id",
        }.items()
    )
    assert "accounts.Organization" not in owned
    assert "accounts.User" not in owned


def test_every_tenant_owned_table_is_in_the_snapshot():
    assert tables_outside_the_snapshot() == []


def test_a_tenant_owned_table_left_out_of_the_snapshot_is_reported(monkeypatch):
    monkeypatch.delitem(isolation._TABLES, MembershipRole)
    assert tables_outside_the_snapshot() == ["accounts.MembershipRole"]


# -- every read of a tenant-owned table is scoped: the SQL each organization page runs -----------------


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple | None


class SqlRecorder:
    """A ``connection.execute_wrapper`` that keeps every statement and its parameters."""

    def __init__(self):
        self.statements: list[Statement] = []

    def __call__(self, execute, sql, params, many, context):
        recorded = None if many or isinstance(params, dict) else tuple(params or ())
        self.statements.append(Statement(sql, recorded))
        return execute(sql, params, many, context)


#: Columns whose value the code builds from a row of the tenant, never from request data, so that a read
#: keyed by them is scoped by construction. Each entry says why; keep this list short.
KEYED_BY_CONSTRUCTION = {
    # The outbox's idempotency key, "<purpose>:<pk of the tenant's object>:<event>", made by the service
    # that enqueues the email (portal.mail.services: get_or_create on the key).
    ("mail_outboxemail", "dedupe_key"),
}

#: What a service may read of an organization linked to the tenant by data (tests/isolation.py
#: ``organization_link``): its members and their roles, to email those who manage the link. Nothing else.
LINKED_READABLE = {"accounts_membership", "accounts_membershiprole"}

STATEMENT_TABLES = re.compile(r'\b(?:FROM|UPDATE)\s+"(\w+)"')
#: a table under a subquery's alias (``FROM "t" U0``), and one read without an alias (the statement's own)
SUBQUERY_TABLES = re.compile(r'\bFROM\s+"(\w+)"\s+[A-Z]\d+\b')
OUTER_TABLES = re.compile(r'\b(?:FROM|UPDATE)\s+"(\w+)"(?!\s+[A-Z]\d+\b)')
OUTER_TABLE = OUTER_TABLES


def _conditions(statement: Statement, table: str):
    """Each ``"table"."column" = %s``, ``"table"."column" IN (%s, ...)`` or ``"table"."column" =
    ANY(%s::type[])`` (one array parameter: ``portal.queries.InValues``) of the statement, as (column,
    values); the values are None when the parameters are not known."""
    pattern = re.compile(
        rf'"{table}"\."(\w+)"\s*(?:=\s*ANY\(%s(?:::[\w ]+\[\])?\)()|=\s*%s|IN\s*\(((?:%s(?:,\s*)?)+)\))'
    )
    for match in pattern.finditer(statement.sql):
        first = statement.sql[: match.start()].count("%s")
        if statement.params is None:
            values = None
        elif match.group(2) is not None:  # = ANY(%s): the array is one parameter
            values = list(statement.params[first])
        else:
            count = match.group(3).count("%s") if match.group(3) else 1
            values = statement.params[first : first + count]
        yield match.group(1), values


class ScopeCheck:
    """Whether each statement on a tenant-owned table is scoped to ``organization`` (as ``user``)."""

    def __init__(self, organization: Organization, user):
        self.organization = organization
        self.user = user
        self.owned = {
            model._meta.db_table: (model, lookup) for model, lookup in tenant_owned_models().items()
        }
        self.published = {
            model._meta.db_table: (model, condition) for model, condition in published_tables().items()
        }
        self.checked = 0
        self.tenant_rows: dict[str, set] = {}
        self.linked: set[int] = set()

    def remember_rows(self) -> None:
        """Note the primary keys of the tenant's rows: called before and after the request, so that rows
        the request deletes or creates count as the tenant's."""
        self.linked = linked_organizations(self.organization)
        for table, (model, lookup) in self.owned.items():
            scope = {self.organization.pk, *(self.linked if table in LINKED_READABLE else ())}
            rows = model._default_manager.filter(**{f"{lookup}__in": scope})
            self.tenant_rows.setdefault(table, set()).update(rows.values_list("pk", flat=True))
            for column in organization_columns(model):  # each side of a two-sided row
                rows = model._default_manager.filter(**{column: self.organization.pk})
                self.tenant_rows[table].update(rows.values_list("pk", flat=True))
        # The children of the rows found so far (a licence of a subscription the tenant sells): the
        # tenant's too, as the conditions on a parent's ids already count.
        for table, (model, _lookup) in self.owned.items():
            for model_field in model._meta.concrete_fields:
                parent = model_field.related_model if model_field.many_to_one else None
                if parent is None or parent is Organization or parent._meta.db_table not in self.owned:
                    continue
                parent_rows = self.tenant_rows.get(parent._meta.db_table, set())
                rows = model._default_manager.filter(**{f"{model_field.attname}__in": parent_rows})
                self.tenant_rows[table].update(rows.values_list("pk", flat=True))

    def _tenant_rows(self, model, values) -> bool:
        """Every value is the primary key of a row of the tenant (what an earlier scoped query returns)."""
        return set(values) <= self.tenant_rows[model._meta.db_table]

    def _published_rows(self, model, values) -> bool:
        """Every value is the primary key of a published row (or of a row of the tenant)."""
        condition = next((c for table, (m, c) in self.published.items() if m is model), None)
        if condition is None:
            return False
        wanted = set(values) - self.tenant_rows.get(model._meta.db_table, set())
        found = model._default_manager.filter(condition, pk__in=wanted).count()
        return found == len(wanted)

    def _returns_published_rows(self, statement: Statement) -> bool:
        """A SELECT whose first column is the primary key of a published table (its subqueries on other
        tables only narrow it): run it again and see that every row it returns is published or the
        tenant's."""
        match = re.match(r'\s*SELECT "(\w+)"\."(\w+)"', statement.sql)
        if statement.params is None or match is None or match.group(1) not in self.published:
            return False
        model, _condition = self.published[match.group(1)]
        if match.group(2) != model._meta.pk.column:
            return False
        with connection.cursor() as cursor:
            cursor.execute(statement.sql, statement.params)
            returned = [row[0] for row in cursor.fetchall()]
        return self._published_rows(model, returned)

    def _scoped(self, statement: Statement, table: str) -> bool:
        model, _lookup = self.owned[table]
        user_model = get_user_model()
        for column, values in _conditions(statement, table):
            if values is None:
                continue
            model_field = next((f for f in model._meta.concrete_fields if f.column == column), None)
            if model_field is None:
                continue
            if (table, column) in KEYED_BY_CONSTRUCTION:
                return True
            # The organization's own column (or one side of a two-sided row).
            if column == "organization_id" and set(values) == {self.organization.pk}:
                return True
            if column in organization_columns(model) and set(values) == {self.organization.pk}:
                return True
            # An organization linked to the tenant by data (a partnership, a request): its managers are
            # emailed by the service that does the link's work.
            if (
                table in LINKED_READABLE
                and column == "organization_id"
                and set(values) <= {self.organization.pk, *self.linked}
            ):
                return True
            # The ids of rows of the tenant: its own rows by primary key, or the children of its rows.
            if model_field.primary_key and self._tenant_rows(model, values):
                return True
            parent = model_field.related_model if model_field.is_relation else None
            if (
                parent is not None
                and parent._meta.db_table in self.owned
                and self._tenant_rows(parent, values)
            ):
                return True
            # Published rows (the directory's listings), by primary key or as their children.
            if model_field.primary_key and self._published_rows(model, values):
                return True
            if (
                parent is not None
                and parent._meta.db_table in self.published
                and self._published_rows(parent, values)
            ):
                return True
            # The signed-in user's own rows (the organization switcher lists the user's memberships).
            if parent is user_model and set(values) == {self.user.pk}:
                return True
        # Joined to the organization, which is named by its id or public id.
        organization_table = Organization._meta.db_table
        joined = f'"{table}"."organization_id" = "{organization_table}"."id"' in statement.sql
        named = {self.organization.pk, self.organization.public_id}
        return joined and any(
            values is not None and column in ("id", "public_id") and set(values) <= named
            for column, values in _conditions(statement, organization_table)
        )

    def unscoped(self, statements: list[Statement]) -> list[str]:
        found = []
        for statement in statements:
            if not statement.sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
                continue
            published = None  # worked out once per statement, only when needed
            outer = OUTER_TABLE.search(statement.sql)
            outer_table = outer.group(1) if outer else None
            narrowing = set(SUBQUERY_TABLES.findall(statement.sql)) - set(OUTER_TABLES.findall(statement.sql))
            for table in dict.fromkeys(STATEMENT_TABLES.findall(statement.sql)):
                if table not in self.owned:
                    continue
                self.checked += 1
                if self._scoped(statement, table):
                    continue
                # A table read only in a subquery (Django aliases it: FROM "t" U0) returns no row to the
                # page: it narrows the outer statement, whose own table is checked. Accepted only when
                # that outer table is a tenant table and scoped.
                if (
                    table in narrowing
                    and outer_table in self.owned
                    and outer_table not in narrowing
                    and self._scoped(statement, outer_table)
                ):
                    continue
                if published is None:
                    published = self._returns_published_rows(statement)
                if not published:
                    found.append(f"{table}: {statement.sql} {statement.params}")
        return found


def consume(response) -> None:
    """Run what a streaming response runs only as it is read (the activity export's query)."""
    if response.streaming:
        b"".join(response.streaming_content)


def unscoped_reads(client, name: str, route: str, method: str = "get") -> tuple[list[str], int]:
    """The statements that the route's page runs, for a Global admin of a tenant with a neighbour, on
    tenant-owned tables without the tenant's scope; and how many statements were checked."""
    kind = tenant_kind(kinds_for(name))
    tenant = make_tenant(kind, "A")
    make_tenant(kind, "B")  # rows of another tenant, that an unscoped read would find
    url = reverse(name, kwargs=route_kwargs(name, route, tenant))
    client.force_login(tenant.admin.user)
    check = ScopeCheck(tenant.organization, tenant.admin.user)
    check.remember_rows()
    recorder = SqlRecorder()
    with connection.execute_wrapper(recorder):
        response = getattr(client, method)(url)
        consume(response)
    assert response.status_code < 500
    check.remember_rows()
    return check.unscoped(recorder.statements), check.checked


ORGANIZATION_ROUTES = [pytest.param(name, route, id=name) for name, route, _callback in organization_routes()]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), ORGANIZATION_ROUTES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_organization_pages_read_tenant_tables_only_within_their_scope(client, name, route, method):
    """Each organization route, GET and POST with no form data, as the tenant's Global admin: every
    SELECT, UPDATE or DELETE on a tenant-owned table is scoped, which here means one of

    - ``"<table>"."organization_id" = <the tenant>``;
    - ``"<table>"."<pk>" IN (...)`` or ``"<table>"."<fk>_id" IN (...)`` (a prefetch, a reload, a lock)
      where every id is a row of the tenant: the rows that an earlier scoped query returned;
    - joined to ``accounts_organization`` on ``organization_id``, with the organization's id or
      public id (how ``OrganizationView`` resolves the membership);
    - ``"<table>"."user_id" = <the signed-in user>``: the user's own rows (the organization switcher).

    Limits: only the code paths these requests take are seen (a form that validates, a filter, another
    page of a list are not), so the source scan below complements it; the conditions are found by pattern,
    not parsed, so a condition under an ``OR`` or in a subquery counts as if it constrained the whole
    statement; a table reached only through a JOIN from a table that is not tenant-owned is not checked;
    the ids of the tenant's rows are accepted without proof that the page got them from a scoped query
    (the matrix's "object of another tenant" case covers reads by a URL parameter); raw SQL with named
    parameters is never accepted; organizations themselves (the tenant, not tenant-owned) are not checked.
    """
    unscoped, checked = unscoped_reads(client, name, route, method)
    assert unscoped == []
    assert checked > 0  # the check saw the page's reads: at least the membership that dispatch resolves


@pytest.mark.django_db
def test_a_page_that_forgets_its_scope_is_caught(client, monkeypatch):
    # Given OrganizationView.scoped() made to forget the organization (so scoped_get reads any tenant's),
    monkeypatch.setattr(OrganizationView, "scoped", lambda self, queryset: queryset)
    name = "accounts:invitation_revoke"
    route = next(route for n, route, _c in organization_routes() if n == name)

    # when the page reads its invitation, then the check names that read.
    unscoped, _checked = unscoped_reads(client, name, route)
    assert len(unscoped) == 1
    assert unscoped[0].startswith('accounts_membershipinvitation: SELECT "accounts_membershipinvitation"')


@pytest.mark.django_db
def test_a_selector_that_forgets_its_scope_is_caught(client, monkeypatch):
    # Given the members list made to read every organization's members,
    def every_member(*, organization):
        return selectors._with_roles(Membership.objects.order_by(*selectors.MEMBERS_ORDERING))

    def every_member_first(organization, *, count):  # the first page's prepared read, made alike
        return list(selectors.member_rows(every_member(organization=organization))[:count])

    monkeypatch.setattr(selectors, "organization_members", every_member)
    monkeypatch.setattr(selectors, "member_rows_first", every_member_first)
    name = "accounts:users"
    route = next(route for n, route, _c in organization_routes() if n == name)

    # then both the list and the prefetch of its roles (another tenant's member ids) are named.
    unscoped, _checked = unscoped_reads(client, name, route)
    assert [line.split(":")[0] for line in unscoped] == ["accounts_membership", "accounts_membershiprole"]


@pytest.mark.django_db
def test_a_subquery_counts_only_under_a_scoped_statement():
    # Given a partner's relationships narrowed by an EXISTS on its partnerships (Django's U0 alias),
    tenant = make_tenant(Organization.Kind.RESELLER, "A")
    neighbour = make_tenant(Organization.Kind.RESELLER, "B")
    check = ScopeCheck(tenant.organization, tenant.admin.user)
    check.remember_rows()
    sql = (
        'SELECT "customers_customerrelationship"."id" FROM "customers_customerrelationship" WHERE '
        '("customers_customerrelationship"."partner_id" = %s AND EXISTS(SELECT 1 AS "a" FROM '
        '"providers_partnership" U0 WHERE U0."reseller_id" = '
        '("customers_customerrelationship"."partner_id")))'
    )

    # then the subquery narrows a statement scoped to the tenant, and is named with it otherwise.
    assert check.unscoped([Statement(sql, (tenant.organization.pk,))]) == []
    unscoped = check.unscoped([Statement(sql, (neighbour.organization.pk,))])
    assert [line.split(":")[0] for line in unscoped] == [
        "customers_customerrelationship",
        "providers_partnership",
    ]


@pytest.mark.django_db
def test_an_array_of_ids_counts_as_the_ids_it_holds():
    # Given the delegated admin relationships of a page's customers, read with one array of ids
    # (portal.queries.InValues: "= ANY(%s::bigint[])"),
    tenant = make_tenant(Organization.Kind.RESELLER, "A")
    neighbour = make_tenant(Organization.Kind.RESELLER, "B")
    check = ScopeCheck(tenant.organization, tenant.admin.user)
    check.remember_rows()
    sql = (
        'SELECT "accounts_membership"."id" FROM "accounts_membership" WHERE '
        '"accounts_membership"."organization_id" = ANY(%s::bigint[])'
    )

    # then the tenant's own ids are its scope, and a neighbour's among them is named.
    assert check.unscoped([Statement(sql, ([tenant.organization.pk],))]) == []
    unscoped = check.unscoped([Statement(sql, ([tenant.organization.pk, neighbour.organization.pk],))])
    assert [line.split(":")[0] for line in unscoped] == ["accounts_membership"]


# -- every read of a tenant-owned table is scoped: the source of the view modules ---------------------

SCOPING_METHODS = {"scoped", "scoped_get"}


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _names_own_organization(keyword: ast.keyword) -> bool:
    """``organization=self.organization``, ``organization_id=self.organization.pk`` and the like."""
    return bool(keyword.arg and keyword.arg.startswith("organization")) and ast.unparse(
        keyword.value
    ).startswith(("self.organization", "self.membership.organization"))


def _is_scoped(node: ast.AST, parents: dict) -> bool:
    """Whether the manager ``node`` (``Model.objects``) ends up in ``self.scoped(...)``/``scoped_get(...)``
    or in a call of its chain with an ``organization...=self.organization...`` keyword, within the same
    statement."""
    child, current = node, parents.get(node)
    while current is not None and not isinstance(current, ast.stmt):
        if isinstance(current, ast.Call):
            func = current.func
            in_arguments = child is not func
            if in_arguments:
                # Handed to a call: scoped only if that call is the view's scoping.
                return isinstance(func, ast.Attribute) and func.attr in SCOPING_METHODS
            if any(_names_own_organization(keyword) for keyword in current.keywords):
                return True
        child, current = current, parents.get(current)
    return False


def unscoped_managers(source: str, filename: str, model_names: set[str]) -> list[str]:
    """``file:line Model.objects`` for each manager of a tenant-owned model that the code uses unscoped."""
    tree = ast.parse(source, filename)
    parents = _parents(tree)
    managers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("objects", "_default_manager")
        and isinstance(node.value, ast.Name)
        and node.value.id in model_names
        and not _is_scoped(node, parents)
    ]
    return [
        f"{filename}:{node.lineno} {node.value.id}.{node.attr}"
        for node in sorted(managers, key=lambda node: (node.lineno, node.col_offset))
    ]


def organization_view_modules() -> set[Path]:
    """The source files of every organization route's view and of the classes it inherits from (the
    scoping itself aside)."""
    files = set()
    for _name, _route, callback in organization_routes():
        for cls in inspect.getmro(callback.view_class):
            module = inspect.getmodule(cls)
            top = module.__name__.split(".")[0] if module else "django"
            if top not in ("django", "builtins") and cls is not OrganizationView:
                files.add(Path(inspect.getfile(cls)))
    return files


def tenant_model_names() -> set[str]:
    return {model.__name__ for model in tenant_owned_models()}


def test_organization_view_modules_use_tenant_managers_only_within_their_scope():
    """The source of every organization view (and its mixins): a tenant-owned model's manager is used
    only inside ``self.scoped(...)``/``self.scoped_get(...)`` or with an ``organization...=self.organization``
    filter in its chain. Selectors and services take ``organization=`` and are not scanned.

    Limits: names, not types: a model imported under another name, a manager kept in a variable and
    scoped later (reported, though scoped), a related manager or ``apps.get_model`` are not understood;
    a filter on ``organization`` is trusted to hold, whatever else the chain does (``.union()``...)."""
    files = organization_view_modules()
    assert Path(inspect.getfile(OrganizationView)) not in files
    assert any(file.name == "organization_views.py" for file in files)
    names = tenant_model_names()
    found = [line for file in sorted(files) for line in unscoped_managers(file.read_text(), file.name, names)]
    assert found == []


LEAKY_MODULE = """
class MemberView(OrganizationView):
    def get(self, request, membership_id):
        member = self.scoped_get(Membership.objects.select_related("user"), public_id=membership_id)
        invitations = MembershipInvitation.objects.filter(organization=self.organization)
        leaked = Membership.objects.get(public_id=membership_id)
        everyone = MembershipRole.objects.filter(role="global_admin").count()
        chosen = Membership.objects.filter(organization_id=request.GET["organization"])
        handed = sorted(MembershipInvitation.objects.all(), key=str)
        return render(request, "x.html", {"member": member, "leaked": leaked})
"""


def test_a_view_module_reading_a_tenant_model_without_its_scope_is_caught():
    found = unscoped_managers(LEAKY_MODULE, "leaky.py", tenant_model_names())
    assert found == [
        "leaky.py:6 Membership.objects",
        "leaky.py:7 MembershipRole.objects",
        "leaky.py:8 Membership.objects",
        "leaky.py:9 MembershipInvitation.objects",
    ]


@pytest.mark.django_db
def test_a_directory_that_shows_an_unpublished_listing_is_caught(client, monkeypatch):
    # Given the directory made to list every provider, a hidden listing among them,
    from providers import selectors as provider_selectors
    from providers.models import ProviderListing
    from tests.factories.providers import ProviderFactory

    ProviderFactory(countries=["JP"], listing__visible=False)
    monkeypatch.setattr(
        provider_selectors,
        "directory_listings",
        lambda **filters: ProviderListing.objects.prefetch_related("countries", "languages"),
    )
    name = "providers:directory"
    route = next(route for n, route, _c in organization_routes() if n == name)

    # then the read of the listings is named (the published ones alone would have passed).
    unscoped, _checked = unscoped_reads(client, name, route)
    assert [line.split(":")[0] for line in unscoped][:1] == ["providers_providerlisting"]

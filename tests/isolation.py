"""Extension points of the isolation matrix (``tests/platform/test_isolation.py``).

Every app that owns tenant data says, in ``tests/<app>/isolation.py``, what the matrix needs to know
about it; the matrix imports every such module (``discover()``) and knows nothing app-specific itself:

- ``@tenant_object(name)``: how to create one of its objects in a tenant. Every tenant the matrix makes
  gets every registered object, built once, with the tenant's canary in it where the object has text, so
  that another tenant's pages prove they never show it. A builder may ask for other objects
  (``tenant.object("member")``), whichever app registered them.
- ``@url_parameter(name)``: how to fill one URL parameter of its routes for a tenant, from the tenant's
  objects. An organization route with a parameter nobody registered fails the matrix, naming both.
- ``snapshot_table(Model, *fields)``: a table that the "nothing changed" snapshot digests (its primary
  keys and these fields; only its row count when no field is named). Every tenant-owned table must be
  registered (``tests/platform/test_isolation_meta.py`` checks it).
- ``@partner_builder(relationship, tenant_kinds=...)``: an organization linked to the tenant by a
  partnership or a relationship. The matrix signs in that organization's Global admin and tries every
  organization route of the tenant: 404, nothing changed, no canary, unless the route's access-policy
  entry opens the page to that partner (``opens_to_partner``).

The providers app, for example, will write in ``tests/providers/isolation.py``::

    tenant_object("partnership")(lambda t: PartnershipFactory(reseller=t.organization, note=t.canary))
    url_parameter("partnership_id")(lambda t: t.object("partnership").public_id)
    snapshot_table(Partnership, "status", "provider_id", "reseller_id")
    partner_builder("provider of reseller", tenant_kinds={RESELLER})(
        lambda t: PartnershipFactory(reseller=t.organization, status=Partnership.Status.ACTIVE).provider
    )
"""

from __future__ import annotations

import hashlib
import importlib
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import models

from accounts.models import Membership, Organization
from accounts.roles import Role
from portal import access_policy
from portal.access_policy import is_organization_permission, iter_routes, policy_for
from tests.factories.accounts import MembershipFactory, OrganizationFactory, UserFactory

#: Every organization route has this parameter: the matrix fills it itself (the organization in the URL
#: and the tenant whose objects the other parameters name may differ on purpose).
ORGANIZATION_PARAMETER = "organization_public_id"
#: The kind of tenant the matrix prefers, among the kinds a route is for.
KIND_PREFERENCE = (Organization.Kind.RESELLER, Organization.Kind.PROVIDER, Organization.Kind.CUSTOMER)

TenantBuilder = Callable[["Tenant"], Any]


@dataclass(frozen=True)
class SnapshotTable:
    model: type[models.Model]
    fields: tuple[str, ...]

    def digest_rows(self):
        if not self.fields:
            return self.model._default_manager.count()
        return list(self.model._default_manager.order_by("pk").values_list("pk", *self.fields))


@dataclass(frozen=True)
class PartnerBuilder:
    relationship: str
    #: the kinds of tenant this relationship exists for ("provider of reseller": resellers)
    tenant_kinds: frozenset[str]
    build: Callable[[Tenant], Organization]


_OBJECTS: dict[str, TenantBuilder] = {}
_URL_PARAMETERS: dict[str, TenantBuilder] = {}
_TABLES: dict[type[models.Model], SnapshotTable] = {}
_PUBLISHED: dict = {}
_PUBLISHED_PARAMETERS: set[str] = set()
_LINKS: list = []
_PARTNERS: dict[str, PartnerBuilder] = {}
_discovered = False


def _register(registry: dict, key, value, what: str) -> None:
    if key in registry:
        raise ValueError(f"The isolation matrix has {what} {key!r} registered twice")
    registry[key] = value


def tenant_object(name: str):
    """Decorator: ``builder(tenant)`` creates the object ``name`` in the tenant."""

    def register(builder: TenantBuilder) -> TenantBuilder:
        _register(_OBJECTS, name, builder, "the tenant object")
        return builder

    return register


def url_parameter(name: str, *, published_why: str = ""):
    """Decorator: ``builder(tenant)`` is the value of the URL parameter ``name`` for the tenant's objects.

    ``published_why``: the parameter names an object published to every organization the route is for
    (a directory listing), not one the tenant owns; the matrix then expects another organization to be
    served for it in its own URL (and to find no canary), instead of a 404."""
    if name == ORGANIZATION_PARAMETER:
        raise ValueError(f"{ORGANIZATION_PARAMETER} is filled by the matrix itself")

    def register(builder: TenantBuilder) -> TenantBuilder:
        _register(_URL_PARAMETERS, name, builder, "the URL parameter")
        if published_why:
            _PUBLISHED_PARAMETERS.add(name)
        return builder

    return register


def snapshot_table(model: type[models.Model], *fields: str) -> None:
    """The snapshot covers ``model``: primary keys and ``fields``, or the row count when none is named."""
    for name in fields:
        model._meta.get_field(name)  # a typo fails here, not as a snapshot that never changes
    _register(_TABLES, model, SnapshotTable(model, fields), "the snapshot table")


def partner_builder(relationship: str, *, tenant_kinds: Iterable[str]):
    """Decorator: ``builder(tenant)`` creates an organization linked to the tenant by ``relationship`` (the
    link included) and returns it; the matrix gives it a Global admin. ``tenant_kinds``: the kinds of
    tenant such a partner can exist for."""

    def register(builder: Callable[[Tenant], Organization]) -> Callable[[Tenant], Organization]:
        entry = PartnerBuilder(relationship, frozenset(tenant_kinds), builder)
        _register(_PARTNERS, relationship, entry, "the partner relationship")
        return builder

    return register


def published_table(model: type[models.Model], condition: models.Q, *, why: str) -> None:
    """Rows of ``model`` matching ``condition`` are published by design to every tenant that may open the
    page reading them (the provider directory's listings); ``why`` says so in the registering module.
    The scope check accepts a read of such a table, or of its children, only when every row it returns
    or names is published (or the tenant's own)."""
    if not why:
        raise ValueError("Say why the rows are published")
    _register(_PUBLISHED, model, condition, "the published table")


def published_tables() -> dict[type[models.Model], models.Q]:
    discover()
    return dict(_PUBLISHED)


def organization_columns(model: type[models.Model]) -> list[str]:
    """Every column of ``model`` that names an organization: a two-sided row (a partnership: provider and
    reseller) belongs to each organization it names."""
    return [
        model_field.column
        for model_field in model._meta.concrete_fields
        if model_field.is_relation and model_field.related_model is Organization
    ]


def discover() -> None:
    """Import ``tests.<app>.isolation`` for every folder of tests/ that has one (once)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in sorted(Path(__file__).parent.glob("*/isolation.py")):
        importlib.import_module(f"tests.{module.parent.name}.isolation")


def partner_builders() -> dict[str, PartnerBuilder]:
    discover()
    return dict(_PARTNERS)


def organization_link(finder: Callable[[Organization], Iterable[int]]):
    """Decorator: ``finder(organization)`` yields the ids of organizations linked to it by data (an
    active partnership; a partnership request it sent or received). A service may read a linked
    organization's rows to do the link's work (email the managers of the other side); the scope check
    of tests/platform/test_isolation_meta.py accepts those reads, and the page scan still refuses them
    in views."""
    _LINKS.append(finder)
    return finder


def linked_organizations(organization: Organization) -> set[int]:
    discover()
    return {pk for finder in _LINKS for pk in finder(organization)}


def published_parameters() -> frozenset[str]:
    discover()
    return frozenset(_PUBLISHED_PARAMETERS)


def url_parameters() -> frozenset[str]:
    discover()
    return frozenset(_URL_PARAMETERS) | {ORGANIZATION_PARAMETER}


def snapshot_tables() -> list[SnapshotTable]:
    discover()
    return list(_TABLES.values())


# -- tenants -------------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """An organization with a Global admin, and every registered object; ``canary`` is in all of them."""

    organization: Organization
    admin: Membership
    canary: str
    objects: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.organization.kind

    def object(self, name: str):
        """The tenant's object ``name``, built on first use by the builder registered for it."""
        if name not in self.objects:
            if name not in _OBJECTS:
                raise LookupError(f"No tests/<app>/isolation.py registers the tenant object {name!r}")
            self.objects[name] = _OBJECTS[name](self)
        return self.objects[name]


def make_tenant(kind: str, label: str) -> Tenant:
    discover()
    canary = f"CANARY-{label}-{uuid.uuid4().hex[:10]}"
    organization = OrganizationFactory(kind=kind, legal_name=f"{canary} KK")
    admin = MembershipFactory(
        organization=organization,
        user=UserFactory(email=f"{canary.lower()}-admin@example.com"),
        roles=[Role.GLOBAL_ADMIN],
    )
    tenant = Tenant(organization, admin, canary)
    for name in _OBJECTS:
        tenant.object(name)
    return tenant


def tenant_kind(kinds: Iterable[str]) -> str:
    """The kind of tenant to test a route with, of those it is for."""
    kinds = set(kinds)
    return next(kind for kind in KIND_PREFERENCE if kind in kinds)


def partner_of(tenant: Tenant, relationship: str) -> Membership:
    """The Global admin of a fresh partner organization of the tenant."""
    partner = partner_builders()[relationship].build(tenant)
    return MembershipFactory(
        organization=partner,
        user=UserFactory(email=f"partner-{uuid.uuid4().hex[:10]}@example.com"),
        roles=[Role.GLOBAL_ADMIN],
    )


def opens_to_partner(route_name: str, relationship: str) -> bool:
    """Whether the route's access-policy entry opens the tenant's page to the tenant's partners of this
    relationship. No entry does yet, so every partner persona gets 404.

    When a page must be shared (a provider reading a page of its reseller, say), its entry will name the
    relationships, with the same keys as ``partner_builder``, in a ``partners`` field of
    ``OrganizationPage`` that ``OrganizationView`` then honours::

        "customers:detail": organization_page(
            "customers.view", kinds=PARTNERS, partners={"provider of reseller"}
        ),

    and the matrix then expects that persona to be served, and every other partner still to get 404.
    """
    entry = access_policy._entry(route_name)
    return relationship in getattr(entry, "partners", ())


# -- routes --------------------------------------------------------------------------------------------


def route_parameter_names(route: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", route)


def organization_routes(patterns=None) -> list[tuple[str, str, Any]]:
    """(name, route, callback) of every named route whose policy is an organization permission."""
    return [
        (name, route, callback)
        for name, route, callback in iter_routes(patterns)
        if is_organization_permission(policy_for(name)) and not name.startswith("<")
    ]


def unregistered_parameters(patterns=None) -> list[tuple[str, str]]:
    """(route name, parameter) for each parameter of an organization route that nobody registered."""
    known = url_parameters()
    return sorted(
        (name, parameter)
        for name, route, _callback in organization_routes(patterns)
        for parameter in route_parameter_names(route)
        if parameter not in known
    )


def route_kwargs(name: str, route: str, tenant: Tenant, objects_of: Tenant | None = None) -> dict:
    """The URL parameters of a route: ``tenant``'s organization, and the objects of ``objects_of``
    (the same tenant unless the case mixes two)."""
    discover()
    objects_of = objects_of or tenant
    kwargs = {}
    for parameter in route_parameter_names(route):
        if parameter == ORGANIZATION_PARAMETER:
            kwargs[parameter] = tenant.organization.public_id
        elif parameter in _URL_PARAMETERS:
            kwargs[parameter] = _URL_PARAMETERS[parameter](objects_of)
        else:
            pytest.fail(
                f"Route {name!r} has the URL parameter {parameter!r} that no tests/<app>/isolation.py "
                f"registers: add @url_parameter({parameter!r}) to the isolation module of its app"
            )
    return kwargs


# -- what a request could change ------------------------------------------------------------------------


def snapshot() -> str:
    """A digest of every registered table: a denied request must leave it as it was."""
    rows = [(table.model._meta.label, table.digest_rows()) for table in snapshot_tables()]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def tenant_owned_models() -> dict[type[models.Model], str]:
    """Every model that belongs to one organization, with the lookup from it to the organization's pk.

    Owned: a ForeignKey to ``accounts.Organization`` (``organization_id``), or an ``organization_id``
    column without a database constraint (the audit log and the outbox keep theirs after a deletion);
    and, transitively, every model with a ForeignKey to an owned model (``membership__organization_id``).
    """
    owned: dict[type[models.Model], str] = {}
    candidates = [
        model
        for model in apps.get_models()
        if model is not Organization and not model._meta.proxy and model._meta.managed
    ]
    for model in candidates:
        for model_field in model._meta.concrete_fields:
            if model_field.is_relation and model_field.related_model is Organization:
                owned[model] = model_field.attname
                break
            if not model_field.is_relation and model_field.attname == "organization_id":
                owned[model] = "organization_id"
                break
    grew = True
    while grew:
        grew = False
        for model in candidates:
            if model in owned:
                continue
            for model_field in model._meta.concrete_fields:
                parent = (
                    model_field.related_model if model_field.many_to_one or model_field.one_to_one else None
                )
                if parent in owned:
                    owned[model] = f"{model_field.name}__{owned[parent]}"
                    grew = True
                    break
    return owned

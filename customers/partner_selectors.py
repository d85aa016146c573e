"""The reads of a partner's customer pages (customers/views/partner_side.py) beyond ``customers.selectors``,
each given the partner organization. Which customers a partner sees stays ``customers.selectors``' answer:
these only add, for rows that answer already gave, the facts a page shows (delegated admin access, the
providers a customer is shared with) in one query per list, and the reseller's own partnerships and
invitations."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Organization
from customers.models import (
    DELEGATED_ADMIN_LIVE,
    EXPIRING_DAYS,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    PartnerRole,
    RelationshipStatus,
)
from portal.invitations.models import LinkInvitationStatus
from portal.prepared import Many, PreparedQuery
from portal.queries import CheckedOnly, InSubquery, InValues
from providers.models import Partnership


def days_left(ends_at, now) -> int:
    """Whole days until ``ends_at``, a started day counting as one (never below 0)."""
    return max(0, math.ceil((ends_at - now).total_seconds() / 86400))


def delegated_admin_marked(relationship: DelegatedAdminRelationship, now) -> DelegatedAdminRelationship:
    """The live relationship with ``days_left`` and ``ends_soon`` (within the expiring window) set."""
    relationship.days_left = days_left(relationship.ends_at, now)
    relationship.ends_soon = relationship.ends_at <= now + timedelta(days=EXPIRING_DAYS)
    return relationship


def customer_list_rows(
    relationships: QuerySet[CustomerRelationship], partner: Organization
) -> QuerySet[CustomerRelationship]:
    """The Customers page's rows (``relationships``, as ``customers.selectors`` gave them) with only the
    columns a row shows and links with. A reseller's come with their customer's public id
    (``customer_public_id``); a provider's get their customer's and reseller's from
    ``list_rows_parties``: joined to a provider's visibility conditions, two more tables cost
    PostgreSQL's planner several times what the query takes to run."""
    columns = ["customer_name", "started_at", "customer_id", "reseller_id"]
    if partner.kind == Organization.Kind.PROVIDER:
        return relationships.only(*columns)
    # the public id as a plain value: no Organization built for each row (the page's own cost, issue 12)
    return relationships.annotate(customer_public_id=F("customer__public_id")).only(*columns)


#: (kind of partner, ordering, count) -> the compiled query of ``customer_list_first``
_customer_list_first: dict[tuple, PreparedQuery] = {}


def customer_list_first(partner: Organization, *, ordering: tuple[str, ...], count: int) -> list:
    """The first ``count`` rows of ``customer_list_rows(customer_relationships_visible_to(partner))`` in
    ``ordering``: the first page of the Customers page without a search or a partnership, which nearly
    every visit is, its SQL compiled once per process for each kind of partner (``portal.prepared``)."""
    from customers.selectors import customer_relationships_visible_to

    key = (partner.kind, ordering, count)
    query = _customer_list_first.get(key)
    if query is None:
        kind = partner.kind

        def build(partner_id):
            partner = Organization(pk=partner_id, kind=kind)
            rows = customer_list_rows(customer_relationships_visible_to(partner), partner)
            return rows.order_by(*ordering)[:count]

        query = _customer_list_first[key] = PreparedQuery(
            build, partner_id=CustomerRelationship._meta.get_field("partner")
        )
    return query.objects(partner_id=partner.pk)


def list_rows_parties(rows: list[CustomerRelationship]) -> list[tuple[int, uuid.UUID, str]]:
    """The customers and resellers of a provider's list rows (``customer_list_rows``), with what a row
    shows of them: ``(id, public id, legal name)``, by id, in one query."""
    ids = {row.customer_id for row in rows} | {row.reseller_id for row in rows}
    if not ids:
        return []
    return sorted(_parties_query.tuples(ids=sorted(ids)))  # in one order: a memo keys the page by them


_parties_query = PreparedQuery(
    lambda ids: (
        Organization.objects.filter(InValues("id", ids))
        .order_by()
        .values_list("id", "public_id", "legal_name")
    ),
    ids=Many(Organization._meta.pk),
)


def delegated_admin_rows(partner: Organization, customer_ids, now) -> list[tuple]:
    """For these customers: the partner's live delegated admin relationships and pending requests, the
    latest requested first, in one query whatever the number of customers, as plain tuples ``(customer_id,
    status, roles, ends_at, auto_extend, days_left, ends_soon)``: the columns a list row shows, then what
    ``now`` makes of a live one (``delegated_admin_marked``; None and False for a request). A live one
    past its end date (the beat job has not closed it yet) no longer counts and is left out."""
    if not customer_ids:
        return []
    soon = now + timedelta(days=EXPIRING_DAYS)
    found = []
    rows = _delegated_admins_query.tuples(partner_id=partner.pk, customer_ids=list(customer_ids))
    for customer_id, status, roles, ends_at, auto_extend in rows:
        if status == DelegatedAdminStatus.APPROVAL_PENDING:
            found.append((customer_id, status, roles, ends_at, auto_extend, None, False))
        elif ends_at and ends_at > now:
            marked = (days_left(ends_at, now), ends_at <= soon)
            found.append((customer_id, status, roles, ends_at, auto_extend, *marked))
    return found


_delegated_admins_query = PreparedQuery(
    lambda partner_id, customer_ids: DelegatedAdminRelationship.objects.filter(
        InValues("customer_id", customer_ids),
        partner_id=partner_id,
        status__in=[*DELEGATED_ADMIN_LIVE, DelegatedAdminStatus.APPROVAL_PENDING],
    ).values_list("customer_id", "status", "roles", "ends_at", "auto_extend"),
    partner_id=DelegatedAdminRelationship._meta.get_field("partner"),
    customer_ids=Many(DelegatedAdminRelationship._meta.get_field("customer")),
)


def _provider_rows(reseller: Organization, customer_ids) -> QuerySet[CustomerRelationship]:
    """The provider relationships of these customers of ``reseller`` with a live partnership, by the
    provider's name.

    The page's customers lead the plan (their index, a few rows each), whatever the plan knows of the
    reseller: its live providers are a list computed once beside it (``portal.queries.InSubquery``), and
    its own column is only checked on the rows found (``portal.queries.CheckedOnly``). As a join on the
    partnerships (or an ``EXISTS``), PostgreSQL read the reseller's (reseller, partner, status) index for
    each provider instead, estimating one row where a big reseller has a hundred thousand (the correlation
    of a join's columns is beyond its statistics), and so did a plan prepared without the reseller's id:
    50-100 ms for 50 customers at 1,000,000 relationships, 0.2 ms this way (bench/scale.py)."""
    live_providers = (
        Partnership.objects.filter(reseller=reseller, status=Partnership.Status.ACTIVE)
        .order_by()
        .values("provider_id")
    )
    return CustomerRelationship.objects.filter(
        InSubquery("partner_id", live_providers),
        InValues("customer_id", customer_ids),
        CheckedOnly("reseller_id", reseller.pk),
        role=PartnerRole.PROVIDER,
        status=RelationshipStatus.ACTIVE,
    ).order_by("partner__legal_name", "id")


def providers_by_customer(reseller: Organization, customer_ids) -> dict[int, list[Organization]]:
    """For each of these customers of ``reseller``: the providers it shares the customer with through a
    live partnership, by name, in one query."""
    found: dict[int, list[Organization]] = {}
    if not customer_ids:
        return found
    for row in _provider_rows(reseller, customer_ids).select_related("partner"):
        found.setdefault(row.customer_id, []).append(row.partner)
    return found


def provider_names(reseller: Organization, customer_ids) -> list[tuple[int, str]]:
    """``providers_by_customer`` as a list row shows it: ``(customer id, the provider's legal name)``, by
    name, in one query."""
    if not customer_ids:
        return []
    return _provider_names_query.tuples(reseller_id=reseller.pk, customer_ids=list(customer_ids))


_provider_names_query = PreparedQuery(
    lambda reseller_id, customer_ids: _provider_rows(
        Organization(pk=reseller_id, kind=Organization.Kind.RESELLER), customer_ids
    ).values_list("customer_id", "partner__legal_name"),
    # the reseller twice: its live partnerships and its relationships
    reseller_id=CustomerRelationship._meta.get_field("reseller"),
    customer_ids=Many(CustomerRelationship._meta.get_field("customer")),
)


#: (kind of partner, per customer, columns, ordering) -> the compiled query of ``first_subscriptions``
_first_subscriptions: dict[tuple, PreparedQuery] = {}


def first_subscriptions(
    partner: Organization, customer_ids, *, per_customer: int, columns: tuple[str, ...], ordering
) -> list[tuple]:
    """``columns`` of ``commerce.selectors.subscriptions_sold_to_first`` for these customers, in
    ``ordering``: a list row's subscription lines, its SQL compiled once per process for each kind of
    partner (``portal.prepared``)."""
    from commerce import selectors as commerce_selectors
    from commerce.models import Subscription

    key = (partner.kind, per_customer, columns, tuple(ordering))
    query = _first_subscriptions.get(key)
    if query is None:
        kind = partner.kind

        def build(partner_id, customer_ids):
            first = commerce_selectors.subscriptions_sold_to_first(
                Organization(pk=partner_id, kind=kind), customer_ids, per_customer=per_customer
            )
            return first.select_related(None).values_list(*columns).order_by(*ordering)

        side = "reseller" if kind == Organization.Kind.RESELLER else "provider"
        query = _first_subscriptions[key] = PreparedQuery(
            build,
            partner_id=Subscription._meta.get_field(side),
            customer_ids=Many(Subscription._meta.get_field("customer")),
        )
    return query.tuples(partner_id=partner.pk, customer_ids=list(customer_ids))


def shared_through(
    relationships: QuerySet[CustomerRelationship], partner: Organization, partnership: Partnership
) -> QuerySet[CustomerRelationship]:
    """Narrow a partner's visible relationships to one partnership's: a reseller's customers shared with
    that provider; a provider's customers from that reseller."""
    if partner.kind == Organization.Kind.RESELLER:
        shared = CustomerRelationship.objects.filter(
            customer=OuterRef("customer"),
            partner=partnership.provider_id,
            reseller=partner,
            role=PartnerRole.PROVIDER,
            status=RelationshipStatus.ACTIVE,
        )
        return relationships.filter(Exists(shared))
    return relationships.filter(reseller=partnership.reseller_id)


def partnership_of(organization: Organization, public_id) -> Partnership | None:
    """One partnership of which ``organization`` is a side, with the other side loaded; None otherwise."""
    if organization.kind == Organization.Kind.RESELLER:
        partnerships = Partnership.objects.filter(reseller=organization).select_related("provider")
    else:
        partnerships = Partnership.objects.filter(provider=organization).select_related("reseller")
    return partnerships.filter(public_id=public_id).first()


def partnerships_live(reseller: Organization) -> list[Partnership]:
    """The reseller's providers a with-provider invitation may name: live partnerships, by name."""
    return list(
        Partnership.objects.filter(reseller=reseller, status=Partnership.Status.ACTIVE)
        .select_related("provider")
        .order_by("provider__legal_name", "id")
    )


def delegated_admin_pending(
    partner: Organization, customer: Organization
) -> DelegatedAdminRelationship | None:
    """The partner's request for new or changed roles that the customer has not answered yet."""
    return DelegatedAdminRelationship.objects.filter(
        partner=partner, customer=customer, status=DelegatedAdminStatus.APPROVAL_PENDING
    ).first()


def delegated_admin_history(partner: Organization, customer: Organization) -> QuerySet:
    """Every delegated admin relationship of the pair, for a customer the page already found visible."""
    return DelegatedAdminRelationship.objects.filter(partner=partner, customer=customer)


def invitations_filtered(invitations: QuerySet, *, status: str = "", search: str = "") -> QuerySet:
    """A reseller's invitations by the status it reads (a pending invitation past its end date counts as
    expired, although the beat job has not closed it yet) and by address or customer name."""
    now = timezone.now()
    if status == LinkInvitationStatus.PENDING:
        invitations = invitations.filter(status=status, expires_at__gt=now)
    elif status == LinkInvitationStatus.EXPIRED:
        invitations = invitations.filter(
            Q(status=status) | Q(status=LinkInvitationStatus.PENDING, expires_at__lte=now)
        )
    elif status:
        invitations = invitations.filter(status=status)
    if search:
        invitations = invitations.filter(Q(email__icontains=search) | Q(customer_name__icontains=search))
    return invitations

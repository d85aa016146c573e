"""Every read the commerce pages need, always from the organization that asks.

- a **customer** reads its own subscriptions, orders (not a reseller's drafts), users and licences;
- a **reseller** reads the subscriptions it is reseller of record of, for customers it still sees, and
  its own orders and order requests;
- a **provider** reads the subscriptions sold through it for customers it still sees (the relationship
  selector: ``customers.selectors``), and the orders submitted to it (never a reseller's drafts).

Anything else is 404 (``Http404``), as for a missing page.
"""

from __future__ import annotations

from django.db.models import (
    Case,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.http import Http404

from accounts.models import DirectoryUser, Organization
from commerce.models import SUBSCRIPTION_LIVE, LicenceAssignment, Order, OrderStatus, Subscription
from customers import selectors as customer_selectors
from customers.models import CustomerRelationship, PartnerRole, RelationshipStatus
from portal.prepared import Many, PreparedQuery
from portal.queries import InValues


def _visible_customer(partner: Organization):
    return Exists(
        customer_selectors.customer_relationships_visible_to(partner).filter(customer=OuterRef("customer"))
    )


def subscriptions_of_customer(customer: Organization) -> QuerySet[Subscription]:
    return Subscription.objects.filter(customer=customer).select_related("offer", "reseller", "provider")


def subscriptions_visible_to(organization: Organization) -> QuerySet[Subscription]:
    """The subscriptions this organization may read (see the module's docstring)."""
    rows = Subscription.objects.select_related("offer", "customer", "reseller", "provider")
    if organization.kind == Organization.Kind.CUSTOMER:
        return rows.filter(customer=organization)
    if organization.kind == Organization.Kind.RESELLER:
        return rows.filter(reseller=organization).filter(_visible_customer(organization))
    if organization.kind == Organization.Kind.PROVIDER:
        return rows.filter(provider=organization).filter(_visible_customer(organization))
    return rows.none()


def subscriptions_of(organization: Organization, customer: Organization) -> QuerySet[Subscription]:
    """One customer's subscriptions as ``organization`` may read them (the customer: all of them)."""
    return subscriptions_visible_to(organization).filter(customer=customer)


#: The columns of a subscription that a row of a subscriptions table shows
#: (commerce/_subscriptions_table.html), its foreign keys included (the joined rows' columns are below).
SUBSCRIPTION_ROW_FIELDS = (
    "id", "public_id", "name", "seats", "billing_term", "commitment", "started_at", "renews_at",
    "auto_renew", "status", "ended_at", "offer", "reseller", "provider",
)  # fmt: skip


def subscription_rows(subscriptions: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """``subscriptions`` with only what a row of a subscriptions table reads: its own columns, and of its
    offer, reseller and provider the columns the row shows (not every column of four joined tables,
    which PostgreSQL takes longer to plan than to read)."""
    return (
        subscriptions.select_related(None)
        .select_related("offer", "reseller", "provider")
        .only(
            *SUBSCRIPTION_ROW_FIELDS,
            "offer__product_code",
            "offer__seat_based",
            "reseller__legal_name",
            "provider__legal_name",
        )
    )


def _own_subscription_rows(customer_id, *, ordering: tuple[str, ...], count: int) -> QuerySet[Subscription]:
    return with_assigned_counts(
        subscription_rows(Subscription.objects.filter(customer_id=customer_id))
    ).order_by(*ordering)[:count]


#: (ordering, count) -> the compiled query of ``own_subscription_rows_first``
_own_subscriptions_first: dict[tuple, PreparedQuery] = {}


def own_subscription_rows_first(
    customer: Organization, *, ordering: tuple[str, ...], count: int
) -> list[Subscription]:
    """The first ``count`` of a customer's own subscriptions in ``ordering`` (its own columns), as
    ``with_assigned_counts(subscription_rows(subscriptions_of(customer, customer)))`` reads them: the
    first page of its Subscriptions page, its SQL compiled once per process (``portal.prepared``)."""
    query = _own_subscriptions_first.get((ordering, count))
    if query is None:
        query = _own_subscriptions_first[ordering, count] = PreparedQuery(
            lambda customer_id: _own_subscription_rows(customer_id, ordering=ordering, count=count),
            customer_id=Subscription._meta.get_field("customer"),
        )
    return query.objects(customer_id=customer.pk)


def subscription_for(
    organization: Organization, customer: Organization, subscription_public_id
) -> Subscription:
    subscription = subscriptions_of(organization, customer).filter(public_id=subscription_public_id).first()
    if subscription is None:
        raise Http404
    return subscription


def with_assigned_counts(subscriptions: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """Each subscription with ``assigned``: its licences in use (bounded by its seats). A count per row
    read (on the licence index), not a join grouped over every subscription: a page or an export's first
    rows never wait for the counts of all the others (a customer with 100,000 licences, bench/scale.py)."""
    # COUNT as a plain function, not an aggregate: no GROUP BY, one row per subscription (0 when none)
    assigned = (
        LicenceAssignment.objects.filter(subscription=OuterRef("pk"))
        .order_by()
        .annotate(count=Func(F("pk"), function="COUNT"))
        .values("count")
    )
    return subscriptions.annotate(assigned=Subquery(assigned, output_field=IntegerField()))


def orders_visible_to(organization: Organization) -> QuerySet[Order]:
    rows = Order.objects.select_related("customer", "reseller", "provider", "offer", "subscription")
    if organization.kind == Organization.Kind.CUSTOMER:
        return rows.filter(customer=organization).exclude(status=OrderStatus.DRAFT)
    if organization.kind == Organization.Kind.RESELLER:
        return rows.filter(reseller=organization)
    if organization.kind == Organization.Kind.PROVIDER:
        return rows.filter(provider=organization).exclude(status=OrderStatus.DRAFT)
    return rows.none()


#: The columns of an order that a list row shows (and the keyset ordering needs).
ORDER_ROW_FIELDS = ("id", "public_id", "kind", "status", "seats", "requested_by_reseller", "created_at")


def order_rows_visible_to(organization: Organization) -> QuerySet[Order]:
    """``orders_visible_to`` as a list row shows them: the order's own columns (``ORDER_ROW_FIELDS``), the
    legal names of the parties other than ``organization`` (``customer_name``, ``reseller_name``,
    ``provider_name``) and ``item_name``: the subscription the order changes, else the offer it buys.

    Only these columns: the query that reads every column of the five tables (``orders_visible_to``)
    took PostgreSQL longer to plan than to run, and Django longer to compile and to make into objects."""
    rows = orders_visible_to(organization).select_related(None).only(*ORDER_ROW_FIELDS)
    for party in ("customer", "reseller", "provider"):
        if party != organization.kind:
            rows = rows.annotate(**{f"{party}_name": F(f"{party}__legal_name")})
    # a subscription's name is never NULL: NULL is an order that names no subscription (a new one)
    return rows.annotate(item_name=Coalesce(F("subscription__name"), F("offer__name")))


#: (kind of partner, status, ordering, count) -> the compiled query of ``order_rows_first``
_order_rows_first: dict[tuple, PreparedQuery] = {}

#: The side of an order a partner of each kind is on (the column its orders are read by).
_PARTNER_SIDE = {Organization.Kind.RESELLER: "reseller", Organization.Kind.PROVIDER: "provider"}


def order_rows_first(
    partner: Organization, *, status: str, ordering: tuple[str, ...], count: int
) -> list[Order]:
    """The first ``count`` of ``order_rows_visible_to(partner)`` in ``ordering`` (``status``: only the
    orders in that status, "" every one): the first page of a partner's Orders list, its SQL compiled once
    per process for each kind of partner and status (``portal.prepared``). ``status`` is one of the list's
    tabs, a handful of values: each is a query of its own, compiled with the status in its SQL."""
    key = (partner.kind, status, ordering, count)
    query = _order_rows_first.get(key)
    if query is None:
        kind = partner.kind

        def build(partner_id):
            rows = order_rows_visible_to(Organization(pk=partner_id, kind=kind))
            if status:
                rows = rows.filter(status=status)
            return rows.order_by(*ordering)[:count]

        query = _order_rows_first[key] = PreparedQuery(
            build, partner_id=Order._meta.get_field(_PARTNER_SIDE[kind])
        )
    return query.objects(partner_id=partner.pk)


#: count -> the compiled query of ``latest_order_rows_of_customer``
_latest_orders_of_customer: dict[int, PreparedQuery] = {}


def latest_order_rows_of_customer(customer: Organization, *, count: int) -> list[Order]:
    """The customer's ``count`` latest orders, newest first, as ``order_rows_visible_to(customer)`` reads
    them (never a reseller's draft), its SQL compiled once per process (``portal.prepared``)."""
    query = _latest_orders_of_customer.get(count)
    if query is None:

        def build(customer_id):
            customer = Organization(pk=customer_id, kind=Organization.Kind.CUSTOMER)
            return order_rows_visible_to(customer).order_by("-created_at", "-id")[:count]

        query = _latest_orders_of_customer[count] = PreparedQuery(
            build, customer_id=Order._meta.get_field("customer")
        )
    return query.objects(customer_id=customer.pk)


def order_for(organization: Organization, order_public_id) -> Order:
    # get(), not first(): the public id is unique, and first() would sort the five-table join by the
    # model's ordering (a fifth of the read's time)
    try:
        return orders_visible_to(organization).get(public_id=order_public_id)
    except Order.DoesNotExist:
        raise Http404 from None


def order_requests_waiting(provider: Organization) -> QuerySet[Order]:
    """The reseller requests a provider still has to submit or decline."""
    return orders_visible_to(provider).filter(status=OrderStatus.REQUESTED)


def tenant_users(customer: Organization) -> QuerySet[DirectoryUser]:
    """The users of the customer's built-in tenant (none for another kind of tenant)."""
    tenant = customer.directory_tenant
    if tenant is None or tenant.source != tenant.Source.BUILTIN:
        return DirectoryUser.objects.none()
    return DirectoryUser.objects.filter(tenant=tenant)


#: The columns of a tenant user that a row of the users list shows (and its keyset ordering needs).
TENANT_USER_ROW_FIELDS = (
    "id", "public_id", "user_principal_name", "display_name", "is_global_admin", "status", "contact_email",
    "setup_token_hash", "setup_expires_at",
)  # fmt: skip


def tenant_user_rows(customer: Organization) -> QuerySet[DirectoryUser]:
    """``tenant_users`` with only the columns a list row shows (``TENANT_USER_ROW_FIELDS``)."""
    return tenant_users(customer).only(*TENANT_USER_ROW_FIELDS)


#: (ordering, count) -> the compiled query of ``own_tenant_user_rows_first``
_own_tenant_users_first: dict[tuple, PreparedQuery] = {}


def own_tenant_user_rows_first(
    customer: Organization, *, ordering: tuple[str, ...], count: int
) -> list[DirectoryUser]:
    """The first ``count`` of ``tenant_user_rows(customer)`` in ``ordering``, its SQL compiled once per
    process: the first page of the Tenant users page, the customer's own and its reseller's (the same rows:
    the partner's access is checked before). The customer's tenant is a built-in one (the caller checked)."""
    query = _own_tenant_users_first.get((ordering, count))
    if query is None:
        query = _own_tenant_users_first[ordering, count] = PreparedQuery(
            lambda tenant_id: (
                DirectoryUser.objects.filter(tenant_id=tenant_id)
                .only(*TENANT_USER_ROW_FIELDS)
                .order_by(*ordering)[:count]
            ),
            tenant_id=DirectoryUser._meta.get_field("tenant"),
        )
    return query.objects(tenant_id=customer.directory_tenant_id)


def tenant_user_for(customer: Organization, user_public_id) -> DirectoryUser:
    user = tenant_users(customer).filter(public_id=user_public_id).first()
    if user is None:
        raise Http404
    return user


def licence_assignments_of(customer: Organization) -> QuerySet[LicenceAssignment]:
    return LicenceAssignment.objects.filter(customer=customer).select_related(
        "subscription", "directory_user"
    )


def licence_assignments_visible_to(
    organization: Organization, customer: Organization
) -> QuerySet[LicenceAssignment]:
    """The customer's licence assignments as ``organization`` may read them: the customer all of its own;
    a partner those of the subscriptions it sells (their ids read first, from the partner's own rows, so
    the statement names them)."""
    rows = licence_assignments_of(customer)
    if organization.pk == customer.pk:
        return rows
    visible = list(subscriptions_of(organization, customer).values_list("pk", flat=True))
    return rows.filter(subscription_id__in=visible)


def licence_assignment_for(
    organization: Organization, customer: Organization, assignment_public_id
) -> LicenceAssignment:
    assignment = (
        licence_assignments_visible_to(organization, customer).filter(public_id=assignment_public_id).first()
    )
    if assignment is None:
        raise Http404
    return assignment


#: The order of ``licence_names_of_users``'s rows: by user, then the subscription's name.
_LICENCE_NAMES_ORDERING = ("directory_user_id", "subscription__name", "subscription_id")

_own_licence_names = PreparedQuery(
    lambda customer_id, user_ids: (
        LicenceAssignment.objects.filter(InValues("directory_user_id", user_ids), customer_id=customer_id)
        .order_by(*_LICENCE_NAMES_ORDERING)
        .values_list("directory_user_id", "subscription__name")
    ),
    customer_id=LicenceAssignment._meta.get_field("customer"),
    user_ids=Many(LicenceAssignment._meta.get_field("directory_user")),
)


def _reseller_licence_names_query(reseller_id, customer_id, user_ids):
    """The reseller's side: from the subscriptions it sees of the customer (``subscriptions_of``: it is
    reseller of record, the customer visible to it), their licences held by these users."""
    reseller = Organization(pk=reseller_id, kind=Organization.Kind.RESELLER)
    return (
        subscriptions_of(reseller, Organization(pk=customer_id, kind=Organization.Kind.CUSTOMER))
        .select_related(None)
        .filter(
            InValues("assignments__directory_user_id", user_ids),
            assignments__customer_id=customer_id,
        )
        .order_by("assignments__directory_user_id", "name", "id")
        .values_list("assignments__directory_user_id", "name")
    )


_reseller_licence_names = PreparedQuery(
    _reseller_licence_names_query,
    reseller_id=Subscription._meta.get_field("reseller"),
    customer_id=Subscription._meta.get_field("customer"),
    user_ids=Many(LicenceAssignment._meta.get_field("directory_user")),
)


def licence_names_of_users(
    organization: Organization, customer: Organization, user_ids: list[int]
) -> list[tuple[int, str]]:
    """(user id, subscription name) of each licence these users of the customer's tenant hold, of the
    subscriptions ``organization`` sees (``licence_assignments_visible_to``), by user then subscription
    name: one query whatever the number of users, its SQL compiled once per process (``portal.prepared``;
    the ids are one array parameter)."""
    if not user_ids:
        return []
    if organization.pk == customer.pk:
        return _own_licence_names.tuples(customer_id=customer.pk, user_ids=user_ids)
    if organization.kind == Organization.Kind.RESELLER:
        return _reseller_licence_names.tuples(
            reseller_id=organization.pk, customer_id=customer.pk, user_ids=user_ids
        )
    return list(
        licence_assignments_visible_to(organization, customer)
        .filter(directory_user_id__in=user_ids)
        .order_by(*_LICENCE_NAMES_ORDERING)
        .values_list("directory_user_id", "subscription__name")
    )


def licence_holders(subscription: Subscription) -> QuerySet[LicenceAssignment]:
    return LicenceAssignment.objects.filter(subscription=subscription).select_related("directory_user")


#: The columns of a subscription that the Licences page shows (its list of subscriptions, the chosen one).
LICENCE_SUBSCRIPTION_FIELDS = ("id", "public_id", "name", "status", "seats")


def licence_subscriptions_of(organization: Organization, customer: Organization) -> QuerySet[Subscription]:
    """The customer's seat-based subscriptions as ``organization`` may read them (``subscriptions_of``),
    with only the columns the Licences page shows (``LICENCE_SUBSCRIPTION_FIELDS``), no joined row."""
    return (
        subscriptions_of(organization, customer)
        .filter(offer__seat_based=True)
        .select_related(None)
        .only(*LICENCE_SUBSCRIPTION_FIELDS)
    )


def licences_assigned(subscription: Subscription) -> int:
    """The subscription's licences in use (``with_assigned_counts`` for one subscription already read)."""
    return LicenceAssignment.objects.filter(subscription=subscription).count()


def licence_holder_rows(subscription: Subscription) -> QuerySet[LicenceAssignment]:
    """``licence_holders`` with only what a row of the Licences page shows: the assignment's own columns,
    and its user's ``display_name`` and ``user_status`` (not every column of the directory user)."""
    return (
        LicenceAssignment.objects.filter(subscription=subscription)
        .only("id", "public_id", "user_principal_name", "assigned_at")
        .annotate(display_name=F("directory_user__display_name"), user_status=F("directory_user__status"))
    )


def licence_chooser(subscriptions: QuerySet[Subscription], *, count: int) -> QuerySet[Subscription]:
    """The first ``count`` of ``subscriptions`` as the Licences page lists them: the live ones first, by
    name (``ended``: 0 for a live one, 1 for the others)."""
    ended = Case(
        When(status__in=SUBSCRIPTION_LIVE, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return subscriptions.annotate(ended=ended).order_by("ended", "name", "id")[:count]


#: count -> the compiled query of ``own_licence_chooser``
_own_licence_chooser: dict[int, PreparedQuery] = {}


def own_licence_chooser(customer: Organization, *, count: int) -> list[Subscription]:
    """``licence_chooser(licence_subscriptions_of(customer, customer), count=count)``: the list of the
    customer's own Licences page without a search, its SQL compiled once per process."""
    query = _own_licence_chooser.get(count)
    if query is None:

        def build(customer_id):
            customer = Organization(pk=customer_id, kind=Organization.Kind.CUSTOMER)
            return licence_chooser(licence_subscriptions_of(customer, customer), count=count)

        query = _own_licence_chooser[count] = PreparedQuery(
            build, customer_id=Subscription._meta.get_field("customer")
        )
    return query.objects(customer_id=customer.pk)


def _reseller_licence_chooser_query(reseller_id, customer_id, *, count: int) -> QuerySet[Subscription]:
    reseller = Organization(pk=reseller_id, kind=Organization.Kind.RESELLER)
    customer = Organization(pk=customer_id, kind=Organization.Kind.CUSTOMER)
    return licence_chooser(licence_subscriptions_of(reseller, customer), count=count)


#: count -> the compiled query of ``licence_chooser_first`` on a reseller's side
_reseller_licence_chooser: dict[int, PreparedQuery] = {}


def licence_chooser_first(
    organization: Organization, customer: Organization, *, count: int
) -> list[Subscription]:
    """``licence_chooser(licence_subscriptions_of(organization, customer), count=count)``: the list of a
    Licences page without a search, its SQL compiled once per process on the customer's side and on its
    reseller's (any other organization: the queryset itself)."""
    if organization.pk == customer.pk:
        return own_licence_chooser(customer, count=count)
    if organization.kind != Organization.Kind.RESELLER:
        return list(licence_chooser(licence_subscriptions_of(organization, customer), count=count))
    query = _reseller_licence_chooser.get(count)
    if query is None:
        query = _reseller_licence_chooser[count] = PreparedQuery(
            lambda reseller_id, customer_id: _reseller_licence_chooser_query(
                reseller_id, customer_id, count=count
            ),
            reseller_id=Subscription._meta.get_field("reseller"),
            customer_id=Subscription._meta.get_field("customer"),
        )
    return query.objects(reseller_id=organization.pk, customer_id=customer.pk)


_licences_assigned = PreparedQuery(
    lambda subscription_id: (
        LicenceAssignment.objects.filter(subscription_id=subscription_id)
        .order_by()
        .annotate(count=Func(F("pk"), function="COUNT"))
        .values("count")
    ),
    subscription_id=LicenceAssignment._meta.get_field("subscription"),
)


def licences_assigned_of(subscription: Subscription) -> int:
    """``licences_assigned(subscription)``, its SQL compiled once per process."""
    return _licences_assigned.values(subscription_id=subscription.pk)[0]["count"]


#: (ordering, count) -> the compiled query of ``licence_holder_rows_first``
_licence_holders_first: dict[tuple, PreparedQuery] = {}


def licence_holder_rows_first(
    subscription: Subscription, *, ordering: tuple[str, ...], count: int
) -> list[LicenceAssignment]:
    """The first ``count`` of ``licence_holder_rows(subscription)`` in ``ordering``: the first page of the
    Licences page, its SQL compiled once per process. The caller has found the subscription visible."""
    query = _licence_holders_first.get((ordering, count))
    if query is None:
        query = _licence_holders_first[ordering, count] = PreparedQuery(
            lambda subscription_id: licence_holder_rows(Subscription(pk=subscription_id)).order_by(*ordering)[
                :count
            ],
            subscription_id=LicenceAssignment._meta.get_field("subscription"),
        )
    return query.objects(subscription_id=subscription.pk)


# --- The partner's customer pages and order forms (one query for a list page) ------------------------


def subscriptions_sold_to(partner: Organization, customer_ids) -> QuerySet[Subscription]:
    """The subscriptions ``partner`` sold (as reseller of record, or as provider) to these customers, whose
    ids the page got from ``customers.selectors.customer_relationships_visible_to(partner)``: the same
    rows as ``subscriptions_visible_to(partner)`` for them, in one query without a subquery."""
    rows = Subscription.objects.select_related("offer", "customer", "reseller", "provider")
    # the ids as one array (portal.queries.InValues): a page's query is the same SQL for any number of rows
    if partner.kind == Organization.Kind.RESELLER:
        return rows.filter(InValues("customer_id", customer_ids), reseller=partner)
    if partner.kind == Organization.Kind.PROVIDER:
        return rows.filter(InValues("customer_id", customer_ids), provider=partner)
    return rows.none()


def subscriptions_sold_to_first(
    partner: Organization, customer_ids, *, per_customer: int
) -> QuerySet[Subscription]:
    """The first ``per_customer`` + 1 (by name) of ``subscriptions_sold_to`` for each customer and reseller:
    a list row shows the first ones and says there are more, whatever the number a customer has."""
    rank = Window(
        RowNumber(), partition_by=[F("customer_id"), F("reseller_id")], order_by=[F("name"), F("id")]
    )
    return subscriptions_sold_to(partner, customer_ids).annotate(rank=rank).filter(rank__lte=per_customer + 1)


def resellers_accepted_with(provider: Organization, customer: Organization) -> list[Organization]:
    """The resellers through which the customer accepted ``provider`` (active provider relationships),
    whatever their partnership's state: an order through one whose partnership ended is refused by the
    service with that reason."""
    rows = CustomerRelationship.objects.filter(
        customer=customer, partner=provider, role=PartnerRole.PROVIDER, status=RelationshipStatus.ACTIVE
    ).select_related("reseller")
    return [row.reseller for row in rows.order_by("reseller__legal_name", "id")]


def providers_accepted_through(reseller: Organization, customer: Organization) -> list[Organization]:
    """The providers the customer accepted through ``reseller`` (active provider relationships), whatever
    their partnership's state (the service refuses an ended one with that reason)."""
    rows = CustomerRelationship.objects.filter(
        customer=customer, reseller=reseller, role=PartnerRole.PROVIDER, status=RelationshipStatus.ACTIVE
    ).select_related("partner")
    return [row.partner for row in rows.order_by("partner__legal_name", "id")]


__all__ = ["Q"]

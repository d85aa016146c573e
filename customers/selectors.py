"""Every question "may this partner see or do this to that customer" is answered here, and only here.

- A **reseller** sees a customer while its reseller relationship with it is active.
- A **provider** sees a customer while (1) its provider relationship with the customer is active, (2) its
  partnership with the reseller that relationship came through is active, and (3) that reseller is still
  the customer's reseller of record. Any link ending takes the access away on the next request.
- A **delegated admin role** counts while its relationship is active or expiring *and* its end date is
  in the future: an expiry the beat job has not processed yet already denies.
- A **customer** sees its own partners.

``partner_may(partner, customer, need)`` is the one check the customer-management pages use; ``need`` is
``"view"``, ``"order"`` (a provider submitting orders) or a delegated role (``DelegatedRole``).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, JSONField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import JSONObject, Now
from django.http import Http404
from django.utils import timezone

from accounts.models import Organization
from customers.models import (
    DELEGATED_ADMIN_LIVE,
    EXPIRING_DAYS,
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    PartnerRole,
    RelationshipStatus,
)

ACTIVE = RelationshipStatus.ACTIVE
NEED_VIEW = "view"
NEED_ORDER = "order"


def _provider_links_live() -> Q:
    """For provider rows: the partnership with the row's reseller and the reseller's own relationship are
    both still active (as ``Exists`` subqueries: one query, whatever the number of rows)."""
    from providers.models import Partnership

    partnership = Partnership.objects.filter(
        provider=OuterRef("partner"), reseller=OuterRef("reseller"), status=Partnership.Status.ACTIVE
    )
    reseller_row = CustomerRelationship.objects.filter(
        customer=OuterRef("customer"), partner=OuterRef("reseller"), role=PartnerRole.RESELLER, status=ACTIVE
    )
    return Q(Exists(partnership)) & Q(Exists(reseller_row))


def customer_relationships_visible_to(partner: Organization) -> QuerySet[CustomerRelationship]:
    """The active relationships through which ``partner`` sees customers (one row per customer for a
    reseller; for a provider, one per customer and reseller it shares that customer with)."""
    rows = CustomerRelationship.objects.filter(partner=partner, status=ACTIVE)
    if partner.kind == Organization.Kind.RESELLER:
        return rows.filter(role=PartnerRole.RESELLER)
    if partner.kind == Organization.Kind.PROVIDER:
        return rows.filter(role=PartnerRole.PROVIDER).filter(_provider_links_live())
    return rows.none()


def customer_relationship_for(partner: Organization, customer_public_id) -> CustomerRelationship:
    """The relationship through which ``partner`` sees this customer, or 404 (another tenant's customer
    and a customer whose relationship ended look the same)."""
    relationship = (
        customer_relationships_visible_to(partner)
        .select_related("customer", "reseller")
        .filter(customer__public_id=customer_public_id)
        .order_by("id")
        .first()
    )
    if relationship is None:
        raise Http404
    return relationship


def reseller_relationship(customer: Organization, reseller: Organization) -> CustomerRelationship | None:
    return CustomerRelationship.objects.filter(
        customer=customer, partner=reseller, role=PartnerRole.RESELLER, status=ACTIVE
    ).first()


def delegated_admin_live(partner: Organization, customer: Organization, *, now=None):
    """The partner's live delegated admin relationship in the customer (None when none, or ended)."""
    return DelegatedAdminRelationship.objects.filter(
        partner=partner, customer=customer, status__in=DELEGATED_ADMIN_LIVE, ends_at__gt=now or timezone.now()
    ).first()


def delegated_roles(partner: Organization, customer: Organization, *, now=None) -> frozenset[str]:
    relationship = delegated_admin_live(partner, customer, now=now)
    return frozenset(relationship.roles) if relationship else frozenset()


def partner_may(partner: Organization, customer: Organization, need: str, *, now=None) -> bool:
    """Whether ``partner`` may, right now, ``need`` (``"view"``, ``"order"`` or a delegated role) in the
    customer organization."""
    return PartnerAnswers(partner, customer, now=now).may(need)


class PartnerAnswers:
    """``partner_may`` for the checks of one request: each question put to the relationship selector once
    (does the partner see the customer; its live delegated roles there), then the same answers for every
    check of that request. A view makes one per request and never keeps it: the next request asks again.

    ``visible``: the relationship ``customer_relationship_for`` returned in this request for this partner
    and customer, which answered the first question already (the same rows, the same condition)."""

    def __init__(
        self,
        partner: Organization,
        customer: Organization,
        *,
        now=None,
        visible: CustomerRelationship | None = None,
    ):
        self.partner, self.customer, self.now = partner, customer, now
        self._sees: bool | None = None
        self._roles: frozenset[str] | None = None
        if (
            visible is not None
            and visible.partner_id == partner.pk
            and visible.customer_id == customer.pk
            and visible.status == ACTIVE
        ):
            self._sees = True

    def concerns(self, partner: Organization, customer: Organization) -> bool:
        """Whether these are the answers for this partner and customer (any other pair asks afresh)."""
        return self.partner.pk == partner.pk and self.customer.pk == customer.pk

    @property
    def sees(self) -> bool:
        if self._sees is None:
            visible = customer_relationships_visible_to(self.partner).filter(customer=self.customer)
            self._sees = visible.exists()
        return self._sees

    @property
    def roles(self) -> frozenset[str]:
        """The partner's live delegated roles in the customer (none when it does not see the customer)."""
        if self._roles is None:
            self._roles = (
                delegated_roles(self.partner, self.customer, now=self.now) if self.sees else frozenset()
            )
        return self._roles

    def may(self, need: str) -> bool:
        """``partner_may(partner, customer, need)``, from this request's answers."""
        if not self.sees:
            return False
        if need == NEED_VIEW:
            return True
        if need == NEED_ORDER:
            return self.partner.kind == Organization.Kind.PROVIDER
        if need in DelegatedRole.values:
            return role_satisfied(self.roles, need)
        raise ValueError(f"Unknown need {need!r}")


def role_satisfied(roles, need: str) -> bool:
    """Whether holding ``roles`` gives ``need``: the role itself, or Global administrator (which may do
    anything in the tenant)."""
    return need in roles or DelegatedRole.GLOBAL_ADMIN in roles


def delegated_admins_of_partner(partner: Organization) -> QuerySet[DelegatedAdminRelationship]:
    """The partner's delegated admin relationships with customers it still sees. A reseller's through a
    join on its own active relationship (one row per customer: the constraint), so the read is scoped to
    the partner in the statement itself."""
    rows = DelegatedAdminRelationship.objects.filter(partner=partner)
    if partner.kind == Organization.Kind.RESELLER:
        return rows.filter(
            customer__partner_relationships__partner=partner,
            customer__partner_relationships__role=PartnerRole.RESELLER,
            customer__partner_relationships__status=ACTIVE,
        )
    visible = customer_relationships_visible_to(partner).filter(customer=OuterRef("customer"))
    return rows.filter(Exists(visible))


def delegated_admins_expiring(partner: Organization, *, days: int = 30, now=None) -> QuerySet:
    """The expiry radar: live relationships of ``partner`` that end in the next ``days`` days."""
    now = now or timezone.now()
    return (
        delegated_admins_of_partner(partner)
        .filter(status__in=DELEGATED_ADMIN_LIVE, ends_at__gt=now, ends_at__lte=now + timedelta(days=days))
        .select_related("customer")
        .order_by("ends_at", "id")
    )


def partners_of_customer(customer: Organization) -> QuerySet[CustomerRelationship]:
    """The customer's partner relationships, active first, each with its partner and reseller."""
    return (
        CustomerRelationship.objects.filter(customer=customer)
        .select_related("partner", "reseller")
        .order_by("status", "-started_at", "id")
    )


def delegated_admins_of_customer(customer: Organization) -> QuerySet[DelegatedAdminRelationship]:
    return DelegatedAdminRelationship.objects.filter(customer=customer).select_related("partner")


def customer_invitations_of(reseller: Organization) -> QuerySet[CustomerInvitation]:
    return CustomerInvitation.objects.filter(organization=reseller).select_related("provider", "invited_by")


def pending_approvals_of(customer: Organization) -> QuerySet[DelegatedAdminRelationship]:
    return delegated_admins_of_customer(customer).filter(status=DelegatedAdminStatus.APPROVAL_PENDING)


def customer_organizations_administered(user) -> list[Organization]:
    """The customer organizations in which ``user`` may accept partners (manage partner relationships)."""
    from accounts.models import Membership
    from accounts.roles import Permission, permissions_for

    memberships = (
        Membership.objects.filter(
            user=user,
            status=Membership.Status.ACTIVE,
            organization__kind=Organization.Kind.CUSTOMER,
            organization__status=Organization.Status.ACTIVE,
        )
        .select_related("organization")
        .prefetch_related("roles")
        .order_by("organization__legal_name", "organization_id")
    )
    return [
        membership.organization
        for membership in memberships
        if Permission.PARTNERS_MANAGE in permissions_for(membership.role_names)
    ]


# --- The dashboard's figures (accounts.dashboard): expressions of OuterRef("organization") ------------


def _reseller_access_expiring() -> QuerySet[DelegatedAdminRelationship]:
    """``delegated_admins_expiring(reseller, days=EXPIRING_DAYS)``, the reseller being
    ``OuterRef("organization")`` and now the statement's time: the same rows, in the same order (the
    radar's index serves it)."""
    now = Now()
    return DelegatedAdminRelationship.objects.filter(
        partner=OuterRef("organization"),
        # as in delegated_admins_of_partner: a reseller sees a customer through its own active relationship
        customer__partner_relationships__partner=OuterRef("organization"),
        customer__partner_relationships__role=PartnerRole.RESELLER,
        customer__partner_relationships__status=ACTIVE,
        status__in=DELEGATED_ADMIN_LIVE,
        ends_at__gt=now,
        ends_at__lte=now + Value(timedelta(days=EXPIRING_DAYS)),
    ).order_by("ends_at", "id")


def reseller_access_expiring_figure() -> Subquery:
    """The reseller's delegated admin access that ends next (within EXPIRING_DAYS), as a JSON object:
    ``ends_at`` (ISO 8601), the customer's ``legal_name`` and ``public_id``; None when there is none.
    One subquery, not one per column: PostgreSQL plans each subquery anew on every request."""
    return Subquery(
        _reseller_access_expiring().values(
            json=JSONObject(
                ends_at="ends_at", legal_name="customer__legal_name", public_id="customer__public_id"
            )
        )[:1],
        output_field=JSONField(),
    )


def customer_request_pending_id_figure() -> Subquery:
    """The public id of the customer's oldest request for delegated admin roles to answer
    (``pending_approvals_of``)."""
    return Subquery(
        DelegatedAdminRelationship.objects.filter(
            customer=OuterRef("organization"), status=DelegatedAdminStatus.APPROVAL_PENDING
        )
        .order_by("requested_at", "id")
        .values("public_id")[:1]
    )


def customer_access_ending_at_figure() -> Subquery:
    """When the live delegated admin access in the customer's tenant that ends next ends."""
    return Subquery(
        DelegatedAdminRelationship.objects.filter(
            customer=OuterRef("organization"), status__in=DELEGATED_ADMIN_LIVE, ends_at__gt=Now()
        )
        .order_by("ends_at", "id")
        .values("ends_at")[:1]
    )

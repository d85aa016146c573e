"""The customer ends a partner relationship, after a page that shows what it affects.

Ending the reseller of record ends, with it, every provider relationship that came through that reseller
and the reseller's delegated admin access (live or requested). Ending a provider relationship ends that
one only. The partners are told; every organization involved has the events in its activity log.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.roles import Permission
from accounts.services.memberships import organization_lock
from customers.models import (
    DELEGATED_ADMIN_LIVE,
    RELATIONSHIP_STATUS,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    PartnerRole,
    RelationshipSide,
    RelationshipStatus,
)
from customers.services.common import notify
from customers.services.delegated import delegated_admin_close
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.text import text_clean
from portal.transitions import transition_apply


def relationship_effects(relationship: CustomerRelationship) -> dict:
    """What ending ``relationship`` would end: the relationships (itself first) and the delegated admin
    relationships (live or pending)."""
    relationships = [relationship]
    partners = [relationship.partner_id]
    if relationship.role == PartnerRole.RESELLER:
        through = list(
            CustomerRelationship.objects.filter(
                customer=relationship.customer_id,
                reseller=relationship.partner_id,
                role=PartnerRole.PROVIDER,
                status=RelationshipStatus.ACTIVE,
            ).select_related("partner")
        )
        relationships += through
        partners += [row.partner_id for row in through]
    delegated = list(
        DelegatedAdminRelationship.objects.filter(
            customer=relationship.customer_id,
            partner__in=partners,
            status__in=[*DELEGATED_ADMIN_LIVE, DelegatedAdminStatus.APPROVAL_PENDING],
        ).select_related("partner")
    )
    if relationship.role == PartnerRole.PROVIDER:
        # the provider keeps delegated access it holds through another reseller's relationship
        others = CustomerRelationship.objects.filter(
            customer=relationship.customer_id,
            partner=relationship.partner_id,
            status=RelationshipStatus.ACTIVE,
        ).exclude(pk=relationship.pk)
        if others.exists():
            delegated = []
    return {"relationships": relationships, "delegated_admins": delegated}


@transaction.atomic
def customer_relationship_end(
    *, relationship: CustomerRelationship, by: Membership, reason: str = ""
) -> dict:
    """The customer ends a partner relationship (and what depends on it); returns what ended."""
    customer = organization_lock(relationship.customer)
    if by.organization_id != customer.pk or relationship.customer_id != customer.pk:
        raise DomainError(_("This relationship is not yours."), code="not_yours")
    by = actor_refresh_customer(by, customer)
    reason = text_clean(reason, field="reason", required=False, max_length=1000)
    relationship = (
        CustomerRelationship.objects.select_for_update(of=("self",))
        .select_related("partner", "reseller")
        .get(pk=relationship.pk)
    )
    if relationship.status != RelationshipStatus.ACTIVE:
        raise DomainError(_("This relationship has already ended."), code="already_ended")
    effects = relationship_effects(relationship)
    now = timezone.now()
    for row in effects["relationships"]:
        row = transition_apply(
            row,
            RelationshipStatus.ENDED,
            transitions=RELATIONSHIP_STATUS,
            action="customer_relationship.ended",
            actor=by.user,
            organization_id=customer.pk,
            changes={
                "ended_at": now,
                "ended_by": by.user,
                "ended_by_side": RelationshipSide.CUSTOMER,
                "end_reason": reason,
            },
            audit_after={"partner": row.partner.legal_name, "role": row.role, "reason": reason},
        )
        audit_record(
            action="customer_relationship.ended",
            actor=by.user,
            organization_id=row.partner_id,
            target=row,
            before={"status": RelationshipStatus.ACTIVE},
            after={
                "status": RelationshipStatus.ENDED,
                "customer": customer.legal_name,
                "role": row.role,
                "reason": reason,
            },
        )
    for delegated in effects["delegated_admins"]:
        delegated = (
            DelegatedAdminRelationship.objects.select_for_update(of=("self",))
            .select_related("customer", "partner")
            .get(pk=delegated.pk)
        )
        if delegated.status in (*DELEGATED_ADMIN_LIVE, DelegatedAdminStatus.APPROVAL_PENDING):
            delegated_admin_close(
                delegated, DelegatedAdminStatus.TERMINATED, actor=by.user, reason="relationship_ended"
            )
    for row in effects["relationships"]:
        if row.role == PartnerRole.PROVIDER and relationship.role == PartnerRole.PROVIDER:
            # the reseller the provider served the customer through hears of it too
            audit_record(
                action="customer_relationship.ended",
                actor=by.user,
                organization_id=row.reseller_id,
                target=row,
                before={"status": RelationshipStatus.ACTIVE},
                after={"status": RelationshipStatus.ENDED, "customer": customer.legal_name, "role": row.role},
            )
            notify(
                row.reseller,
                template="customer_relationship_ended",
                context={
                    "customer_name": customer.legal_name,
                    "partner_name": row.partner.legal_name,
                    "role": row.role,
                    "reseller_name": row.reseller.legal_name,
                    "since": row.started_at,
                    "reason": reason,
                },
                dedupe_key=f"customer_relationship:{row.pk}:ended:reseller",
            )
        notify(
            row.partner,
            template="customer_relationship_ended",
            context={
                "customer_name": customer.legal_name,
                "partner_name": row.partner.legal_name,
                "role": row.role,
                "reseller_name": row.reseller.legal_name,
                "since": row.started_at,
                "reason": reason,
            },
            dedupe_key=f"customer_relationship:{row.pk}:ended",
        )
    return effects


def actor_refresh_customer(by: Membership, customer) -> Membership:
    from providers.services.common import actor_refresh

    return actor_refresh(by, customer, Permission.PARTNERS_MANAGE)


def provider_relationships_end_for_partnership(sender, *, partnership, by, **kwargs) -> None:
    """Receiver of ``providers.signals.partnership_ended``: the provider's customer relationships that came
    through this reseller end with the partnership (a later partnership does not bring them back; the
    reseller invites the customer with the provider again). Audited in the three organizations; the
    customer's administrators are told."""
    rows = list(
        CustomerRelationship.objects.select_for_update(of=("self",))
        .select_related("customer", "partner", "reseller")
        .filter(
            partner=partnership.provider_id,
            reseller=partnership.reseller_id,
            role=PartnerRole.PROVIDER,
            status=RelationshipStatus.ACTIVE,
        )
    )
    now = timezone.now()
    for row in rows:
        row = transition_apply(
            row,
            RelationshipStatus.ENDED,
            transitions=RELATIONSHIP_STATUS,
            action="customer_relationship.ended",
            actor=by,
            organization_id=row.customer_id,
            changes={
                "ended_at": now,
                "ended_by": by,
                "ended_by_side": RelationshipSide.PARTNER,
                "end_reason": "partnership_ended",
            },
            audit_after={"partner": row.partner.legal_name, "role": row.role, "reason": "partnership_ended"},
        )
        for organization_id in (row.partner_id, row.reseller_id):
            audit_record(
                action="customer_relationship.ended",
                actor=by,
                organization_id=organization_id,
                target=row,
                before={"status": RelationshipStatus.ACTIVE},
                after={
                    "status": RelationshipStatus.ENDED,
                    "customer": row.customer.legal_name,
                    "reason": "partnership_ended",
                },
            )
        notify(
            row.customer,
            template="customer_provider_ended",
            context={
                "customer_name": row.customer.legal_name,
                "provider_name": row.partner.legal_name,
                "reseller_name": row.reseller.legal_name,
            },
            dedupe_key=f"customer_relationship:{row.pk}:partnership_ended",
        )

"""What the commerce services share: the audit row in every organization concerned, and the emails to
the customer's administrators, the reseller and the provider, each in their own language."""

from __future__ import annotations

from accounts.models import Organization
from accounts.roles import Permission
from portal.audit.services import audit_record
from providers.services.common import organization_email

#: who hears about orders and subscriptions, per kind of organization
NOTIFIED_PERMISSION = {
    Organization.Kind.RESELLER: Permission.CUSTOMERS_MANAGE,
    Organization.Kind.PROVIDER: Permission.CUSTOMERS_MANAGE,
    Organization.Kind.CUSTOMER: Permission.BILLING_VIEW,
}


def parties(*organizations: Organization | None) -> list[Organization]:
    """Each organization once, in the order given, without the missing ones."""
    seen, result = set(), []
    for organization in organizations:
        if organization is not None and organization.pk not in seen:
            seen.add(organization.pk)
            result.append(organization)
    return result


def audit_parties(
    *,
    action: str,
    actor,
    organizations,
    target,
    acting_partner: Organization | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """One audit row in each organization concerned; ``acting_partner`` (a reseller or a provider that
    acted in the customer's organization) is named in each."""
    extra = {"acting_partner": acting_partner.legal_name} if acting_partner is not None else {}
    for organization in parties(*organizations):
        audit_record(
            action=action,
            actor=actor,
            organization_id=organization.pk,
            target=target,
            before=before,
            after={**(after or {}), **extra},
        )


def notify_parties(*, organizations, template: str, context: dict, dedupe_key: str) -> int:
    """Email the members of each organization who look after orders (a partner's customer managers, a
    customer's billing administrators), each once, in their own language."""
    sent = 0
    for organization in parties(*organizations):
        sent += organization_email(
            organization,
            template=template,
            context={"recipient_kind": organization.kind, **context},
            dedupe_key=f"{dedupe_key}:{organization.pk}",
            permission=NOTIFIED_PERMISSION[organization.kind],
        )
    return sent

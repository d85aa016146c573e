"""The customer's side of an invitation: its organization (created here when the administrator has none
yet, with its directory tenant), then **Accept** or **Decline**.

Accepting makes the reseller the customer's reseller of record, the provider (a with-provider invitation)
a partner that may submit orders, and starts the delegated admin relationship with the requested roles,
from now until now + the duration. Two people accepting at once, accepting twice, or accepting while the
reseller revokes give at most one of each: the link is consumed by a compare-and-swap and the database
keeps one active relationship per customer, partner and role.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.models import DirectoryTenant, Organization, User
from accounts.services.memberships import organization_create, organization_lock
from customers.models import (
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    PartnerRole,
)
from customers.selectors import customer_organizations_administered, reseller_relationship
from customers.services.common import delegated_terms_clean, notify, role_lines
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.invitations import services as links
from portal.invitations.binding import InvitationUnusable
from portal.text import text_clean
from providers.models import Partnership

LIVE = (DelegatedAdminStatus.ACTIVE, DelegatedAdminStatus.EXPIRING)


def delegated_end(start, days: int):
    return start + timedelta(days=days)


CONSENT_REQUIRED = _("Tick the box to confirm that you grant these rights.")
NOT_AN_ADMIN = _(
    "Only a Global admin of the customer organization can accept. Choose one of your customer "
    "organizations, or create your organization first."
)


def already_customer_message(reseller: Organization, customer: Organization) -> str:
    return _(
        "%(reseller)s is already the reseller of %(customer)s. Nothing was added: to change its delegated "
        "admin roles, ask %(reseller)s to send a new role request from its Customers page."
    ) % {"reseller": reseller.legal_name, "customer": customer.legal_name}


def _live_partnership(invitation: CustomerInvitation) -> Partnership | None:
    return Partnership.objects.filter(
        provider=invitation.provider_id, reseller=invitation.organization_id, status=Partnership.Status.ACTIVE
    ).first()


def customer_invitation_check(
    invitation: CustomerInvitation,
    user: User,
    *,
    customer: Organization | None = None,
    to_accept: bool = True,
) -> None:
    """Raise InvitationUnusable unless ``user`` may accept (or decline) now, for ``customer`` if given."""
    links.link_invitation_check(invitation, user)
    if not to_accept:
        return
    if invitation.organization.status != Organization.Status.ACTIVE or (
        invitation.provider_id and invitation.provider.status != Organization.Status.ACTIVE
    ):
        raise InvitationUnusable(_("This reseller can no longer invite customers."), code="reseller_inactive")
    # the terms are checked again as they are granted (a row made by an older rule cannot slip through)
    try:
        delegated_terms_clean(
            roles=invitation.roles, duration_days=invitation.duration_days, auto_extend=invitation.auto_extend
        )
    except DomainError as error:
        raise InvitationUnusable(error.message, code=error.code) from None
    if invitation.with_provider and _live_partnership(invitation) is None:
        raise InvitationUnusable(
            _(
                "%(provider)s is no longer the indirect provider of %(reseller)s: this invitation cannot be "
                "accepted. Ask %(reseller)s for a new one."
            )
            % {"provider": invitation.provider.legal_name, "reseller": invitation.organization.legal_name},
            code="partnership_ended",
        )
    if customer is not None:
        if customer.pk not in {org.pk for org in customer_organizations_administered(user)}:
            raise InvitationUnusable(NOT_AN_ADMIN, code="not_customer_admin")
        if reseller_relationship(customer, invitation.organization) is not None:
            raise InvitationUnusable(
                already_customer_message(invitation.organization, customer), code="already_customer"
            )


def _relationship_create(*, customer, partner, role, reseller, invitation, user) -> CustomerRelationship:
    try:
        with transaction.atomic():
            return CustomerRelationship.objects.create(
                customer=customer,
                partner=partner,
                role=role,
                reseller=reseller,
                customer_name=customer.legal_name,
                invitation=invitation,
                accepted_by=user,
            )
    except IntegrityError:
        if role == PartnerRole.PROVIDER:
            raise InvitationUnusable(
                _("%(provider)s already serves %(customer)s through %(reseller)s.")
                % {
                    "provider": partner.legal_name,
                    "customer": customer.legal_name,
                    "reseller": reseller.legal_name,
                },
                code="already_provider",
            ) from None
        raise InvitationUnusable(
            already_customer_message(reseller, customer), code="already_customer"
        ) from None


@transaction.atomic
def customer_invitation_accept(
    *, invitation: CustomerInvitation, user: User, customer: Organization, consent: bool
) -> CustomerRelationship:
    """The customer accepts: reseller of record (and provider), and the delegated admin roles, now."""
    if not consent:
        raise DomainError(CONSENT_REQUIRED, code="consent_required", field="consent")
    # Lock order: provider, reseller (as every partnership write), then the customer.
    if invitation.provider_id:
        organization_lock(invitation.provider)
    reseller = organization_lock(invitation.organization)
    customer = organization_lock(customer)
    invitation = CustomerInvitation.objects.select_related("organization", "provider", "invited_by").get(
        pk=invitation.pk
    )
    customer_invitation_check(invitation, user, customer=customer)
    links.link_invitation_consume(invitation, user=user, audit_after={"customer": customer.legal_name})
    CustomerInvitation.objects.filter(pk=invitation.pk).update(customer=customer)
    relationship = _relationship_create(
        customer=customer,
        partner=reseller,
        role=PartnerRole.RESELLER,
        reseller=reseller,
        invitation=invitation,
        user=user,
    )
    provider_row = None
    if invitation.with_provider:
        provider_row = _relationship_create(
            customer=customer,
            partner=invitation.provider,
            role=PartnerRole.PROVIDER,
            reseller=reseller,
            invitation=invitation,
            user=user,
        )
    now = timezone.now()
    # A request the reseller left pending, from an earlier relationship, is superseded by this grant.
    for stale in DelegatedAdminRelationship.objects.select_for_update().filter(
        customer=customer, partner=reseller, status__in=[DelegatedAdminStatus.APPROVAL_PENDING, *LIVE]
    ):
        from customers.services.delegated import delegated_admin_close

        delegated_admin_close(stale, DelegatedAdminStatus.TERMINATED, actor=user, reason="superseded")
    delegated = DelegatedAdminRelationship.objects.create(
        customer=customer,
        partner=reseller,
        roles=list(invitation.roles),
        duration_days=invitation.duration_days,
        auto_extend=invitation.auto_extend,
        status=DelegatedAdminStatus.ACTIVE,
        invitation=invitation,
        requested_by=invitation.invited_by,
        requested_at=invitation.created_at,
        approved_by=user,
        starts_at=now,
        ends_at=delegated_end(now, invitation.duration_days),
    )
    summary = {
        "customer": customer.legal_name,
        "reseller": reseller.legal_name,
        "provider": invitation.provider.legal_name if invitation.provider_id else "",
        "roles": delegated.roles_in_order,
        "ends_at": delegated.ends_at.isoformat(),
    }
    involved = [customer, reseller, *([invitation.provider] if invitation.provider_id else [])]
    for organization in involved:
        audit_record(
            action="customer_relationship.created",
            actor=user,
            organization=organization,
            target=relationship,
            after=summary,
        )
    for organization in (customer, reseller):
        audit_record(
            action="delegated_admin.activated",
            actor=user,
            organization=organization,
            target=delegated,
            after={
                "partner": reseller.legal_name,
                "roles": delegated.roles_in_order,
                "ends_at": delegated.ends_at.isoformat(),
            },
        )
    context = {
        "customer_name": customer.legal_name,
        "reseller_name": reseller.legal_name,
        "provider_name": invitation.provider.legal_name if invitation.provider_id else "",
        "roles": role_lines(delegated.roles),
        "ends_at": delegated.ends_at,
    }
    notify(
        reseller,
        template="customer_invitation_accepted",
        context=context,
        dedupe_key=f"customer_invitation:{invitation.pk}:accepted",
        extra_users=[invitation.invited_by],
    )
    if provider_row is not None:
        notify(
            invitation.provider,
            template="customer_shared",
            context=context,
            dedupe_key=f"customer_invitation:{invitation.pk}:shared",
        )
    return relationship


@transaction.atomic
def customer_invitation_decline(
    *, invitation: CustomerInvitation, user: User, reason: str = ""
) -> CustomerInvitation:
    """The recipient says no, optionally why; the reseller is told."""
    organization_lock(invitation.organization)
    invitation = CustomerInvitation.objects.select_related("organization", "provider", "invited_by").get(
        pk=invitation.pk
    )
    customer_invitation_check(invitation, user, to_accept=False)
    reason = text_clean(reason, field="reason", required=False, max_length=500)
    links.link_invitation_decline(invitation, user=user, reason=reason)
    notify(
        invitation.organization,
        template="customer_invitation_declined",
        context={"email": invitation.email, "customer_name": invitation.customer_name, "reason": reason},
        dedupe_key=f"customer_invitation:{invitation.pk}:declined",
        extra_users=[invitation.invited_by],
    )
    return invitation


# --- The customer organization ---------------------------------------------------------------------


def _address(values: dict, country: str) -> dict:
    from django.core.exceptions import ValidationError

    from enrollment.validation.address import address_clean

    try:
        return address_clean(values, country=country)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise DomainError(messages[0], code="address_invalid", field=field) from None


@transaction.atomic
def customer_organization_create(
    *, user: User, legal_name: str, country: str, address: dict, verified
) -> Organization:
    """A customer organization with ``user`` as its first Global admin, owning the directory tenant the
    user just proved control of (``verified``: an ``enrollment.directory.base.VerifiedTenant``)."""
    from django.core.exceptions import ValidationError

    from enrollment.directory.base import TenantInUse
    from enrollment.directory.tenants import tenant_check_available
    from portal.validators import visible_text

    legal_name = text_clean(
        legal_name,
        field="legal_name",
        required=True,
        max_length=200,
        required_message=_("Enter the legal name."),
    )
    try:
        visible_text(legal_name)
    except ValidationError as error:
        raise DomainError(error.messages[0], code="legal_name_invalid", field="legal_name") from None
    country = str(country or "").upper()
    if country not in dict(countries):
        raise DomainError(_("Choose the country from the list."), code="country_invalid", field="country")
    if verified.country and verified.country != country:
        raise DomainError(
            _("Your tenant is registered in %(country)s: the organization's country must be the same.")
            % {"country": dict(countries)[verified.country]},
            code="country_mismatch",
            field="country",
        )
    address = _address(address, country)
    tenant_check_available(verified.tenant_id)
    tenant, _created = DirectoryTenant.objects.get_or_create(
        tenant_id=verified.tenant_id,
        defaults={
            "name": verified.display_name,
            "verified_domains": verified.verified_domains,
            "country": verified.country or country,
            "source": verified.source,
        },
    )
    try:
        with transaction.atomic():
            return organization_create(
                kind=Organization.Kind.CUSTOMER,
                legal_name=legal_name,
                country=country,
                global_admin=user,
                by=user,
                directory_tenant=tenant,
                **address,
            )
    except IntegrityError:
        raise TenantInUse(reason="tenant_linked") from None

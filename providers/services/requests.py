"""A reseller asks a provider, from its listing, to connect; the provider answers with an invitation
(providers.services.invitations, which moves the request on) or declines with a reason."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization
from accounts.roles import Permission
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.text import text_clean
from portal.transitions import transition_apply
from providers.models import REQUEST_STATUS, PartnershipRequest, ProviderListing
from providers.selectors import countries_served, partnership_active_between, request_open_between
from providers.services.common import actor_refresh, organization_email, organization_locked

NOT_SERVED = _(
    "%(provider)s does not serve resellers in %(country)s, so it cannot become your indirect provider. "
    "Find a provider that serves your country."
)


def country_served_require(
    listing: ProviderListing, reseller: Organization, *, field: str | None = None
) -> None:
    """The rule of every path to a partnership: the provider must serve the reseller's country."""
    if str(reseller.country) not in countries_served(listing):
        raise DomainError(
            NOT_SERVED % {"provider": listing.organization.legal_name, "country": reseller.country.name},
            code="country_not_served",
            field=field,
        )


def _request_context(request: PartnershipRequest) -> dict:
    return {
        "reseller_name": request.reseller.legal_name,
        "provider_name": request.provider.legal_name,
        "partner_id": request.reseller.partner_id or "",
        "message": request.message,
        "reason": request.reason,
    }


@transaction.atomic
def partnership_request_create(
    *, reseller: Organization, listing: ProviderListing, message: str, by: Membership
) -> PartnershipRequest:
    """Ask the provider to connect (one open request per pair; never to a current partner)."""
    reseller = organization_locked(reseller, kind=Organization.Kind.RESELLER)
    by = actor_refresh(by, reseller, Permission.PARTNERS_MANAGE)
    listing = ProviderListing.objects.select_related("organization").get(pk=listing.pk)
    if not listing.is_listed or listing.organization.status != Organization.Status.ACTIVE:
        raise DomainError(_("This provider is not in the directory any more."), code="not_listed")
    provider = listing.organization
    country_served_require(listing, reseller)
    if partnership_active_between(provider, reseller) is not None:
        raise DomainError(
            _("%(provider)s is already your indirect provider.") % {"provider": provider.legal_name},
            code="already_partners",
        )
    if request_open_between(reseller, provider) is not None:
        raise DomainError(
            _("You have already asked %(provider)s; it has not answered yet.")
            % {"provider": provider.legal_name},
            code="request_open",
        )
    message = text_clean(message, field="message", required=False, max_length=1000)
    request = PartnershipRequest.objects.create(
        reseller=reseller, provider=provider, message=message, requested_by=by.user
    )
    for organization in (reseller, provider):
        audit_record(
            action="partnership_request.created",
            actor=by.user,
            organization=organization,
            target=request,
            after={"reseller": reseller.legal_name, "provider": provider.legal_name},
        )
    organization_email(
        provider,
        template="partnership_request",
        context=_request_context(request),
        dedupe_key=f"partnership_request:{request.pk}:created",
    )
    return request


def _request_locked(request: PartnershipRequest) -> PartnershipRequest:
    return PartnershipRequest.objects.select_related("reseller", "provider", "requested_by").get(
        pk=request.pk
    )


@transaction.atomic
def partnership_request_decline(
    *, request: PartnershipRequest, by: Membership, reason: str
) -> PartnershipRequest:
    """The provider says no, and why; the reseller is told."""
    provider = organization_locked(request.provider, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, provider, Permission.PARTNERS_MANAGE)
    reason = text_clean(
        reason, field="reason", required=True, required_message=_("Tell the reseller why you decline.")
    )
    request = transition_apply(
        _request_locked(request),
        PartnershipRequest.Status.DECLINED,
        transitions=REQUEST_STATUS,
        action="partnership_request.declined",
        actor=by.user,
        organization_id=provider.pk,
        changes={"decided_at": timezone.now(), "decided_by": by.user, "reason": reason},
        audit_after={"reason": reason},
    )
    audit_record(
        action="partnership_request.declined",
        actor=by.user,
        organization_id=request.reseller_id,
        target=request,
        before={"status": PartnershipRequest.Status.OPEN},
        after={"status": request.status, "reason": reason},
    )
    request = _request_locked(request)
    organization_email(
        request.reseller,
        template="partnership_request_declined",
        context=_request_context(request),
        dedupe_key=f"partnership_request:{request.pk}:declined",
        extra_users=[request.requested_by],
    )
    return request


@transaction.atomic
def partnership_request_withdraw(*, request: PartnershipRequest, by: Membership) -> PartnershipRequest:
    """The reseller takes its request back."""
    reseller = organization_locked(request.reseller, kind=Organization.Kind.RESELLER)
    by = actor_refresh(by, reseller, Permission.PARTNERS_MANAGE)
    request = transition_apply(
        _request_locked(request),
        PartnershipRequest.Status.WITHDRAWN,
        transitions=REQUEST_STATUS,
        action="partnership_request.withdrawn",
        actor=by.user,
        organization_id=reseller.pk,
        changes={"decided_at": timezone.now(), "decided_by": by.user},
    )
    audit_record(
        action="partnership_request.withdrawn",
        actor=by.user,
        organization_id=request.provider_id,
        target=request,
        before={"status": PartnershipRequest.Status.OPEN},
        after={"status": request.status},
    )
    return request


def partnership_request_answered(request: PartnershipRequest, *, by, action: str) -> None:
    """open → invited, when the provider sends an invitation for it (inside the invitation's service)."""
    request = PartnershipRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != PartnershipRequest.Status.OPEN:
        return
    transition_apply(
        request,
        PartnershipRequest.Status.INVITED,
        transitions=REQUEST_STATUS,
        action=action,
        actor=by,
        organization_id=request.provider_id,
        changes={"decided_at": timezone.now(), "decided_by": by},
    )

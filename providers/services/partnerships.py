"""Authorising an indirect provider (accepting its invitation), declining, and ending a partnership.

Only an approved reseller organization (an organization of kind reseller exists only once its enrollment
was approved), by a Global admin or Admin agent, may authorise; the provider must serve the reseller's
country. Accepting twice, accepting a closed link, or two people accepting at once give exactly one
partnership: the link is consumed by a compare-and-swap, the provider's row is locked, and the database
keeps one active partnership per pair (``partnership_one_active_per_pair``).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization, User
from accounts.roles import Permission
from accounts.services.memberships import organization_lock
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.invitations import services as links
from portal.invitations.binding import InvitationUnusable
from portal.text import text_clean
from portal.transitions import transition_apply
from providers.models import (
    PARTNERSHIP_STATUS,
    Partnership,
    PartnershipInvitation,
    PartnershipRequest,
    ProviderListing,
)
from providers.selectors import partnership_active_between, reseller_memberships_authorizing
from providers.services.common import actor_refresh, organization_email
from providers.services.requests import country_served_require, partnership_request_answered
from providers.signals import partnership_ended

NOT_A_RESELLER = _(
    "Only an approved indirect reseller can authorise an indirect provider, by one of its Global admins or "
    "Admin agents. Sign in with such an account, or enroll your organization first."
)
CONSENT_REQUIRED = _("Tick the box to confirm that you authorise this provider.")


def acceptable_resellers(invitation: PartnershipInvitation, user: User) -> list[Organization]:
    """The reseller organizations for which ``user`` may accept this invitation (partner ID bound: only
    that reseller)."""
    organizations = [membership.organization for membership in reseller_memberships_authorizing(user)]
    if invitation.partner_id:
        organizations = [org for org in organizations if org.partner_id == invitation.partner_id]
    return organizations


def partnership_invitation_check(
    invitation: PartnershipInvitation,
    user: User,
    *,
    reseller: Organization | None = None,
    to_accept: bool = True,
) -> None:
    """Raise InvitationUnusable unless ``user`` may accept (or decline) now, for ``reseller`` if given."""
    links.link_invitation_check(invitation, user)
    if not to_accept:
        return
    choices = acceptable_resellers(invitation, user)
    if not choices:
        raise InvitationUnusable(NOT_A_RESELLER, code="not_a_reseller")
    if reseller is not None and reseller.pk not in {org.pk for org in choices}:
        raise InvitationUnusable(NOT_A_RESELLER, code="not_a_reseller")


def _listing(provider: Organization) -> ProviderListing:
    listing = ProviderListing.objects.select_related("organization").filter(organization=provider).first()
    if listing is None or listing.authorized_at is None or provider.status != Organization.Status.ACTIVE:
        raise InvitationUnusable(
            _("This provider is no longer authorised in the program."), code="provider_not_authorised"
        )
    return listing


def country_problem(invitation: PartnershipInvitation, reseller: Organization) -> str | None:
    """The explanation shown instead of the form when the provider does not serve the reseller's country."""
    try:
        country_served_require(_listing(invitation.organization), reseller)
    except DomainError as error:
        return str(error.message)
    return None


def _partnership_context(partnership: Partnership) -> dict:
    return {
        "provider_name": partnership.provider.legal_name,
        "reseller_name": partnership.reseller.legal_name,
        "partner_id": partnership.reseller.partner_id or "",
        "since": partnership.started_at,
        "reason": partnership.end_reason,
    }


@transaction.atomic
def partnership_authorize(
    *, invitation: PartnershipInvitation, user: User, reseller: Organization, consent: bool
) -> Partnership:
    """The reseller authorises the provider: the link is used up and the partnership begins."""
    if not consent:
        raise DomainError(CONSENT_REQUIRED, code="consent_required", field="consent")
    # Lock order: the provider, then the reseller (every partnership write takes them in this order).
    provider = organization_lock(invitation.organization)
    reseller = organization_lock(reseller)
    invitation = PartnershipInvitation.objects.select_related("organization", "invited_by").get(
        pk=invitation.pk
    )
    partnership_invitation_check(invitation, user, reseller=reseller)
    country_served_require(_listing(provider), reseller)
    if partnership_active_between(provider, reseller) is not None:
        raise InvitationUnusable(
            _("%(provider)s is already your indirect provider.") % {"provider": provider.legal_name},
            code="already_partners",
        )
    links.link_invitation_consume(invitation, user=user, audit_after={"reseller": reseller.legal_name})
    try:
        with transaction.atomic():
            partnership = Partnership.objects.create(
                provider=provider, reseller=reseller, invitation=invitation, authorized_by=user
            )
    except IntegrityError:
        raise InvitationUnusable(
            _("%(provider)s is already your indirect provider.") % {"provider": provider.legal_name},
            code="already_partners",
        ) from None
    for organization in (provider, reseller):
        audit_record(
            action="partnership.created",
            actor=user,
            organization=organization,
            target=partnership,
            after={
                "provider": provider.legal_name,
                "reseller": reseller.legal_name,
                "status": partnership.status,
            },
        )
    for request in PartnershipRequest.objects.filter(
        reseller=reseller, provider=provider, status=PartnershipRequest.Status.OPEN
    ):
        partnership_request_answered(request, by=user, action="partnership_request.invited")
    organization_email(
        provider,
        template="partnership_accepted",
        context=_partnership_context(partnership),
        dedupe_key=f"partnership:{partnership.pk}:accepted",
        extra_users=[invitation.invited_by],
    )
    return partnership


@transaction.atomic
def partnership_invitation_decline(
    *, invitation: PartnershipInvitation, user: User, reason: str = ""
) -> PartnershipInvitation:
    """The recipient says no, optionally why; the provider is told."""
    organization_lock(invitation.organization)
    invitation = PartnershipInvitation.objects.select_related("organization", "invited_by").get(
        pk=invitation.pk
    )
    partnership_invitation_check(invitation, user, to_accept=False)
    reason = text_clean(reason, field="reason", required=False, max_length=500)
    links.link_invitation_decline(invitation, user=user, reason=reason)
    organization_email(
        invitation.organization,
        template="partnership_declined",
        context={"email": invitation.email, "partner_id": invitation.partner_id, "reason": reason},
        dedupe_key=f"partnership_invitation:{invitation.pk}:declined",
        extra_users=[invitation.invited_by],
    )
    return invitation


@transaction.atomic
def partnership_end(*, partnership: Partnership, by: Membership, reason: str) -> Partnership:
    """Either side ends the partnership, with a reason; both sides are told; it stays in both histories."""
    provider = organization_lock(partnership.provider)
    reseller = organization_lock(partnership.reseller)
    side = by.organization
    if side.pk not in (provider.pk, reseller.pk):
        raise DomainError(_("This partnership is not yours."), code="not_a_side")
    by = actor_refresh(by, side, Permission.PARTNERS_MANAGE)
    reason = text_clean(
        reason, field="reason", required=True, required_message=_("Say why the partnership ends.")
    )
    partnership = transition_apply(
        partnership,
        Partnership.Status.ENDED,
        transitions=PARTNERSHIP_STATUS,
        action="partnership.ended",
        actor=by.user,
        organization_id=side.pk,
        changes={
            "ended_at": timezone.now(),
            "ended_by": by.user,
            "ended_by_side": partnership.side_of(side),
            "end_reason": reason,
        },
        audit_after={"reason": reason},
    )
    other = reseller if side.pk == provider.pk else provider
    audit_record(
        action="partnership.ended",
        actor=by.user,
        organization=other,
        target=partnership,
        before={"status": Partnership.Status.ACTIVE},
        after={"status": partnership.status, "reason": reason, "ended_by": side.legal_name},
    )
    partnership = Partnership.objects.select_related("provider", "reseller").get(pk=partnership.pk)
    partnership_ended.send(sender=Partnership, partnership=partnership, by=by.user)
    context = {**_partnership_context(partnership), "ended_by_name": side.legal_name}
    for organization in (provider, reseller):
        organization_email(
            organization,
            template="partnership_ended",
            context=context,
            dedupe_key=f"partnership:{partnership.pk}:ended:{organization.pk}",
        )
    return partnership

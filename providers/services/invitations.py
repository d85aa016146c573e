"""A provider's invitations to resellers, on the platform's link invitations (portal.invitations).

The provider gives the recipient's email (and, optionally, the reseller's partner ID, which then binds
the link to that reseller), gets an editable email draft holding the personalised link, and sends it
from its own mail app, copies it, or has the portal send it (the outbox; the link is stored sealed). A
link lives ``PARTNERSHIP_INVITATION_DAYS`` (30); ``PARTNERSHIP_REMINDER_DAYS`` (3) before its end the
recipient gets one reminder with a fresh link (the same invitation, the old link dead); then it expires
and the provider is told. Resend issues a new invitation (the old link dead), revoke withdraws it.
"""

import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import PARTNER_ID_PATTERN, Membership, Organization, User
from accounts.roles import Permission
from accounts.services.people import canonical_email
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.invitations import services as links
from portal.invitations.drafts import Draft, draft_clean, draft_email, draft_render, draft_token_require
from portal.invitations.models import LinkInvitationStatus
from portal.mail.services import email_enqueue
from providers.models import PartnershipInvitation, PartnershipRequest, ProviderListing
from providers.selectors import countries_served
from providers.services.common import actor_refresh, organization_email, organization_locked
from providers.services.requests import partnership_request_answered

Status = LinkInvitationStatus


def invitation_lifetime() -> timedelta:
    return timedelta(days=settings.PARTNERSHIP_INVITATION_DAYS)


def invitation_link(raw_token: str) -> str:
    return links.invitation_link(PartnershipInvitation.PURPOSE, raw_token)


def partner_id_clean(value: str, *, field: str = "partner_id") -> str:
    value = (value or "").strip()
    if value and not re.fullmatch(PARTNER_ID_PATTERN, value):
        raise DomainError(_("A partner ID is exactly 7 digits."), code="partner_id_format", field=field)
    return value


def email_clean(value: str, *, field: str = "email") -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    value = canonical_email(value or "")
    if not value:
        raise DomainError(_("Enter the reseller's email address."), code="required", field=field)
    try:
        validate_email(value)
    except ValidationError:
        raise DomainError(_("Enter a valid email address."), code="email_invalid", field=field) from None
    if len(value) > PartnershipInvitation._meta.get_field("email").max_length:
        raise DomainError(_("Enter a valid email address."), code="email_invalid", field=field)
    return value


def _language(language: str) -> str:
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _already_partner(provider: Organization, *, partner_id: str) -> bool:
    return (
        bool(partner_id)
        and provider.reseller_partnerships.filter(status="active", reseller__partner_id=partner_id).exists()
    )


def _issue(
    *,
    provider: Organization,
    email: str,
    partner_id: str,
    language: str,
    by: User,
    request: PartnershipRequest | None,
    bulk_run=None,
) -> tuple[PartnershipInvitation, str]:
    invitation, raw_token = links.link_invitation_issue(
        PartnershipInvitation,
        scope={"organization": provider},
        email=email,
        invited_by=by,
        rate_limit_key=str(provider.pk),
        lifetime=invitation_lifetime(),
        audit_after={"partner_id": partner_id} if partner_id else None,
        partner_id=partner_id,
        language=language,
        request=request,
        bulk_run=bulk_run,
    )
    if request is not None:
        partnership_request_answered(request, by=by, action="partnership_request.invited")
    return invitation, raw_token


@transaction.atomic
def partnership_invitation_create(
    *,
    provider: Organization,
    email: str,
    by: Membership,
    partner_id: str = "",
    language: str = "",
    request: PartnershipRequest | None = None,
    bulk_run=None,
) -> tuple[PartnershipInvitation, str]:
    """A pending invitation and its raw token (the only time it exists): the draft holds the link."""
    provider = organization_locked(provider, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, provider, Permission.PARTNERS_MANAGE)
    email = email_clean(email)
    partner_id = partner_id_clean(partner_id)
    if request is not None and request.provider_id != provider.pk:
        raise DomainError(_("This request is not yours."), code="request_unknown")
    if _already_partner(provider, partner_id=partner_id):
        raise DomainError(
            _("The reseller with partner ID %(partner_id)s is already your partner.")
            % {"partner_id": partner_id},
            code="already_partners",
            field="partner_id",
        )
    return _issue(
        provider=provider,
        email=email,
        partner_id=partner_id,
        language=_language(language or by.user.preferred_language),
        by=by.user,
        request=request,
        bulk_run=bulk_run,
    )


def _draft_context(invitation: PartnershipInvitation, raw_token: str) -> dict:
    provider = invitation.organization
    listing = ProviderListing.objects.filter(organization=provider).first()
    return {
        "provider_name": provider.legal_name,
        "inviter_name": invitation.invited_by.get_full_name() if invitation.invited_by else "",
        "partner_id": invitation.partner_id,
        "countries": sorted(countries_served(listing)) if listing else [],
        "link": invitation_link(raw_token),
        "expires_at": invitation.expires_at,
    }


def invitation_draft(*, invitation: PartnershipInvitation, raw_token: str) -> Draft:
    """The email the provider may edit: subject and text in the invitation's language, with the link."""
    return draft_render(
        template="partnership_invitation",
        context=_draft_context(invitation, raw_token),
        language=invitation.language,
        link=invitation_link(raw_token),
    )


def _email(invitation: PartnershipInvitation, raw_token: str, *, subject: str, body: str, by: User) -> None:
    draft_email(
        to=invitation.email,
        link=invitation_link(raw_token),
        raw_token=raw_token,
        subject=subject,
        body=body,
        language=invitation.language,
        template="partnership_invitation",
        organization_id=invitation.organization_id,
        dedupe_key=f"partnership_invitation:{invitation.pk}:{invitation.token_hash[:16]}",
        reply_to=invitation.invited_by.email if invitation.invited_by else "",
    )
    PartnershipInvitation.objects.filter(pk=invitation.pk).update(emailed_at=timezone.now())
    audit_record(
        action="partnership_invitation.emailed",
        actor=by,
        organization_id=invitation.organization_id,
        target=invitation,
        after={"email": invitation.email},
    )


@transaction.atomic
def partnership_invitation_email(
    *, invitation: PartnershipInvitation, raw_token: str, subject: str, body: str, by: Membership
) -> PartnershipInvitation:
    """The portal sends the provider's (edited) draft; the personalised link must still be in it."""
    provider = organization_locked(invitation.organization, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, provider, Permission.PARTNERS_MANAGE)
    invitation = PartnershipInvitation.objects.select_for_update().get(
        pk=invitation.pk, organization=provider
    )
    draft_token_require(invitation, raw_token)
    if invitation.emailed_at is not None:
        raise DomainError(
            _("The portal already emailed this invitation. Resend it to send a new link."),
            code="already_emailed",
        )
    if not invitation.is_pending or invitation.is_expired:
        raise DomainError(
            _("This invitation is no longer pending. Resend it to get a new link."), code="invitation_closed"
        )
    subject, body = draft_clean(subject=subject, body=body, link=invitation_link(raw_token))
    _email(invitation, raw_token, subject=subject, body=body, by=by.user)
    invitation.refresh_from_db()
    return invitation


def invitation_send_default(invitation: PartnershipInvitation, raw_token: str, *, by: User) -> None:
    """Send the unedited draft (bulk runs); inside the caller's transaction."""
    draft = invitation_draft(invitation=invitation, raw_token=raw_token)
    _email(invitation, raw_token, subject=draft.subject, body=draft.body, by=by)


@transaction.atomic
def partnership_invitation_resend(
    *, invitation: PartnershipInvitation, by: Membership
) -> tuple[PartnershipInvitation, str]:
    """A new link to the same recipient; a pending old one is closed (its link dead)."""
    provider = organization_locked(invitation.organization, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, provider, Permission.PARTNERS_MANAGE)
    invitation = PartnershipInvitation.objects.select_for_update().get(
        pk=invitation.pk, organization=provider
    )
    if invitation.status == Status.ACCEPTED:
        raise DomainError(
            _("This invitation was accepted: there is nothing to resend."), code="invitation_accepted"
        )
    if _already_partner(provider, partner_id=invitation.partner_id):
        raise DomainError(
            _("The reseller with partner ID %(partner_id)s is already your partner.")
            % {"partner_id": invitation.partner_id},
            code="already_partners",
        )
    return _issue(
        provider=provider,
        email=invitation.email,
        partner_id=invitation.partner_id,
        language=invitation.language,
        by=by.user,
        request=None,
    )


@transaction.atomic
def partnership_invitation_revoke(
    *, invitation: PartnershipInvitation, by: Membership
) -> PartnershipInvitation:
    provider = organization_locked(invitation.organization, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, provider, Permission.PARTNERS_MANAGE)
    invitation = PartnershipInvitation.objects.get(pk=invitation.pk, organization=provider)
    links.link_invitation_revoke(invitation, by=by.user)
    return invitation


# --- Deadlines (beat) --------------------------------------------------------------------------------


def partnership_invitations_remind_due(*, limit: int = 500) -> int:
    """One reminder, ``PARTNERSHIP_REMINDER_DAYS`` before the end, with a fresh link (same invitation and
    end date; the earlier link is dead). Safe to run again."""

    def remind(invitation: PartnershipInvitation, raw_token: str) -> None:
        email_enqueue(
            to=invitation.email,
            template="partnership_invitation_reminder",
            context=_draft_context(invitation, raw_token),
            language=invitation.language,
            secrets=("link",),
            organization_id=invitation.organization_id,
            dedupe_key=f"partnership_invitation:{invitation.pk}:reminder",
        )

    return links.link_invitations_remind_due(
        PartnershipInvitation,
        within=timedelta(days=settings.PARTNERSHIP_REMINDER_DAYS),
        remind=remind,
        select_related=("organization", "invited_by"),
        limit=limit,
    )


def partnership_invitations_expire_due(*, limit: int = 500) -> int:
    """pending → expired past the end date; the provider (the sender and its partner managers) is told."""

    def tell(invitation: PartnershipInvitation) -> None:
        organization_email(
            invitation.organization,
            template="partnership_invitation_expired",
            context={"email": invitation.email, "partner_id": invitation.partner_id},
            dedupe_key=f"partnership_invitation:{invitation.pk}:expired",
            extra_users=[invitation.invited_by],
        )

    return links.link_invitations_expire_due(
        PartnershipInvitation, limit=limit, on_expired=tell, select_related=("organization", "invited_by")
    )

"""A reseller's invitations to customers, on the platform's link invitations (portal.invitations).

Two kinds, each from its own page: **Request a reseller relationship** (the reseller only, from the
Customers page) and **Invite new customer** (the reseller and one of its providers with a live
partnership, from the Indirect providers page). Both carry the delegated admin request (roles, duration,
auto-extend) and give an editable email draft holding the personalised link: sent from the reseller's
mail app, copied, or sent by the portal (the outbox; the link stored sealed). A link lives
``CUSTOMER_INVITATION_DAYS`` (30); ``CUSTOMER_REMINDER_DAYS`` (3) before its end the recipient gets one
reminder with a fresh link; then it expires and the reseller is told. Resend issues a new invitation (the
old link dead), revoke withdraws it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization
from accounts.roles import Permission
from customers.models import CustomerInvitation, InvitationKind
from customers.services.common import delegated_terms_clean, notify, role_lines
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.invitations import services as links
from portal.invitations.drafts import Draft, draft_clean, draft_email, draft_render, draft_token_require
from portal.invitations.models import LinkInvitationStatus
from portal.mail.services import email_enqueue
from portal.text import text_clean
from providers.models import Partnership
from providers.services.common import actor_refresh, organization_locked
from providers.services.invitations import email_clean

Status = LinkInvitationStatus


def invitation_lifetime() -> timedelta:
    return timedelta(days=settings.CUSTOMER_INVITATION_DAYS)


def invitation_link(raw_token: str) -> str:
    return links.invitation_link(CustomerInvitation.PURPOSE, raw_token)


def _language(language: str) -> str:
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def partnership_for_invitation(reseller: Organization, partnership_public_id) -> Partnership:
    """The reseller's live partnership chosen for a with-provider invitation, or a field error."""
    partnership = (
        Partnership.objects.select_related("provider")
        .filter(reseller=reseller, public_id=partnership_public_id or None, status=Partnership.Status.ACTIVE)
        .first()
        if partnership_public_id
        else None
    )
    if partnership is None:
        raise DomainError(
            _(
                "Choose one of your indirect providers: only a provider with a live partnership can be "
                "chosen."
            ),
            code="provider_required",
            field="partnership",
        )
    return partnership


def _issue(*, reseller, email, kind, partnership, customer_name, roles, days, auto_extend, language, by):
    invitation, raw_token = links.link_invitation_issue(
        CustomerInvitation,
        scope={"organization": reseller},
        email=email,
        invited_by=by,
        rate_limit_key=str(reseller.pk),
        lifetime=invitation_lifetime(),
        audit_after={
            "kind": kind,
            "provider": partnership.provider.legal_name if partnership else "",
            "roles": roles,
            "duration_days": days,
            "auto_extend": auto_extend,
        },
        kind=kind,
        provider=partnership.provider if partnership else None,
        partnership=partnership,
        customer_name=customer_name,
        roles=roles,
        duration_days=days,
        auto_extend=auto_extend,
        language=language,
    )
    if partnership is not None:
        # the provider is named in the invitation: its activity log says so too
        audit_record(
            action="customer_invitation.sent",
            actor=by,
            organization=partnership.provider,
            target=invitation,
            # not the address: the customer has not agreed to anything with the provider yet
            after={"reseller": reseller.legal_name, "kind": kind},
        )
    return invitation, raw_token


@transaction.atomic
def customer_invitation_create(
    *,
    reseller: Organization,
    by: Membership,
    email: str,
    kind: str,
    roles,
    duration_days,
    auto_extend: bool = False,
    partnership_public_id=None,
    customer_name: str = "",
    language: str = "",
) -> tuple[CustomerInvitation, str]:
    """A pending invitation and its raw token (the only time it exists): the draft holds the link."""
    reseller = organization_locked(reseller, kind=Organization.Kind.RESELLER)
    by = actor_refresh(by, reseller, Permission.CUSTOMERS_INVITE)
    if kind not in InvitationKind.values:
        raise DomainError(_("Choose the kind of invitation."), code="kind_unknown", field="kind")
    email = email_clean(email)
    customer_name = text_clean(customer_name, field="customer_name", required=False, max_length=200)
    roles, days, auto_extend = delegated_terms_clean(
        roles=roles, duration_days=duration_days, auto_extend=auto_extend
    )
    partnership = None
    if kind == InvitationKind.WITH_PROVIDER:
        partnership = partnership_for_invitation(reseller, partnership_public_id)
    return _issue(
        reseller=reseller,
        email=email,
        kind=kind,
        partnership=partnership,
        customer_name=customer_name,
        roles=roles,
        days=days,
        auto_extend=auto_extend,
        language=_language(language or by.user.preferred_language),
        by=by.user,
    )


def _draft_context(invitation: CustomerInvitation, raw_token: str) -> dict:
    return {
        "reseller_name": invitation.organization.legal_name,
        "provider_name": invitation.provider.legal_name if invitation.provider_id else "",
        "with_provider": invitation.with_provider,
        "inviter_name": invitation.invited_by.get_full_name() if invitation.invited_by else "",
        "customer_name": invitation.customer_name,
        "roles": role_lines(invitation.roles),
        "duration_days": invitation.duration_days,
        "auto_extend": invitation.auto_extend,
        "link": invitation_link(raw_token),
        "expires_at": invitation.expires_at,
    }


def invitation_draft(*, invitation: CustomerInvitation, raw_token: str) -> Draft:
    """The email the reseller may edit: subject and text in the invitation's language, with the link."""
    return draft_render(
        template="customer_invitation",
        context=_draft_context(invitation, raw_token),
        language=invitation.language,
        link=invitation_link(raw_token),
    )


def _locked(invitation: CustomerInvitation, by: Membership) -> tuple[CustomerInvitation, Membership]:
    reseller = organization_locked(invitation.organization, kind=Organization.Kind.RESELLER)
    return (
        CustomerInvitation.objects.select_for_update(of=("self",))
        .select_related("organization", "provider", "invited_by")
        .get(pk=invitation.pk, organization=reseller),
        reseller,
    )


@transaction.atomic
def customer_invitation_email(
    *, invitation: CustomerInvitation, raw_token: str, subject: str, body: str, by: Membership
) -> CustomerInvitation:
    """The portal sends the reseller's (edited) draft; the personalised link must still be in it."""
    invitation, reseller = _locked(invitation, by)
    by = actor_refresh(by, reseller, Permission.CUSTOMERS_INVITE)
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
    link = invitation_link(raw_token)
    subject, body = draft_clean(subject=subject, body=body, link=link)
    draft_email(
        to=invitation.email,
        link=link,
        raw_token=raw_token,
        subject=subject,
        body=body,
        language=invitation.language,
        template="customer_invitation",
        organization_id=invitation.organization_id,
        dedupe_key=f"customer_invitation:{invitation.pk}:{invitation.token_hash[:16]}",
        reply_to=invitation.invited_by.email if invitation.invited_by else "",
    )
    CustomerInvitation.objects.filter(pk=invitation.pk).update(emailed_at=timezone.now())
    audit_record(
        action="customer_invitation.emailed",
        actor=by.user,
        organization_id=invitation.organization_id,
        target=invitation,
        after={"email": invitation.email},
    )
    invitation.refresh_from_db()
    return invitation


@transaction.atomic
def customer_invitation_resend(
    *, invitation: CustomerInvitation, by: Membership
) -> tuple[CustomerInvitation, str]:
    """A new link to the same recipient with the same terms; a pending old one is closed (its link dead).
    A with-provider invitation needs the partnership still live."""
    invitation, reseller = _locked(invitation, by)
    by = actor_refresh(by, reseller, Permission.CUSTOMERS_INVITE)
    if invitation.status == Status.ACCEPTED:
        raise DomainError(
            _("This invitation was accepted: there is nothing to resend."), code="invitation_accepted"
        )
    partnership = None
    if invitation.with_provider:
        partnership = (
            Partnership.objects.select_related("provider")
            .filter(reseller=reseller, provider=invitation.provider_id, status=Partnership.Status.ACTIVE)
            .first()
        )
        if partnership is None:
            raise DomainError(
                _("Your partnership with %(provider)s has ended: this invitation cannot be sent again.")
                % {"provider": invitation.provider.legal_name},
                code="partnership_ended",
            )
    return _issue(
        reseller=reseller,
        email=invitation.email,
        kind=invitation.kind,
        partnership=partnership,
        customer_name=invitation.customer_name,
        roles=invitation.roles,
        days=invitation.duration_days,
        auto_extend=invitation.auto_extend,
        language=invitation.language,
        by=by.user,
    )


@transaction.atomic
def customer_invitation_revoke(*, invitation: CustomerInvitation, by: Membership) -> CustomerInvitation:
    invitation, reseller = _locked(invitation, by)
    by = actor_refresh(by, reseller, Permission.CUSTOMERS_INVITE)
    links.link_invitation_revoke(invitation, by=by.user)
    return invitation


# --- Deadlines (beat) --------------------------------------------------------------------------------


def customer_invitations_remind_due(*, limit: int = 500) -> int:
    """One reminder, ``CUSTOMER_REMINDER_DAYS`` before the end, with a fresh link (same invitation and end
    date; the earlier link is dead). Safe to run again."""

    def remind(invitation: CustomerInvitation, raw_token: str) -> None:
        email_enqueue(
            to=invitation.email,
            template="customer_invitation_reminder",
            context=_draft_context(invitation, raw_token),
            language=invitation.language,
            secrets=("link",),
            organization_id=invitation.organization_id,
            dedupe_key=f"customer_invitation:{invitation.pk}:reminder",
        )

    return links.link_invitations_remind_due(
        CustomerInvitation,
        within=timedelta(days=settings.CUSTOMER_REMINDER_DAYS),
        remind=remind,
        select_related=("organization", "provider", "invited_by"),
        limit=limit,
    )


def customer_invitations_expire_due(*, limit: int = 500) -> int:
    """pending → expired past the end date; the reseller (the sender and its customer managers) is told."""

    def tell(invitation: CustomerInvitation) -> None:
        notify(
            invitation.organization,
            template="customer_invitation_expired",
            context={"email": invitation.email, "customer_name": invitation.customer_name},
            dedupe_key=f"customer_invitation:{invitation.pk}:expired",
            extra_users=[invitation.invited_by],
        )

    return links.link_invitations_expire_due(
        CustomerInvitation, limit=limit, on_expired=tell, select_related=("organization", "invited_by")
    )

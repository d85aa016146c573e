"""What every provider service shares: the actor's rights read inside the transaction, the people an
organization's partnership emails go to, and message cleaning."""

from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization
from accounts.roles import Permission
from accounts.services.memberships import organization_lock
from portal.errors import DomainError
from portal.mail.services import email_enqueue
from providers.selectors import organization_notified


def actor_refresh(by: Membership, organization: Organization, permission: str) -> Membership:
    """Re-read the actor's membership inside the transaction: rights removed a moment ago are gone."""
    actor = (
        Membership.objects.select_related("user", "organization")
        .prefetch_related("roles")
        .filter(pk=by.pk, organization=organization, status=Membership.Status.ACTIVE)
        .first()
    )
    if actor is None or not actor.can(permission) or organization.status != Organization.Status.ACTIVE:
        raise DomainError(
            _("Your access to this organization has changed. Reload the page."), code="actor_not_permitted"
        )
    return actor


def organization_locked(organization: Organization, *, kind: str) -> Organization:
    organization = organization_lock(organization)
    if organization.kind != kind:
        raise DomainError(_("This organization cannot do that."), code="wrong_kind")
    return organization


def organization_email(
    organization: Organization,
    *,
    template: str,
    context: dict,
    dedupe_key: str,
    extra_users=(),
    permission: str = Permission.PARTNERS_MANAGE,
) -> int:
    """Email every member who holds ``permission`` (by default: who manages the organization's
    partnerships) and ``extra_users``, each once, in their own language; in the current transaction's
    outbox."""
    members = set(
        Membership.objects.filter(organization=organization, status=Membership.Status.ACTIVE).values_list(
            "user_id", flat=True
        )
    )
    recipients = {}
    # ``extra_users`` (the sender of an invitation, the author of a request) hear only while still members.
    extra = [user for user in extra_users if user is not None and user.pk in members]
    for user in [*extra, *organization_notified(organization, permission=permission)]:
        if user.is_active and user.email.lower() not in recipients:
            recipients[user.email.lower()] = user
    for address, user in recipients.items():
        email_enqueue(
            to=user.email,
            template=template,
            context={"organization_name": organization.legal_name, **context},
            language=user.preferred_language,
            organization_id=organization.pk,
            dedupe_key=f"{dedupe_key}:{address}",
        )
    return len(recipients)

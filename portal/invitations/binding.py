"""What ties an invitation to the one person who may use it.

A binding's ``check(invitation, user)`` raises ``InvitationUnusable`` when ``user`` is not the recipient.
Membership invitations are bound to a verified email address; partnership invitations will be bound to
a partner ID, customer invitations to an organization.
"""

from django.utils.translation import gettext_lazy as _

from portal.errors import DomainError


class InvitationUnusable(DomainError):
    """The link is unknown, used, revoked, expired or meant for someone else."""


class RecipientBinding:
    def check(self, invitation, user) -> None:
        raise NotImplementedError


class VerifiedEmailBinding(RecipientBinding):
    """The user must own the invited address, verified (allauth's record, not a form field)."""

    def check(self, invitation, user) -> None:
        from allauth.account.models import EmailAddress

        owns = EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists()
        if not owns:
            raise InvitationUnusable(
                _("This invitation is for %(email)s. Sign in with that address to accept it.")
                % {"email": invitation.email},
                code="invitation_wrong_email",
            )


class LinkHolderBinding(RecipientBinding):
    """Whoever holds the link is its recipient: the link went only to the invited address, so using it
    proves that mailbox (a primary contact's confirmation, who needs no portal account). It never signs
    anyone in."""

    def check(self, invitation, user) -> None:
        return None

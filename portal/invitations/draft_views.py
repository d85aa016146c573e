"""The buttons of an invitation list, written once for every app whose invitations come with a draft:
**Send through the portal** (the edited draft), **Resend** (a new link, and its draft) and **Revoke**.

A view mixes in ``InvitationActionsMixin`` and has ``render_draft(invitation, raw_token=..., form=...,
status=...)`` and ``redirect_to(route)``; each button's ``post`` finds the invitation within its own
organization and passes the app's service::

    def post(self, request, partnership_invitation_id):
        invitation = self.invitation(partnership_invitation_id)
        return self.draft_send(request, invitation, send=partnership_invitation_email)
"""

from django.contrib import messages
from django.utils.translation import gettext as _

from portal.errors import DomainError, form_add_domain_error
from portal.invitations.drafts import STALE_DRAFT, DraftForm
from portal.tokens import token_hash

#: where every button leads back to
LIST_ROUTE = "invitations"


class InvitationActionsMixin:
    def draft_send(self, request, invitation, *, send):
        """The portal sends the edited draft. A mistake in the draft brings the draft back with the error at
        its field; a stale draft or a closed invitation goes back to the list."""
        form = DraftForm(request.POST)
        if not form.is_valid():  # strings only (a NUL character is not one): the service decides the rest
            token = form.cleaned_data.get("token") or ""
            if not token or token_hash(token) != invitation.token_hash:
                messages.error(request, STALE_DRAFT)
                return self.redirect_to(LIST_ROUTE)
            return self.render_draft(invitation, raw_token=token, form=form, status=400)
        try:
            invitation = send(
                invitation=invitation,
                raw_token=form.cleaned_data["token"],
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                by=self.membership,
            )
        except DomainError as error:
            if error.field not in form.fields:
                messages.error(request, error.message)
                return self.redirect_to(LIST_ROUTE)
            # A field error comes after the token was checked: the draft may show its link again.
            form_add_domain_error(form, error)
            return self.render_draft(invitation, raw_token=form.cleaned_data["token"], form=form, status=400)
        messages.success(request, _("The invitation was emailed to %(email)s.") % {"email": invitation.email})
        return self.redirect_to(LIST_ROUTE)

    def invitation_resend(self, request, invitation, *, resend):
        """A new link to the same recipient (the old one dies), and its draft."""
        try:
            invitation, raw_token = resend(invitation=invitation, by=self.membership)
        except DomainError as error:
            messages.error(request, error.message)
            return self.redirect_to(LIST_ROUTE)
        return self.render_draft(invitation, raw_token=raw_token)

    def invitation_revoke(self, request, invitation, *, revoke):
        try:
            revoke(invitation=invitation, by=self.membership)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("The invitation to %(email)s was revoked.") % {"email": invitation.email}
            )
        return self.redirect_to(LIST_ROUTE)

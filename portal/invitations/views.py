"""The landing flow every emailed invitation link goes through.

1. ``/invitations/<purpose>/<token>/``: the token is looked up once, the invitation's public id goes
   into the (server-side) session and the browser moves on to a URL without the token (no referrer).
2. ``/invitations/<purpose>/`` (GET): shows what the invitation asks and grants; changes nothing.
3. ``…/accept/`` and ``…/decline/`` (POST, signed in unless ``login_required_to_act`` is False): act,
   then forget the invitation.

An app subclasses ``InvitationFlow`` for its invitation model (its template, its checks, what accepting
and declining do) and includes ``flow.urls()`` in its URLconf; the route names are
``<prefix>_landing``, ``<prefix>``, ``<prefix>_accept`` and ``<prefix>_decline``.

What ``accept`` and ``decline`` answer decides what happens to the link: raising ``InvitationUnusable``
shows the invitation page again with the reason; a response with a client-error status (a form with
errors, 4xx) is sent as it is and keeps the invitation, so that the person can correct and send again;
any other response means the action was taken, and the invitation is forgotten.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from portal.invitations.binding import InvitationUnusable
from portal.invitations.models import LinkInvitation
from portal.invitations.services import link_invitation_check, link_invitation_lookup


class InvitationFlow:
    model: type[LinkInvitation]
    template_name: str
    #: the app's URL namespace and the prefix of the four route names
    namespace: str
    name_prefix: str = "invitation"
    #: False for a link held by whoever has it (a contact's confirmation): accepting and declining then
    #: need no sign-in, and the link still signs nobody in
    login_required_to_act: bool = True

    @property
    def session_key(self) -> str:
        return f"link_invitation:{self.model.PURPOSE}"

    def url_name(self, step: str = "") -> str:
        return f"{self.namespace}:{self.name_prefix}{'_' + step if step else ''}"

    # --- what an app decides ------------------------------------------------------------------------

    def queryset(self):
        return self.model.objects.select_related("invited_by")

    def check(self, invitation: LinkInvitation, user, *, to_accept: bool = True) -> None:
        """Raise InvitationUnusable unless ``user`` may accept (or decline) now; apps add their rules."""
        link_invitation_check(invitation, user)

    def accept(self, request, invitation: LinkInvitation) -> HttpResponse:
        """Accept, and answer; a 4xx answer (a form with errors) keeps the invitation for another try."""
        raise NotImplementedError

    def decline(self, request, invitation: LinkInvitation) -> HttpResponse:
        """Decline, and answer; a 4xx answer (a form with errors) keeps the invitation for another try."""
        raise NotImplementedError

    def context(self, request, invitation: LinkInvitation | None) -> dict:
        return {}

    # --- the flow ------------------------------------------------------------------------------------

    def invitation_from_session(self, request) -> LinkInvitation | None:
        public_id = request.session.get(self.session_key)
        if not public_id:
            return None
        return self.queryset().filter(public_id=public_id).first()

    def forget(self, request) -> None:
        request.session.pop(self.session_key, None)

    def landing(self, request, token):
        """The link in the email: remember which invitation it opens and move to a URL without the token."""
        try:
            invitation = link_invitation_lookup(self.model, token)
        except InvitationUnusable:
            request.session[self.session_key] = ""
        else:
            request.session[self.session_key] = str(invitation.public_id)
        response = redirect(self.url_name())
        response["Referrer-Policy"] = "no-referrer"
        return response

    def show(self, request):
        """What the invitation grants; only the POST buttons change anything. A link anyone may act on
        is checked for everyone; one that needs a sign-in is checked against the signed-in person, and
        before the sign-in only for being still open."""
        invitation = self.invitation_from_session(request)
        problem = None
        if invitation is None:
            problem = _("This invitation link is not valid.")
        elif request.user.is_authenticated or not self.login_required_to_act:
            try:
                self.check(invitation, request.user)
            except InvitationUnusable as error:
                problem = error.message
        elif not invitation.is_pending or invitation.is_expired:
            problem = _("This invitation has expired or was already used or withdrawn.")
        context = {
            "invitation": invitation,
            "problem": problem,
            "next": reverse(self.url_name()),
            "accept_url": reverse(self.url_name("accept")),
            "decline_url": reverse(self.url_name("decline")),
            **self.context(request, invitation),
        }
        status = 200 if problem is None else 410 if invitation is not None else 404
        # No "no-referrer" here: the token is already out of this URL, and with it browsers send
        # "Origin: null" on the Accept form, which CSRF protection rightly refuses.
        return render(request, self.template_name, context, status=status)

    def _act(self, request, action):
        invitation = self.invitation_from_session(request)
        if invitation is None:
            return redirect(self.url_name())
        try:
            response = action(request, invitation)
        except InvitationUnusable as error:
            messages.error(request, error.message)
            return redirect(self.url_name())
        if not 400 <= response.status_code < 500:  # a form with errors keeps the link for another try
            self.forget(request)
        return response

    def urls(self) -> list:
        landing = require_GET(login_not_required(never_cache(self.landing)))
        show = require_GET(login_not_required(never_cache(self.show)))
        accept = require_POST(lambda request: self._act(request, self.accept))
        decline = require_POST(lambda request: self._act(request, self.decline))
        if not self.login_required_to_act:
            accept, decline = login_not_required(accept), login_not_required(decline)
        purpose, prefix = self.model.PURPOSE, self.name_prefix
        return [
            path(f"invitations/{purpose}/", show, name=prefix),
            path(f"invitations/{purpose}/accept/", accept, name=f"{prefix}_accept"),
            path(f"invitations/{purpose}/decline/", decline, name=f"{prefix}_decline"),
            path(f"invitations/{purpose}/<str:token>/", landing, name=f"{prefix}_landing"),
        ]

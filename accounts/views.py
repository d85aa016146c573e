"""Pages about the signed-in person: dashboard entry, profile, and invitations addressed to them."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors, services
from accounts.forms import ProfileForm
from accounts.models import MembershipInvitation
from accounts.scoping import SESSION_KEY
from portal.invitations.views import InvitationFlow
from portal.lists import keyset_page
from portal.views import set_language_cookie


@require_GET
def dashboard(request):
    """Open the organization the user worked in last, else their first; program staff without an
    organization go to the review site; anyone else is offered enrollment."""
    memberships = list(selectors.memberships_for_user(user=request.user))
    if not memberships:
        return redirect("admin:index" if request.user.is_staff else "accounts:no_organization")
    remembered = request.session.get(SESSION_KEY)
    chosen = next((m for m in memberships if str(m.organization.public_id) == remembered), memberships[0])
    return redirect("accounts:organization_dashboard", organization_public_id=chosen.organization.public_id)


@require_GET
def no_organization(request):
    if selectors.memberships_for_user(user=request.user).exists():
        return redirect("dashboard")
    return render(request, "accounts/no_organization.html")


@require_GET
def organizations(request):
    """Every organization the user can act in, by name: the switcher shows the first few only."""
    page = keyset_page(
        selectors.organizations_of_user(user=request.user), ordering=("legal_name", "id"), query=request.GET
    )
    return render(request, "accounts/organizations.html", {"page": page})


@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_profile_update(
            user=request.user,
            full_name=form.cleaned_data["full_name"],
            preferred_language=form.cleaned_data["preferred_language"],
        )
        messages.success(request, _("Your profile was saved."))
        response = redirect("profile")
        set_language_cookie(response, form.cleaned_data["preferred_language"])
        return response
    return render(request, "accounts/profile.html", {"form": form})


# --- Invitation links: the platform's landing flow, configured for membership invitations ----------


class MembershipInvitationFlow(InvitationFlow):
    model = MembershipInvitation
    template_name = "accounts/invitation.html"
    namespace = "accounts"
    name_prefix = "invitation"

    def queryset(self):
        return MembershipInvitation.objects.select_related("organization", "invited_by")

    def check(self, invitation, user, *, to_accept=True):
        services.membership_invitation_check(invitation, user, to_accept=to_accept)

    def accept(self, request, invitation):
        membership = services.membership_invitation_accept(invitation=invitation, user=request.user)
        messages.success(
            request, _("You joined %(organization)s.") % {"organization": membership.organization.legal_name}
        )
        return redirect(
            "accounts:organization_dashboard", organization_public_id=membership.organization.public_id
        )

    def decline(self, request, invitation):
        services.membership_invitation_decline(invitation=invitation, user=request.user)
        messages.info(request, _("You declined the invitation."))
        return redirect("dashboard")


membership_invitation_flow = MembershipInvitationFlow()
INVITATION_SESSION_KEY = membership_invitation_flow.session_key

"""Pages about the signed-in person: dashboard entry, profile, and invitations addressed to them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import ProfileForm
from accounts.models import MembershipInvitation
from accounts.scoping import SESSION_KEY
from portal.views import set_language_cookie

INVITATION_SESSION_KEY = "membership_invitation"


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


# --- Invitation links -----------------------------------------------------------------------------
# The raw token only ever travels in the emailed URL. The landing view checks it once and keeps the
# invitation's public id in the (server-side) session, so no raw token is stored anywhere.


@require_GET
@login_not_required
@never_cache
def invitation_landing(request, token):
    """The link in the email: remember which invitation it opens and move to a URL without the token."""
    try:
        invitation = services.membership_invitation_lookup(token)
    except services.InvitationUnusable:
        request.session[INVITATION_SESSION_KEY] = ""
    else:
        request.session[INVITATION_SESSION_KEY] = str(invitation.public_id)
    response = redirect("accounts:invitation")
    response["Referrer-Policy"] = "no-referrer"
    return response


def _invitation_from_session(request) -> MembershipInvitation | None:
    public_id = request.session.get(INVITATION_SESSION_KEY)
    if not public_id:
        return None
    return (
        MembershipInvitation.objects.select_related("organization", "invited_by")
        .filter(public_id=public_id)
        .first()
    )


@require_GET
@login_not_required
@never_cache
def invitation(request):
    """Show what the invitation grants; only the buttons below (POST) change anything."""
    invitation = _invitation_from_session(request)
    problem = None
    if invitation is None:
        problem = _("This invitation link is not valid.")
    elif request.user.is_authenticated:
        try:
            services.membership_invitation_check(invitation, request.user)
        except services.InvitationUnusable as error:
            problem = error.message
    elif invitation.status != invitation.Status.PENDING or invitation.is_expired:
        problem = _("This invitation has expired or was already used or withdrawn.")
    response = render(
        request,
        "accounts/invitation.html",
        {"invitation": invitation, "problem": problem, "next": reverse("accounts:invitation")},
        status=200 if problem is None else 410 if invitation is not None else 404,
    )
    # No "no-referrer" here: the token is already out of this URL, and with it browsers send
    # "Origin: null" on the Accept form, which CSRF protection rightly refuses.
    return response


@require_POST
def invitation_accept(request):
    invitation = _invitation_from_session(request)
    if invitation is None:
        return redirect("accounts:invitation")
    try:
        membership = services.membership_invitation_accept(invitation=invitation, user=request.user)
    except services.InvitationUnusable as error:
        messages.error(request, error.message)
        return redirect("accounts:invitation")
    request.session.pop(INVITATION_SESSION_KEY, None)
    messages.success(
        request, _("You joined %(organization)s.") % {"organization": membership.organization.legal_name}
    )
    return redirect(
        "accounts:organization_dashboard", organization_public_id=membership.organization.public_id
    )


@require_POST
def invitation_decline(request):
    invitation = _invitation_from_session(request)
    if invitation is None:
        return redirect("accounts:invitation")
    try:
        services.membership_invitation_decline(invitation=invitation, user=request.user)
    except services.InvitationUnusable as error:
        messages.error(request, error.message)
        return redirect("accounts:invitation")
    request.session.pop(INVITATION_SESSION_KEY, None)
    messages.info(request, _("You declined the invitation."))
    return redirect("dashboard")

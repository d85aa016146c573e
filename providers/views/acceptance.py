"""The reseller's side of a provider's invitation link: who asks, exactly what authorising grants, then
**Authorize indirect provider** (a required checkbox) or **Decline** (an optional reason).

The platform's landing flow (portal.invitations.views.InvitationFlow) moves the token out of the URL and
shows the page; this module says what the page shows and what the two buttons do. A form with errors
answers 400, which keeps the link for another try; a refused link (``InvitationUnusable``) shows the page
again with the reason.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Organization
from portal.errors import DomainError, form_add_domain_error
from portal.invitations.binding import InvitationUnusable
from portal.invitations.views import InvitationFlow
from providers.models import PartnershipInvitation
from providers.selectors import listing_for
from providers.services.partnerships import (
    acceptable_resellers,
    country_problem,
    partnership_authorize,
    partnership_invitation_check,
    partnership_invitation_decline,
)


class AuthorizeForm(forms.Form):
    """Which of the user's reseller organizations authorises (one: a hidden field), and the consent. The
    consent is not required here: the service refuses without it, so that every path keeps the rule."""

    reseller = forms.ChoiceField(
        label=gettext_lazy("Reseller organization"),
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose the organization that authorises this provider."),
            "invalid_choice": gettext_lazy("Choose one of your organizations from the list."),
        },
    )
    consent = forms.BooleanField(required=False)

    def __init__(self, *args, resellers: list[Organization], provider_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.resellers = {str(organization.public_id): organization for organization in resellers}
        field = self.fields["reseller"]
        field.choices = [
            (public_id, organization.legal_name) for public_id, organization in self.resellers.items()
        ]
        if len(resellers) == 1:
            field.widget = forms.HiddenInput()
            field.initial = next(iter(self.resellers))
        self.fields["consent"].label = _(
            "I authorise %(provider)s as indirect provider of my organization, with the rights listed above."
        ) % {"provider": provider_name}

    def clean_reseller(self) -> Organization:
        return self.resellers[self.cleaned_data["reseller"]]


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("The provider sees this reason."),
    )


class PartnershipInvitationFlow(InvitationFlow):
    model = PartnershipInvitation
    template_name = "providers/invitation.html"
    namespace = "providers"
    name_prefix = "partnership_invitation"

    def queryset(self):
        return PartnershipInvitation.objects.select_related("organization", "invited_by")

    def check(self, invitation, user, *, to_accept: bool = True) -> None:
        partnership_invitation_check(invitation, user, to_accept=to_accept)

    # --- the page --------------------------------------------------------------------------------------

    @staticmethod
    def _resellers(invitation, user) -> tuple[list[Organization], list[Organization], list[str]]:
        """The organizations the user may accept for, those the provider serves, and why not the others."""
        resellers = acceptable_resellers(invitation, user)
        served, problems = [], []
        for reseller in resellers:
            problem = country_problem(invitation, reseller)
            if problem is None:
                served.append(reseller)
            else:
                problems.append(problem)
        return resellers, served, problems

    def _authorize_form(self, invitation, resellers, data=None) -> AuthorizeForm:
        return AuthorizeForm(data, resellers=resellers, provider_name=invitation.organization.legal_name)

    def context(self, request, invitation) -> dict:
        if invitation is None:
            return {}
        context = {"provider": invitation.organization, "listing": listing_for(invitation.organization)}
        if not request.user.is_authenticated:
            return context
        resellers, served, problems = self._resellers(invitation, request.user)
        try:
            self.check(invitation, request.user, to_accept=False)
        except InvitationUnusable:
            can_decline = False
        else:
            can_decline = True
        return {
            **context,
            "served": served,
            "country_problems": problems,
            "authorize_form": self._authorize_form(invitation, resellers),
            "decline_form": DeclineForm(),
            "can_decline": can_decline,
        }

    def _page(self, request, invitation, **forms_given):
        """The page again with the form that has errors: a 400, so the link stays usable."""
        context = {
            "invitation": invitation,
            "problem": None,
            "next": reverse(self.url_name()),
            "accept_url": reverse(self.url_name("accept")),
            "decline_url": reverse(self.url_name("decline")),
            **self.context(request, invitation),
            **forms_given,
        }
        return render(request, self.template_name, context, status=400)

    # --- the two buttons ---------------------------------------------------------------------------------

    def accept(self, request, invitation):
        self.check(invitation, request.user)
        form = self._authorize_form(invitation, acceptable_resellers(invitation, request.user), request.POST)
        if not form.is_valid():
            return self._page(request, invitation, authorize_form=form)
        reseller = form.cleaned_data["reseller"]
        try:
            partnership = partnership_authorize(
                invitation=invitation,
                user=request.user,
                reseller=reseller,
                consent=form.cleaned_data["consent"],
            )
        except InvitationUnusable:
            raise
        except DomainError as error:
            form_add_domain_error(form, error)
            return self._page(request, invitation, authorize_form=form)
        messages.success(
            request,
            _("%(provider)s is now the indirect provider of %(reseller)s.")
            % {"provider": partnership.provider.legal_name, "reseller": reseller.legal_name},
        )
        return redirect(
            "providers:partnership",
            organization_public_id=reseller.public_id,
            partnership_id=partnership.public_id,
        )

    def decline(self, request, invitation):
        form = DeclineForm(request.POST)
        if not form.is_valid():
            return self._page(request, invitation, decline_form=form)
        try:
            partnership_invitation_decline(
                invitation=invitation, user=request.user, reason=form.cleaned_data["reason"]
            )
        except InvitationUnusable:
            raise
        except DomainError as error:
            form_add_domain_error(form, error)
            return self._page(request, invitation, decline_form=form)
        messages.info(
            request,
            _("You declined the invitation from %(provider)s. The provider was told.")
            % {"provider": invitation.organization.legal_name},
        )
        return redirect("dashboard")


flow = PartnershipInvitationFlow()

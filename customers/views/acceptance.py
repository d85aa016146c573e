"""The customer's side of a reseller's invitation link: who invites, one card per partner spelling out
exactly what accepting grants (reseller of record; the provider may submit orders; each delegated admin
role in plain words, with its end date), then **Accept** (a required checkbox) or **Decline** (an optional
reason).

The platform's landing flow (portal.invitations.views.InvitationFlow) moves the token out of the URL and
shows the page; this module says what the page shows and what the two buttons do. An administrator of no
customer organization yet is sent to create one (``customers:onboarding``), and comes back here. A form
with errors answers 400, which keeps the link for another try; a refused link (``InvitationUnusable``)
shows the page again with the reason.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization
from customers.customer_forms import AcceptForm, InvitationDeclineForm
from customers.models import AUTO_EXTEND_DAYS, CustomerInvitation, DelegatedRole
from customers.selectors import customer_organizations_administered, reseller_relationship
from customers.services.acceptance import (
    already_customer_message,
    customer_invitation_accept,
    customer_invitation_check,
    customer_invitation_decline,
    delegated_end,
)
from customers.services.common import role_lines
from portal.errors import DomainError, form_add_domain_error
from portal.invitations.binding import InvitationUnusable
from portal.invitations.views import InvitationFlow


class CustomerInvitationFlow(InvitationFlow):
    model = CustomerInvitation
    template_name = "customers/invitation.html"
    namespace = "customers"
    name_prefix = "customer_invitation"

    def queryset(self):
        return CustomerInvitation.objects.select_related("organization", "provider", "invited_by")

    def check(self, invitation, user, *, to_accept: bool = True) -> None:
        customer_invitation_check(invitation, user, to_accept=to_accept)

    # --- the page --------------------------------------------------------------------------------------

    @staticmethod
    def _customers(invitation, user) -> tuple[list[Organization], list[dict]]:
        """The user's customer organizations that may accept, and those this reseller already serves
        (each with the message that says so)."""
        reseller = invitation.organization
        acceptable, already = [], []
        for organization in customer_organizations_administered(user):
            if reseller_relationship(organization, reseller) is None:
                acceptable.append(organization)
            else:
                already.append(
                    {
                        "organization": organization,
                        "message": already_customer_message(reseller, organization),
                    }
                )
        return acceptable, already

    def context(self, request, invitation) -> dict:
        if invitation is None:
            return {}
        roles = role_lines(invitation.roles)
        context = {
            "reseller": invitation.organization,
            "provider": invitation.provider,
            "roles": roles,
            "grants_global_admin": any(role["code"] == DelegatedRole.GLOBAL_ADMIN for role in roles),
            # the end date if accepted now (the service starts the relationship at acceptance)
            "ends_at": delegated_end(timezone.now(), invitation.duration_days),
            "auto_extend_days": AUTO_EXTEND_DAYS,
            "onboarding_url": reverse("customers:onboarding")
            + "?"
            + urlencode({"next": reverse(self.url_name())}),
        }
        if not request.user.is_authenticated:
            return context
        acceptable, already = self._customers(invitation, request.user)
        try:
            self.check(invitation, request.user, to_accept=False)
        except InvitationUnusable:
            can_decline = False
        else:
            can_decline = True
        return {
            **context,
            "customers": acceptable,
            "already_customers": already,
            "accept_form": AcceptForm(customers=acceptable),
            "decline_form": InvitationDeclineForm(),
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
        acceptable, _already = self._customers(invitation, request.user)
        form = AcceptForm(request.POST, customers=acceptable)
        if not form.is_valid():
            return self._page(request, invitation, accept_form=form)
        customer = form.cleaned_data["customer"]
        try:
            customer_invitation_accept(
                invitation=invitation,
                user=request.user,
                customer=customer,
                consent=form.cleaned_data["consent"],
            )
        except InvitationUnusable:
            raise
        except DomainError as error:
            form_add_domain_error(form, error)
            return self._page(request, invitation, accept_form=form)
        names = {
            "reseller": invitation.organization.legal_name,
            "customer": customer.legal_name,
            "provider": invitation.provider.legal_name if invitation.provider_id else "",
        }
        if invitation.with_provider:
            message = _(
                "%(reseller)s is now the reseller of record of %(customer)s, and %(provider)s may submit "
                "orders for it. Both were notified."
            )
        else:
            message = _("%(reseller)s is now the reseller of record of %(customer)s. It was notified.")
        messages.success(request, message % names)
        return redirect("customers:partners", organization_public_id=customer.public_id)

    def decline(self, request, invitation):
        form = InvitationDeclineForm(request.POST)
        if not form.is_valid():
            return self._page(request, invitation, decline_form=form)
        try:
            customer_invitation_decline(
                invitation=invitation, user=request.user, reason=form.cleaned_data["reason"]
            )
        except InvitationUnusable:
            raise
        except DomainError as error:
            form_add_domain_error(form, error)
            return self._page(request, invitation, decline_form=form)
        messages.info(
            request,
            _("You declined the invitation from %(reseller)s. The reseller was told.")
            % {"reseller": invitation.organization.legal_name},
        )
        return redirect("dashboard")


flow = CustomerInvitationFlow()

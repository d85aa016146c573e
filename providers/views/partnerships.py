"""Both sides of one partnership: its page, and ending it (what it affects first, a reason required)."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import Permission
from accounts.scoping import OrganizationView
from portal.errors import DomainError, form_add_domain_error
from providers import selectors
from providers.models import Partnership
from providers.services.partnerships import partnership_end


class PartnershipEndForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for ending"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Both organizations see this reason, and it is in the email they get."),
        error_messages={"required": gettext_lazy("Say why the partnership ends.")},
    )


class _PartnershipMixin:
    def partnership(self, partnership_id) -> Partnership:
        """One partnership of which this organization is a side; anyone else's does not exist for us."""
        partnership = selectors.partnership_get(self.organization, partnership_id)
        if partnership is None:
            raise Http404
        return partnership

    def partnership_context(self, partnership: Partnership, **context) -> dict:
        return self.get_context_data(
            partnership=partnership,
            other=partnership.other_side(self.organization),
            side=partnership.side_of(self.organization),
            can_manage=self.membership.can(Permission.PARTNERS_MANAGE),
            **context,
        )


class PartnershipView(_PartnershipMixin, OrganizationView):
    def get(self, request, partnership_id):
        partnership = self.partnership(partnership_id)
        return render(request, "providers/partnership.html", self.partnership_context(partnership))


class PartnershipEndView(_PartnershipMixin, OrganizationView):
    """GET: what ending affects, and the reason; POST: end it (both sides are told by email)."""

    def get(self, request, partnership_id):
        return self._render(self.partnership(partnership_id), PartnershipEndForm())

    def post(self, request, partnership_id):
        partnership = self.partnership(partnership_id)
        form = PartnershipEndForm(request.POST)
        if form.is_valid():
            try:
                partnership_end(
                    partnership=partnership, by=self.membership, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("The partnership with %(organization)s has ended. Both organizations were notified.")
                    % {"organization": partnership.other_side(self.organization).legal_name},
                )
                return redirect(
                    "providers:partnership",
                    organization_public_id=self.organization.public_id,
                    partnership_id=partnership.public_id,
                )
        return self._render(partnership, form, status=400)

    def _render(self, partnership, form, status=200):
        context = self.partnership_context(partnership, form=form)
        return render(self.request, "providers/partnership_end.html", context, status=status)

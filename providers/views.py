from django.http import Http404
from django.shortcuts import render

from accounts.models import Organization
from accounts.scoping import OrganizationView


class _PartnerListView(OrganizationView):
    """Partnerships of the organization. The partnership flow arrives with the provider issue."""

    kind: str
    template_name: str

    def get(self, request):
        if self.organization.kind != self.kind:
            raise Http404
        return render(request, self.template_name, self.get_context_data(partners=[]))


class ProviderListView(_PartnerListView):
    kind = Organization.Kind.RESELLER
    template_name = "providers/providers.html"


class ResellerListView(_PartnerListView):
    kind = Organization.Kind.PROVIDER
    template_name = "providers/resellers.html"

from django.shortcuts import render

from accounts.scoping import OrganizationView


class ProviderListView(OrganizationView):
    """A reseller's indirect providers (the access policy opens it to resellers only). The partnership
    flow arrives with the provider issue."""

    def get(self, request):
        return render(request, "providers/providers.html", self.get_context_data(partners=[]))


class ResellerListView(OrganizationView):
    """A provider's indirect resellers (providers only)."""

    def get(self, request):
        return render(request, "providers/resellers.html", self.get_context_data(partners=[]))

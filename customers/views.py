from django.shortcuts import render

from accounts.scoping import OrganizationView


class CustomerListView(OrganizationView):
    """The organization's customers. Reseller relationships arrive with the customer issue."""

    def get(self, request):
        return render(request, "customers/list.html", self.get_context_data(customers=[]))

"""A reseller's side: Find a provider (the directory), one provider's listing with Request to connect,
and the Indirect providers page (its partnerships and the requests it sent)."""

from datetime import datetime
from typing import NamedTuple

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries as all_countries

from accounts.models import Organization
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from portal.errors import DomainError, form_add_domain_error
from portal.lists import DEFAULT_PAGE_SIZE, keyset_first_page, keyset_page
from portal.rows import RowLink, choice_labels
from providers import selectors
from providers.models import HELP_KINDS, LANGUAGE_CHOICES, Partnership, PartnershipRequest
from providers.services.requests import (
    country_served_require,
    partnership_request_create,
    partnership_request_withdraw,
)
from providers.views.partnership_rows import partnership_rows

#: Results per page of the directory (cards are taller than table rows).
DIRECTORY_PAGE_SIZE = 20
REQUESTS_PAGE_SIZE = 10


def language_choices() -> list[tuple[str, str]]:
    """The listing languages, named in the reader's language (Django's catalogue translates the names),
    English and Japanese first: the two languages of the program."""
    named = [(code, _(name)) for code, name in LANGUAGE_CHOICES]
    first = [choice for code in ("en", "ja") for choice in named if choice[0] == code]
    rest = sorted((choice for choice in named if choice[0] not in ("en", "ja")), key=lambda c: c[1])
    return [*first, *rest]


class DirectoryFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"), required=False, max_length=100, widget=forms.SearchInput()
    )
    country = forms.ChoiceField(label=gettext_lazy("Country served"), required=False)
    language = forms.ChoiceField(label=gettext_lazy("Language"), required=False)
    help = forms.ChoiceField(label=gettext_lazy("Kind of help"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = _("Name or description")
        self.fields["country"].choices = [("", _("Any country")), *all_countries]
        self.fields["language"].choices = [("", _("Any language")), *language_choices()]
        self.fields["help"].choices = [("", _("Any kind of help")), *HELP_KINDS]


class RequestForm(forms.Form):
    message = forms.CharField(
        label=gettext_lazy("Message (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Say who you are and what you would like to work on together."),
    )


class RequestSentRow(NamedTuple):
    """What a row of the reseller's requests prints but its Withdraw form (a CSRF token: outside the row's
    ``{% memo %}``). The dates are formatted by the memo's body."""

    provider_name: str
    message: str
    status: str
    status_label: str
    created_at: datetime
    reason: str
    decided_at: datetime | None
    withdraw_url: str  # while open, else ""


def request_sent_rows(reseller: Organization, requests) -> list[RequestSentRow]:
    """The rows of the reseller's requests (``selectors.requests_sent_list_rows``)."""
    if not requests:
        return []
    withdraw = RowLink("providers:request_withdraw", "request_id", organization_public_id=reseller.public_id)
    statuses = choice_labels(PartnershipRequest, "status")
    return [
        RequestSentRow(
            provider_name=sent.provider_name,
            message=sent.message,
            status=sent.status,
            status_label=statuses.get(sent.status, sent.status),
            created_at=sent.created_at,
            reason=sent.reason,
            decided_at=sent.decided_at,
            withdraw_url=withdraw(sent.public_id) if sent.status == PartnershipRequest.Status.OPEN else "",
        )
        for sent in requests
    ]


class ProviderListView(OrganizationView):
    """Indirect providers: the reseller's partnerships, and the requests it sent."""

    #: ?status= → the partnerships listed (active by default, like the provider's Indirect resellers)
    STATUS_FILTERS = {"active": Partnership.Status.ACTIVE, "ended": Partnership.Status.ENDED, "all": ""}

    def get(self, request):
        status_filter = request.GET.get("status", "active")
        if status_filter not in self.STATUS_FILTERS:
            status_filter = "active"
        status = self.STATUS_FILTERS[status_filter]
        query = request.GET
        # the first page of each list, which nearly every visit is: its query compiled once per process
        if not query.get("after") and not query.get("before"):
            partnerships = selectors.partnership_list_rows_first(
                self.organization,
                status=status,
                ordering=selectors.PARTNERSHIP_ORDERING,
                count=DEFAULT_PAGE_SIZE + 1,
            )
            page = keyset_first_page(partnerships, ordering=selectors.PARTNERSHIP_ORDERING, query=query)
        else:
            page = keyset_page(
                selectors.partnership_list_rows(self.organization, status=status),
                ordering=selectors.PARTNERSHIP_ORDERING,
                query=query,
            )
        if not query.get("requests_after") and not query.get("requests_before"):
            requests = selectors.requests_sent_list_rows_first(
                self.organization, ordering=selectors.REQUEST_ORDERING, count=REQUESTS_PAGE_SIZE + 1
            )
            requests_page = keyset_first_page(
                requests,
                ordering=selectors.REQUEST_ORDERING,
                query=query,
                size=REQUESTS_PAGE_SIZE,
                prefix="requests_",
            )
        else:
            requests_page = keyset_page(
                selectors.requests_sent_list_rows(self.organization),
                ordering=selectors.REQUEST_ORDERING,
                query=query,
                size=REQUESTS_PAGE_SIZE,
                prefix="requests_",
            )
        context = self.get_context_data(
            page=page,
            rows=partnership_rows(self.organization, page.object_list),
            requests_page=requests_page,
            request_rows=request_sent_rows(self.organization, requests_page.object_list),
            has_requests=bool(requests_page.object_list),
            status_filter=status_filter,
            can_manage=self.membership.can(Permission.PARTNERS_MANAGE),
            can_invite_customers=self.membership.can(Permission.CUSTOMERS_INVITE),
        )
        return render(request, "providers/providers.html", context)


class DirectoryView(OrganizationView):
    """Find a provider: authorised, shown listings; by default those serving the reseller's country."""

    def get(self, request):
        submitted = any(name in request.GET for name in DirectoryFilterForm.base_fields)
        if submitted:
            form = DirectoryFilterForm(request.GET)
        else:
            # The first visit: providers that can take this reseller (its own country).
            form = DirectoryFilterForm({"country": str(self.organization.country)})
        page = None
        if form.is_valid():
            listings = selectors.directory_listings(
                search=form.cleaned_data["q"],
                country=form.cleaned_data["country"],
                language=form.cleaned_data["language"],
                help_kind=form.cleaned_data["help"],
            )
            page = keyset_page(
                listings, ordering=selectors.DIRECTORY_ORDERING, query=request.GET, size=DIRECTORY_PAGE_SIZE
            )
        partner_ids = set(
            selectors.partnerships_of(self.organization, status=Partnership.Status.ACTIVE).values_list(
                "provider_id", flat=True
            )
        )
        context = self.get_context_data(form=form, page=page, partner_ids=partner_ids)
        return render(request, "providers/directory.html", context, status=200 if page is not None else 400)


class _ListingPageMixin:
    """The reseller's view of one listing: the card, and either the request form or why there is none."""

    def listing(self, listing_id):
        listing = selectors.directory_listing_get(listing_id)
        if listing is None:
            raise Http404
        return listing

    def render_listing(self, listing, form=None, status=200):
        provider = listing.organization
        partnership = selectors.partnership_active_between(provider, self.organization)
        open_request = selectors.request_open_between(self.organization, provider)
        country_problem = None
        try:
            country_served_require(listing, self.organization)
        except DomainError as error:
            country_problem = error.message
        context = self.get_context_data(
            listing=listing,
            partnership=partnership,
            open_request=open_request,
            country_problem=country_problem,
            can_manage=self.membership.can(Permission.PARTNERS_MANAGE),
            form=form or RequestForm(),
        )
        return render(self.request, "providers/listing.html", context, status=status)


class ListingView(_ListingPageMixin, OrganizationView):
    def get(self, request, listing_id):
        return self.render_listing(self.listing(listing_id))


class RequestCreateView(_ListingPageMixin, OrganizationView):
    """POST: ask the provider to connect. A message that does not fit comes back at its field; a refusal
    of the request itself (already partners, a request open, a country not served) comes back as a
    message on the listing, which then says why."""

    def post(self, request, listing_id):
        listing = self.listing(listing_id)
        form = RequestForm(request.POST)
        if not form.is_valid():
            return self.render_listing(listing, form, status=400)
        try:
            partnership_request_create(
                reseller=self.organization,
                listing=listing,
                message=form.cleaned_data["message"],
                by=self.membership,
            )
        except DomainError as error:
            if error.field:
                form_add_domain_error(form, error)
                return self.render_listing(listing, form, status=400)
            messages.error(request, error.message)
            return redirect(
                "providers:listing", organization_public_id=self.organization.public_id, listing_id=listing_id
            )
        messages.success(
            request,
            _("Your request was sent to %(provider)s. You will get an email when it answers.")
            % {"provider": listing.organization.legal_name},
        )
        return redirect("providers:providers", organization_public_id=self.organization.public_id)


class RequestWithdrawView(OrganizationView):
    """POST: take back an open request; every outcome comes back as a message on Indirect providers."""

    def post(self, request, request_id):
        partnership_request = selectors.requests_sent(self.organization).filter(public_id=request_id).first()
        if partnership_request is None:
            raise Http404
        try:
            partnership_request_withdraw(request=partnership_request, by=self.membership)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("You withdrew your request to %(provider)s.")
                % {"provider": partnership_request.provider.legal_name},
            )
        return redirect("providers:providers", organization_public_id=self.organization.public_id)

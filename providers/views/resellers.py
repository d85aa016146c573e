"""A provider's Indirect resellers pages: its partnerships (and their CSV export), the invitations it sent
(invite, the editable email draft, resend, revoke) and the requests resellers sent it.

The raw token of an invitation exists only in the response to the POST that created it (invite, resend):
the draft page is rendered there, never redirected to, and never cached; sending the draft through the
portal posts the token back in the form's body. No URL ever carries it.
"""

import dataclasses
import uuid
from datetime import datetime
from typing import NamedTuple

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries

from accounts.models import PARTNER_ID_PATTERN, Organization
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from portal.csv_export import EXPORT_FETCH_ROWS, csv_response
from portal.errors import DomainError, form_add_domain_error
from portal.invitations.draft_views import InvitationActionsMixin
from portal.invitations.drafts import DraftForm, mailto_href
from portal.invitations.models import LinkInvitationStatus
from portal.lists import DEFAULT_PAGE_SIZE, KeysetPage, keyset_first_page, keyset_page
from portal.rows import RowLink, choice_labels
from providers import selectors
from providers.models import PartnershipInvitation, PartnershipRequest, PartnershipStatus, RequestStatus
from providers.services.invitations import (
    invitation_draft,
    invitation_link,
    partnership_invitation_create,
    partnership_invitation_email,
    partnership_invitation_resend,
    partnership_invitation_revoke,
)
from providers.services.requests import partnership_request_decline
from providers.views.partnership_rows import partnership_rows

#: The value of a status filter that shows every status.
ALL = "all"


# --- Forms (shape only: the services decide) ------------------------------------------------------


class _FilterForm(forms.Form):
    """A list's filters from the query string; a missing status means the list's default."""

    default_status = ""

    def filters(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_bound else {}
        status = data.get("status") or self.default_status
        filters = {"status": "" if status == ALL else status}
        if "q" in self.fields:
            filters["search"] = data.get("q", "")
        return filters


class ResellerFilterForm(_FilterForm):
    default_status = PartnershipStatus.ACTIVE

    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Legal name or partner ID"),
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[*PartnershipStatus.choices, (ALL, gettext_lazy("All statuses"))],
    )


class InvitationFilterForm(_FilterForm):
    default_status = ALL

    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Email address or partner ID"),
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[(ALL, gettext_lazy("All statuses")), *LinkInvitationStatus.choices],
    )


class RequestFilterForm(_FilterForm):
    default_status = RequestStatus.OPEN

    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[*RequestStatus.choices, (ALL, gettext_lazy("All statuses"))],
    )


#: The list filter forms by name, for ``FilterValues`` to make one again.
_FILTER_FORMS = {
    form_class.__name__: form_class
    for form_class in (ResellerFilterForm, InvitationFilterForm, RequestFilterForm)
}


@dataclasses.dataclass(frozen=True)
class FilterValues:
    """What a list's filter form without errors prints, in plain values: its class, the value sent for
    each field (None: not sent) and whether it was sent at all. The page's ``{% memo %}`` keys the form's
    HTML by these values (and the language): the fields are printed once per process and filters, not on
    every request. A form with errors prints them itself (``of`` gives None)."""

    form_name: str
    data: tuple[tuple[str, str | None], ...]
    bound: bool

    @classmethod
    def of(cls, form: _FilterForm) -> "FilterValues | None":
        if form.errors:
            return None
        return cls(
            form_name=type(form).__name__,
            data=tuple((name, form[name].data) for name in form.fields),
            bound=form.is_bound,
        )

    @property
    def form(self) -> _FilterForm:
        """A form that prints what the form these values came from printed."""
        return _FILTER_FORMS[self.form_name](dict(self.data) if self.bound else None)


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Recipient's email address"),
        max_length=254,
        error_messages={"required": gettext_lazy("Enter the reseller's email address.")},
    )
    partner_id = forms.RegexField(
        label=gettext_lazy("Reseller's partner ID"),
        regex=PARTNER_ID_PATTERN,
        required=False,
        error_messages={"invalid": gettext_lazy("A partner ID is exactly 7 digits.")},
        help_text=gettext_lazy(
            "Optional, 7 digits. It binds the link to that reseller: any Global admin or Admin agent of the "
            "reseller may accept it, whatever their email address."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "maxlength": 7}),
    )
    language = forms.ChoiceField(label=gettext_lazy("Email language"), choices=settings.LANGUAGES)
    request = forms.UUIDField(required=False, widget=forms.HiddenInput)


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        error_messages={"required": gettext_lazy("Tell the reseller why you decline.")},
        help_text=gettext_lazy("The reseller receives it by email."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )


# --- Rows (plain values: each row's ``{% memo %}`` keys it by them) ---------------------------------


class InvitationRow(NamedTuple):
    """What a row of the invitations list prints but its Resend and Revoke forms (a CSRF token: outside
    the row's memo). The dates are formatted by the memo's body."""

    email: str
    invited_by: str | None  # the inviter's name; None: nobody
    emailed_at: datetime | None
    partner_id: str
    status: str
    status_label: str
    created_at: datetime
    expires_at: datetime
    resend_url: str  # "" once accepted
    revoke_url: str  # "" unless pending


def invitation_rows(provider: Organization, invitations) -> list[InvitationRow]:
    """The rows of the provider's invitations list (``selectors.invitation_list_rows``)."""
    if not invitations:
        return []
    org_id = provider.public_id
    resend = RowLink(
        "providers:invitation_resend", "partnership_invitation_id", organization_public_id=org_id
    )
    revoke = RowLink(
        "providers:invitation_revoke", "partnership_invitation_id", organization_public_id=org_id
    )
    statuses = choice_labels(PartnershipInvitation, "status")
    return [
        InvitationRow(
            email=invitation.email,
            invited_by=invitation.invited_by.get_full_name() if invitation.invited_by else None,
            emailed_at=invitation.emailed_at,
            partner_id=invitation.partner_id,
            status=invitation.status,
            status_label=statuses.get(invitation.status, invitation.status),
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
            resend_url=resend(invitation.public_id)
            if invitation.status != LinkInvitationStatus.ACCEPTED
            else "",
            revoke_url=revoke(invitation.public_id)
            if invitation.status == LinkInvitationStatus.PENDING
            else "",
        )
        for invitation in invitations
    ]


class RequestRow(NamedTuple):
    """What a row of the provider's list of requests received prints. The date is formatted by the
    memo's body."""

    public_id: str
    reseller_name: str
    partner_id: str | None
    country_name: str
    requested_by: str | None  # the requester's email address; None: nobody
    message: str
    reason: str
    status: str
    status_label: str
    created_at: datetime
    decline_url: str  # "" unless open


def request_rows(provider: Organization, requests) -> list[RequestRow]:
    """The rows of the provider's list of requests (``selectors.requests_received_list_rows``)."""
    if not requests:
        return []
    decline = RowLink("providers:request_decline", "request_id", organization_public_id=provider.public_id)
    statuses = choice_labels(PartnershipRequest, "status")
    country_names: dict[str, str] = {}
    rows = []
    for received in requests:
        country = received.reseller_country
        if country not in country_names:
            country_names[country] = countries.name(country)
        rows.append(
            RequestRow(
                public_id=str(received.public_id),
                reseller_name=received.reseller_name,
                partner_id=received.reseller_partner_id,
                country_name=country_names[country],
                requested_by=received.requested_by_email,
                message=received.message,
                reason=received.reason,
                status=received.status,
                status_label=statuses.get(received.status, received.status),
                created_at=received.created_at,
                decline_url=decline(received.public_id) if received.status == RequestStatus.OPEN else "",
            )
        )
    return rows


# --- Pages ----------------------------------------------------------------------------------------


class _ProviderPage(OrganizationView):
    @property
    def can_manage(self) -> bool:
        return self.membership.can(Permission.PARTNERS_MANAGE)

    def redirect_to(self, route: str):
        return redirect(f"providers:{route}", organization_public_id=self.organization.public_id)

    def filtered(self, form_class, request):
        """The filter form and its filters; None when the filters are not valid."""
        form = form_class(request.GET or None)
        if form.is_bound and not form.is_valid():
            return form, None
        return form, form.filters()

    def render_list(self, request, template: str, form, rows, ordering, rows_of=None, **context):
        """The list's page; ``rows_of(organization, page.object_list)``, when given, makes the ``rows`` the
        template prints (plain values its ``{% memo %}`` keys each row by). ``rows`` is the list's queryset,
        or the page already read (a ``KeysetPage``: the first page, through a prepared query)."""
        if rows is None or isinstance(rows, KeysetPage):
            page = rows
        else:
            page = keyset_page(rows, ordering=ordering, query=request.GET)
        if rows_of is not None:
            context["rows"] = [] if page is None else rows_of(self.organization, page.object_list)
        context = self.get_context_data(
            form=form,
            filter_values=FilterValues.of(form),
            page=page,
            listed=page is not None,  # the filters are valid: the list is shown
            can_manage=self.can_manage,
            query_string=_filters_query(request),
            **context,
        )
        return render(request, template, context, status=400 if page is None else 200)


def _filters_query(request) -> str:
    """The query string of the filters alone (for the export link): without the list's cursor."""
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("before", None)
    return query.urlencode()


class ResellerListView(_ProviderPage):
    def get(self, request):
        form, filters = self.filtered(ResellerFilterForm, request)
        if filters is None:
            partnerships = None
        elif not filters["search"] and not request.GET.get("after") and not request.GET.get("before"):
            # the first page without a search, which nearly every visit is: its query compiled once per
            # process for each status
            partnerships = keyset_first_page(
                selectors.partnership_list_rows_first(
                    self.organization,
                    status=filters["status"],
                    ordering=selectors.PARTNERSHIP_ORDERING,
                    count=DEFAULT_PAGE_SIZE + 1,
                ),
                ordering=selectors.PARTNERSHIP_ORDERING,
                query=request.GET,
            )
        else:
            partnerships = selectors.partnership_list_rows(self.organization, **filters)
        return self.render_list(
            request,
            "providers/resellers.html",
            form,
            partnerships,
            selectors.PARTNERSHIP_ORDERING,
            rows_of=partnership_rows,
        )


class ResellerExportView(_ProviderPage):
    """The Indirect resellers list as CSV, with the page's filters, streamed (never in memory at once)."""

    header = ["reseller", "partner_id", "country", "status", "status_label", "since_utc", "ended_utc"]

    def get(self, request):
        form, filters = self.filtered(ResellerFilterForm, request)
        if filters is None:
            return self.render_list(
                request,
                "providers/resellers.html",
                form,
                None,
                selectors.PARTNERSHIP_ORDERING,
                rows_of=partnership_rows,
            )
        columns = (
            selectors.partnerships_of(self.organization, **filters)
            .order_by(*selectors.PARTNERSHIP_ORDERING)
            .values_list(
                "reseller__legal_name", "reseller__partner_id", "reseller__country", "status", "started_at",
                "ended_at",
            )
        )  # fmt: skip
        labels = dict(PartnershipStatus.choices)

        def rows():
            for name, partner_id, country, status, started_at, ended_at in columns.iterator(
                chunk_size=EXPORT_FETCH_ROWS
            ):
                yield (
                    name,
                    partner_id,
                    country,
                    status,
                    labels.get(status, status),
                    started_at.isoformat(),
                    ended_at.isoformat() if ended_at else "",
                )

        return csv_response(f"indirect-resellers-{self.organization.public_id}.csv", self.header, rows())


class InvitationListView(_ProviderPage):
    def get(self, request):
        form, filters = self.filtered(InvitationFilterForm, request)
        invitations = (
            None if filters is None else selectors.invitation_list_rows(self.organization, **filters)
        )
        return self.render_list(
            request,
            "providers/invitations.html",
            form,
            invitations,
            selectors.INVITATION_ORDERING,
            rows_of=invitation_rows,
        )


class RequestListView(_ProviderPage):
    def get(self, request):
        form, filters = self.filtered(RequestFilterForm, request)
        requests = (
            None if filters is None else selectors.requests_received_list_rows(self.organization, **filters)
        )
        return self.render_list(
            request,
            "providers/requests.html",
            form,
            requests,
            selectors.REQUEST_ORDERING,
            rows_of=request_rows,
        )


class _DraftPage(_ProviderPage):
    """Renders the draft of a just-issued invitation: only ever in the response to a POST, never cached."""

    def render_draft(self, invitation: PartnershipInvitation, *, raw_token: str, form=None, status=200):
        link = invitation_link(raw_token)
        if form is None:
            draft = invitation_draft(invitation=invitation, raw_token=raw_token)
            form = DraftForm(initial={"subject": draft.subject, "body": draft.body, "token": raw_token})
            subject, body = draft.subject, draft.body
        else:
            subject, body = form["subject"].value() or "", form["body"].value() or ""
        context = self.get_context_data(
            invitation=invitation,
            form=form,
            link=link,
            mailto=mailto_href(to=invitation.email, subject=subject, body=body),
        )
        response = render(self.request, "providers/draft.html", context, status=status)
        add_never_cache_headers(response)
        return response


class InviteView(_DraftPage):
    def get(self, request):
        partnership_request = self._request(request.GET.get("request"))
        initial = {"language": request.user.preferred_language}
        if partnership_request is not None:
            requester = partnership_request.requested_by
            initial.update(
                email=requester.email if requester else "",
                partner_id=partnership_request.reseller.partner_id or "",
                request=partnership_request.public_id,
            )
        return self._render(InviteForm(initial=initial), partnership_request)

    def post(self, request):
        form = InviteForm(request.POST)
        partnership_request = None
        if form.is_valid():
            partnership_request = self._request(form.cleaned_data["request"])
            try:
                invitation, raw_token = partnership_invitation_create(
                    provider=self.organization,
                    email=form.cleaned_data["email"],
                    partner_id=form.cleaned_data["partner_id"],
                    language=form.cleaned_data["language"],
                    request=partnership_request,
                    by=self.membership,
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                return self.render_draft(invitation, raw_token=raw_token)
        elif form.cleaned_data.get("request"):
            partnership_request = self._request(form.cleaned_data["request"])
        return self._render(form, partnership_request, status=400)

    def _request(self, public_id) -> PartnershipRequest | None:
        """The request being answered (another provider's, or a malformed id: 404)."""
        if not public_id:
            return None
        try:
            public_id = uuid.UUID(str(public_id))
        except ValueError:
            raise Http404 from None
        partnership_request = selectors.request_get(self.organization, public_id)
        if partnership_request is None:
            raise Http404
        return partnership_request

    def _render(self, form, partnership_request, status=200):
        context = self.get_context_data(
            form=form,
            partnership_request=partnership_request,
            invitation_days=settings.PARTNERSHIP_INVITATION_DAYS,
        )
        return render(self.request, "providers/invite.html", context, status=status)


class _InvitationAction(InvitationActionsMixin, _DraftPage):
    def invitation(self, partnership_invitation_id) -> PartnershipInvitation:
        invitation = selectors.invitation_get(self.organization, partnership_invitation_id)
        if invitation is None:
            raise Http404
        return invitation


class InvitationSendView(_InvitationAction):
    """POST: the portal sends the provider's edited draft (``InvitationActionsMixin.draft_send``)."""

    def post(self, request, partnership_invitation_id):
        return self.draft_send(
            request, self.invitation(partnership_invitation_id), send=partnership_invitation_email
        )


class InvitationResendView(_InvitationAction):
    """POST: a new link to the same recipient (the old one dies), and its draft."""

    def post(self, request, partnership_invitation_id):
        return self.invitation_resend(
            request, self.invitation(partnership_invitation_id), resend=partnership_invitation_resend
        )


class InvitationRevokeView(_InvitationAction):
    def post(self, request, partnership_invitation_id):
        return self.invitation_revoke(
            request, self.invitation(partnership_invitation_id), revoke=partnership_invitation_revoke
        )


class RequestDeclineView(_ProviderPage):
    """GET: the request and a reason to give; POST: decline it, the reseller is told."""

    def get(self, request, request_id):
        return self._render(self._request(request_id), DeclineForm())

    def post(self, request, request_id):
        partnership_request = self._request(request_id)
        form = DeclineForm(request.POST)
        if form.is_valid():
            try:
                partnership_request_decline(
                    request=partnership_request, reason=form.cleaned_data["reason"], by=self.membership
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("You declined the request from %(reseller)s.")
                    % {"reseller": partnership_request.reseller.legal_name},
                )
                return self.redirect_to("requests")
        return self._render(partnership_request, form, status=400)

    def _request(self, request_id) -> PartnershipRequest:
        partnership_request = selectors.request_get(self.organization, request_id)
        if partnership_request is None:
            raise Http404
        return partnership_request

    def _render(self, partnership_request, form, status=200):
        context = self.get_context_data(partnership_request=partnership_request, form=form)
        return render(self.request, "providers/request_decline.html", context, status=status)

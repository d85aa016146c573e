"""A partner's customer pages: the Customers page (a reseller's customers; a provider's, those its
resellers share with it), one customer, the expiry radar, and a reseller's invitations to customers (the
two kinds, the editable email draft, send, resend, revoke) and its requests for new delegated admin roles.

Who sees which customer is ``customers.selectors``' answer, never this module's. The raw token of an
invitation exists only in the response to the POST that created it (invite, resend): the draft page is
rendered there, never redirected to, and never cached; sending the draft posts the token back in the
form's body. No URL ever carries it.
"""

import functools
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import NamedTuple

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.dashboard import dashboard_figures, json_datetime
from accounts.models import Organization
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from commerce.models import SUBSCRIPTION_LIVE, Subscription
from commerce.views.subscriptions import SUBSCRIPTION_ORDERING, SUBSCRIPTIONS_PER_ROW, customer_page_context
from customers import partner_selectors as reads
from customers import selectors
from customers.models import (
    EXPIRING_DAYS,
    CustomerInvitation,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    InvitationKind,
    roles_ordered,
)
from customers.partner_forms import (
    DURATION_CHOICES,
    CustomerFilterForm,
    DelegatedTermsForm,
    InvitationFilterForm,
    InviteForm,
)
from customers.services.common import role_lines
from customers.services.delegated import delegated_admin_request
from customers.services.invitations import (
    customer_invitation_create,
    customer_invitation_email,
    customer_invitation_resend,
    customer_invitation_revoke,
    invitation_draft,
    invitation_link,
)
from portal.errors import DomainError, form_add_domain_error
from portal.invitations.draft_views import InvitationActionsMixin
from portal.invitations.drafts import DraftForm, mailto_href
from portal.links import organization_url
from portal.lists import DEFAULT_PAGE_SIZE, keyset_first_page, keyset_page
from portal.memo import Derived
from portal.rows import RowLink, choice_labels

#: The orderings of the keyset lists (portal.lists): every field one way, the last one unique.
CUSTOMER_ORDERING = ("customer_name", "id")
INVITATION_ORDERING = ("-created_at", "-id")
HISTORY_ORDERING = ("-requested_at", "-id")
HISTORY_PAGE_SIZE = 20
#: The expiry radar's order, the most urgent first: live relationships always have an end date (a check
#: constraint), so the radar's filter leaves no NULL in ``ends_at``. The partial index
#: ``delegated_admin_radar_idx`` (partner, ends_at, id) of the live ones serves every page.
RADAR_ORDERING = ("ends_at", "id")
#: What a row of the radar shows of each relationship and its customer.
RADAR_COLUMNS = ("roles", "ends_at", "auto_extend", "customer__public_id", "customer__legal_name")


# --- The dashboard card ------------------------------------------------------------------------------


def _next_expiring(reseller_access_expiring: dict | None, *, organization) -> SimpleNamespace | None:
    if reseller_access_expiring is None:
        return None
    ends_at = json_datetime(reseller_access_expiring["ends_at"])
    customer = SimpleNamespace(
        legal_name=reseller_access_expiring["legal_name"],
        public_id=uuid.UUID(reseller_access_expiring["public_id"]),
    )
    days_left = reads.days_left(ends_at, timezone.now())
    customer_url = reverse(
        "customers:customer",
        kwargs={"organization_public_id": organization.public_id, "customer_id": customer.public_id},
    )
    return SimpleNamespace(customer=customer, ends_at=ends_at, days_left=days_left, customer_url=customer_url)


def dashboard_card(view) -> dict:
    """The Customers card: for a reseller, the delegated admin access that ends next (a figure read with the
    other cards' in the dashboard's one query, never a count over the organization's history)."""
    organization = view.organization
    if organization.kind != Organization.Kind.RESELLER:
        return {"is_provider": organization.kind == Organization.Kind.PROVIDER}
    next_expiring = dashboard_figures(view).ask(
        lambda reseller_access_expiring: _next_expiring(reseller_access_expiring, organization=organization),
        reseller_access_expiring=selectors.reseller_access_expiring_figure,
    )
    # the card's links (portal.links: each route reversed once per process)
    urls = {
        route: organization_url(f"customers:{route}", organization.public_id)
        for route in ("invite", "invitations", "expiring")
    }
    return {
        "next_expiring": next_expiring,
        "urls": urls,
        "can_invite": view.membership.can(Permission.CUSTOMERS_INVITE),
    }


# --- Pages --------------------------------------------------------------------------------------------


class _PartnerPage(OrganizationView):
    @property
    def is_reseller(self) -> bool:
        return self.organization.kind == Organization.Kind.RESELLER

    def can(self, permission: str) -> bool:
        return self.membership.can(permission)

    def redirect_to(self, route: str, **kwargs):
        return redirect(f"customers:{route}", organization_public_id=self.organization.public_id, **kwargs)

    def url(self, route: str, **kwargs) -> str:
        return reverse(
            f"customers:{route}", kwargs={"organization_public_id": self.organization.public_id, **kwargs}
        )

    def get_context_data(self, **context):
        return super().get_context_data(
            is_reseller=self.is_reseller,
            can_invite=self.is_reseller and self.can(Permission.CUSTOMERS_INVITE),
            can_manage=self.is_reseller and self.can(Permission.CUSTOMERS_MANAGE),
            **context,
        )


class CustomerListView(_PartnerPage):
    """A reseller's customers; a provider's customers shared with it. ``?partnership=`` narrows them to
    one partnership's (a reseller: shared with that provider; a provider: from that reseller)."""

    def get(self, request):
        if self.is_reseller and request.GET.get("invite"):
            return self._invite_redirect(request)
        form = CustomerFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            if "partnership" in form.errors or "provider" in form.errors:
                raise Http404  # a malformed partnership id names nothing of ours
            return self._render(request, form, None, None, status=400)
        partnership = None
        query = request.GET
        if not (form.is_bound and (form.cleaned_data["q"] or form.partnership_id())) and not (
            query.get("after") or query.get("before")
        ):
            # the first page of all the customers, which nearly every visit is: its query compiled once
            first = reads.customer_list_first(
                self.organization, ordering=CUSTOMER_ORDERING, count=DEFAULT_PAGE_SIZE + 1
            )
            page = keyset_first_page(first, ordering=CUSTOMER_ORDERING, query=query)
            return self._render(request, form, page, None)
        rows = reads.customer_list_rows(
            selectors.customer_relationships_visible_to(self.organization), self.organization
        )
        if form.partnership_id():
            partnership = reads.partnership_of(self.organization, form.partnership_id())
            if partnership is None:
                raise Http404
            rows = reads.shared_through(rows, self.organization, partnership)
        if form.is_bound and form.cleaned_data["q"]:
            rows = rows.filter(customer_name__icontains=form.cleaned_data["q"])
        page = keyset_page(rows, ordering=CUSTOMER_ORDERING, query=request.GET)
        return self._render(request, form, page, partnership)

    def _invite_redirect(self, request):
        """Earlier links (``?invite=1&provider=<partnership>``) open the invite page of the right kind."""
        provider = request.GET.get("provider") or request.GET.get("partnership")
        query = {"kind": InvitationKind.RESELLER_ONLY}
        if provider:
            query = {"kind": InvitationKind.WITH_PROVIDER, "partnership": provider}
        return redirect(f"{self.url('invite')}?{urlencode(query)}")

    def _render(self, request, form, page, partnership, status=200):
        searching = bool(form.is_bound and form.is_valid() and form.cleaned_data["q"])
        public_id = self.organization.public_id
        context = self.get_context_data(
            form=form,
            page=page,
            # the page's rows as the template prints them, built only if its memo lacks them
            rows=None if page is None else customer_rows(self.organization, page.object_list),
            list_url=organization_url("customers:list", public_id),
            invite_url=organization_url("customers:invite", public_id),
            partnership=partnership,
            searching=searching,
            expiring_days=EXPIRING_DAYS,
            # what every row prints beside its own values (its memo is keyed by both)
            row_terms=CustomerRowTerms(
                is_reseller=self.is_reseller,
                # the rows' links: a provider's New order, a reseller's roles for users and licences
                can_order=not self.is_reseller and self.can(Permission.CUSTOMERS_MANAGE),
                user_admin_label=str(DelegatedRole.USER_ADMIN.label),
                license_admin_label=str(DelegatedRole.LICENSE_ADMIN.label),
            ),
        )
        return render(request, "customers/list.html", context, status=status)


class SubscriptionLine(NamedTuple):
    """One of a Customers row's subscriptions, in plain values."""

    name: str
    seats: int | None  # None: not a seat-based offer (the line says no seats)
    status_name: str
    renews_at: datetime | None  # None: not live (the line says no renewal)
    auto_renew: bool


class DelegatedAccess(NamedTuple):
    """A Customers row's live delegated admin access, in plain values."""

    role_names: tuple[str, ...]
    status_name: str
    ends_at: datetime
    days_left: int
    ends_soon: bool
    auto_extend: bool


class CustomerRow(NamedTuple):
    """What a row of the Customers page prints, in plain values: the row's ``{% memo %}`` keys it by them,
    so a row already printed with these values is not rendered again (``portal.memo``). Dates stay
    datetimes: the template formats them, only when it renders the row."""

    customer_id: int
    customer_name: str
    started_at: datetime
    url: str
    provider_names: tuple[str, ...]  # a reseller's row: the providers it shares the customer with
    reseller_name: str  # a provider's row: the reseller of record
    delegated_admin: DelegatedAccess | None
    requested_roles: tuple[str, ...] | None  # the role names of a request awaiting approval
    subscriptions: tuple[SubscriptionLine, ...]
    subscriptions_more: bool
    holds_user_admin: bool
    holds_license_admin: bool
    users_url: str = ""  # a reseller's
    licences_url: str = ""
    order_url: str = ""  # a provider's, with its reseller (``?kind=new&reseller=``)


class CustomerRowTerms(NamedTuple):
    """What every row of a Customers page prints beside its own values, the same for the page."""

    is_reseller: bool
    can_order: bool  # a provider's member who may order: the row links to a New order
    user_admin_label: str
    license_admin_label: str


_LINE_COLUMNS = (
    *("customer_id", "reseller_id", "name", "seats", "status", "auto_renew", "renews_at"),
    "offer__seat_based",
)


def customer_rows(organization: Organization, relationships) -> Derived:
    """The Customers page's rows for these relationships (``partner_selectors.customer_list_rows``), with
    their delegated admin access, providers (a reseller's) and first subscriptions: one query each for the
    page. What the queries read is kept as it comes (plain tuples, cheap to key); the rows are built from
    it by ``customer_rows_built`` only when the page's memo does not hold them already (``memo.Derived``).
    """
    if not relationships:
        return Derived(customer_rows_built, organization.kind, organization.pk, organization.public_id)
    is_reseller = organization.kind == Organization.Kind.RESELLER
    customer_ids = [row.customer_id for row in relationships]
    rows = tuple(
        (
            row.customer_id,
            row.reseller_id,
            row.customer_name,
            row.started_at,
            row.customer_public_id if is_reseller else None,
        )
        for row in relationships
    )
    subscriptions = reads.first_subscriptions(
        organization,
        customer_ids,
        per_customer=SUBSCRIPTIONS_PER_ROW,
        columns=_LINE_COLUMNS,
        ordering=("customer_id", *SUBSCRIPTION_ORDERING),
    )
    return Derived(
        customer_rows_built,
        organization.kind,
        organization.pk,
        organization.public_id,
        rows,
        reads.delegated_admin_rows(organization, customer_ids, timezone.now()),
        reads.provider_names(organization, customer_ids) if is_reseller else (),
        () if is_reseller else reads.list_rows_parties(relationships),
        subscriptions,
    )


def customer_rows_built(
    kind, organization_id, public_id, rows=(), delegated=(), providers=(), parties=(), subscriptions=()
) -> list[CustomerRow]:
    """The rows ``customer_rows`` read, built (in the request's language) from what its queries returned:
    ``rows`` (customer, reseller, customer's name, relationship's start, customer's public id if a
    reseller's), ``delegated`` (``partner_selectors.delegated_admin_rows``), ``providers`` (a reseller's:
    customer, provider's name), ``parties`` (a provider's: id, public id, legal name) and
    ``subscriptions`` (``_LINE_COLUMNS``). Nothing else is read: a memo keys the rows by these."""
    is_reseller = kind == Organization.Kind.RESELLER
    # the rows' links: each route reversed once for the page, not once a row
    url = RowLink("customers:customer", "customer_id", organization_public_id=public_id)
    if is_reseller:
        users_url = RowLink("commerce:customer_users", "customer_id", organization_public_id=public_id)
        licences_url = RowLink("commerce:customer_licences", "customer_id", organization_public_id=public_id)
    else:
        order_url = RowLink("commerce:order_new", "customer_id", organization_public_id=public_id)
    role_names = _role_names()
    statuses = choice_labels(DelegatedAdminRelationship, "status")
    live_by_customer, held_by_customer, pending_by_customer = {}, {}, {}
    for customer_id, status, roles, ends_at, auto_extend, days_left, ends_soon in delegated:
        if status == DelegatedAdminStatus.APPROVAL_PENDING:
            pending_by_customer[customer_id] = role_names(tuple(roles))
        else:
            held_by_customer[customer_id] = tuple(roles)
            live_by_customer[customer_id] = DelegatedAccess(
                role_names=role_names(tuple(roles)),
                status_name=statuses.get(status, status),
                ends_at=ends_at,
                days_left=days_left,
                ends_soon=ends_soon,
                auto_extend=auto_extend,
            )
    provider_names: dict[int, list[str]] = {}
    for customer_id, name in providers:
        provider_names.setdefault(customer_id, []).append(name)
    party = {pk: (party_public_id, legal_name) for pk, party_public_id, legal_name in parties}
    lines = _subscription_lines(subscriptions)
    built = []
    for customer_id, reseller_id, customer_name, started_at, customer_public_id in rows:
        live = live_by_customer.get(customer_id)
        held = held_by_customer.get(customer_id, ())
        customer_lines = lines.get((customer_id, organization_id if is_reseller else reseller_id), ())
        if is_reseller:
            reseller_name = ""
            links = {
                "users_url": users_url(customer_public_id),
                "licences_url": licences_url(customer_public_id),
            }
        else:
            customer_public_id = party[customer_id][0]
            reseller_public_id, reseller_name = party[reseller_id]
            links = {"order_url": f"{order_url(customer_public_id)}?kind=new&reseller={reseller_public_id}"}
        built.append(
            CustomerRow(
                customer_id=customer_id,
                customer_name=customer_name,
                started_at=started_at,
                url=url(customer_public_id),
                provider_names=tuple(provider_names.get(customer_id, ())),
                reseller_name=reseller_name,
                delegated_admin=live,
                requested_roles=pending_by_customer.get(customer_id),
                # a customer may have a thousand: the row shows the first ones, the customer's page all
                subscriptions=tuple(customer_lines[:SUBSCRIPTIONS_PER_ROW]),
                subscriptions_more=len(customer_lines) > SUBSCRIPTIONS_PER_ROW,
                holds_user_admin=selectors.role_satisfied(held, DelegatedRole.USER_ADMIN),
                holds_license_admin=selectors.role_satisfied(held, DelegatedRole.LICENSE_ADMIN),
                **links,
            )
        )
    return built


def _subscription_lines(values) -> dict[tuple[int, int], list]:
    """The subscriptions (``_LINE_COLUMNS``) of each customer and reseller, as a row's lines."""
    statuses = choice_labels(Subscription, "status")
    found: dict[tuple[int, int], list] = {}
    for customer_id, reseller_id, name, seats, status, auto_renew, renews_at, seat_based in values:
        line = SubscriptionLine(
            name=name,
            seats=seats if seat_based else None,
            status_name=statuses.get(status, status),
            renews_at=renews_at if status in SUBSCRIPTION_LIVE else None,
            auto_renew=auto_renew,
        )
        found.setdefault((customer_id, reseller_id), []).append(line)
    return found


def _role_names():
    """``role_names(roles)``: the labels of a tuple of roles, in catalogue order, each tuple worked out
    once for the page (a page's rows hold a few combinations of roles)."""
    labels = {role.value: str(role.label) for role in DelegatedRole}
    return functools.cache(lambda roles: tuple(labels[role] for role in roles_ordered(roles)))


class CustomerView(_PartnerPage):
    """One customer: the relationship, the providers (or the reseller of record), delegated admin."""

    def get(self, request, customer_id):
        relationship = selectors.customer_relationship_for(self.organization, customer_id)
        customer = relationship.customer
        now = timezone.now()
        live = selectors.delegated_admin_live(self.organization, customer, now=now)
        if live is not None:
            reads.delegated_admin_marked(live, now)
        pending = reads.delegated_admin_pending(self.organization, customer)
        history = keyset_page(
            reads.delegated_admin_history(self.organization, customer),
            ordering=HISTORY_ORDERING,
            query=request.GET,
            size=HISTORY_PAGE_SIZE,
        )
        providers = (
            reads.providers_by_customer(self.organization, [customer.pk]).get(customer.pk, [])
            if self.is_reseller
            else []
        )
        context = self.get_context_data(
            relationship=relationship,
            customer=customer,
            live=live,
            live_roles=role_lines(live.roles) if live else [],
            pending=pending,
            pending_roles=role_lines(pending.roles) if pending else [],
            history=history,
            providers=providers,
            # the customer's subscriptions and the partner's actions on them (commerce.access decides)
            **customer_page_context(self, customer, live),
        )
        return render(request, "customers/customer.html", context)


class ExpiryRadarView(_PartnerPage):
    """The reseller's delegated admin access that ends in the next 30 days, the soonest first: a keyset
    list (``portal.lists``), 50 rows a page."""

    def get(self, request):
        now = timezone.now()
        page = keyset_page(
            selectors.delegated_admins_expiring(self.organization, days=EXPIRING_DAYS, now=now).only(
                *RADAR_COLUMNS
            ),
            ordering=RADAR_ORDERING,
            query=request.GET,
            nulls_excluded=True,
        )
        for row in page.object_list:
            row.days_left = reads.days_left(row.ends_at, now)
        context = self.get_context_data(
            page=page, rows=expiring_rows(self.organization, page.object_list), expiring_days=EXPIRING_DAYS
        )
        return render(request, "customers/expiring.html", context)


class ExpiringRow(NamedTuple):
    """What a row of the expiry radar prints, in plain values (its ``{% memo %}`` is keyed by them)."""

    customer_name: str
    url: str
    request_url: str  # request the roles again
    role_names: tuple[str, ...]
    ends_at: datetime
    days_left: int
    auto_extend: bool


def expiring_rows(organization: Organization, relationships) -> list[ExpiringRow]:
    """The expiry radar's rows (``days_left`` already marked on them)."""
    public_id = organization.public_id
    url = RowLink("customers:customer", "customer_id", organization_public_id=public_id)
    request_url = RowLink(
        "customers:delegated_admin_request", "customer_id", organization_public_id=public_id
    )
    role_names = _role_names()
    return [
        ExpiringRow(
            customer_name=relationship.customer.legal_name,
            url=url(relationship.customer.public_id),
            request_url=request_url(relationship.customer.public_id),
            role_names=role_names(tuple(relationship.roles)),
            ends_at=relationship.ends_at,
            days_left=relationship.days_left,
            auto_extend=relationship.auto_extend,
        )
        for relationship in relationships
    ]


class _DraftPage(_PartnerPage):
    """Renders the draft of a just-issued invitation: only ever in the response to a POST, never cached."""

    def render_draft(self, invitation: CustomerInvitation, *, raw_token: str, form=None, status=200):
        link = invitation_link(raw_token)
        if form is None:
            draft = invitation_draft(invitation=invitation, raw_token=raw_token)
            form = DraftForm(initial={"subject": draft.subject, "body": draft.body, "token": raw_token})
            subject, body = draft.subject, draft.body
        else:
            subject, body = form["subject"].value() or "", form["body"].value() or ""
        context = self.get_context_data(
            invitation=invitation,
            roles=role_lines(invitation.roles),
            form=form,
            link=link,
            mailto=mailto_href(to=invitation.email, subject=subject, body=body),
        )
        response = render(self.request, "customers/draft.html", context, status=status)
        add_never_cache_headers(response)
        return response


class InviteView(_DraftPage):
    """``?kind=reseller``: Request a reseller relationship; ``?kind=with_provider[&partnership=]``: Invite
    new customer with one of the reseller's providers. Without a kind: which of the two."""

    def get(self, request):
        kind = request.GET.get("kind")
        if kind not in InvitationKind.values:
            return self._render_choice()
        with_provider = kind == InvitationKind.WITH_PROVIDER
        partnerships = reads.partnerships_live(self.organization) if with_provider else []
        initial = {"kind": kind, "language": request.user.preferred_language}
        chosen = request.GET.get("partnership", "")
        if any(str(partnership.public_id) == chosen for partnership in partnerships):
            initial["partnership"] = chosen
        form = InviteForm(initial=initial, partnerships=partnerships, with_provider=with_provider)
        return self._render(form, kind, partnerships)

    def post(self, request):
        kind = request.POST.get("kind")
        if kind not in InvitationKind.values:
            return self._render_choice(status=400)
        with_provider = kind == InvitationKind.WITH_PROVIDER
        partnerships = reads.partnerships_live(self.organization) if with_provider else []
        form = InviteForm(request.POST, partnerships=partnerships, with_provider=with_provider)
        if form.is_valid():
            data = form.cleaned_data
            try:
                invitation, raw_token = customer_invitation_create(
                    reseller=self.organization,
                    by=self.membership,
                    email=data["email"],
                    kind=kind,
                    roles=data["roles"],
                    duration_days=data["duration_days"],
                    auto_extend=data["auto_extend"],
                    partnership_public_id=data.get("partnership"),
                    customer_name=data["customer_name"],
                    language=data["language"],
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                return self.render_draft(invitation, raw_token=raw_token)
        return self._render(form, kind, partnerships, status=400)

    def _render(self, form, kind, partnerships, status=200):
        chosen = str(form["partnership"].value() or "") if "partnership" in form.fields else ""
        provider = next(
            (p.provider for p in partnerships if str(p.public_id) == chosen),
            None,
        )
        context = self.get_context_data(
            form=form,
            kind=kind,
            with_provider=kind == InvitationKind.WITH_PROVIDER,
            partnerships=partnerships,
            chosen_provider=provider,
            duration_choices=DURATION_CHOICES,
            invitation_days=settings.CUSTOMER_INVITATION_DAYS,
        )
        return render(self.request, "customers/invite.html", context, status=status)

    def _render_choice(self, status=200):
        context = self.get_context_data(form=None, kind=None)
        return render(self.request, "customers/invite.html", context, status=status)


class InvitationListView(_PartnerPage):
    def get(self, request):
        form = InvitationFilterForm(request.GET or None)
        page = None
        if not form.is_bound or form.is_valid():
            invitations = reads.invitations_filtered(
                selectors.customer_invitations_of(self.organization), **form.filters()
            )
            page = keyset_page(invitations, ordering=INVITATION_ORDERING, query=request.GET)
        context = self.get_context_data(form=form, page=page)
        return render(request, "customers/invitations.html", context, status=400 if page is None else 200)


class _InvitationAction(InvitationActionsMixin, _DraftPage):
    def invitation(self, customer_invitation_id) -> CustomerInvitation:
        invitation = (
            selectors.customer_invitations_of(self.organization)
            .filter(public_id=customer_invitation_id)
            .first()
        )
        if invitation is None:
            raise Http404
        return invitation


class InvitationSendView(_InvitationAction):
    """POST: the portal sends the reseller's edited draft (``InvitationActionsMixin.draft_send``)."""

    def post(self, request, customer_invitation_id):
        return self.draft_send(
            request, self.invitation(customer_invitation_id), send=customer_invitation_email
        )


class InvitationResendView(_InvitationAction):
    """POST: a new link to the same recipient with the same terms (the old one dies), and its draft."""

    def post(self, request, customer_invitation_id):
        return self.invitation_resend(
            request, self.invitation(customer_invitation_id), resend=customer_invitation_resend
        )


class InvitationRevokeView(_InvitationAction):
    def post(self, request, customer_invitation_id):
        return self.invitation_revoke(
            request, self.invitation(customer_invitation_id), revoke=customer_invitation_revoke
        )


class DelegatedAdminRequestView(_PartnerPage):
    """GET: the terms to ask for (the live ones by default); POST: the request, which the customer's
    administrators approve or decline."""

    def get(self, request, customer_id):
        relationship = selectors.customer_relationship_for(self.organization, customer_id)
        live = selectors.delegated_admin_live(self.organization, relationship.customer)
        initial = {}
        if live is not None:
            initial = {
                "roles": live.roles_in_order,
                "duration_days": live.duration_days,
                "auto_extend": live.auto_extend,
            }
        return self._render(relationship, live, DelegatedTermsForm(initial=initial))

    def post(self, request, customer_id):
        relationship = selectors.customer_relationship_for(self.organization, customer_id)
        form = DelegatedTermsForm(request.POST)
        if form.is_valid():
            try:
                delegated_admin_request(
                    partner=self.organization,
                    by=self.membership,
                    customer=relationship.customer,
                    roles=form.cleaned_data["roles"],
                    duration_days=form.cleaned_data["duration_days"],
                    auto_extend=form.cleaned_data["auto_extend"],
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Your request was sent to the administrators of %(customer)s. The new roles apply "
                        "once one of them approves it."
                    )
                    % {"customer": relationship.customer.legal_name},
                )
                return self.redirect_to("customer", customer_id=relationship.customer.public_id)
        live = selectors.delegated_admin_live(self.organization, relationship.customer)
        return self._render(relationship, live, form, status=400)

    def _render(self, relationship, live, form, status=200):
        pending = reads.delegated_admin_pending(self.organization, relationship.customer)
        context = self.get_context_data(
            relationship=relationship,
            customer=relationship.customer,
            live=live,
            pending=pending,
            form=form,
            duration_choices=DURATION_CHOICES,
        )
        return render(self.request, "customers/delegated_admin_request.html", context, status=status)

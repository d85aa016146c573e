"""A partner's customer pages: the Customers page (a reseller's customers; a provider's, those its
resellers share with it), one customer, the expiry radar, and a reseller's invitations to customers (the
two kinds, the editable email draft, send, resend, revoke) and its requests for new delegated admin roles.

Who sees which customer is ``customers.selectors``' answer, never this module's. The raw token of an
invitation exists only in the response to the POST that created it (invite, resend): the draft page is
rendered there, never redirected to, and never cached; sending the draft posts the token back in the
form's body. No URL ever carries it.
"""

import uuid
from types import SimpleNamespace

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.dashboard import dashboard_figures, json_datetime
from accounts.models import Organization
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from commerce.models import Subscription
from commerce.views.subscriptions import customer_page_context, customer_rows_annotate
from customers import partner_selectors as reads
from customers import selectors
from customers.models import (
    EXPIRING_DAYS,
    CustomerInvitation,
    DelegatedAdminRelationship,
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
from portal.lists import keyset_page
from portal.rows import RowLink, choice_labels, day, minute, sentence

#: The orderings of the keyset lists (portal.lists): every field one way, the last one unique.
CUSTOMER_ORDERING = ("customer_name", "id")
INVITATION_ORDERING = ("-created_at", "-id")
HISTORY_ORDERING = ("-requested_at", "-id")
HISTORY_PAGE_SIZE = 20
#: The expiry radar's order, the most urgent first: live relationships always have an end date (a check
#: constraint), so the radar's filter leaves no NULL in ``ends_at``. The partial index
#: ``delegated_admin_radar_idx`` (partner, ends_at, id) of the live ones serves every page.
RADAR_ORDERING = ("ends_at", "id")


# --- The dashboard card ------------------------------------------------------------------------------


def _next_expiring(reseller_access_expiring: dict | None) -> SimpleNamespace | None:
    if reseller_access_expiring is None:
        return None
    ends_at = json_datetime(reseller_access_expiring["ends_at"])
    customer = SimpleNamespace(
        legal_name=reseller_access_expiring["legal_name"],
        public_id=uuid.UUID(reseller_access_expiring["public_id"]),
    )
    days_left = reads.days_left(ends_at, timezone.now())
    return SimpleNamespace(customer=customer, ends_at=ends_at, days_left=days_left)


def dashboard_card(view) -> dict:
    """The Customers card: for a reseller, the delegated admin access that ends next (a figure read with the
    other cards' in the dashboard's one query, never a count over the organization's history)."""
    organization = view.organization
    if organization.kind != Organization.Kind.RESELLER:
        return {}
    next_expiring = dashboard_figures(view).ask(
        _next_expiring, reseller_access_expiring=selectors.reseller_access_expiring_figure
    )
    # the card's links (portal.links: each route reversed once per process)
    urls = {
        route: organization_url(f"customers:{route}", organization.public_id)
        for route in ("invite", "invitations", "expiring")
    }
    return {"next_expiring": next_expiring, "urls": urls}


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
        if not self.is_reseller:
            reads.list_rows_parties(page.object_list)
        customer_ids = [row.customer_id for row in page.object_list]
        delegated = reads.delegated_admins_by_customer(self.organization, customer_ids)
        providers = (
            reads.provider_names_by_customer(self.organization, customer_ids) if self.is_reseller else {}
        )
        # the rows' links: each route reversed once for the page, not once a row
        routes = {"url": "customers:customer"}
        if self.is_reseller:
            routes.update(users_url="commerce:customer_users", licences_url="commerce:customer_licences")
        else:
            routes["order_url"] = "commerce:order_new"
        links = {
            name: RowLink(route, "customer_id", organization_public_id=self.organization.public_id)
            for name, route in routes.items()
        }
        for row in page.object_list:
            slot = delegated.get(row.customer_id, {})
            row.delegated_admin = slot.get("live")
            row.delegated_request = slot.get("pending")
            row.provider_names = providers.get(row.customer_id, [])
            for name, link in links.items():
                setattr(row, name, link(row.customer.public_id))
        # the rows' subscriptions (one query for the page) and the reseller's users and licences roles
        customer_rows_annotate(self.organization, page.object_list)
        _rows_ready(page.object_list)
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
            list_url=organization_url("customers:list", public_id),
            invite_url=organization_url("customers:invite", public_id),
            partnership=partnership,
            searching=searching,
            expiring_days=EXPIRING_DAYS,
            # the rows' links: a provider's New order, a reseller's roles for users and licences
            can_order=not self.is_reseller and self.can(Permission.CUSTOMERS_MANAGE),
            user_admin_label=DelegatedRole.USER_ADMIN.label,
            license_admin_label=DelegatedRole.LICENSE_ADMIN.label,
        )
        return render(request, "customers/list.html", context, status=status)


def _rows_ready(rows) -> None:
    """Each Customers row's dates, labels and sentences (its delegated admin access, its subscriptions),
    written out once here rather than by a tag in every row (``portal.rows``)."""
    if not rows:
        return
    pages_of, until = _("Pages of %(customer)s"), _("Delegated admin until %(date)s")
    renews, ends = _("renews %(date)s (UTC)"), _("ends %(date)s (UTC)")
    role_names = {role.value: str(role.label) for role in DelegatedRole}
    delegated_statuses = choice_labels(DelegatedAdminRelationship, "status")
    subscription_statuses = choice_labels(Subscription, "status")
    for row in rows:
        row.since = day(row.started_at)
        row.links_label = sentence(pages_of, customer=row.customer_name)
        for delegated in (row.delegated_admin, row.delegated_request):
            if delegated is not None:
                delegated.role_names = [role_names[role] for role in roles_ordered(delegated.roles)]
        live = row.delegated_admin
        if live is not None:
            live.status_name = delegated_statuses.get(live.status, live.status)
            live.ends = minute(live.ends_at)
            days = live.days_left
            if live.ends_soon:
                live.summary = sentence(
                    ngettext(
                        "Delegated admin ends in %(days)s day", "Delegated admin ends in %(days)s days", days
                    ),
                    days=days,
                )
            else:
                live.summary = sentence(until, date=day(live.ends_at))
            live.days_left_label = sentence(ngettext("in %(days)s day", "in %(days)s days", days), days=days)
        for subscription in row.subscriptions:
            subscription.status_name = subscription_statuses.get(subscription.status, subscription.status)
            subscription.seats_label = subscription.renewal_label = ""
            if subscription.offer.seat_based:
                seats = subscription.seats
                subscription.seats_label = sentence(
                    ngettext("%(seats)s seat", "%(seats)s seats", seats), seats=seats
                )
            if subscription.is_live:
                renewal = renews if subscription.auto_renew else ends
                subscription.renewal_label = sentence(renewal, date=day(subscription.renews_at))


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
            selectors.delegated_admins_expiring(self.organization, days=EXPIRING_DAYS, now=now),
            ordering=RADAR_ORDERING,
            query=request.GET,
            nulls_excluded=True,
        )
        for row in page.object_list:
            row.days_left = reads.days_left(row.ends_at, now)
        context = self.get_context_data(page=page, expiring_days=EXPIRING_DAYS)
        return render(request, "customers/expiring.html", context)


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

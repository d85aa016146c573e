"""The customer in control: its Partner relationships page (under Account settings), a partner's request
for new or changed delegated admin roles to approve or decline, removing a partner's delegated admin access
at once, and ending a relationship after a page that shows what it affects.

Every object is read through the customer's own selectors (another customer's id is a 404); each action
calls one service, which notifies the partner; the page then goes back to Partner relationships.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.dashboard import dashboard_figures
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from customers.customer_forms import DelegatedAdminDeclineForm, DelegatedAdminRemoveForm, RelationshipEndForm
from customers.models import (
    AUTO_EXTEND_DAYS,
    DELEGATED_ADMIN_LIVE,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    PartnerRole,
    RelationshipStatus,
)
from customers.selectors import (
    customer_access_ending_at_figure,
    customer_request_pending_id_figure,
    delegated_admin_live,
    delegated_admins_of_customer,
    partners_of_customer,
)
from customers.services.acceptance import delegated_end
from customers.services.common import role_lines
from customers.services.delegated import (
    delegated_admin_approve,
    delegated_admin_decline,
    delegated_admin_remove,
)
from customers.services.relationships import customer_relationship_end, relationship_effects
from portal.errors import DomainError, form_add_domain_error

#: how much of the ended history the page shows (the Activity log has all of it)
HISTORY_ROWS = 50

#: why a delegated admin relationship closed, when the services wrote a reason of their own (a reason
#: the customer typed is shown as typed)
CLOSE_REASONS = {
    "removed_by_customer": gettext_lazy("Removed by your organization"),
    "declined": gettext_lazy("Declined by your organization"),
    "replaced": gettext_lazy("Replaced by roles you approved"),
    "superseded": gettext_lazy("Replaced by a newer request"),
    "relationship_ended": gettext_lazy("The relationship ended"),
    "ended": gettext_lazy("Reached its end date"),
    "unanswered": gettext_lazy("Not answered in time"),
}


def _delegated_view(relationship: DelegatedAdminRelationship | None) -> dict | None:
    """A delegated admin relationship with its roles in plain words, for the templates."""
    if relationship is None:
        return None
    return {
        "relationship": relationship,
        "roles": role_lines(relationship.roles),
        "is_live": relationship.status in DELEGATED_ADMIN_LIVE,
        "is_expiring": relationship.status == DelegatedAdminStatus.EXPIRING,
        "close_reason": CLOSE_REASONS.get(relationship.close_reason, relationship.close_reason),
    }


class _CustomerSideMixin:
    def relationship(self, relationship_id) -> CustomerRelationship:
        """One of this customer's partner relationships; anyone else's does not exist for us."""
        return get_object_or_404(partners_of_customer(self.organization), public_id=relationship_id)

    def delegated_admin(self, delegated_admin_id) -> DelegatedAdminRelationship:
        return get_object_or_404(
            delegated_admins_of_customer(self.organization).select_related("customer", "replaces"),
            public_id=delegated_admin_id,
        )

    def page_context(self, **context) -> dict:
        return self.get_context_data(can_manage=self.membership.can(Permission.PARTNERS_MANAGE), **context)

    def back_to_partners(self):
        return redirect("customers:partners", organization_public_id=self.organization.public_id)


class PartnerRelationshipsView(_CustomerSideMixin, OrganizationView):
    """Every partner with its role and rights (delegated admin roles, end dates), the requests to answer,
    and the ended history."""

    def get(self, request):
        customer = self.organization
        relationships = list(partners_of_customer(customer).filter(status=RelationshipStatus.ACTIVE))
        # each reseller of record first, then the providers that came through it
        relationships.sort(
            key=lambda row: (row.reseller.legal_name, row.reseller_id, row.role != PartnerRole.RESELLER)
        )
        # the live access and the requests to answer in one query (at most one of each per partner)
        pending_status = DelegatedAdminStatus.APPROVAL_PENDING
        open_rows = list(
            delegated_admins_of_customer(customer).filter(status__in=[*DELEGATED_ADMIN_LIVE, pending_status])
        )
        live = {
            row.partner_id: row
            for row in sorted(
                (row for row in open_rows if row.status != pending_status),
                key=lambda row: (row.ends_at, row.id),
            )
        }
        partners = []
        for relationship in relationships:
            partners.append(
                {
                    "relationship": relationship,
                    "delegated": _delegated_view(live.pop(relationship.partner_id, None)),
                }
            )
        # Access left with a partner whose relationship ended (ending removes it: this should stay empty).
        partners += [{"relationship": None, "delegated": _delegated_view(row)} for row in live.values()]
        pending = [
            {"relationship": row, "roles": role_lines(row.roles)}
            for row in sorted(
                (row for row in open_rows if row.status == pending_status),
                key=lambda row: (row.requested_at, row.id),
            )
        ]
        ended = list(
            partners_of_customer(customer)
            .filter(status=RelationshipStatus.ENDED)
            .order_by("-ended_at", "-id")[:HISTORY_ROWS]
        )
        closed = [
            _delegated_view(row)
            for row in delegated_admins_of_customer(customer)
            .filter(status__in=[DelegatedAdminStatus.EXPIRED, DelegatedAdminStatus.TERMINATED])
            .order_by("-closed_at", "-id")[:HISTORY_ROWS]
        ]
        context = self.page_context(
            partners=partners,
            pending=pending,
            ended=ended,
            closed=closed,
            history_rows=HISTORY_ROWS,
            auto_extend_days=AUTO_EXTEND_DAYS,
            reseller_role=PartnerRole.RESELLER,
        )
        return render(request, "customers/partners.html", context)


class DelegatedAdminReviewView(_CustomerSideMixin, OrganizationView):
    """A partner's request for new or changed roles: what it asks and what it replaces; **Approve** or
    **Decline** (an optional reason). An answered request shows its status only."""

    def get(self, request, delegated_admin_id):
        return self._render(self.delegated_admin(delegated_admin_id))

    def post(self, request, delegated_admin_id):
        relationship = self.delegated_admin(delegated_admin_id)
        decision = request.POST.get("decision")
        if decision == "approve":
            approve_form = forms.Form({})
            approve_form.is_valid()  # an empty form, to carry the service's refusal
            try:
                relationship = delegated_admin_approve(relationship=relationship, by=self.membership)
            except DomainError as error:
                form_add_domain_error(approve_form, error)
                return self._render(relationship, approve_form=approve_form, status=400)
            messages.success(
                request,
                _(
                    "You approved the delegated admin roles of %(partner)s, until %(date)s. %(partner)s was "
                    "notified."
                )
                % {
                    "partner": relationship.partner.legal_name,
                    "date": relationship.ends_at.strftime("%Y-%m-%d"),
                },
            )
            return self.back_to_partners()
        form = DelegatedAdminDeclineForm(request.POST)
        if decision != "decline":
            form.is_valid()
            form.add_error(None, _("Choose Approve or Decline."))
        elif form.is_valid():
            try:
                delegated_admin_decline(
                    relationship=relationship, by=self.membership, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("You declined the request of %(partner)s. %(partner)s was notified.")
                    % {"partner": relationship.partner.legal_name},
                )
                return self.back_to_partners()
        return self._render(relationship, decline_form=form, status=400)

    def _render(self, relationship, *, approve_form=None, decline_form=None, status=200):
        replaces = None
        if relationship.status == DelegatedAdminStatus.APPROVAL_PENDING:
            replaces = delegated_admin_live(relationship.partner, self.organization)
        context = self.page_context(
            delegated=_delegated_view(relationship),
            replaces=_delegated_view(replaces),
            is_pending=relationship.status == DelegatedAdminStatus.APPROVAL_PENDING,
            grants_global_admin=DelegatedRole.GLOBAL_ADMIN in relationship.roles,
            # the end date if approved now (the service starts the relationship at approval)
            ends_if_approved=delegated_end(timezone.now(), relationship.duration_days),
            auto_extend_days=AUTO_EXTEND_DAYS,
            approve_form=approve_form or forms.Form(),
            decline_form=decline_form or DelegatedAdminDeclineForm(),
        )
        return render(self.request, "customers/delegated_admin_review.html", context, status=status)


class DelegatedAdminRemoveView(_CustomerSideMixin, OrganizationView):
    """GET: exactly what removing takes away, and a reason; POST: remove it now (the partner is told)."""

    def get(self, request, delegated_admin_id):
        return self._render(self.delegated_admin(delegated_admin_id), DelegatedAdminRemoveForm())

    def post(self, request, delegated_admin_id):
        relationship = self.delegated_admin(delegated_admin_id)
        form = DelegatedAdminRemoveForm(request.POST)
        if form.is_valid():
            try:
                delegated_admin_remove(
                    relationship=relationship, by=self.membership, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("The delegated admin access of %(partner)s was removed. %(partner)s was notified.")
                    % {"partner": relationship.partner.legal_name},
                )
                return self.back_to_partners()
        return self._render(relationship, form, status=400)

    def _render(self, relationship, form, status=200):
        context = self.page_context(delegated=_delegated_view(relationship), form=form)
        return render(self.request, "customers/delegated_admin_remove.html", context, status=status)


class RelationshipEndView(_CustomerSideMixin, OrganizationView):
    """GET: the relationships and delegated access that end with this one, and a reason; POST: end them
    (the partners are told)."""

    def get(self, request, relationship_id):
        return self._render(self.relationship(relationship_id), RelationshipEndForm())

    def post(self, request, relationship_id):
        relationship = self.relationship(relationship_id)
        form = RelationshipEndForm(request.POST)
        if form.is_valid():
            try:
                customer_relationship_end(
                    relationship=relationship, by=self.membership, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("The relationship with %(partner)s has ended. The partners concerned were notified.")
                    % {"partner": relationship.partner.legal_name},
                )
                return self.back_to_partners()
        return self._render(relationship, form, status=400)

    def _render(self, relationship, form, status=200):
        effects = None
        if relationship.status == RelationshipStatus.ACTIVE:
            found = relationship_effects(relationship)
            effects = {
                "relationships": found["relationships"],
                "delegated_admins": [_delegated_view(row) for row in found["delegated_admins"]],
            }
        context = self.page_context(
            relationship=relationship, effects=effects, form=form, reseller_role=PartnerRole.RESELLER
        )
        return render(self.request, "customers/relationship_end.html", context, status=status)


def partners_card(view) -> dict:
    """The customer's Partner relationships card: the oldest request to answer and the delegated admin
    access that ends next (figures read with the other cards' in the dashboard's one query, never a count
    over the organization's history)."""
    figures = dashboard_figures(view)
    in_organization = {"organization_public_id": view.organization.public_id}

    def review(request_pending_id) -> dict | None:
        if request_pending_id is None:
            return None
        kwargs = {**in_organization, "delegated_admin_id": request_pending_id}
        url = reverse("customers:delegated_admin_review", kwargs=kwargs)
        return {"review_url": url}

    pending = figures.ask(review, request_pending_id=customer_request_pending_id_figure)
    ending = figures.ask(
        lambda access_ending_at: None if access_ending_at is None else {"ends_at": access_ending_at},
        access_ending_at=customer_access_ending_at_figure,
    )
    return {"pending": pending, "ending": ending}

"""What every commerce page shares: which customer it concerns, and whether this member of this
organization may do the page's action there (``commerce.access``, the one table).

A customer's own pages concern the organization itself; a partner's pages name the customer in the URL
and find it through the relationship selector (``customers.selectors.customer_relationship_for``: a
customer the partner does not see is 404). A missing delegated role is a 403 page that names the role.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse

from accounts.models import Organization
from accounts.scoping import OrganizationView
from commerce import access
from customers import selectors as customer_selectors


class CustomerScopedView(OrganizationView):
    """Subclasses set ``action`` (``commerce.access``) for GET and ``post_action`` for POST; after
    ``customer_resolve`` the view has ``self.customer``, ``self.partner`` (None on the customer's own
    pages) and ``self.relationship`` (the partner's; None on the customer's own pages). A partner's checks
    in one request (the page's action, the buttons it offers) share one ``PartnerAnswers``: each question
    is put to the relationship selector once per request."""

    action: str = access.SUBSCRIPTIONS_VIEW
    post_action: str | None = None
    #: a partner's answers from the relationship selector, for every check of this request
    answers: customer_selectors.PartnerAnswers | None = None

    @property
    def is_customer_side(self) -> bool:
        return self.organization.kind == Organization.Kind.CUSTOMER

    def customer_resolve(self, customer_id=None, *, action: str | None = None):
        """Find the customer and check the action; returns None, or the response to send instead (403
        naming the missing role). A customer the partner does not see raises Http404."""
        from django.http import Http404

        if self.is_customer_side:
            self.customer, self.partner, self.relationship = self.organization, None, None
        else:
            self.relationship = customer_selectors.customer_relationship_for(self.organization, customer_id)
            self.customer, self.partner = self.relationship.customer, self.organization
            # every check of this request from the same answers (the relationship found answers the first)
            self.answers = customer_selectors.PartnerAnswers(
                self.organization, self.customer, visible=self.relationship
            )
        try:
            access.customer_action_check(
                self.organization, self.membership, self.customer, action or self.action, answers=self.answers
            )
        except access.CustomerNotVisible:
            raise Http404 from None
        except access.DelegatedRoleMissing as missing:
            return self.role_missing(missing)
        except access.ActionNotPermitted as denied:
            return render(
                self.request,
                "commerce/forbidden.html",
                self.get_context_data(message=denied.message),
                status=403,
            )
        return None

    def role_missing(self, missing: access.DelegatedRoleMissing):
        from customers.models import DelegatedRole

        context = self.get_context_data(role=DelegatedRole(missing.role).label, message=missing.message)
        return render(self.request, "commerce/role_missing.html", context, status=403)

    def may(self, action: str) -> bool:
        """Whether the page may offer ``action`` (a button): the same table, no exception."""
        return access.customer_action_allowed(
            self.organization, self.membership, self.customer, action, answers=self.answers
        )

    def route(self, customer_route: str, partner_route: str | None = None) -> tuple[str, dict]:
        """The name and the keyword arguments of a page of this customer: the customer's own route, or the
        partner's (which names the customer)."""
        if self.is_customer_side:
            return f"commerce:{customer_route}", {"organization_public_id": self.organization.public_id}
        return f"commerce:{partner_route or 'customer_' + customer_route}", {
            "organization_public_id": self.organization.public_id,
            "customer_id": self.customer.public_id,
        }

    def url(self, customer_route: str, partner_route: str | None = None, **kwargs) -> str:
        """The URL of a page of this customer (``route``)."""
        name, route_kwargs = self.route(customer_route, partner_route)
        return reverse(name, kwargs={**route_kwargs, **kwargs})

    def get_context_data(self, **context):
        return super().get_context_data(
            customer=getattr(self, "customer", None),
            partner=getattr(self, "partner", None),
            relationship=getattr(self, "relationship", None),
            is_customer_side=self.is_customer_side,
            **context,
        )

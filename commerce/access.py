"""Who may do what to a customer's subscriptions, users and licences: one table, one check.

Each action names the delegated role a partner needs in the customer's tenant (asked of
``customers.selectors.partner_may``, the relationship selector: active relationship, live and unexpired
role, on every call), the permission the partner's member needs in the partner organization, and the
permission a member of the customer needs to do it for its own organization. Services call
``customer_act_check`` inside their transaction; views call ``customer_action_allowed`` first to answer
with a page (404: the partner does not see the customer; 403 naming the role: the role is missing).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization
from accounts.roles import Permission
from customers import selectors
from customers.models import DelegatedRole
from portal.errors import DomainError


@dataclass(frozen=True)
class CustomerAction:
    #: what the partner needs of the relationship selector: "view", "order" or a delegated role
    partner_need: str
    #: the permission of the partner's member (None: partners may not)
    partner_permission: str | None
    #: the permission of the customer's own member (None: only partners do this)
    customer_permission: str | None
    #: the kinds of partner that may (a provider orders; a reseller manages users and licences)
    partner_kinds: frozenset[str]


R, P = Organization.Kind.RESELLER, Organization.Kind.PROVIDER
SUBSCRIPTIONS_VIEW = "subscriptions.view"
USERS_VIEW = "users.view"
USERS_MANAGE = "users.manage"
LICENCES_VIEW = "licences.view"
LICENCES_MANAGE = "licences.manage"
ORDERS_SUBMIT = "orders.submit"
ORDERS_REQUEST = "orders.request"
SUBSCRIPTION_RENEWAL_CHANGE = "subscriptions.renewal"

ACTIONS: dict[str, CustomerAction] = {
    SUBSCRIPTIONS_VIEW: CustomerAction(
        "view", Permission.CUSTOMERS_VIEW, Permission.BILLING_VIEW, frozenset({R, P})
    ),
    USERS_VIEW: CustomerAction(
        DelegatedRole.USER_ADMIN, Permission.CUSTOMERS_VIEW, Permission.USERS_VIEW, frozenset({R})
    ),
    USERS_MANAGE: CustomerAction(
        DelegatedRole.USER_ADMIN, Permission.CUSTOMERS_MANAGE, Permission.USERS_MANAGE, frozenset({R})
    ),
    LICENCES_VIEW: CustomerAction(
        DelegatedRole.LICENSE_ADMIN, Permission.CUSTOMERS_VIEW, Permission.USERS_VIEW, frozenset({R})
    ),
    LICENCES_MANAGE: CustomerAction(
        DelegatedRole.LICENSE_ADMIN, Permission.CUSTOMERS_MANAGE, Permission.USERS_MANAGE, frozenset({R})
    ),
    ORDERS_SUBMIT: CustomerAction("order", Permission.CUSTOMERS_MANAGE, None, frozenset({P})),
    ORDERS_REQUEST: CustomerAction("view", Permission.CUSTOMERS_MANAGE, None, frozenset({R})),
    SUBSCRIPTION_RENEWAL_CHANGE: CustomerAction("order", Permission.CUSTOMERS_MANAGE, None, frozenset({P})),
}


class CustomerNotVisible(DomainError):
    """The partner does not see this customer (any more): a view answers 404."""

    def __init__(self):
        super().__init__(_("This customer is no longer one of your customers."), code="customer_not_visible")


class DelegatedRoleMissing(DomainError):
    """The partner sees the customer but lacks the delegated role: a view answers 403 naming it."""

    def __init__(self, role: str):
        self.role = role
        super().__init__(
            _(
                "This needs the %(role)s delegated admin role in the customer's tenant, active and "
                "unexpired. Ask the customer for it from the customer page."
            )
            % {"role": DelegatedRole(role).label},
            code="delegated_role_missing",
        )


class ActionNotPermitted(DomainError):
    def __init__(self):
        super().__init__(
            _("Your role in your organization does not allow this. Ask an administrator."),
            code="actor_not_permitted",
        )


def customer_action_check(
    organization: Organization,
    membership: Membership | None,
    customer: Organization,
    action: str,
    *,
    now=None,
    answers: selectors.PartnerAnswers | None = None,
) -> Organization | None:
    """Raise unless ``membership`` (of ``organization``) may do ``action`` in ``customer`` right now;
    return the acting partner (None when the customer acts for itself).

    ``answers``: the relationship selector's answers of this request (``customers.selectors.PartnerAnswers``,
    a view's, for the checks of one page): each question is then asked once per request, however many
    actions the page checks. Without it (or for another partner or customer, or at another ``now``), this
    check asks its own."""
    rule = ACTIONS[action]
    if answers is None or now is not None or not answers.concerns(organization, customer):
        answers = selectors.PartnerAnswers(organization, customer, now=now)
    may = answers.may
    if organization.pk == customer.pk:
        if rule.customer_permission is None or (
            membership is not None and not membership.can(rule.customer_permission)
        ):
            raise ActionNotPermitted
        return None
    if organization.kind not in rule.partner_kinds:
        raise CustomerNotVisible
    if not may("view"):
        raise CustomerNotVisible
    if membership is not None and not membership.can(rule.partner_permission):
        raise ActionNotPermitted
    if rule.partner_need == "view":
        return organization
    if not may(rule.partner_need):
        if rule.partner_need in DelegatedRole.values:
            raise DelegatedRoleMissing(rule.partner_need)
        raise CustomerNotVisible
    return organization


def customer_act_check(*, by: Membership, customer: Organization, action: str) -> Organization | None:
    """The services' check, inside their transaction: the actor's membership re-read (rights removed a
    moment ago are gone), then ``customer_action_check``."""
    fresh = (
        Membership.objects.select_related("user", "organization")
        .prefetch_related("roles")
        .filter(pk=by.pk, status=Membership.Status.ACTIVE, organization__status=Organization.Status.ACTIVE)
        .first()
    )
    if fresh is None:
        raise ActionNotPermitted
    return customer_action_check(fresh.organization, fresh, customer, action)


def customer_action_allowed(organization, membership, customer, action, *, answers=None) -> bool:
    try:
        customer_action_check(organization, membership, customer, action, answers=answers)
    except DomainError:
        return False
    return True


def partner_permission_check(*, by: Membership, permission: str = Permission.CUSTOMERS_MANAGE) -> Membership:
    """For a partner's own decisions on its orders (decline a request): the member, re-read, still holds
    ``permission`` in an active organization."""
    fresh = (
        Membership.objects.select_related("user", "organization")
        .prefetch_related("roles")
        .filter(pk=by.pk, status=Membership.Status.ACTIVE, organization__status=Organization.Status.ACTIVE)
        .first()
    )
    if fresh is None or not fresh.can(permission):
        raise ActionNotPermitted
    return fresh

"""Who may do what to a customer: the one table (``commerce.access``) on the relationship selector
(``customers.selectors.partner_may``), tried for every action and every kind of caller against an
expected table written out by hand here; rights that end take effect on the very next call. Then the
audit: every order, subscription, user and licence change is recorded in the customer's organization,
naming the partner that acted, with a label the activity log can show."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Membership
from accounts.roles import Role
from commerce import access
from commerce.models import LicenceAssignment, Order, OrderKind, Subscription, SubscriptionStatus
from commerce.services import licences, orders, subscriptions, users
from customers import selectors as customer_selectors
from customers.models import CustomerRelationship, DelegatedRole, PartnerRole
from customers.services.delegated import delegated_admin_remove
from customers.services.relationships import customer_relationship_end
from portal.audit.catalogue import is_declared
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from providers.services.partnerships import partnership_end
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory, StaffFactory
from tests.factories.commerce import OfferFactory, SubscriptionFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

USER_ADMIN, LICENSE_ADMIN = DelegatedRole.USER_ADMIN, DelegatedRole.LICENSE_ADMIN

# --- The expected table, by hand --------------------------------------------------------------------

SELF = "self"  # allowed: the customer acts for itself (no partner named)
PARTNER = "partner"  # allowed: the partner acts, and is named
NOT_PERMITTED = "actor_not_permitted"  # 403: the member's own role does not allow it
NOT_VISIBLE = "customer_not_visible"  # 404
NEEDS_USER_ADMIN = ("delegated_role_missing", USER_ADMIN)  # 403 naming the role
NEEDS_LICENSE_ADMIN = ("delegated_role_missing", LICENSE_ADMIN)

COLUMNS = (
    "subscriptions.view",
    "users.view",
    "users.manage",
    "licences.view",
    "licences.manage",
    "orders.submit",
    "orders.request",
    "subscriptions.renewal",
)


def row(*outcomes):
    assert len(outcomes) == len(COLUMNS)
    return dict(zip(COLUMNS, outcomes, strict=True))


def everywhere(outcome):
    return row(*([outcome] * len(COLUMNS)))


_N, _P = NOT_VISIBLE, NOT_PERMITTED
RESELLER_WITHOUT_ROLES = row(
    PARTNER, NEEDS_USER_ADMIN, NEEDS_USER_ADMIN, NEEDS_LICENSE_ADMIN, NEEDS_LICENSE_ADMIN, _N, PARTNER, _N
)
RESELLER_WITH_ROLES = row(PARTNER, PARTNER, PARTNER, PARTNER, PARTNER, _N, PARTNER, _N)

EXPECTED = {
    # subscriptions.view, users.view, users.manage, licences.view, licences.manage, orders.submit,
    # orders.request, subscriptions.renewal
    "customer's Global admin": row(SELF, SELF, SELF, SELF, SELF, _P, _P, _P),
    "customer's Billing admin": row(SELF, _P, _P, _P, _P, _P, _P, _P),
    "customer's User management admin": row(_P, SELF, SELF, SELF, SELF, _P, _P, _P),
    "another customer's Global admin": everywhere(_N),
    "reseller with both roles": RESELLER_WITH_ROLES,
    "reseller with Global administrator only": RESELLER_WITH_ROLES,
    "reseller with License administrator only": row(
        PARTNER, NEEDS_USER_ADMIN, NEEDS_USER_ADMIN, PARTNER, PARTNER, _N, PARTNER, _N
    ),
    "reseller without the roles": RESELLER_WITHOUT_ROLES,
    "reseller without delegated admin": RESELLER_WITHOUT_ROLES,
    "reseller whose roles expired (still active)": RESELLER_WITHOUT_ROLES,
    "reseller whose roles the customer removed": RESELLER_WITHOUT_ROLES,
    "reseller's Helpdesk agent": row(PARTNER, PARTNER, _P, PARTNER, _P, _N, _P, _N),
    "reseller whose relationship ended": everywhere(_N),
    "another reseller": everywhere(_N),
    "provider": row(PARTNER, _N, _N, _N, _N, PARTNER, _N, PARTNER),
    "provider's Helpdesk agent": row(PARTNER, _N, _N, _N, _N, _P, _N, _P),
    "provider whose partnership ended": everywhere(_N),
    "provider without the customer": everywhere(_N),
}


# --- The callers ------------------------------------------------------------------------------------


def _customer_member(role):
    def build():
        link = commerce_linked()
        return link.customer, MembershipFactory(organization=link.customer, roles=[role]), None

    return build


def _another_customer():
    link = commerce_linked()
    return link.customer, MembershipFactory(organization=CustomerFactory(), roles=[Role.GLOBAL_ADMIN]), None


def _reseller(roles, *, delegated=True, member_role=Role.ADMIN_AGENT):
    def build():
        link = commerce_linked(roles=roles, delegated=delegated)
        return link.customer, MembershipFactory(organization=link.reseller, roles=[member_role]), None

    return build


def _reseller_expired():
    link = commerce_linked(roles=[USER_ADMIN, LICENSE_ADMIN])
    return link.customer, link.reseller_agent, link.delegated_admin.ends_at + timedelta(seconds=1)


def _reseller_removed():
    link = commerce_linked(roles=[USER_ADMIN, LICENSE_ADMIN])
    delegated_admin_remove(relationship=link.delegated_admin, by=link.customer_admin)
    return link.customer, link.reseller_agent, None


def _reseller_ended():
    link = commerce_linked(roles=[DelegatedRole.GLOBAL_ADMIN])
    relationship = CustomerRelationship.objects.get(
        customer=link.customer, partner=link.reseller, role=PartnerRole.RESELLER
    )
    customer_relationship_end(relationship=relationship, by=link.customer_admin, reason="Moving on.")
    return link.customer, link.reseller_agent, None


def _another_reseller():
    link = commerce_linked()
    return link.customer, MembershipFactory(organization=ResellerFactory(), roles=[Role.GLOBAL_ADMIN]), None


def _provider(member_role=Role.ADMIN_AGENT):
    def build():
        link = commerce_linked()
        return link.customer, MembershipFactory(organization=link.provider, roles=[member_role]), None

    return build


def _provider_ended():
    link = commerce_linked()
    partnership_end(
        partnership=Partnership.objects.get(provider=link.provider, reseller=link.reseller),
        by=MembershipFactory(organization=link.provider, roles=[Role.GLOBAL_ADMIN]),
        reason="The contract ended.",
    )
    return link.customer, link.provider_agent, None


def _provider_stranger():
    link = commerce_linked()
    stranger = ProviderFactory()
    PartnershipFactory(provider=stranger, reseller=link.reseller)
    return link.customer, MembershipFactory(organization=stranger, roles=[Role.GLOBAL_ADMIN]), None


CALLERS = {
    "customer's Global admin": _customer_member(Role.GLOBAL_ADMIN),
    "customer's Billing admin": _customer_member(Role.BILLING_ADMIN),
    "customer's User management admin": _customer_member(Role.USER_MANAGEMENT_ADMIN),
    "another customer's Global admin": _another_customer,
    "reseller with both roles": _reseller([USER_ADMIN, LICENSE_ADMIN]),
    "reseller with Global administrator only": _reseller([DelegatedRole.GLOBAL_ADMIN]),
    "reseller with License administrator only": _reseller([LICENSE_ADMIN]),
    "reseller without the roles": _reseller([DelegatedRole.DIRECTORY_READER, DelegatedRole.HELPDESK_ADMIN]),
    "reseller without delegated admin": _reseller(None, delegated=False),
    "reseller whose roles expired (still active)": _reseller_expired,
    "reseller whose roles the customer removed": _reseller_removed,
    "reseller's Helpdesk agent": _reseller([USER_ADMIN, LICENSE_ADMIN], member_role=Role.HELPDESK_AGENT),
    "reseller whose relationship ended": _reseller_ended,
    "another reseller": _another_reseller,
    "provider": _provider(),
    "provider's Helpdesk agent": _provider(Role.HELPDESK_AGENT),
    "provider whose partnership ended": _provider_ended,
    "provider without the customer": _provider_stranger,
}


def outcome_of(call):
    try:
        result = call()
    except access.DelegatedRoleMissing as error:
        return (error.code, error.role)
    except DomainError as error:
        return error.code
    return SELF if result is None else PARTNER


def test_the_expected_table_covers_every_action_and_every_caller():
    assert set(COLUMNS) == set(access.ACTIONS)
    assert set(CALLERS) == set(EXPECTED)


@pytest.mark.parametrize("caller", sorted(EXPECTED))
def test_each_caller_gets_exactly_the_expected_answer_for_each_action(caller):
    customer, membership, moment = CALLERS[caller]()
    organization = membership.organization

    with time_machine.travel(moment or timezone.now(), tick=False):
        checked = {
            action: outcome_of(
                lambda action=action: access.customer_action_check(organization, membership, customer, action)
            )
            for action in COLUMNS
        }
        # The services' check (the member re-read) and the pages' yes/no agree with it.
        acted = {
            action: outcome_of(
                lambda action=action: access.customer_act_check(
                    by=membership, customer=customer, action=action
                )
            )
            for action in COLUMNS
        }
        allowed = {
            action: access.customer_action_allowed(organization, membership, customer, action)
            for action in COLUMNS
        }

    assert checked == EXPECTED[caller]
    assert acted == EXPECTED[caller]
    assert allowed == {action: EXPECTED[caller][action] in (SELF, PARTNER) for action in COLUMNS}


def test_a_missing_role_is_named_in_the_refusal():
    link = commerce_linked(roles=[DelegatedRole.DIRECTORY_READER])
    with pytest.raises(access.DelegatedRoleMissing) as error:
        access.customer_act_check(by=link.reseller_agent, customer=link.customer, action=access.USERS_MANAGE)
    assert error.value.message == (
        "This needs the User administrator delegated admin role in the customer's tenant, active and "
        "unexpired. Ask the customer for it from the customer page."
    )
    with pytest.raises(access.DelegatedRoleMissing) as error:
        access.customer_act_check(by=link.reseller_agent, customer=link.customer, action=access.LICENCES_VIEW)
    assert "License administrator" in str(error.value.message)


def test_the_relationship_selector_answers_each_need():
    link = commerce_linked(roles=[LICENSE_ADMIN])
    may = customer_selectors.partner_may
    assert [
        may(link.reseller, link.customer, need) for need in ("view", "order", LICENSE_ADMIN, USER_ADMIN)
    ] == [
        True,
        False,
        True,
        False,
    ]
    # The provider orders; it holds no delegated role (resellers only).
    assert [may(link.provider, link.customer, need) for need in ("view", "order", LICENSE_ADMIN)] == [
        True,
        True,
        False,
    ]
    assert customer_selectors.role_satisfied({DelegatedRole.GLOBAL_ADMIN}, USER_ADMIN)
    assert not customer_selectors.role_satisfied({DelegatedRole.GLOBAL_READER}, USER_ADMIN)
    assert not may(ResellerFactory(), link.customer, "view")
    with pytest.raises(ValueError):
        may(link.reseller, link.customer, "everything")


# --- Rights that end, on the very next call ---------------------------------------------------------


def _licence_state():
    return (
        LicenceAssignment.objects.count(),
        AuditEvent.objects.filter(action__startswith="licence.").count(),
        OutboxEmail.objects.count(),
    )


def test_a_role_the_customer_removes_is_gone_on_the_next_call():
    link = commerce_linked(roles=[LICENSE_ADMIN])
    subscription = SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider)
    first, second = (DirectoryUserFactory(tenant=link.customer.directory_tenant) for _ in range(2))
    licences.licence_assign(
        by=link.reseller_agent, subscription=subscription, user_principal_name=first.user_principal_name
    )

    delegated_admin_remove(relationship=link.delegated_admin, by=link.customer_admin)
    before = _licence_state()
    with pytest.raises(access.DelegatedRoleMissing):
        licences.licence_assign(
            by=link.reseller_agent, subscription=subscription, user_principal_name=second.user_principal_name
        )
    assert _licence_state() == before
    assignment = LicenceAssignment.objects.get()
    with pytest.raises(access.DelegatedRoleMissing):
        licences.licence_remove(by=link.reseller_agent, assignment=assignment)
    assert _licence_state() == before


def test_a_role_that_expires_denies_from_the_moment_it_ends_before_any_job_runs():
    link = commerce_linked(roles=[LICENSE_ADMIN])
    subscription = SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider)
    user = DirectoryUserFactory(tenant=link.customer.directory_tenant)
    ends_at = link.delegated_admin.ends_at

    with time_machine.travel(ends_at - timedelta(seconds=1), tick=False):
        assert (
            access.customer_act_check(
                by=link.reseller_agent, customer=link.customer, action=access.LICENCES_MANAGE
            )
            == link.reseller
        )
    with time_machine.travel(ends_at, tick=False):
        before = _licence_state()
        with pytest.raises(access.DelegatedRoleMissing):
            licences.licence_assign(
                by=link.reseller_agent,
                subscription=subscription,
                user_principal_name=user.user_principal_name,
            )
        assert _licence_state() == before
    link.delegated_admin.refresh_from_db()
    assert link.delegated_admin.status == "active"


def test_a_member_whose_role_changes_is_refused_on_the_next_call():
    link = commerce_linked()
    assert access.customer_act_check(
        by=link.reseller_agent, customer=link.customer, action=access.USERS_MANAGE
    )
    link.reseller_agent.roles.update(role=Role.HELPDESK_AGENT)
    with pytest.raises(access.ActionNotPermitted):
        access.customer_act_check(by=link.reseller_agent, customer=link.customer, action=access.USERS_MANAGE)
    Membership.objects.filter(pk=link.provider_agent.pk).update(status=Membership.Status.DEACTIVATED)
    with pytest.raises(access.ActionNotPermitted):
        access.customer_act_check(by=link.provider_agent, customer=link.customer, action=access.ORDERS_SUBMIT)


def test_an_ended_relationship_hides_the_customer_on_the_next_call():
    link = commerce_linked(roles=[DelegatedRole.GLOBAL_ADMIN])
    assert access.customer_act_check(
        by=link.provider_agent, customer=link.customer, action=access.ORDERS_SUBMIT
    )
    relationship = CustomerRelationship.objects.get(
        customer=link.customer, partner=link.reseller, role=PartnerRole.RESELLER
    )
    customer_relationship_end(relationship=relationship, by=link.customer_admin)
    for membership, action in (
        (link.reseller_agent, access.USERS_VIEW),
        (link.provider_agent, access.ORDERS_SUBMIT),
    ):
        with pytest.raises(access.CustomerNotVisible):
            access.customer_act_check(by=membership, customer=link.customer, action=action)


# --- Audit ------------------------------------------------------------------------------------------


def rows_in(organization, action):
    return [
        (row.actor_label, (row.after or {}).get("acting_partner"))
        for row in AuditEvent.objects.filter(organization_id=organization.pk, action=action).order_by("id")
    ]


def test_user_changes_by_the_reseller_are_in_the_customers_log_naming_the_reseller():
    link = commerce_linked()
    domain = link.customer.directory_tenant.verified_domains[0]
    agent = link.reseller_agent.user.email

    added = users.customer_user_add(
        by=link.reseller_agent,
        customer=link.customer,
        user_principal_name=f"hanako@{domain}",
        display_name="Hanako Sato",
        contact_email="hanako@example.com",
        language="ja",
    )
    users.customer_user_disable(by=link.reseller_agent, customer=link.customer, directory_user=added)
    users.customer_user_enable(by=link.reseller_agent, customer=link.customer, directory_user=added)

    for action in ("directory_user.created", "directory_user.disabled", "directory_user.enabled"):
        assert rows_in(link.customer, action) == [(agent, link.reseller.legal_name)], action
        # The reseller's own log says what it did in which customer's tenant.
        partner_row = AuditEvent.objects.get(organization_id=link.reseller.pk, action=action)
        assert (partner_row.actor_label, partner_row.after["customer"]) == (agent, link.customer.legal_name)
        assert is_declared(action)
    assert list(
        OutboxEmail.objects.filter(template="directory_user_setup").values_list("to", "language")
    ) == [("hanako@example.com", "ja")]

    # The customer's own administrator acts for itself: no partner named, nothing in a partner's log.
    other = users.customer_user_add(
        by=link.customer_admin,
        customer=link.customer,
        user_principal_name=f"taro@{domain}",
        display_name="Taro Yamada",
        contact_email="taro@example.com",
        language="en",
    )
    created = AuditEvent.objects.get(action="directory_user.created", target_id=str(other.public_id))
    assert (created.organization_id, created.actor_label, "acting_partner" in created.after) == (
        link.customer.pk,
        link.customer_admin.user.email,
        False,
    )


def test_licence_changes_are_in_the_customers_log_naming_the_partner_and_never_exceed_the_seats():
    link = commerce_linked()
    offer = OfferFactory()
    order = orders.order_submit(
        by=link.provider_agent,
        customer=link.customer,
        reseller=link.reseller,
        kind=OrderKind.NEW,
        offer=offer,
        seats=2,
        idempotency_key=uuid.uuid4(),
    )
    assert orders.order_provision(order_id=order.pk) == "provisioned"
    subscription = Subscription.objects.get(customer=link.customer)
    ann, bob, cid = (DirectoryUserFactory(tenant=link.customer.directory_tenant) for _ in range(3))

    by_reseller = licences.licence_assign(
        by=link.reseller_agent, subscription=subscription, user_principal_name=ann.user_principal_name
    )
    licences.licence_assign(
        by=link.customer_admin, subscription=subscription, user_principal_name=bob.user_principal_name
    )
    with pytest.raises(DomainError) as error:
        licences.licence_assign(
            by=link.reseller_agent, subscription=subscription, user_principal_name=cid.user_principal_name
        )
    assert error.value.code == "no_seats_left"
    assert LicenceAssignment.objects.filter(subscription=subscription).count() == 2
    licences.licence_remove(by=link.reseller_agent, assignment=by_reseller)

    reseller_email, customer_email = link.reseller_agent.user.email, link.customer_admin.user.email
    assert rows_in(link.customer, "licence.assigned") == [
        (reseller_email, link.reseller.legal_name),
        (customer_email, None),
    ]
    assert rows_in(link.reseller, "licence.assigned") == [(reseller_email, link.reseller.legal_name)]
    assert rows_in(link.customer, "licence.removed") == [(reseller_email, link.reseller.legal_name)]
    assert rows_in(link.reseller, "licence.removed") == [(reseller_email, link.reseller.legal_name)]
    # Nothing of the customer's own licence work reaches the provider's log.
    assert (
        AuditEvent.objects.filter(organization_id=link.provider.pk, action__startswith="licence.").count()
        == 0
    )


def test_every_change_is_in_the_customers_log_with_the_partner_that_acted_and_a_declared_label():
    link = commerce_linked()
    offer = OfferFactory()
    provider, reseller = link.provider.legal_name, link.reseller.legal_name

    def submit(**kwargs):
        return orders.order_submit(
            by=link.provider_agent,
            customer=link.customer,
            reseller=link.reseller,
            idempotency_key=uuid.uuid4(),
            **kwargs,
        )

    orders.order_provision(order_id=submit(kind=OrderKind.NEW, offer=offer, seats=3).pk)
    subscription = Subscription.objects.get(customer=link.customer)
    orders.order_provision(order_id=submit(kind=OrderKind.SEATS, subscription=subscription, seats=4).pk)
    draft = orders.order_request_create(
        by=link.reseller_agent,
        customer=link.customer,
        provider=link.provider,
        kind=OrderKind.SEATS,
        subscription=subscription,
        seats=6,
        send=False,
        idempotency_key=uuid.uuid4(),
    )
    orders.order_request_send(by=link.reseller_agent, order=draft)
    orders.order_request_decline(by=link.provider_agent, order=draft, reason="Not this month.")
    withdrawn = orders.order_request_create(
        by=link.reseller_agent,
        customer=link.customer,
        provider=link.provider,
        kind=OrderKind.NEW,
        offer=offer,
        seats=1,
        send=True,
        idempotency_key=uuid.uuid4(),
    )
    orders.order_request_withdraw(by=link.reseller_agent, order=withdrawn)
    failing = submit(kind=OrderKind.NEW, offer=OfferFactory(), seats=1)
    failing.offer.prices.all().delete()
    assert orders.order_provision(order_id=failing.pk) == "failed"
    subscriptions.subscription_auto_renew_set(
        by=link.provider_agent, subscription=subscription, auto_renew=False
    )
    staff = StaffFactory()
    subscriptions.subscription_status_set(subscription=subscription, status="suspended", by_user=staff)
    subscriptions.subscription_status_set(subscription=subscription, status="active", by_user=staff)
    renewing = SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider)
    with time_machine.travel(renewing.renews_at - timedelta(days=1), tick=False):
        subscriptions.subscriptions_run_due()
    with time_machine.travel(renewing.renews_at, tick=False):
        subscriptions.subscriptions_run_due()
    with time_machine.travel(subscription.renews_at, tick=False):
        subscriptions.subscriptions_run_due()
    cancelled = SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider)
    orders.order_provision(order_id=submit(kind=OrderKind.CANCEL, subscription=cancelled).pk)

    log = {}
    for event in AuditEvent.objects.filter(organization_id=link.customer.pk).order_by("id"):
        log.setdefault(event.action, set()).add((event.after or {}).get("acting_partner"))
    assert log == {
        # what a partner did, named
        "order.submitted": {provider},
        "order.requested": {reseller},
        "order.declined": {provider},
        "order.withdrawn": {reseller},
        "subscription.auto_renew_changed": {provider},
        # what the worker, the beat job and program staff did: no partner acted
        "order.provisioned": {None},
        "order.failed": {None},
        "subscription.created": {None},
        "subscription.seats_changed": {None},
        "subscription.cancelled": {None},
        "subscription.suspended": {None},
        "subscription.reactivated": {None},
        "subscription.renewal_reminded": {None},
        "subscription.renewed": {None},
        "subscription.expired": {None},
    }
    # Drafts stay the reseller's: the customer's log starts at the request.
    assert "order.drafted" not in log
    assert AuditEvent.objects.filter(organization_id=link.reseller.pk, action="order.drafted").count() == 1
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.EXPIRED
    assert Order.objects.filter(customer=link.customer).count() == 6
    written = set(AuditEvent.objects.values_list("action", flat=True))
    assert sorted(action for action in written if not is_declared(action)) == []

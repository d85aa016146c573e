"""The one place that answers "may this partner see or do this to that customer" (customers.selectors):
a reseller while its relationship is active; a provider while its provider relationship, its partnership
with that reseller and the reseller's relationship are all active; delegated roles only while live and
before their end; nobody else, ever. Each link that ends takes the access away on the next call."""

from datetime import timedelta

import pytest
import time_machine
from django.http import Http404
from django.utils import timezone

from accounts.models import Organization
from accounts.roles import Role
from customers.models import (
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    RelationshipStatus,
)
from customers.selectors import (
    customer_invitations_of,
    customer_organizations_administered,
    customer_relationship_for,
    customer_relationships_visible_to,
    delegated_admin_live,
    delegated_admins_expiring,
    delegated_admins_of_partner,
    delegated_roles,
    partner_may,
    partners_of_customer,
    pending_approvals_of,
)
from customers.services.relationships import customer_relationship_end
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from providers.services.partnerships import partnership_end
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.customers import CustomerFactory, CustomerInvitationFactory, customer_linked
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

D = DelegatedAdminStatus


def admin(organization, role=Role.GLOBAL_ADMIN):
    return MembershipFactory(organization=organization, roles=[role])


def visible_customers(partner) -> list[int]:
    return sorted(customer_relationships_visible_to(partner).values_list("customer_id", flat=True))


@pytest.fixture
def reseller():
    return ResellerFactory(legal_name="Fabrikam Japan KK")


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Contoso Distribution KK")


@pytest.fixture
def shared(reseller, provider):
    """Northwind: Fabrikam's customer, shared with Contoso (a live partnership), Fabrikam's delegated admin
    roles live."""
    customer, reseller_row, live = customer_linked(
        reseller,
        CustomerFactory(legal_name="Northwind Traders Ltd"),
        provider=provider,
        roles=["helpdesk_admin"],
    )
    provider_row = CustomerRelationship.objects.get(customer=customer, partner=provider)
    return customer, reseller_row, provider_row, live


# --- A reseller ---------------------------------------------------------------------------------------------


def test_a_reseller_sees_its_customer_while_the_relationship_is_active(reseller, shared):
    customer, reseller_row, _provider_row, _live = shared
    assert visible_customers(reseller) == [customer.pk]
    assert customer_relationship_for(reseller, customer.public_id) == reseller_row
    assert partner_may(reseller, customer, "view")
    assert not partner_may(reseller, customer, "order")  # orders are the provider's
    assert partner_may(reseller, customer, "helpdesk_admin")

    customer_relationship_end(relationship=reseller_row, by=admin(customer))

    assert visible_customers(reseller) == []
    assert not partner_may(reseller, customer, "view")
    assert not partner_may(reseller, customer, "helpdesk_admin")
    with pytest.raises(Http404):
        customer_relationship_for(reseller, customer.public_id)


def test_another_reseller_never_sees_the_customer(shared):
    customer, _reseller_row, _provider_row, _live = shared
    other = ResellerFactory()
    customer_linked(other)  # a customer of its own

    assert customer.pk not in visible_customers(other)
    assert not partner_may(other, customer, "view")
    assert not partner_may(other, customer, "helpdesk_admin")
    assert delegated_roles(other, customer) == frozenset()
    with pytest.raises(Http404):
        customer_relationship_for(other, customer.public_id)


# --- A provider ---------------------------------------------------------------------------------------------


def test_a_provider_sees_a_shared_customer_and_may_order(provider, shared):
    customer, _reseller_row, provider_row, _live = shared

    assert visible_customers(provider) == [customer.pk]
    assert customer_relationship_for(provider, customer.public_id) == provider_row
    assert partner_may(provider, customer, "view")
    assert partner_may(provider, customer, "order")


def test_a_provider_never_gets_the_resellers_delegated_roles(provider, shared):
    customer, _reseller_row, _provider_row, _live = shared

    assert delegated_roles(provider, customer) == frozenset()
    assert delegated_admin_live(provider, customer) is None
    assert not partner_may(provider, customer, "helpdesk_admin")


def test_ending_the_provider_relationship_takes_the_access_away(provider, shared):
    customer, _reseller_row, provider_row, _live = shared

    customer_relationship_end(relationship=provider_row, by=admin(customer))

    assert visible_customers(provider) == []
    assert not partner_may(provider, customer, "view")
    assert not partner_may(provider, customer, "order")


def test_ending_the_partnership_takes_the_access_away(reseller, provider, shared):
    customer, _reseller_row, provider_row, _live = shared
    partnership = Partnership.objects.get(provider=provider, reseller=reseller)

    customer_admin = admin(customer)

    partnership_end(partnership=partnership, by=admin(reseller), reason="We stop.")

    provider_row.refresh_from_db()
    # the relationship ends with the partnership: a later partnership does not bring the customer back
    assert provider_row.status == RelationshipStatus.ENDED
    assert visible_customers(provider) == []
    assert not partner_may(provider, customer, "view")
    assert not partner_may(provider, customer, "order")
    with pytest.raises(Http404):
        customer_relationship_for(provider, customer.public_id)
    # The reseller keeps its customer.
    assert partner_may(reseller, customer, "view")
    # The customer is told, and audited in the three organizations.
    told = OutboxEmail.objects.filter(template="customer_provider_ended")
    assert [(email.to, email.organization_id) for email in told] == [(customer_admin.user.email, customer.pk)]
    ended = AuditEvent.objects.filter(
        action="customer_relationship.ended", target_id=str(provider_row.public_id)
    )
    assert sorted(ended.values_list("organization_id", flat=True)) == sorted(
        [customer.pk, provider.pk, reseller.pk]
    )
    # A new partnership later does not bring the customer back: the customer agreed to the old one.
    Partnership.objects.create(provider=provider, reseller=reseller)
    assert visible_customers(provider) == []
    assert not partner_may(provider, customer, "order")


def test_a_reseller_relationship_that_ended_takes_the_providers_access_away(reseller, provider, shared):
    customer, reseller_row, provider_row, _live = shared
    # Ending the reseller through the service ends the provider rows too; the selector must not rely on
    # that: the reseller's row alone ending is enough.
    CustomerRelationship.objects.filter(pk=reseller_row.pk).update(
        status=RelationshipStatus.ENDED, ended_at=timezone.now()
    )

    provider_row.refresh_from_db()
    assert provider_row.status == RelationshipStatus.ACTIVE
    assert visible_customers(provider) == []
    assert not partner_may(provider, customer, "view")


def test_a_provider_with_a_partnership_but_no_provider_relationship_does_not_see_the_customer(reseller):
    customer, _row, _live = customer_linked(reseller)  # reseller only
    provider = PartnershipFactory(reseller=reseller).provider

    assert visible_customers(provider) == []
    assert not partner_may(provider, customer, "view")


def test_a_provider_sharing_a_customer_through_two_resellers_keeps_it_through_the_live_one(provider, shared):
    customer, reseller_row, _provider_row, _live = shared
    second = ResellerFactory()
    customer_linked(second, customer, provider=provider, delegated=False)

    first_partnership = Partnership.objects.get(provider=provider, reseller=reseller_row.partner)
    partnership_end(partnership=first_partnership, by=admin(provider), reason="We stop.")

    rows = customer_relationships_visible_to(provider)
    assert list(rows.values_list("customer_id", "reseller_id")) == [(customer.pk, second.pk)]
    assert partner_may(provider, customer, "view")


# --- Delegated roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "ends_in", "holds"),
    [
        (D.ACTIVE, timedelta(days=10), True),
        (D.EXPIRING, timedelta(days=10), True),
        (D.ACTIVE, -timedelta(seconds=1), False),  # past its end, the beat job not run yet
        (D.EXPIRING, -timedelta(seconds=1), False),
        (D.EXPIRED, -timedelta(days=1), False),
        (D.TERMINATED, timedelta(days=10), False),
    ],
)
def test_roles_hold_only_while_live_and_before_their_end(reseller, status, ends_in, holds):
    customer, _row, relationship = customer_linked(
        reseller, roles=["user_admin", "license_admin"], ends_in=ends_in, status=status
    )

    assert partner_may(reseller, customer, "user_admin") is holds
    assert partner_may(reseller, customer, "license_admin") is holds
    assert not partner_may(reseller, customer, "global_admin")
    assert delegated_roles(reseller, customer) == (
        frozenset({"user_admin", "license_admin"}) if holds else frozenset()
    )
    assert (delegated_admin_live(reseller, customer) == relationship) is holds
    assert partner_may(reseller, customer, "view")  # the relationship itself is untouched


def test_a_pending_request_grants_nothing(reseller):
    customer, _row, _none = customer_linked(reseller, delegated=False)
    DelegatedAdminRelationship.objects.create(
        customer=customer,
        partner=reseller,
        roles=["global_admin"],
        duration_days=30,
        status=D.APPROVAL_PENDING,
    )

    assert not partner_may(reseller, customer, "global_admin")
    assert delegated_roles(reseller, customer) == frozenset()


def test_roles_end_at_their_end_date_without_the_beat_job(reseller):
    customer, _row, relationship = customer_linked(reseller, roles=["helpdesk_admin"], days=7)
    assert partner_may(reseller, customer, "helpdesk_admin")

    with time_machine.travel(relationship.ends_at + timedelta(seconds=1), tick=False):
        assert not partner_may(reseller, customer, "helpdesk_admin")
        assert partner_may(reseller, customer, "view")
    assert not partner_may(reseller, customer, "helpdesk_admin", now=relationship.ends_at)
    assert partner_may(reseller, customer, "helpdesk_admin", now=relationship.ends_at - timedelta(seconds=1))


def test_an_unknown_need_is_a_programming_error(reseller):
    customer, _row, _live = customer_linked(reseller)

    with pytest.raises(ValueError):
        partner_may(reseller, customer, "everything")


# --- A customer, and who sees what of it --------------------------------------------------------------------


def test_a_customer_sees_nothing_as_a_partner(reseller, shared):
    customer, _reseller_row, _provider_row, _live = shared

    assert visible_customers(customer) == []
    assert not partner_may(customer, customer, "view")
    other_customer = CustomerFactory()
    assert not partner_may(customer, other_customer, "view")
    assert not partner_may(customer, reseller, "view")


def test_a_customer_sees_its_own_partners_only(reseller, provider, shared):
    customer, reseller_row, provider_row, _live = shared
    other, _other_row, _other_live = customer_linked(ResellerFactory())

    assert set(partners_of_customer(customer)) == {reseller_row, provider_row}
    assert list(partners_of_customer(other).values_list("customer_id", flat=True)) == [other.pk]


def test_pending_approvals_are_the_customers_own(reseller, shared):
    customer, _reseller_row, _provider_row, live = shared
    pending = DelegatedAdminRelationship.objects.create(
        customer=customer, partner=reseller, roles=["user_admin"], duration_days=30, replaces=live
    )
    other, _row, other_live = customer_linked(ResellerFactory())
    DelegatedAdminRelationship.objects.create(
        customer=other, partner=other_live.partner, roles=["user_admin"], duration_days=30
    )

    assert list(pending_approvals_of(customer)) == [pending]


def test_a_resellers_invitations_are_its_own(reseller):
    own = CustomerInvitationFactory(organization=reseller)
    CustomerInvitationFactory()

    assert list(customer_invitations_of(reseller)) == [own]


def test_the_expiry_radar_lists_live_roles_ending_within_30_days_of_customers_still_seen(reseller):
    soon, _row, soon_admin = customer_linked(reseller, ends_in=timedelta(days=6))
    _later, _row, _later_admin = customer_linked(reseller, ends_in=timedelta(days=31))
    _gone, gone_row, _gone_admin = customer_linked(reseller, ends_in=timedelta(days=3))
    CustomerRelationship.objects.filter(pk=gone_row.pk).update(
        status=RelationshipStatus.ENDED, ended_at=timezone.now()
    )
    customer_linked(reseller, ends_in=timedelta(days=2), status=D.TERMINATED)
    customer_linked(ResellerFactory(), ends_in=timedelta(days=5))  # another reseller's

    assert list(delegated_admins_expiring(reseller)) == [soon_admin]
    assert soon.pk in visible_customers(reseller)
    assert set(delegated_admins_of_partner(reseller).values_list("customer_id", flat=True)) == set(
        visible_customers(reseller)
    )


def test_the_organizations_a_user_may_accept_for_are_customers_it_administers():
    user = UserFactory()
    administered = CustomerFactory(legal_name="A Customer Ltd")
    MembershipFactory(organization=administered, user=user, roles=[Role.GLOBAL_ADMIN])
    MembershipFactory(organization=CustomerFactory(), user=user, roles=[Role.USER_MANAGEMENT_ADMIN])
    MembershipFactory(
        organization=CustomerFactory(status=Organization.Status.SUSPENDED),
        user=user,
        roles=[Role.GLOBAL_ADMIN],
    )
    MembershipFactory(organization=ResellerFactory(), user=user, roles=[Role.GLOBAL_ADMIN])

    assert customer_organizations_administered(user) == [administered]

"""The last seat of a subscription, given to two different users at the same moment by two people (the
reseller with the License administrator role and the customer's own administrator), on two real
PostgreSQL connections released by one barrier: exactly one assignment, one clear refusal, one audit
row."""

import pytest
from django.db import connection

from commerce.models import LicenceAssignment
from commerce.services.licences import licence_assign
from portal.audit.models import AuditEvent
from tests.factories.accounts import DirectoryUserFactory
from tests.factories.commerce import LicenceAssignmentFactory, SubscriptionFactory, commerce_linked
from tests.support.races import TRIALS, race


def real_database():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"


def assigning(by, subscription, directory_user):
    return lambda: (
        licence_assign(
            by=by, subscription=subscription, user_principal_name=directory_user.user_principal_name
        ).directory_user_id
    )


@pytest.mark.django_db(transaction=True)
def test_two_people_assigning_the_last_seat_at_once_give_it_to_exactly_one_user():
    real_database()
    for _ in range(TRIALS):
        link = commerce_linked()
        subscription = SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider, seats=2
        )
        tenant = link.customer.directory_tenant
        holder = DirectoryUserFactory(tenant=tenant)
        LicenceAssignmentFactory(subscription=subscription, directory_user=holder)
        ann, bob = DirectoryUserFactory(tenant=tenant), DirectoryUserFactory(tenant=tenant)

        outcomes = race(
            assigning(link.reseller_agent, subscription, ann),
            assigning(link.customer_admin, subscription, bob),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert dict(outcomes)["refused"] == "no_seats_left"
        winner = dict(outcomes)["ok"]
        assert winner in (ann.pk, bob.pk)
        assert sorted(
            LicenceAssignment.objects.filter(subscription=subscription).values_list(
                "directory_user_id", flat=True
            )
        ) == sorted([holder.pk, winner])
        assert (
            AuditEvent.objects.filter(action="licence.assigned", organization_id=link.customer.pk).count()
            == 1
        )

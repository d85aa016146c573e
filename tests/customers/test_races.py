"""Races on real PostgreSQL transactions (two connections, one barrier): an invitation accepted while the
reseller revokes it, accepted twice at once, two invitations of one reseller accepted by one customer at
once, a role request while the customer ends the relationship, a request approved twice. Exactly one
outcome each time, and the rows to match."""

import pytest
from django.db import connection

from accounts.roles import Role
from customers.models import (
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
)
from customers.services.acceptance import customer_invitation_accept
from customers.services.delegated import delegated_admin_approve, delegated_admin_request
from customers.services.invitations import customer_invitation_revoke
from customers.services.relationships import customer_relationship_end
from portal.audit.models import AuditEvent
from portal.invitations.models import LinkInvitationStatus
from providers.models import Partnership
from providers.services.partnerships import partnership_end
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.customers import CustomerFactory, CustomerInvitationFactory, customer_linked
from tests.factories.providers import PartnershipFactory, ResellerFactory
from tests.support.races import TRIALS, race

Status = LinkInvitationStatus
D = DelegatedAdminStatus
GA = Role.GLOBAL_ADMIN


def real_database():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"


def accepting(invitation, user, customer):
    return lambda: (
        customer_invitation_accept(invitation=invitation, user=user, customer=customer, consent=True).pk
    )


@pytest.mark.django_db(transaction=True)
def test_accepting_while_the_reseller_revokes_gives_one_consistent_outcome():
    real_database()
    for _ in range(TRIALS):
        reseller = ResellerFactory()
        reseller_admin = MembershipFactory(organization=reseller, roles=[GA])
        customer_admin = MembershipFactory(organization=CustomerFactory(), roles=[GA])
        invitation = CustomerInvitationFactory(organization=reseller, email=customer_admin.user.email)

        outcomes = race(
            accepting(invitation, customer_admin.user, customer_admin.organization),
            lambda invitation=invitation, by=reseller_admin: (
                customer_invitation_revoke(invitation=invitation, by=by).pk
            ),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        invitation.refresh_from_db()
        rows = (
            CustomerRelationship.objects.filter(partner=reseller).count(),
            DelegatedAdminRelationship.objects.filter(partner=reseller).count(),
        )
        if outcomes[0][0] == "ok":  # accepted first: the revoke found nothing pending
            assert outcomes[1] == ("refused", "invalid_transition")
            assert (invitation.status, rows) == (Status.ACCEPTED, (1, 1))
        else:  # revoked first: the link no longer works, no relationship began
            assert outcomes[0] == ("refused", "invitation_closed")
            assert (invitation.status, rows) == (Status.REVOKED, (0, 0))


@pytest.mark.django_db(transaction=True)
def test_one_invitation_accepted_twice_at_once_gives_one_set_of_relationships():
    real_database()
    for _ in range(TRIALS):
        reseller = ResellerFactory()
        partnership = PartnershipFactory(reseller=reseller)
        user = UserFactory()
        # The invitation is bound to one address: the same administrator, for two of its customers.
        customers = [CustomerFactory(), CustomerFactory()]
        for customer in customers:
            MembershipFactory(organization=customer, user=user, roles=[GA])
        invitation = CustomerInvitationFactory(
            organization=reseller, email=user.email, with_provider=partnership
        )

        outcomes = race(*(accepting(invitation, user, customer) for customer in customers))

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert dict(outcomes)["refused"] == "invitation_closed"
        winner = customers[[kind for kind, _ in outcomes].index("ok")]
        assert sorted(
            CustomerRelationship.objects.filter(customer__in=customers).values_list("customer_id", "role")
        ) == [(winner.pk, "provider"), (winner.pk, "reseller")]
        assert list(
            DelegatedAdminRelationship.objects.filter(customer__in=customers).values_list(
                "customer_id", "status"
            )
        ) == [(winner.pk, D.ACTIVE)]
        assert (
            AuditEvent.objects.filter(
                action="customer_relationship.created", organization_id=reseller.pk
            ).count()
            == 1
        )
        invitation.refresh_from_db()
        assert (invitation.status, invitation.customer_id) == (Status.ACCEPTED, winner.pk)


@pytest.mark.django_db(transaction=True)
def test_two_invitations_of_one_reseller_accepted_for_one_customer_at_once_relate_them_once():
    real_database()
    for _ in range(TRIALS):
        reseller = ResellerFactory()
        customer = CustomerFactory()
        admins = [MembershipFactory(organization=customer, roles=[GA]).user for _ in range(2)]
        invitations = [
            CustomerInvitationFactory(organization=reseller, email=admin.email) for admin in admins
        ]

        outcomes = race(
            *(
                accepting(invitation, admin, customer)
                for invitation, admin in zip(invitations, admins, strict=True)
            )
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert dict(outcomes)["refused"] == "already_customer"
        assert CustomerRelationship.objects.filter(customer=customer, partner=reseller).count() == 1
        assert DelegatedAdminRelationship.objects.filter(customer=customer, partner=reseller).count() == 1
        statuses = sorted(
            CustomerInvitation.objects.filter(organization=reseller).values_list("status", flat=True)
        )
        assert statuses == [Status.ACCEPTED, Status.PENDING]


@pytest.mark.django_db(transaction=True)
def test_accepting_while_the_partnership_ends_never_shares_the_customer_through_an_ended_partnership():
    real_database()
    for _ in range(TRIALS):
        partnership = PartnershipFactory()
        provider_admin = MembershipFactory(organization=partnership.provider, roles=[GA])
        customer_admin = MembershipFactory(organization=CustomerFactory(), roles=[GA])
        invitation = CustomerInvitationFactory(
            organization=partnership.reseller, email=customer_admin.user.email, with_provider=partnership
        )

        outcomes = race(
            accepting(invitation, customer_admin.user, customer_admin.organization),
            lambda partnership=partnership, by=provider_admin: (
                partnership_end(partnership=partnership, by=by, reason="We stop.").pk
            ),
        )

        assert outcomes[1][0] == "ok", outcomes
        partnership.refresh_from_db()
        assert partnership.status == Partnership.Status.ENDED
        provider_rows = CustomerRelationship.objects.filter(partner=partnership.provider).count()
        if outcomes[0][0] == "ok":  # accepted while the partnership was live, then it ended
            assert provider_rows == 1
        else:
            assert outcomes[0] == ("refused", "partnership_ended")
            assert provider_rows == 0
            assert not CustomerRelationship.objects.filter(customer=customer_admin.organization).exists()


@pytest.mark.django_db(transaction=True)
def test_a_role_request_while_the_customer_ends_the_relationship_leaves_no_request_behind():
    real_database()
    for _ in range(TRIALS):
        reseller = ResellerFactory()
        reseller_admin = MembershipFactory(organization=reseller, roles=[GA])
        customer, relationship, _live = customer_linked(reseller)
        customer_admin = MembershipFactory(organization=customer, roles=[GA])

        outcomes = race(
            lambda by=reseller_admin, customer=customer: (
                delegated_admin_request(
                    partner=by.organization, by=by, customer=customer, roles=["user_admin"], duration_days=30
                ).pk
            ),
            lambda relationship=relationship, by=customer_admin: len(
                customer_relationship_end(relationship=relationship, by=by)["relationships"]
            ),
        )

        assert outcomes[1] == ("ok", 1), outcomes
        assert outcomes[0][0] == "ok" or outcomes[0] == ("refused", "not_your_customer"), outcomes
        # Whichever came first, nothing of the reseller's delegated admin access is live or pending.
        assert not DelegatedAdminRelationship.objects.filter(
            customer=customer, status__in=[D.ACTIVE, D.EXPIRING, D.APPROVAL_PENDING]
        ).exists()


@pytest.mark.django_db(transaction=True)
def test_two_administrators_approving_one_request_at_once_activate_it_once():
    real_database()
    for _ in range(TRIALS):
        reseller = ResellerFactory()
        customer, _relationship, live = customer_linked(reseller)
        pending = DelegatedAdminRelationship.objects.create(
            customer=customer, partner=reseller, roles=["user_admin"], duration_days=30, replaces=live
        )
        admins = [MembershipFactory(organization=customer, roles=[GA]) for _ in range(2)]

        outcomes = race(
            *(
                lambda by=by, pending=pending: delegated_admin_approve(relationship=pending, by=by).pk
                for by in admins
            )
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert dict(outcomes)["refused"] == "not_pending"
        assert sorted(
            DelegatedAdminRelationship.objects.filter(customer=customer).values_list("pk", "status")
        ) == sorted([(live.pk, D.TERMINATED), (pending.pk, D.ACTIVE)])
        approved = AuditEvent.objects.filter(
            action="delegated_admin.approved", target_id=str(pending.public_id)
        )
        assert sorted(approved.values_list("organization_id", flat=True)) == sorted(
            [customer.pk, reseller.pk]
        )

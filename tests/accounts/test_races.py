"""Races on real PostgreSQL transactions: two connections, a barrier, exactly one winner."""

import pytest
from django.db import connection

from accounts import services
from accounts.models import Membership, MembershipInvitation
from accounts.roles import Role
from portal.audit.models import AuditEvent
from tests.factories.accounts import MembershipFactory, OrganizationFactory, UserFactory
from tests.support.races import TRIALS, race

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_removal_of_the_last_two_global_admins_leaves_one():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"
    for _ in range(TRIALS):
        organization = OrganizationFactory()
        first = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
        second = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])

        outcomes = race(
            lambda first=first, second=second: services.membership_remove(membership=first, by=second),
            lambda first=first, second=second: services.membership_remove(membership=second, by=first),
        )

        kinds = sorted(kind for kind, _detail in outcomes)
        assert kinds == ["ok", "refused"], outcomes
        # The loser is refused either as the last Global admin or because it was just removed itself.
        refusal = next(detail for kind, detail in outcomes if kind == "refused")
        assert refusal in ("last_global_admin", "actor_not_permitted")
        remaining = Membership.objects.filter(organization=organization, roles__role=Role.GLOBAL_ADMIN)
        assert remaining.count() == 1
        assert (
            AuditEvent.objects.filter(organization_id=organization.pk, action="membership.removed").count()
            == 1
        )


def test_concurrent_demotion_and_deactivation_leave_one_global_admin():
    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        organization = OrganizationFactory()
        first = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
        second = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])

        outcomes = race(
            lambda f=first, s=second: services.membership_roles_change(
                membership=f, roles=[Role.SALES_AGENT], by=s
            ),
            lambda f=first, s=second: services.membership_deactivate(membership=s, by=f),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        active_admins = Membership.objects.filter(
            organization=organization, status=Membership.Status.ACTIVE, roles__role=Role.GLOBAL_ADMIN
        )
        assert active_admins.count() == 1


def invited():
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    user = UserFactory()
    invitation, raw = services.membership_invitation_create(
        organization=admin.organization, email=user.email, roles=[Role.SALES_AGENT], by=admin
    )
    return admin, user, invitation, raw


def accept(raw: str, user) -> int:
    return services.membership_invitation_accept(
        invitation=services.membership_invitation_lookup(raw), user=user
    ).pk


def test_one_invitation_accepted_twice_at_once_makes_one_membership():
    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        admin, user, invitation, raw = invited()

        outcomes = race(
            lambda raw=raw, user=user: accept(raw, user),
            lambda raw=raw, user=user: accept(raw, user),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert Membership.objects.filter(user=user, organization=admin.organization).count() == 1
        assert (
            AuditEvent.objects.filter(
                action="membership_invitation.accepted", target_id=str(invitation.public_id)
            ).count()
            == 1
        )
        invitation.refresh_from_db()
        assert invitation.status == MembershipInvitation.Status.ACCEPTED


def test_accept_racing_revoke_has_one_outcome():
    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        admin, user, invitation, raw = invited()

        outcomes = race(
            lambda raw=raw, user=user: accept(raw, user),
            lambda i=invitation, a=admin: services.membership_invitation_revoke(invitation=i, by=a),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        invitation.refresh_from_db()
        joined = Membership.objects.filter(user=user, organization=admin.organization).exists()
        assert joined == (invitation.status == MembershipInvitation.Status.ACCEPTED)
        assert invitation.status in (
            MembershipInvitation.Status.ACCEPTED,
            MembershipInvitation.Status.REVOKED,
        )

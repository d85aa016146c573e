"""The dashboard's figures (accounts.dashboard): every card's numbers and dates in one query on the
member's own row, compiled once per process, each figure the same as the selector a page reads, as of
the request."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import selectors
from accounts.dashboard import DashboardFigures, _query, json_datetime
from accounts.models import Membership, MembershipInvitation, Organization
from accounts.roles import Role
from customers import selectors as customer_selectors
from customers.models import (
    EXPIRING_DAYS,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    RelationshipStatus,
)
from portal.audit.services import audit_record
from tests.factories.accounts import (
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.factories.customers import CustomerFactory, customer_linked

pytestmark = pytest.mark.django_db


def figures_of(membership: Membership, **figures) -> dict:
    """The named figures of the membership's organization, read as the member's dashboard reads them."""
    return dict(DashboardFigures(membership).ask(lambda **values: values, **figures))


def member_of(organization: Organization) -> Membership:
    return MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])


def test_the_member_figures_count_active_members_and_live_invitations():
    organization = OrganizationFactory()
    admin = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    MembershipFactory(organization=organization)
    MembershipFactory(organization=organization, status=Membership.Status.DEACTIVATED)
    MembershipFactory()  # another organization's
    MembershipInvitationFactory(organization=organization, invited_by=admin.user)
    MembershipInvitationFactory(
        organization=organization, invited_by=admin.user, expires_at=timezone.now() - timedelta(seconds=1)
    )
    MembershipInvitationFactory(
        organization=organization, invited_by=admin.user, status=MembershipInvitation.Status.REVOKED
    )

    assert figures_of(
        admin,
        members=selectors.members_active_figure,
        pending_invitations=selectors.invitations_pending_figure,
    ) == {"members": 2, "pending_invitations": 1}
    assert figures_of(
        member_of(OrganizationFactory()),
        members=selectors.members_active_figure,
        pending_invitations=selectors.invitations_pending_figure,
    ) == {"members": 1, "pending_invitations": 0}


def test_the_newest_event_figure_is_the_activity_logs_first_row():
    organization = OrganizationFactory()
    member = member_of(organization)
    assert figures_of(member, activity_newest=selectors.activity_newest_figure) == {"activity_newest": None}
    for action in ("membership.created", "membership.roles_changed", "invitation.revoked"):
        audit_record(action=action, organization=organization)
    audit_record(action="elsewhere.thing", organization=OrganizationFactory())

    newest = figures_of(member, activity_newest=selectors.activity_newest_figure)["activity_newest"]

    first = selectors.activity_events(organization=organization).first()
    assert newest["action"] == first.action == "invitation.revoked"
    assert json_datetime(newest["occurred_at"]) == first.occurred_at


def test_the_next_expiry_figure_is_the_expiry_radars_first_row():
    reseller = OrganizationFactory(kind=Organization.Kind.RESELLER)
    member = member_of(reseller)
    figure = {"reseller_access_expiring": customer_selectors.reseller_access_expiring_figure}
    assert figures_of(member, **figure) == {"reseller_access_expiring": None}

    customer_linked(reseller, CustomerFactory(legal_name="Later KK"), ends_in=timedelta(days=9))
    customer_linked(reseller, CustomerFactory(legal_name="Soon KK"), ends_in=timedelta(days=4))
    # not on the radar: no longer the reseller's customer, outside the window, ended, not live
    _customer, gone, _admin = customer_linked(
        reseller, CustomerFactory(legal_name="Gone KK"), ends_in=timedelta(days=1)
    )
    gone.status, gone.ended_at = RelationshipStatus.ENDED, timezone.now()
    gone.save(update_fields=["status", "ended_at"])
    customer_linked(reseller, CustomerFactory(legal_name="Far KK"), ends_in=timedelta(days=EXPIRING_DAYS + 1))
    customer_linked(reseller, CustomerFactory(legal_name="Past KK"), ends_in=timedelta(seconds=-1))
    customer_linked(
        reseller,
        CustomerFactory(legal_name="Terminated KK"),
        ends_in=timedelta(days=2),
        status=DelegatedAdminStatus.TERMINATED,
    )
    customer_linked(OrganizationFactory(kind=Organization.Kind.RESELLER), ends_in=timedelta(hours=1))

    expiring = figures_of(member, **figure)["reseller_access_expiring"]

    first = customer_selectors.delegated_admins_expiring(reseller, days=EXPIRING_DAYS).first()
    assert first.customer.legal_name == expiring["legal_name"] == "Soon KK"
    assert uuid.UUID(expiring["public_id"]) == first.customer.public_id
    assert json_datetime(expiring["ends_at"]) == first.ends_at


def test_the_customers_figures_are_its_oldest_request_and_its_next_end():
    customer = CustomerFactory()
    member = member_of(customer)
    figures = {
        "request_pending_id": customer_selectors.customer_request_pending_id_figure,
        "access_ending_at": customer_selectors.customer_access_ending_at_figure,
    }
    assert figures_of(member, **figures) == {"request_pending_id": None, "access_ending_at": None}

    for days in (200, 40):
        customer_linked(OrganizationFactory(kind=Organization.Kind.RESELLER), customer, days=days)
    customer_linked(
        OrganizationFactory(kind=Organization.Kind.RESELLER),
        customer,
        ends_in=timedelta(days=3),
        status=DelegatedAdminStatus.TERMINATED,
    )
    requests = [
        DelegatedAdminRelationship.objects.create(
            customer=customer,
            partner=OrganizationFactory(kind=Organization.Kind.RESELLER),
            roles=["user_admin"],
            duration_days=30,
            status=DelegatedAdminStatus.APPROVAL_PENDING,
            requested_at=timezone.now() - timedelta(hours=hours),
        )
        for hours in (1, 5, 2)
    ]

    found = figures_of(member, **figures)

    assert found["request_pending_id"] == requests[1].public_id
    assert requests[1] == customer_selectors.pending_approvals_of(customer).order_by("requested_at", "id")[0]
    assert (
        found["access_ending_at"]
        == (
            DelegatedAdminRelationship.objects.filter(customer=customer, status=DelegatedAdminStatus.ACTIVE)
            .order_by("ends_at")
            .values_list("ends_at", flat=True)[0]
        )
    )
    assert found["access_ending_at"] - timezone.now() > timedelta(days=39)


def test_every_figure_asked_for_is_read_in_one_query_when_the_page_first_uses_one():
    member = member_of(OrganizationFactory())
    figures = DashboardFigures(member)

    with CaptureQueriesContext(connection) as queries:
        counts = figures.ask(lambda members: {"members": members}, members=selectors.members_active_figure)
        newest = figures.ask(
            lambda activity_newest: activity_newest, activity_newest=selectors.activity_newest_figure
        )
        assert len(queries) == 0
        figures.read()
        assert counts["members"] == 1 and not newest

    assert len(queries) == 1
    with pytest.raises(RuntimeError):
        figures.ask(lambda members: members, members=selectors.members_active_figure)


def test_a_dashboard_without_figures_reads_nothing_and_names_are_not_shared():
    figures = DashboardFigures(member_of(OrganizationFactory()))
    figures.ask(lambda members: members, members=selectors.members_active_figure)
    with pytest.raises(ValueError, match="members"):
        figures.ask(lambda members: members, members=selectors.invitations_pending_figure)

    member = member_of(OrganizationFactory())
    with CaptureQueriesContext(connection) as queries:
        assert DashboardFigures(member).row == {}
    assert len(queries) == 0


def test_the_prepared_figures_are_what_the_queryset_itself_returns():
    reseller = OrganizationFactory(kind=Organization.Kind.RESELLER)
    admin = MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN])
    MembershipInvitationFactory(organization=reseller, invited_by=admin.user)
    audit_record(action="membership.created", organization=reseller)
    customer, _relationship, _admin = customer_linked(reseller, ends_in=timedelta(days=3))
    figures = (
        ("activity_newest", selectors.activity_newest_figure),
        ("members", selectors.members_active_figure),
        ("pending_invitations", selectors.invitations_pending_figure),
        ("reseller_access_expiring", customer_selectors.reseller_access_expiring_figure),
        ("request_pending_id", customer_selectors.customer_request_pending_id_figure),
        ("access_ending_at", customer_selectors.customer_access_ending_at_figure),
    )
    for member in (admin, member_of(customer), member_of(OrganizationFactory())):
        queryset = Membership.objects.filter(pk=member.pk, organization_id=member.organization_id).values(
            **{name: figure() for name, figure in figures}
        )
        prepared = _query(figures).values(membership_id=member.pk, organization_id=member.organization_id)
        assert prepared == list(queryset)
        assert _query(figures).values(membership_id=member.pk, organization_id=reseller.pk + 1000) == []


@pytest.mark.parametrize("kind", ["reseller", "provider", "customer"])
def test_each_dashboard_reads_its_cards_figures_in_one_query(client, kind):
    organization = OrganizationFactory(kind=kind)
    admin = MembershipFactory(
        organization=organization, user=UserFactory(preferred_language="en"), roles=[Role.GLOBAL_ADMIN]
    )
    audit_record(action="membership.roles_changed", organization=organization, actor=admin.user)
    client.force_login(admin.user)
    url = reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": organization.public_id}
    )
    client.get(url)

    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).content.decode()

    figures = [query["sql"] for query in queries if '"activity_newest"' in query["sql"]]
    assert len(figures) == 1
    assert ('"reseller_access_expiring"' in figures[0]) == (kind == "reseller")
    assert ('"request_pending_id"' in figures[0]) == (kind == "customer")
    assert "<dt>Active members</dt><dd>1</dd>" in body
    assert "Latest: Roles changed" in body


def test_a_membership_that_ended_meanwhile_reads_no_figures():
    member = member_of(OrganizationFactory())
    figures = DashboardFigures(member)
    figures.ask(lambda members: members, members=selectors.members_active_figure)
    Membership.objects.filter(pk=member.pk).delete()

    with pytest.raises(Http404):
        figures.read()


def test_json_times_are_aware():
    assert json_datetime("2026-03-04T05:06:07.5+09:00") == datetime(2026, 3, 3, 20, 6, 7, 500000, tzinfo=UTC)
    assert json_datetime("2026-03-04 05:06:07.123456") == datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)

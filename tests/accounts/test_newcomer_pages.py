"""Newcomer friction on the organization pages: links only to what the member may open, choices that can
succeed, confirmation before destructive actions, leaving an organization, dashboards with numbers."""

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Membership, MembershipInvitation, MembershipRole
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.mail.models import OutboxEmail
from tests.factories.accounts import (
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def organization():
    return OrganizationFactory(legal_name="Fabrikam KK")


@pytest.fixture
def admin(organization):
    return MembershipFactory(
        organization=organization, user=UserFactory(full_name="Aiko Admin"), roles=[Role.GLOBAL_ADMIN]
    )


@pytest.fixture
def member(organization):
    return MembershipFactory(
        organization=organization,
        user=UserFactory(full_name="Ben Member", email="ben@example.com"),
        roles=[Role.SALES_AGENT, Role.HELPDESK_AGENT],
    )


def org_url(name, organization, **kwargs):
    return reverse(name, kwargs={"organization_public_id": organization.public_id, **kwargs})


def member_url(name, member):
    return org_url(name, member.organization, membership_id=member.public_id)


def roles_of(membership) -> list[str]:
    return list(
        MembershipRole.objects.filter(membership=membership).order_by("role").values_list("role", flat=True)
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def state() -> tuple:
    """Everything a user-management request could change."""
    return (
        list(Membership.objects.order_by("pk").values_list("pk", "status")),
        list(MembershipRole.objects.order_by("pk").values_list("pk", "membership_id", "role")),
        list(MembershipInvitation.objects.order_by("pk").values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


# --- Links and tabs only to pages the member may open ---------------------------------------------------


@pytest.mark.parametrize(
    ("role", "sees_user_management"),
    [
        (Role.SALES_AGENT, False),
        (Role.HELPDESK_AGENT, False),
        (Role.USER_MANAGEMENT_ADMIN, True),
        (Role.GLOBAL_ADMIN, True),
    ],
)
def test_the_user_management_tab_is_offered_only_to_who_may_open_it(
    client, organization, role, sees_user_management
):
    membership = MembershipFactory(organization=organization, roles=[role])
    client.force_login(membership.user)
    body = client.get(org_url("accounts:settings", organization)).content.decode()
    users_url = org_url("accounts:users", organization)
    assert (f'<a href="{users_url}">User management</a>' in body) == sees_user_management
    assert "Organization profile</a>" in body


def test_the_dashboard_links_to_user_management_for_those_who_may_open_it(client, organization, admin):
    helpdesk = MembershipFactory(organization=organization, roles=[Role.HELPDESK_AGENT])
    users_link = f'<a href="{org_url("accounts:users", organization)}">User management</a>'
    client.force_login(admin.user)
    assert users_link in client.get(org_url("accounts:organization_dashboard", organization)).content.decode()
    client.force_login(helpdesk.user)
    assert (
        users_link
        not in client.get(org_url("accounts:organization_dashboard", organization)).content.decode()
    )


def checkbox_values(body: str, name: str = "roles") -> list[str]:
    return re.findall(rf'<input type="checkbox" name="{name}" value="([a-z_]+)"', body)


def test_global_admin_is_offered_only_to_who_may_grant_it(client, organization, admin):
    user_admin = MembershipFactory(organization=organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    invite = org_url("accounts:user_invite", organization)
    client.force_login(admin.user)
    assert checkbox_values(client.get(invite).content.decode())[0] == Role.GLOBAL_ADMIN
    client.force_login(user_admin.user)
    offered = checkbox_values(client.get(invite).content.decode())
    assert offered == [role for role in Role.values if role != Role.GLOBAL_ADMIN]

    # Posted anyway, it is refused at the field, and nothing is sent.
    before = state()
    response = client.post(invite, {"email": "new@example.com", "roles": [Role.GLOBAL_ADMIN]})
    assert response.status_code == 400
    assert response.context["form"].errors["roles"] == ["Unknown role."]
    assert state() == before


def test_resending_a_global_admin_invitation_is_offered_only_to_who_may_grant_it(client, organization, admin):
    invitation = MembershipInvitationFactory(
        organization=organization, roles=[Role.GLOBAL_ADMIN], invited_by=admin.user
    )
    resend = org_url("accounts:invitation_resend", organization, invitation_id=invitation.public_id)
    revoke = org_url("accounts:invitation_revoke", organization, invitation_id=invitation.public_id)
    user_admin = MembershipFactory(organization=organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    client.force_login(user_admin.user)
    body = client.get(org_url("accounts:users", organization)).content.decode()
    assert resend not in body
    assert f'<a href="{revoke}">Revoke</a>' in body
    client.force_login(admin.user)
    assert resend in client.get(org_url("accounts:users", organization)).content.decode()


def test_a_user_management_admin_edits_a_global_admin_without_dropping_that_role(client, organization, admin):
    user_admin = MembershipFactory(organization=organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    other_admin = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    client.force_login(user_admin.user)
    page = client.get(member_url("accounts:member", other_admin)).content.decode()
    assert Role.GLOBAL_ADMIN not in checkbox_values(page)
    assert "This member is a Global admin. Only a Global admin can grant or remove that role" in page
    # Deactivating or removing a Global admin would always fail for this actor: not offered.
    assert member_url("accounts:member_deactivate", other_admin) not in page
    assert member_url("accounts:member_remove", other_admin) not in page
    assert "Only a Global admin can deactivate or remove a Global admin." in page

    response = client.post(member_url("accounts:member_roles", other_admin), {"roles": [Role.BILLING_ADMIN]})
    assert response.status_code == 302
    assert roles_of(other_admin) == [Role.BILLING_ADMIN, Role.GLOBAL_ADMIN]
    event = AuditEvent.objects.get(action="membership.roles_changed")
    assert event.before == {"roles": [Role.GLOBAL_ADMIN]}
    assert event.after == {"roles": [Role.GLOBAL_ADMIN, Role.BILLING_ADMIN]}

    # Ticking nothing drops the other roles and keeps the member a Global admin.
    response = client.post(member_url("accounts:member_roles", other_admin), {})
    assert response.status_code == 302
    assert roles_of(other_admin) == [Role.GLOBAL_ADMIN]


def test_own_member_page_offers_no_changes_and_points_to_leaving(client, organization, admin):
    MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    client.force_login(admin.user)
    body = client.get(member_url("accounts:member", admin)).content.decode()
    assert "This is you" in body
    assert 'name="roles"' not in body
    assert member_url("accounts:member_roles", admin) not in body
    assert member_url("accounts:member_deactivate", admin) not in body
    assert member_url("accounts:member_remove", admin) not in body
    assert f'href="{org_url("accounts:organization_leave", organization)}">Leave organization</a>' in body


# --- Destructive actions ask first; every outcome comes back through a redirect --------------------------


def test_deactivate_asks_first_and_says_what_happens(client, organization, admin, member):
    client.force_login(admin.user)
    before = state()
    response = client.get(member_url("accounts:member_deactivate", member))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Deactivate Ben Member?" in body
    assert "ben@example.com" in body
    assert "Helpdesk agent, Sales agent" in body
    assert "Ben Member loses access to Fabrikam KK at once and can no longer open any of its pages." in body
    assert "Their account and the activity log stay." in body
    assert '<button type="submit" class="button button--danger">Deactivate</button>' in body
    assert f'<a href="{member_url("accounts:member", member)}">Cancel</a>' in body
    assert state() == before

    response = client.post(member_url("accounts:member_deactivate", member))
    assert response.status_code == 302
    assert response["Location"] == org_url("accounts:users", organization)
    assert messages_of(response) == ["ben@example.com was deactivated."]
    member.refresh_from_db()
    assert member.status == Membership.Status.DEACTIVATED
    assert AuditEvent.objects.filter(action="membership.deactivated").count() == 1


def test_remove_asks_first_and_says_what_happens(client, organization, admin, member):
    client.force_login(admin.user)
    before = state()
    body = client.get(member_url("accounts:member_remove", member)).content.decode()
    assert "Remove Ben Member from Fabrikam KK?" in body
    assert "Ben Member loses access to Fabrikam KK at once, and their roles here are deleted." in body
    assert "Their account stays, and so does the activity log, including what they did here." in body
    assert '<button type="submit" class="button button--danger">Remove from organization</button>' in body
    assert state() == before

    response = client.post(member_url("accounts:member_remove", member))
    assert response["Location"] == org_url("accounts:users", organization)
    assert messages_of(response) == ["ben@example.com was removed from the organization."]
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_a_refused_action_comes_back_through_a_redirect_with_its_reason(client, organization, admin):
    """The last Global admin cannot be removed: the error is a message after a redirect, so a reload
    repeats nothing."""
    user_admin = MembershipFactory(organization=organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    client.force_login(user_admin.user)
    before = state()
    response = client.post(member_url("accounts:member_remove", admin))
    assert response.status_code == 302
    assert response["Location"] == member_url("accounts:member", admin)
    assert messages_of(response) == ["Only a Global admin can grant or remove the Global admin role."]
    assert state() == before


def test_the_member_page_links_to_the_confirmations(client, organization, admin, member):
    client.force_login(admin.user)
    body = client.get(member_url("accounts:member", member)).content.decode()
    assert (
        f'<a class="button button--secondary" href="{member_url("accounts:member_deactivate", member)}">'
        "Deactivate</a>"
    ) in body
    assert (
        f'<a class="button button--danger" href="{member_url("accounts:member_remove", member)}">'
        "Remove from organization</a>"
    ) in body


def test_revoke_asks_first_and_says_the_link_stops_working(client, organization, admin):
    invitation = MembershipInvitationFactory(
        organization=organization,
        email="carol@example.com",
        roles=[Role.BILLING_ADMIN],
        invited_by=admin.user,
    )
    url = org_url("accounts:invitation_revoke", organization, invitation_id=invitation.public_id)
    client.force_login(admin.user)
    users_page = client.get(org_url("accounts:users", organization)).content.decode()
    assert f'<a href="{url}">Revoke</a>' in users_page
    before = state()
    body = client.get(url).content.decode()
    assert "Revoke the invitation to carol@example.com?" in body
    assert "Billing admin" in body
    assert (
        "The link in the invitation email stops working at once: carol@example.com cannot join with it."
        in body
    )
    assert '<button type="submit" class="button button--danger">Revoke invitation</button>' in body
    assert state() == before

    response = client.post(url)
    assert response["Location"] == org_url("accounts:users", organization)
    assert messages_of(response) == ["The invitation to carol@example.com was revoked."]
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.REVOKED

    # A second POST (a resubmitted form) changes nothing and says why.
    before = state()
    response = client.post(url)
    assert response.status_code == 302
    assert messages_of(response)[-1] == "This action is no longer possible: the item is Revoked."
    assert state() == before
    assert "This invitation is no longer pending" in client.get(url).content.decode()


# --- Leaving an organization ------------------------------------------------------------------------------


def test_a_member_leaves_after_confirming(client, organization, admin, member):
    url = org_url("accounts:organization_leave", organization)
    client.force_login(member.user)
    dashboard = client.get(org_url("accounts:organization_dashboard", organization)).content.decode()
    assert f'<a href="{url}">Leave organization</a>' in dashboard
    before = state()
    body = client.get(url).content.decode()
    assert "Leave Fabrikam KK?" in body
    assert "You lose access to Fabrikam KK at once, with all your roles there." in body
    assert '<button type="submit" class="button button--danger">Leave organization</button>' in body
    assert state() == before

    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert messages_of(response) == ["You left Fabrikam KK."]
    assert not Membership.objects.filter(pk=member.pk).exists()
    event = AuditEvent.objects.get(action="membership.left")
    assert event.actor == member.user
    # Gone: the organization's pages are a 404 now.
    assert client.get(org_url("accounts:organization_dashboard", organization)).status_code == 404


def test_the_last_global_admin_is_told_why_they_cannot_leave(client, organization, admin):
    url = org_url("accounts:organization_leave", organization)
    client.force_login(admin.user)
    before = state()
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == org_url("accounts:organization_dashboard", organization)
    assert messages_of(response) == [
        "You are the only active Global admin. Make another member Global admin first, then leave."
    ]
    assert state() == before


# --- Staff land on the review site ----------------------------------------------------------------------


def test_program_staff_without_an_organization_go_to_the_review_site(client):
    client.force_login(StaffFactory())
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_a_staff_member_of_an_organization_still_opens_it(client):
    membership = MembershipFactory(user=StaffFactory())
    client.force_login(membership.user)
    response = client.get(reverse("dashboard"))
    assert response["Location"] == org_url("accounts:organization_dashboard", membership.organization)


# --- Dashboards: numbers and the pages the member may open ----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected", "absent"),
    [
        ("reseller", ["customers:list", "providers:providers"], ["providers:resellers"]),
        ("provider", ["customers:list", "providers:resellers"], ["providers:providers"]),
    ],
)
def test_the_dashboard_counts_and_links(client, kind, expected, absent):
    organization = OrganizationFactory(kind=kind)
    admin = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    MembershipFactory.create_batch(2, organization=organization, roles=[Role.SALES_AGENT])
    MembershipFactory(organization=organization, status=Membership.Status.DEACTIVATED)
    MembershipInvitationFactory(organization=organization, invited_by=admin.user)
    audit_record(action="membership.roles_changed", organization=organization, actor=admin.user)
    client.force_login(admin.user)
    body = client.get(org_url("accounts:organization_dashboard", organization)).content.decode()
    assert "<dt>Active members</dt><dd>3</dd>" in body
    assert "<dt>Pending invitations</dt><dd>1</dd>" in body
    for name in [*expected, "accounts:users", "accounts:user_invite", "accounts:activity"]:
        assert f'<a href="{org_url(name, organization)}">' in body, name
    for name in absent:
        assert org_url(name, organization) not in body
    assert "Latest: Roles changed" in body


def test_the_dashboard_offers_only_what_a_helpdesk_agent_may_open(client, organization):
    helpdesk = MembershipFactory(organization=organization, roles=[Role.HELPDESK_AGENT])
    client.force_login(helpdesk.user)
    body = client.get(org_url("accounts:organization_dashboard", organization)).content.decode()
    assert f'<a href="{org_url("customers:list", organization)}">' in body
    for name in ("accounts:users", "accounts:user_invite", "accounts:activity", "providers:providers"):
        assert org_url(name, organization) not in body, name
    assert "<dt>Active members</dt><dd>1</dd>" in body


def test_the_dashboard_query_count_does_not_grow(client, organization, admin):
    client.force_login(admin.user)
    url = org_url("accounts:organization_dashboard", organization)
    client.get(url)  # the first visit creates the session rows
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    MembershipFactory.create_batch(15, organization=organization, roles=[Role.SALES_AGENT])
    MembershipInvitationFactory.create_batch(5, organization=organization, invited_by=admin.user)
    for n in range(60):
        audit_record(action=f"thing.{n % 5}", organization=organization, actor=admin.user)
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).content.decode()
    assert len(many) == len(few)
    # Every card's figures (members, invitations, the newest event, the next delegated admin access to
    # expire) come in one query on the organization's row.
    figures = [query["sql"] for query in many.captured_queries if '"activity_newest"' in query["sql"]]
    assert len(figures) == 1 and '"members"' in figures[0] and '"reseller_access_expiring"' in figures[0]
    # the session, the user, the membership, the switcher and the figures
    assert len(few) <= 5, "\n".join(q["sql"][:150] for q in few.captured_queries)
    assert "<dt>Active members</dt><dd>16</dd>" in body
    # The activity log is never counted: the one read of it is its newest event (LIMIT 1).
    for sql in (query["sql"] for query in many.captured_queries):
        assert not re.search(r'COUNT\((?:(?!SELECT).)*FROM "audit_auditevent"', sql, re.IGNORECASE), sql
        assert all(
            "LIMIT 1" in part for part in sql.split("SELECT ")[1:] if 'FROM "audit_auditevent"' in part
        )

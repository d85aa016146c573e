"""Hostile input at every form: a clear answer, never a 500, nothing half-saved."""

import pytest
from django.urls import reverse

from accounts.models import Membership, MembershipInvitation, MembershipRole, User
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.factories.accounts import MembershipFactory

pytestmark = pytest.mark.django_db

NAUGHTY = [
    "",
    " ",
    "\x00",
    "a\x00b@example.com",
    "\r\nBcc: victim@example.com",
    '=HYPERLINK("http://evil")',
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ settings.SECRET_KEY }}",
    "{% debug %}",
    "' OR 1=1 --",
    "\u202eevil.com",
    "\uff55\uff53\uff45\uff52@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # fullwidth
    "user@[127.0.0.1]",
    "x" * 10_000,
    "🙂" * 300,
    "-1",
    "9" * 40,
    "2026-02-30",
    "../../etc/passwd",
]


def state():
    return (
        User.objects.count(),
        list(Membership.objects.values_list("pk", "status")),
        list(MembershipRole.objects.values_list("membership_id", "role")),
        MembershipInvitation.objects.count(),
        OutboxEmail.objects.count(),
    )


@pytest.fixture
def admin(client):
    membership = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    client.force_login(membership.user)
    return membership


@pytest.mark.parametrize("value", NAUGHTY)
def test_invitation_form(client, admin, value):
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    before = state()
    response = client.post(url, {"email": value, "roles": [value]})
    assert response.status_code == 400
    assert response.context["form"].errors
    assert state() == before
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize("value", NAUGHTY)
def test_roles_form(client, admin, value):
    member = MembershipFactory(organization=admin.organization, roles=[Role.SALES_AGENT])
    url = reverse(
        "accounts:member_roles",
        kwargs={"organization_public_id": admin.organization.public_id, "membership_id": member.public_id},
    )
    before = state()
    response = client.post(url, {"roles": [value]})
    assert response.status_code == 400
    assert state() == before


@pytest.mark.parametrize("value", NAUGHTY)
def test_activity_filters(client, admin, value):
    url = reverse("accounts:activity", kwargs={"organization_public_id": admin.organization.public_id})
    response = client.get(url, {"date_from": value, "date_to": value, "action": value, "user": value})
    assert response.status_code in (200, 400)
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize("value", NAUGHTY)
def test_profile_form(client, admin, value):
    before = (admin.user.full_name, admin.user.preferred_language, AuditEvent.objects.count())
    response = client.post(reverse("profile"), {"full_name": value, "preferred_language": value})
    assert response.status_code == 200
    assert response.context["form"].errors
    admin.user.refresh_from_db()
    assert (admin.user.full_name, admin.user.preferred_language, AuditEvent.objects.count()) == before


@pytest.mark.parametrize("value", NAUGHTY)
def test_signup_form(client, value):
    before = state()
    response = client.post(
        reverse("account_signup"), {"email": value, "password1": value, "password2": value}
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert state() == before


@pytest.mark.parametrize("value", NAUGHTY)
def test_page_and_object_parameters(client, admin, value):
    url = reverse("accounts:users", kwargs={"organization_public_id": admin.organization.public_id})
    assert client.get(url, {"page": value}).status_code == 200
    assert client.get(f"/o/{value[:50]}/settings/users/").status_code == 404


def test_invalid_utf8_in_a_form_body(client, admin):
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    before = state()
    response = client.post(
        url, b"email=%ED%A0%80%FF&roles=sales_agent", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert state() == before

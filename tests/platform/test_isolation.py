"""The isolation matrix: every route, as every kind of visitor, GET and POST.

- anonymous → sent to sign in;
- a member of another organization → 404, as if the organization did not exist;
- a member of the organization (or its objects) in the URL that belongs to another tenant → 404;
- a member of the same organization without the route's permission → 403;
- a permitted member → served.
Denied requests change nothing and queue no email, and the other tenant's canary never shows.
"""

import hashlib
import uuid
from dataclasses import dataclass

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.urls import reverse

from accounts.models import Membership, MembershipInvitation, MembershipRole, Organization
from accounts.roles import ROLE_PERMISSIONS, Role
from portal.access_policy import AUTHENTICATED, PUBLIC, STAFF, iter_routes, policy_for
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.factories.accounts import (
    TOTP_SECRET,
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
# Routes that exist only for one kind of organization.
ROUTE_ORGANIZATION_KIND = {"providers:resellers": Organization.Kind.PROVIDER}
# Path parameters of public routes, filled with harmless values.
PUBLIC_KWARGS = {
    "accounts:invitation_landing": {"token": "not-a-real-token"},
    "account_reset_password_from_key": {"uidb36": "1", "key": "set-password"},
    "account_confirm_email": {"key": "not-a-key"},
}


@dataclass
class Tenant:
    organization: Organization
    admin: Membership
    member: Membership
    invitation: MembershipInvitation
    canary: str


def make_tenant(kind: str, label: str) -> Tenant:
    canary = f"CANARY-{label}-{uuid.uuid4().hex[:10]}"
    organization = OrganizationFactory(kind=kind, legal_name=f"{canary} KK")
    admin = MembershipFactory(
        organization=organization, user=UserFactory(email=f"{canary.lower()}-admin@example.com")
    )
    member = MembershipFactory(
        organization=organization,
        user=UserFactory(email=f"{canary.lower()}-member@example.com", full_name=canary),
        roles=[Role.SALES_AGENT],
    )
    invitation = MembershipInvitationFactory(
        organization=organization, email=f"{canary.lower()}-invitee@example.com", invited_by=admin.user
    )
    return Tenant(organization, admin, member, invitation, canary)


def lacking(organization: Organization, permission: str) -> Membership:
    """A member of the organization whose roles do not grant the permission (no roles at all if need be)."""
    roles = next(([role] for role in Role.values if permission not in ROLE_PERMISSIONS[role]), [])
    return MembershipFactory(organization=organization, roles=roles)


def organization_kwargs(route_kwargs: set[str], tenant: Tenant, objects_of: Tenant) -> dict:
    kwargs = {"organization_public_id": tenant.organization.public_id}
    if "membership_id" in route_kwargs:
        kwargs["membership_id"] = objects_of.member.public_id
    if "invitation_id" in route_kwargs:
        kwargs["invitation_id"] = objects_of.invitation.public_id
    return kwargs


def snapshot() -> str:
    """A digest of everything a request could change."""
    rows = [
        list(Organization.objects.order_by("pk").values_list("pk", "status", "legal_name")),
        list(Membership.objects.order_by("pk").values_list("pk", "status")),
        list(MembershipRole.objects.order_by("pk").values_list("pk", "membership_id", "role")),
        list(MembershipInvitation.objects.order_by("pk").values_list("pk", "status", "email")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def routes_with(policy_test) -> list:
    found = []
    for name, route, callback in iter_routes():
        policy = policy_for(name)
        if policy_test(policy) and not name.startswith("<"):
            found.append(pytest.param(name, route, callback, id=name))
    return found


def route_kwarg_names(route: str) -> set[str]:
    import re

    return set(re.findall(r"<(?:\w+:)?(\w+)>", route))


ORGANIZATION_ROUTES = routes_with(lambda policy: policy not in (PUBLIC, AUTHENTICATED, STAFF))
METHODS = ["get", "post"]


def request(client, method, url):
    return getattr(client, method)(url)


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def assert_login_redirect(response):
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def handles(callback, method: str) -> bool:
    view_class = getattr(callback, "view_class", None)
    return view_class is None or hasattr(view_class, method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("name", "route", "callback"), ORGANIZATION_ROUTES)
def test_organization_routes(client, name, route, callback, method):
    kind = ROUTE_ORGANIZATION_KIND.get(name, Organization.Kind.RESELLER)
    tenant_a = make_tenant(kind, "A")
    tenant_b = make_tenant(kind, "B")
    permission = policy_for(name)
    kwarg_names = route_kwarg_names(route)
    url_a = reverse(name, kwargs=organization_kwargs(kwarg_names, tenant_a, tenant_a))
    before = snapshot()

    # Anonymous: sign in first; nothing changes.
    response = request(client, method, url_a)
    assert_login_redirect(response)
    assert snapshot() == before

    # A member of another organization: 404, and A's canary never appears.
    client.force_login(tenant_b.admin.user)
    response = request(client, method, url_a)
    assert response.status_code == 404
    assert tenant_a.canary not in body(response)
    assert snapshot() == before

    # B's own organization in the URL, but an object of A: 404.
    if kwarg_names - {"organization_public_id"}:
        url_mixed = reverse(name, kwargs=organization_kwargs(kwarg_names, tenant_b, tenant_a))
        response = request(client, method, url_mixed)
        assert response.status_code == (404 if handles(callback, method) else 405)
        assert tenant_a.canary not in body(response)
        assert snapshot() == before

    # A member of A without the permission: 403.
    weak = lacking(tenant_a.organization, permission)
    before = snapshot()
    client.force_login(weak.user)
    response = request(client, method, url_a)
    assert response.status_code == 403
    assert tenant_b.canary not in body(response)
    assert snapshot() == before

    # A deactivated member of A, even a Global admin: 404.
    gone = MembershipFactory(organization=tenant_a.organization, status=Membership.Status.DEACTIVATED)
    before = snapshot()
    client.force_login(gone.user)
    response = request(client, method, url_a)
    assert response.status_code == 404
    assert snapshot() == before

    # The permitted member is served (a POST-only route answers GET with 405, and vice versa).
    client.force_login(tenant_a.admin.user)
    response = request(client, method, url_a)
    if not handles(callback, method):
        assert response.status_code == 405
    else:
        assert response.status_code in (200, 302, 400), response.status_code
    if response.status_code == 302:
        assert not response["Location"].startswith(LOGIN)
    assert tenant_b.canary not in body(response)

    # The same Global admin once the organization is suspended: 404, nothing changes.
    Organization.objects.filter(pk=tenant_a.organization.pk).update(status=Organization.Status.SUSPENDED)
    before = snapshot()
    response = request(client, method, url_a)
    assert response.status_code == 404
    assert tenant_a.canary not in body(response)
    assert snapshot() == before


AUTHENTICATED_ROUTES = routes_with(lambda policy: policy == AUTHENTICATED)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("name", "route", "callback"), AUTHENTICATED_ROUTES)
def test_signed_in_routes(client, name, route, callback, method):
    tenant_b = make_tenant(Organization.Kind.RESELLER, "B")
    url = reverse(name)
    before = snapshot()
    assert_login_redirect(request(client, method, url))
    assert snapshot() == before

    user = UserFactory()
    TOTP.activate(user, TOTP_SECRET)
    RecoveryCodes.activate(user)
    client.force_login(user)
    response = request(client, method, url)
    assert response.status_code < 500
    assert response.status_code not in (403, 404)
    if response.status_code == 302:
        assert not response["Location"].startswith(LOGIN)
    assert tenant_b.canary not in body(response)


def staff_routes():
    """Staff routes that need no path parameters; object pages are covered by a sample below."""
    return [
        param
        for param in routes_with(lambda policy: policy == STAFF)
        if not route_kwarg_names(param.values[1])
    ]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("name", "route", "callback"), staff_routes())
def test_staff_routes(client, name, route, callback, method):
    tenant = make_tenant(Organization.Kind.RESELLER, "A")
    outsider = make_tenant(Organization.Kind.RESELLER, "B")
    url = reverse(name)
    before = snapshot()
    response = request(client, method, url)
    assert response.status_code == 302
    assert response["Location"].startswith((LOGIN, "/review/login/"))
    assert tenant.canary not in body(response)

    # A portal user who is not program staff: refused, nothing shown, nothing changed.
    client.force_login(outsider.admin.user)
    response = request(client, method, url)
    assert response.status_code in (302, 403, 405)
    assert tenant.canary not in body(response)
    assert snapshot() == before

    # Program staff with two-factor authentication: served.
    reviewer = StaffFactory(is_superuser=True)
    client.force_login(reviewer)
    response = request(client, method, url)
    # The review site's add pages are switched off for read-only models; the autocomplete needs a query.
    closed = name.endswith("_add") or name == "admin:autocomplete"
    assert response.status_code in ((200, 302, 403, 405) if closed else (200, 302, 405)), response.status_code
    if response.status_code == 302:
        assert not response["Location"].startswith((LOGIN, "/accounts/2fa/"))


def test_staff_object_pages_of_the_review_site(client):
    tenant = make_tenant(Organization.Kind.RESELLER, "A")
    url = reverse("admin:accounts_organization_change", args=[tenant.organization.pk])
    outsider = make_tenant(Organization.Kind.RESELLER, "B")
    client.force_login(outsider.admin.user)
    response = client.get(url)
    assert response.status_code in (302, 403)
    assert tenant.canary not in body(response)

    reviewer = StaffFactory(is_superuser=True)
    client.force_login(reviewer)
    response = client.get(url)
    assert response.status_code == 200
    assert tenant.canary in body(response)


PUBLIC_ROUTES = routes_with(lambda policy: policy == PUBLIC)


@pytest.mark.parametrize(("name", "route", "callback"), PUBLIC_ROUTES)
def test_public_routes_answer_anonymous_visitors(client, name, route, callback):
    tenant = make_tenant(Organization.Kind.RESELLER, "A")
    url = reverse(name, kwargs=PUBLIC_KWARGS.get(name))
    response = client.get(url)
    assert response.status_code < 500
    if response.status_code == 302:
        assert not response["Location"].startswith(LOGIN + "?next=")
    assert tenant.canary not in body(response)

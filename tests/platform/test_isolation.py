"""The isolation matrix: every route, as every kind of visitor, GET and POST.

- anonymous → sent to sign in;
- a member of another organization → 404, as if the organization did not exist;
- a member of the organization (or its objects) in the URL that belongs to another tenant → 404;
- a member of the same organization without the route's permission → 403;
- a deactivated member, or any member once the organization is suspended → 404;
- a Global admin of a kind of organization the route is not for, in its own organization → 404;
- the Global admin of a partner of the tenant (each registered relationship) → 404, unless the route's
  access-policy entry opens the page to that partner;
- a permitted member → served.
Denied requests change nothing and queue no email, and the other tenant's canary never shows.

The matrix knows no app: each app registers, in ``tests/<app>/isolation.py``, its URL parameters, the
objects a tenant has, the tables the snapshot covers and its partner relationships (``tests/isolation.py``).
"""

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.http import HttpResponse
from django.urls import get_resolver, path, reverse

from accounts.models import Membership, Organization
from accounts.roles import ROLE_PERMISSIONS, Role
from accounts.scoping import OrganizationView
from portal.access_policy import (
    ACCESS_POLICY,
    AUTHENTICATED,
    ORGANIZATION_KINDS,
    PUBLIC,
    SPECIAL,
    STAFF,
    iter_routes,
    kinds_for,
    policy_for,
)
from tests.factories.accounts import TOTP_SECRET, MembershipFactory, StaffFactory, UserFactory
from tests.isolation import (
    ORGANIZATION_PARAMETER,
    make_tenant,
    opens_to_partner,
    partner_builders,
    partner_of,
    published_parameters,
    route_kwargs,
    route_parameter_names,
    snapshot,
    tenant_kind,
    unregistered_parameters,
)

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
# Path parameters of public routes, filled with harmless values.
PUBLIC_KWARGS = {
    "accounts:invitation_landing": {"token": "not-a-real-token"},
    "enrollment:confirmation_landing": {"token": "not-a-real-token"},
    "providers:partnership_invitation_landing": {"token": "not-a-real-token"},
    "customers:customer_invitation_landing": {"token": "not-a-real-token"},
    "accounts:directory_user_setup": {"token": "not-a-real-token"},
    "account_reset_password_from_key": {"uidb36": "1", "key": "set-password"},
    "account_confirm_email": {"key": "not-a-key"},
}


def lacking(organization: Organization, permission: str) -> Membership:
    """A member of the organization whose roles do not grant the permission (no roles at all if need be)."""
    roles = next(([role] for role in Role.values if permission not in ROLE_PERMISSIONS[role]), [])
    return MembershipFactory(organization=organization, roles=roles)


def routes_with(policy_test) -> list:
    found = []
    for name, route, callback in iter_routes():
        policy = policy_for(name)
        if policy_test(policy) and not name.startswith("<"):
            found.append(pytest.param(name, route, callback, id=name))
    return found


ORGANIZATION_ROUTES = routes_with(lambda policy: policy not in SPECIAL)
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
    kind = tenant_kind(kinds_for(name))
    tenant_a = make_tenant(kind, "A")
    tenant_b = make_tenant(kind, "B")
    permission = policy_for(name)
    url_a = reverse(name, kwargs=route_kwargs(name, route, tenant_a))
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

    # B's own organization in the URL, but an object of A: 404 (an object published to every
    # organization, such as a directory listing, is B's to open too: served, without A's canary).
    parameters = set(route_parameter_names(route)) - {ORGANIZATION_PARAMETER}
    if parameters and parameters <= published_parameters():
        url_mixed = reverse(name, kwargs=route_kwargs(name, route, tenant_b, objects_of=tenant_a))
        response = request(client, method, url_mixed)
        assert response.status_code in ((200, 302, 400) if handles(callback, method) else (405,))
        assert tenant_a.canary not in body(response)
        before = snapshot()
    elif parameters:
        url_mixed = reverse(name, kwargs=route_kwargs(name, route, tenant_b, objects_of=tenant_a))
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
    gone = MembershipFactory(
        organization=tenant_a.organization, status=Membership.Status.DEACTIVATED, roles=[Role.GLOBAL_ADMIN]
    )
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


def other_kind_cases() -> list:
    """(route, method, kind) for every kind of organization a route is not for."""
    return [
        pytest.param(*param.values, method, kind, id=f"{param.id}-{method}-{kind}")
        for param in ORGANIZATION_ROUTES
        for kind in sorted(ORGANIZATION_KINDS - kinds_for(param.id))
        for method in METHODS
    ]


@pytest.mark.parametrize(("name", "route", "callback", "method", "kind"), other_kind_cases())
def test_organization_routes_do_not_exist_for_other_kinds(client, name, route, callback, method, kind):
    # Given a Global admin of an organization of a kind the route is not for, in its own organization,
    tenant = make_tenant(kind, "A")
    url = reverse(name, kwargs=route_kwargs(name, route, tenant))
    before = snapshot()
    client.force_login(tenant.admin.user)

    # when it opens the route, then the page does not exist, and nothing changes.
    response = request(client, method, url)
    assert response.status_code == 404
    assert snapshot() == before


def partner_cases() -> list:
    """(route, method, relationship) for every registered partner relationship that can exist for a kind
    of organization the route is for."""
    return [
        pytest.param(*param.values, method, relationship, id=f"{param.id}-{method}-{relationship}")
        for param in ORGANIZATION_ROUTES
        for relationship, builder in partner_builders().items()
        if kinds_for(param.id) & builder.tenant_kinds
        for method in METHODS
    ]


@pytest.mark.parametrize(("name", "route", "callback", "method", "relationship"), partner_cases())
def test_partners_of_the_tenant(client, name, route, callback, method, relationship):
    # Given a tenant and the Global admin of a partner of it (linked by the relationship),
    builder = partner_builders()[relationship]
    tenant = make_tenant(tenant_kind(kinds_for(name) & builder.tenant_kinds), "A")
    partner = partner_of(tenant, relationship)
    url = reverse(name, kwargs=route_kwargs(name, route, tenant))
    before = snapshot()
    client.force_login(partner.user)

    # when the partner opens the tenant's page,
    response = request(client, method, url)

    # then it is served only where the route's entry opens it to this partner; elsewhere the page does not
    # exist, nothing changes and nothing of the tenant shows.
    if opens_to_partner(name, relationship):
        assert response.status_code in ((200, 302, 400) if handles(callback, method) else (405,))
        return
    assert response.status_code == 404
    assert tenant.canary not in body(response)
    assert snapshot() == before

    # Nor do the tenant's objects exist under the partner's own organization.
    if set(route_parameter_names(route)) - {ORGANIZATION_PARAMETER}:
        own = partner.organization
        mixed = {**route_kwargs(name, route, tenant), ORGANIZATION_PARAMETER: own.public_id}
        response = request(client, method, reverse(name, kwargs=mixed))
        served = own.kind in kinds_for(name) and not handles(callback, method)
        assert response.status_code == (405 if served else 404)
        assert tenant.canary not in body(response)
        assert snapshot() == before


@pytest.mark.parametrize("relationship", sorted(partner_builders()))
def test_partner_personas_are_served_in_their_own_organization(client, relationship):
    # The 404s above mean something only if the persona is a working Global admin of its organization.
    builder = partner_builders()[relationship]
    tenant = make_tenant(tenant_kind(builder.tenant_kinds), "A")
    partner = partner_of(tenant, relationship)
    client.force_login(partner.user)
    url = reverse(
        "accounts:organization_dashboard", kwargs={ORGANIZATION_PARAMETER: partner.organization.public_id}
    )
    response = client.get(url)
    assert response.status_code == 200
    assert tenant.canary not in body(response)


def test_every_organization_route_parameter_is_registered():
    assert unregistered_parameters() == []


def test_a_route_parameter_nobody_registered_fails_the_matrix(monkeypatch):
    # Given a new organization page whose URL names an object no app registered for the matrix,
    class WidgetView(OrganizationView):
        def get(self, request, widget_id):
            return HttpResponse("widget")

    monkeypatch.setitem(ACCESS_POLICY, "widget", "organization.view")
    route = "o/<uuid:organization_public_id>/widgets/<uuid:widget_id>/"
    patterns = [*get_resolver().url_patterns, path(route, WidgetView.as_view(), name="widget")]

    # then the registration check names the route and the parameter,
    assert unregistered_parameters(patterns) == [("widget", "widget_id")]
    # and the matrix case for that route fails, saying the same.
    tenant = make_tenant(Organization.Kind.RESELLER, "A")
    with pytest.raises(pytest.fail.Exception, match=r"'widget'.*'widget_id'"):
        route_kwargs("widget", route, tenant)


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
        if not route_parameter_names(param.values[1])
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

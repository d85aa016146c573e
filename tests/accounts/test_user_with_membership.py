"""accounts.authentication: an organization page reads its signed-in user with their membership, in one
query; who is signed in, and to what, is exactly what Django's own reading decides."""

import uuid

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import authentication, selectors
from accounts.models import Membership, Organization, User
from accounts.roles import Role
from portal.access_policy import is_organization_permission, iter_routes, policy_for
from tests.factories.accounts import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

USER_TABLE = '"accounts_user"'


def _dashboard(organization) -> str:
    return _dashboard_of(organization.public_id)


def _dashboard_of(public_id) -> str:
    return reverse("accounts:organization_dashboard", kwargs={"organization_public_id": public_id})


def _browser(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def _user_reads(browser: Client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        status = browser.get(url).status_code
    return status, [query["sql"] for query in captured.captured_queries if USER_TABLE in query["sql"]]


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_an_organization_page_reads_the_user_and_the_membership_in_one_query():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    browser = _browser(member.user)
    url = reverse("accounts:settings", kwargs={"organization_public_id": member.organization.public_id})
    browser.get(url)

    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url).status_code == 200
    reads = [
        query["sql"]
        for query in captured.captured_queries
        if USER_TABLE in query["sql"] or '"accounts_membership"' in query["sql"]
    ]

    assert len(reads) == 1
    assert USER_TABLE in reads[0] and '"accounts_organization"' in reads[0]


def test_the_user_read_with_the_membership_is_the_user_django_reads():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN], user=UserFactory(full_name="山田 花子"))
    response = _browser(member.user).get(_dashboard(member.organization))

    user = response.wsgi_request.user
    assert type(user._wrapped) is User
    assert _fields(user._wrapped) == _fields(User.objects.get(pk=member.user.pk))
    assert user.is_authenticated and user.full_name == "山田 花子"
    assert response.wsgi_request.membership.pk == member.pk
    assert response.wsgi_request.membership.user is user._wrapped


def test_a_page_elsewhere_reads_the_user_alone():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    browser = _browser(member.user)

    status, reads = _user_reads(browser, reverse("profile"))

    assert status == 200
    assert len(reads) == 1 and '"accounts_membership"' not in reads[0]


@pytest.mark.parametrize("case", ["not a member", "membership ended", "organization suspended", "unknown"])
def test_where_the_user_is_no_member_they_are_still_signed_in_and_the_page_is_missing(case):
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    user, url = member.user, _dashboard(member.organization)
    if case == "not a member":
        user = UserFactory()
    elif case == "membership ended":
        Membership.objects.filter(pk=member.pk).update(status=Membership.Status.DEACTIVATED)
    elif case == "organization suspended":
        Organization.objects.filter(pk=member.organization_id).update(status=Organization.Status.SUSPENDED)
    else:
        url = _dashboard_of(uuid.uuid4())

    response = _browser(user).get(url)

    assert response.status_code == 404
    assert response.wsgi_request.user.pk == user.pk
    assert not hasattr(response.wsgi_request, "membership")


@pytest.mark.parametrize("page", ["organization", "elsewhere"])
def test_an_inactive_user_is_signed_out_on_every_page_alike(page):
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    browser = _browser(member.user)
    User.objects.filter(pk=member.user.pk).update(is_active=False)
    url = _dashboard(member.organization) if page == "organization" else reverse("profile")

    response = browser.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not response.wsgi_request.user.is_authenticated


def test_a_session_from_before_a_password_change_is_ended_on_an_organization_page():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    browser = _browser(member.user)
    user = User.objects.get(pk=member.user.pk)
    user.set_password("another-long-passphrase-77")
    user.save()

    response = browser.get(_dashboard(member.organization))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert SESSION_KEY not in browser.session  # flushed, as Django's own check does


def test_a_session_signed_in_before_this_backend_stays_signed_in_and_is_carried_over():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    browser = _browser(member.user)
    session = browser.session
    session[BACKEND_SESSION_KEY] = authentication.EARLIER_BACKEND
    session.save()

    assert browser.get(_dashboard(member.organization)).status_code == 200
    assert browser.session[BACKEND_SESSION_KEY] == settings.AUTHENTICATION_BACKENDS[0]
    assert browser.session[HASH_SESSION_KEY] == member.user.get_session_auth_hash()
    assert browser.get(reverse("profile")).status_code == 200


def test_a_session_naming_an_unknown_backend_is_not_signed_in():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    browser = _browser(member.user)
    session = browser.session
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session.save()

    response = browser.get(_dashboard(member.organization))

    assert response.status_code == 302 and not response.wsgi_request.user.is_authenticated


def test_the_backend_reads_the_user_alone_outside_a_request():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    backend = authentication.AuthenticationBackend()
    with CaptureQueriesContext(connection) as captured:
        user = backend.get_user(member.user.pk)
    assert user == member.user
    assert len(captured) == 1 and '"accounts_membership"' not in captured[0]["sql"]


def test_the_membership_read_with_the_user_is_handed_over_once_and_only_for_its_organization():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    other = MembershipFactory(user=member.user, roles=[Role.GLOBAL_ADMIN])
    factory = RequestFactory()

    def request_for(organization):
        request = factory.get(_dashboard(organization))
        request.session = Client().session
        request.session[SESSION_KEY] = str(member.user.pk)
        request.session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        request.session[HASH_SESSION_KEY] = member.user.get_session_auth_hash()
        authentication.AuthenticationMiddleware(lambda request: None).process_request(request)
        return request

    request = request_for(member.organization)
    assert authentication.membership_read_with_user(request, other.organization.public_id) is None
    request = request_for(member.organization)
    assert authentication.membership_read_with_user(request, member.organization.public_id).pk == member.pk
    assert authentication.membership_read_with_user(request, member.organization.public_id) is None


def test_the_membership_with_its_user_is_the_membership_the_page_would_read():
    member = MembershipFactory(roles=[Role.GLOBAL_ADMIN, Role.BILLING_ADMIN])
    with CaptureQueriesContext(connection) as captured:
        read = selectors.membership_with_user(
            user_id=member.user.pk, organization_public_id=member.organization.public_id
        )
        assert read.user.email == member.user.email
        assert read.organization.legal_name == member.organization.legal_name
    assert len(captured) == 1
    alone = selectors.membership_active_for_user(
        user=member.user, organization_public_id=member.organization.public_id
    )
    assert _fields(read) == _fields(alone) and read.role_codes == alone.role_codes
    assert selectors.membership_switcher(read) == selectors.membership_switcher(alone)
    assert _fields(read.user) == _fields(User.objects.get(pk=member.user.pk))


def test_the_organization_path_is_recognised_on_every_organization_route():
    """Every route of an organization permission names its organization where the middleware looks."""
    organization_routes = [
        route
        for name, route, _callback in iter_routes()
        if is_organization_permission(policy_for(name)) or "organization_public_id" in route
    ]
    assert len(organization_routes) > 50
    assert all(route.startswith("o/<uuid:organization_public_id>/") for route in organization_routes)
    public_id = uuid.uuid4()
    for name in ("organization_dashboard", "users", "settings", "activity"):
        path = reverse(f"accounts:{name}", kwargs={"organization_public_id": public_id})
        assert authentication.organization_in_path(path) == public_id
    assert authentication.organization_in_path(reverse("profile")) is None
    assert authentication.organization_in_path("/o/not-a-uuid/") is None
    assert authentication.organization_in_path(f"/x/o/{public_id}/") is None

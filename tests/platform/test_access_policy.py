"""Every route is classified: public, signed-in, staff, or an organization permission."""

import pytest
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from accounts.models import Organization
from accounts.roles import ALL_PERMISSIONS
from portal.access_policy import (
    ACCESS_POLICY,
    ORGANIZATION_KINDS,
    PUBLIC,
    SPECIAL,
    iter_routes,
    kinds_for,
    policy_for,
    unclassified_routes,
)


def test_every_route_has_an_access_policy():
    assert unclassified_routes() == []


def test_admin_routes_are_walked_and_covered():
    names = [name for name, _route, _callback in iter_routes()]
    assert "admin:index" in names
    assert "admin:accounts_organization_changelist" in names
    assert all(policy_for(name) == "staff" for name in names if name.startswith("admin:"))


def test_a_new_route_without_a_policy_is_reported():
    def orphan(request):
        raise AssertionError("never called")

    extra = [
        path("orphan/", orphan, name="orphan_page"),
        path("x/", include(([path("y/", orphan)], "newapp"))),
    ]
    from django.urls import get_resolver

    patterns = [*get_resolver().url_patterns, *extra]
    assert unclassified_routes(patterns) == ["newapp:<unnamed y/>", "orphan_page"]


def test_public_routes_and_only_those_skip_the_login_requirement():
    mismatched = []
    for name, route, callback in iter_routes():
        if name.startswith("admin:"):
            continue  # the admin guards itself: staff only, through allauth's login
        is_public = policy_for(name) == PUBLIC
        skips_login = not getattr(callback, "login_required", True)
        if is_public != skips_login:
            mismatched.append((name, route))
    assert mismatched == []


def test_organization_policies_name_real_permissions():
    policies = {policy_for(name) for name in ACCESS_POLICY}
    unknown = {p for p in policies if p not in SPECIAL and p not in ALL_PERMISSIONS}
    assert unknown == set()


def test_the_platform_names_the_kinds_that_organizations_have():
    assert set(Organization.Kind.values) == ORGANIZATION_KINDS
    for name in ACCESS_POLICY:
        assert kinds_for(name) <= ORGANIZATION_KINDS, name


def test_organization_views_cannot_override_their_scoping():
    from accounts.scoping import OrganizationView

    with pytest.raises(TypeError, match="dispatch"):

        class Sneaky(OrganizationView):
            def dispatch(self, request, *args, **kwargs):
                return super().dispatch(request, *args, **kwargs)


def test_public_marker_is_what_the_meta_test_reads():
    @login_not_required
    def view(request):
        raise AssertionError("never called")

    assert view.login_required is False

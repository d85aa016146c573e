"""The one way an organization page finds its organization.

Every organization page subclasses ``OrganizationView``. Its ``dispatch`` resolves, once per request,
the signed-in user's active membership in the organization named in the URL (read with the user when the
request began, accounts.authentication; none → 404, so another
tenant's organization is indistinguishable from a missing one) and checks the permission that the access
policy table names for the route (missing → 403); a kind of organization the route's entry does not
list gets 404 too. Subclasses cannot override ``dispatch`` and read
objects only through ``scoped(queryset)``, which filters by the resolved organization.
"""

import logging

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views import View

from accounts import selectors
from accounts.authentication import membership_read_with_user
from accounts.models import Membership, Organization
from portal.access_policy import is_organization_permission, kinds_for, policy_for

logger = logging.getLogger("portal.security")

SESSION_KEY = "active_organization"


class OrganizationView(View):
    organization: Organization
    membership: Membership
    #: the field on the view's objects that points to their organization
    organization_field = "organization"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "dispatch" in cls.__dict__:
            raise TypeError(f"{cls.__name__} may not override dispatch(): scoping happens there")

    def dispatch(self, request, *args, organization_public_id, **kwargs):
        view_name = request.resolver_match.view_name
        permission = policy_for(view_name)
        if not is_organization_permission(permission):
            raise ImproperlyConfigured(f"{view_name} needs an organization permission in ACCESS_POLICY")
        # Read with the signed-in user when the request began (accounts.authentication), else now.
        membership = membership_read_with_user(request, organization_public_id)
        if membership is None:
            membership = selectors.membership_active_for_user(
                user=request.user, organization_public_id=organization_public_id
            )
        # Not a member, or a kind of organization that has no such page: both look like a missing page.
        if membership is None or membership.organization.kind not in kinds_for(view_name):
            raise Http404
        # Known before the permission check, so that even the 403 page shows the organization's navigation.
        request.organization = membership.organization
        request.membership = membership
        if not membership.can(permission):
            # A security log line, not an audit row: a denied request changes nothing.
            logger.warning(
                "authz_fail",
                extra={
                    "user_id": request.user.pk,
                    "organization_id": membership.organization_id,
                    "route": view_name,
                    "permission": permission,
                },
            )
            raise PermissionDenied
        self.membership = membership
        self.organization = membership.organization
        if request.session.get(SESSION_KEY) != str(self.organization.public_id):
            request.session[SESSION_KEY] = str(self.organization.public_id)
        return super().dispatch(request, *args, **kwargs)

    def scoped(self, queryset: QuerySet) -> QuerySet:
        """Only the rows of this organization."""
        return queryset.filter(**{self.organization_field: self.organization})

    def scoped_get(self, queryset: QuerySet, **lookup):
        """One row of this organization, else 404 (another tenant's object does not exist for us)."""
        return get_object_or_404(self.scoped(queryset), **lookup)

    def get_context_data(self, **context):
        return {"organization": self.organization, "membership": self.membership, **context}

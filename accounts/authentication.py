"""An organization page's signed-in user is read with their membership of the organization, in one query.

Every request reads its user (``django.contrib.auth.get_user``: the user id the session holds, the
backend's ``get_user``, then the session's hash checked against the user's password hash), and every
organization page then read the member's membership of the organization its path names (accounts.scoping):
two queries where one does. Here:

- ``AuthenticationMiddleware`` (Django's, whose lazy ``request.user`` it replaces) tells the backend, for
  the length of ``django.contrib.auth.get_user`` only, which organization the request's path names
  (``/o/<public id>/...``);
- ``AuthenticationBackend`` (allauth's, whose sign-in it keeps) then reads the member's active membership
  of that organization with its user (``selectors.membership_with_user``) and returns that user exactly as
  Django's ``ModelBackend.get_user`` would (every column; None when the user may not sign in). When the
  path names no organization, or the user is no member of it, it reads the user alone, as before.
  Everything else ``get_user`` does is Django's own: the session's hash is checked against this user;
- ``membership_read_with_user`` hands the membership to ``OrganizationView.dispatch`` once, when it is
  the membership of the request's user in the organization the route names; dispatch otherwise reads it
  as before. It is the membership of the moment the request began, as dispatch's own read was.
"""

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from allauth.account.auth_backends import AuthenticationBackend as AllauthAuthenticationBackend
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.utils.functional import SimpleLazyObject

from accounts import selectors
from accounts.models import Membership

#: Where an organization page's path names its organization (accounts/urls.py: ``o/<uuid:...>/``).
ORGANIZATION_PATH = re.compile(r"/o/(?P<public_id>[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})/")

#: The backend that signed-in sessions named before this one existed (a subclass of it): such a session is
#: carried over instead of being signed out.
EARLIER_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"

#: The request's attribute that holds the membership read with its user, until dispatch takes it.
_READ_ATTRIBUTE = "_membership_read_with_user"


@dataclass
class _Asked:
    organization_public_id: uuid.UUID
    membership: Membership | None = None


#: Set by the middleware while Django reads the request's user, read by the backend: ``get_user(user_id)``
#: has no request to look at.
_asked: ContextVar[_Asked | None] = ContextVar("accounts_authentication_asked", default=None)


def organization_in_path(path: str) -> uuid.UUID | None:
    """The public id of the organization an organization page's path names, else None."""
    found = ORGANIZATION_PATH.match(path)
    return uuid.UUID(found["public_id"]) if found else None


class AuthenticationBackend(AllauthAuthenticationBackend):
    """allauth's backend (sign-in by email address and password, unchanged) whose ``get_user`` reads an
    organization page's membership along with the user."""

    def get_user(self, user_id):
        asked = _asked.get()
        if asked is not None:
            membership = selectors.membership_with_user(
                user_id=user_id, organization_public_id=asked.organization_public_id
            )
            if membership is not None:
                user = membership.user
                if not self.user_can_authenticate(user):
                    return None
                asked.membership = membership
                return user
        return super().get_user(user_id)


def _user(request):
    if not hasattr(request, "_cached_user"):
        if request.session.get(BACKEND_SESSION_KEY) == EARLIER_BACKEND:
            request.session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        public_id = organization_in_path(request.path_info)
        asked = _Asked(public_id) if public_id is not None else None
        token = _asked.set(asked)
        try:
            user = auth.get_user(request)
        finally:
            _asked.reset(token)
        if asked is not None and asked.membership is not None and user.pk == asked.membership.user_id:
            setattr(request, _READ_ATTRIBUTE, asked.membership)
        request._cached_user = user
    return request._cached_user


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, with ``request.user`` read as this module says."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))


def membership_read_with_user(request, organization_public_id: uuid.UUID) -> Membership | None:
    """The membership read with the request's user, if it is the user's in this organization (once:
    it is taken from the request), else None."""
    user_id = request.user.pk  # the user is read first: their membership may come with them
    membership = request.__dict__.pop(_READ_ATTRIBUTE, None)
    if (
        membership is None
        or user_id is None
        or membership.user_id != user_id
        or membership.organization.public_id != organization_public_id
    ):
        return None
    return membership

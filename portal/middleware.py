"""Cross-cutting middleware: request ids for logs and audit, the user's own language, session activity."""

import hashlib
import logging

from allauth.core.internal.httpkit import get_client_ip
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_finished
from django.dispatch import receiver
from django.utils import translation

from portal import request_context

logger = logging.getLogger(__name__)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies of ours, the address in
    X-Forwarded-For that the first of them wrote. It is allauth's function, so that its rate limits and
    our audit rows always name the same client."""
    try:
        return get_client_ip(request)
    except ImproperlyConfigured:  # fewer X-Forwarded-For hops than trusted proxies
        return None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_context.accept_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        ip = client_ip(request)
        if ip is None and request.META.pop("HTTP_X_FORWARDED_FOR", None) is not None:
            # Our proxies did not write this X-Forwarded-For (fewer hops than they add, or not an address).
            # Forget it, so that the client is REMOTE_ADDR for allauth too, which would otherwise fail the
            # request (ImproperlyConfigured: a 500) or refuse it.
            request.__dict__.pop("headers", None)  # request.headers is computed once from META
            logger.warning(
                "Ignored an X-Forwarded-For header that does not match TRUSTED_PROXY_COUNT=%s",
                settings.TRUSTED_PROXY_COUNT,
            )
            ip = client_ip(request)
        request_context.bind(request_id=request_id, ip=ip)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


@receiver(request_finished, dispatch_uid="portal.middleware.request_context_clear")
def _request_context_clear(**_kwargs):
    """Forget the request's context once its response is closed, not when the middleware returns: Django
    logs "Not Found: ..." and other 4xx/5xx warnings after the middleware, and they carry the id too."""
    request_context.clear()


class UserLanguageMiddleware:
    """A signed-in user without a language cookie sees the language saved in their profile."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
            and user.preferred_language in dict(settings.LANGUAGES)
        ):
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = user.preferred_language
        return self.get_response(request)


def _client_fingerprint(request) -> str:
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    client = f"{client_ip(request)}\n{user_agent}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(client).hexdigest()[:16]


class SessionActivityMiddleware:
    """allauth's list of a user's sessions (Sessions page, review site), whose "last seen" and client
    are written at most once per ``USERSESSIONS_ACTIVITY_INTERVAL_SECONDS`` and whenever the client
    (address or browser) changes — not on every request, as allauth's own middleware does (five of a
    bare page's six queries).

    One cache read per request decides: a key per session holds the client it last wrote for, and lives
    for the interval, so only the first request of each interval (or from another client) writes. The
    session itself is not touched, so it is not saved again and its expiry does not slide."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is not None and user.is_authenticated and session is not None and session.session_key:
            key = "session_activity:" + hashlib.sha256(session.session_key.encode()).hexdigest()[:32]
            client = _client_fingerprint(request)
            if cache.get(key) != client:
                UserSession.objects.create_from_request(request)
                cache.set(key, client, timeout=settings.USERSESSIONS_ACTIVITY_INTERVAL_SECONDS)
        return self.get_response(request)

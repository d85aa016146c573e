"""Cross-cutting middleware: request ids for logs and audit, and the user's own language."""

import logging

from allauth.core.internal.httpkit import get_client_ip
from django.conf import settings
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

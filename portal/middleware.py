"""Cross-cutting middleware: request ids for logs and audit, and the user's own language."""

from django.conf import settings
from django.utils import translation

from portal import request_context


def client_ip(request) -> str | None:
    """The client address: REMOTE_ADDR, or the address our own trusted proxies saw."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_context.accept_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        request_context.bind(request_id=request_id, ip=client_ip(request))
        try:
            response = self.get_response(request)
        finally:
            request_context.clear()
        response["X-Request-ID"] = request_id
        return response


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

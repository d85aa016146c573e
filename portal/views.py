"""Pages that belong to no domain app: the public home page, health probes, language and errors."""

import logging
import sys

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from portal.celery import app as celery_app

logger = logging.getLogger(__name__)


@require_GET
@login_not_required
def home(request):
    if request.user.is_authenticated:
        return HttpResponseRedirect(reverse("dashboard"))
    return render(request, "portal/home.html")


@require_GET
@login_not_required
@never_cache
def healthz(request):
    """Liveness: the process answers. No I/O, so a sick database never restarts healthy web workers."""
    return JsonResponse({"status": "ok"})


def _database_ready() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return type(error).__name__
    return None


def _broker_ready() -> str | None:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return type(error).__name__
    return None


@require_GET
@login_not_required
@never_cache
def readyz(request):
    """Readiness: the database and the Celery broker answer."""
    checks = {"database": _database_ready(), "broker": _broker_ready()}
    ready = all(error is None for error in checks.values())
    if not ready:
        logger.warning("Not ready", extra={"failed": ",".join(f"{k}={v}" for k, v in checks.items() if v)})
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: "ok" if error is None else "error" for name, error in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def set_language_cookie(response, language: str) -> None:
    """The interface language lives in a cookie (no URL prefixes)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        secure=getattr(settings, "LANGUAGE_COOKIE_SECURE", False),
        httponly=True,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@require_POST
@login_not_required
def language_set(request):
    """Switch the interface language (a cookie, no URL prefix) and remember it for signed-in users."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("home")
    response = HttpResponseRedirect(next_url)
    if language in dict(settings.LANGUAGES) and check_for_language(language):
        set_language_cookie(response, language)
        user = request.user
        if user.is_authenticated and user.preferred_language != language:
            user.preferred_language = language
            user.save(update_fields=["preferred_language"])
    return response


@login_not_required
def error_400(request, exception=None):
    return render(request, "errors/400.html", status=400)


@login_not_required
def error_403(request, exception=None):
    return render(request, "errors/403.html", status=403)


@login_not_required
def error_404(request, exception=None):
    return render(request, "errors/404.html", status=404)


#: What a client is asked to wait (Retry-After, seconds) while the database cannot be reached.
UNAVAILABLE_RETRY_AFTER_SECONDS = 10


def _database_unavailable(error: BaseException | None) -> bool:
    """``error``, or an error it was raised from, says the database cannot be reached."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


@login_not_required
def error_500(request):
    # Called while the uncaught exception is being handled, from a view or from a middleware (the
    # session and the signed-in user are read in middleware): a database that is down is a 503.
    if _database_unavailable(sys.exc_info()[1]):
        return error_503(request)
    return render(request, "errors/500.html", status=500)


@login_not_required
def error_503(request, exception=None):
    """The database cannot be reached: a page that reads nothing from it (no user, session, messages)."""
    request.user = AnonymousUser()
    language = translation.get_language_from_request(request)  # the cookie or the browser, not the user
    with translation.override(language):
        response = render(request, "errors/503.html", {"messages": ()}, status=503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
    response.headers.setdefault("Content-Language", language)
    return response


@login_not_required
def csrf_failure(request, reason=""):
    return render(request, "errors/403_csrf.html", status=403)

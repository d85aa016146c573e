import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language, get_language_info

from portal.branding import program_name

#: The page shell's links (top bar, brand, language form), reversed once per URLconf and script prefix.
SHELL_ROUTES = {
    "home": "home",
    "profile": "profile",
    "logout": "account_logout",
    "login": "account_login",
    "signup": "account_signup",
    "language_set": "language_set",
    "review": "admin:index",
    "organizations": "accounts:organizations",
}


@functools.lru_cache(maxsize=16)
def _shell_urls(urlconf, prefix: str) -> dict[str, str]:
    return {key: reverse(route) for key, route in SHELL_ROUTES.items()}


#: The page shell's stylesheets, script and icon (their hashed names never change while a process runs).
SHELL_STATIC = {
    "css_portal": "css/portal.css",
    "css_enrollment": "css/enrollment.css",
    "css_tracker": "css/enrollment-tracker.css",
    "favicon": "img/favicon.svg",
    "js_portal": "js/portal.js",
}


@functools.lru_cache(maxsize=1)
def _shell_static() -> dict[str, str]:
    return {key: static(path) for key, path in SHELL_STATIC.items()}


@receiver(setting_changed)
def _static_changed(*, setting, **kwargs):
    if setting in {"STATIC_URL", "STORAGES"}:
        _shell_static.cache_clear()


@functools.lru_cache(maxsize=16)
def _other_languages(current: str) -> tuple[tuple[str, str], ...]:
    """The languages the language form offers: every language but the page's, by its own name."""
    return tuple(
        (code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES if code != current
    )


def portal(request):
    return {
        "PROGRAM_NAME": program_name(),
        "DEV_MAILBOX_ENABLED": settings.DEV_MAILBOX_ENABLED,
        "shell_urls": _shell_urls(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix()),
        "shell_static": _shell_static(),
        "shell_languages": _other_languages(get_language() or settings.LANGUAGE_CODE),
    }

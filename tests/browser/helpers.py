"""Shared steps of the browser tests."""

from django.conf import settings
from django.test import Client

# The portal's languages, and the browser locale that asks for each.
LANGUAGES = ("en", "ja")
LOCALES = {"en": "en-US", "ja": "ja-JP"}


def choose_language(context, portal_url, language: str) -> None:
    """The choice a visitor makes with the language switch (the portal's language cookie), made ahead."""
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": portal_url}])


def signed_in_page(browser, portal_url, user, *, language: str, width: int):
    """A page of a new browser in which ``user`` is signed in (the session of a test client sign-in, so
    staff skip the two-factor step their factory already set up), in ``language`` at ``width`` px."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=LOCALES[language])
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.session.session_key, "url": portal_url}]
    )
    choose_language(context, portal_url, language)
    return context.new_page()

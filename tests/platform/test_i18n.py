"""English and Japanese: switcher, cookie, Accept-Language, saved language, a complete catalogue."""

from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db

PO_FILE = Path(settings.BASE_DIR) / "locale" / "ja" / "LC_MESSAGES" / "django.po"


def test_home_page_is_english_by_default(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="en">' in body
    assert "Sign up" in body
    assert "日本語" in body  # the switcher offers Japanese in its own name


def test_accept_language_japanese_gives_a_japanese_page(client):
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ja")
    body = response.content.decode()
    assert '<html lang="ja">' in body
    assert "サインイン" in body
    assert "間接リセラー" in body
    assert response["Content-Language"] == "ja"


def test_switching_language_sets_a_cookie_without_url_prefixes(client):
    response = client.post(reverse("language_set"), {"language": "ja", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ja"
    page = client.get("/")
    assert '<html lang="ja">' in page.content.decode()


def test_switching_language_keeps_the_signed_in_users_preference(client):
    user = UserFactory(preferred_language="en")
    client.force_login(user)
    client.post(reverse("language_set"), {"language": "ja", "next": reverse("dashboard")})
    user.refresh_from_db()
    assert user.preferred_language == "ja"


def test_the_users_language_applies_without_a_cookie(client):
    user = UserFactory(preferred_language="ja")
    client.force_login(user)
    response = client.get(reverse("profile"))
    assert '<html lang="ja">' in response.content.decode()
    assert "プロフィール" in response.content.decode()


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_language_switch_never_redirects_off_site(client, next_url):
    response = client.post(reverse("language_set"), {"language": "ja", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_unknown_language_is_ignored(client):
    response = client.post(reverse("language_set"), {"language": "xx", "next": "/"})
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_japanese_catalogue_is_complete():
    catalogue = polib.pofile(str(PO_FILE))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert untranslated == []
    assert fuzzy == []
    assert len(catalogue.translated_entries()) > 50


def test_glossary_terms_are_used():
    catalogue = {entry.msgid: entry.msgstr for entry in polib.pofile(str(PO_FILE))}
    glossary = {
        "Dashboard": "ダッシュボード",
        "Customers": "顧客",
        "Indirect providers": "間接プロバイダー",
        "Indirect resellers": "間接リセラー",
        "Sign in": "サインイン",
        "Update": "更新",
    }
    for english, japanese in glossary.items():
        assert catalogue.get(english) == japanese, english

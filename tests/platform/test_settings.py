"""Settings come from the environment; development runs on embedded defaults, production refuses to
start without its secrets and passes Django's deployment checks."""

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.support.processes import (
    PRODUCTION,
    ROOT,
    Gunicorn,
    collect_static,
    production_environment,
    run_python,
)

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "DB_ENGINE": settings.DATABASES["default"]["ENGINE"],
    "DB_NAME": str(settings.DATABASES["default"]["NAME"]),
    "BROKER": settings.CELERY_BROKER_URL,
    "EMAIL_BACKEND": settings.EMAIL_BACKEND,
    "EMAIL_HOST": getattr(settings, "EMAIL_HOST", None),
    "SITE_URL": settings.SITE_URL,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "CACHE": settings.CACHES["default"]["BACKEND"],
    "DEV_MAILBOX_ENABLED": settings.DEV_MAILBOX_ENABLED,
    "PROGRAM_NAME": settings.PROGRAM_NAME,
    "ENTRA_ENABLED": settings.ENTRA_ENABLED,
    "BROKER_OPTIONS": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
}))
"""


def settings_under(env: dict, tmp_path) -> dict:
    result = run_python(PRINT_SETTINGS, env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_set_gives_the_embedded_defaults(tmp_path):
    values = settings_under({}, tmp_path)
    assert values["DEBUG"] is False
    assert values["DB_ENGINE"] == "django.db.backends.sqlite3"
    assert values["DB_NAME"] == str(tmp_path / "var" / "db.sqlite3")
    assert values["BROKER"] == "filesystem://"
    assert values["EMAIL_BACKEND"] == "portal.mail.backends.CaptureBackend"
    assert values["SITE_URL"] == "http://127.0.0.1:8000"
    assert values["DEV_MAILBOX_ENABLED"] is True
    assert values["ENTRA_ENABLED"] is False
    assert (tmp_path / "var" / "broker").is_dir()
    # Every file the embedded broker writes stays under var/, none in the checkout.
    folders = {k: v for k, v in values["BROKER_OPTIONS"].items() if k.endswith("folder") or "folder_" in k}
    assert set(folders) == {"data_folder_in", "data_folder_out", "processed_folder", "control_folder"}
    assert all(path.startswith(str(tmp_path / "var")) for path in folders.values())


def test_environment_configures_every_service(tmp_path):
    values = settings_under(
        {
            "DATABASE_URL": "postgres://u:p@db.internal:5432/portal",
            "REDIS_URL": "redis://cache.internal:6379/0",
            "EMAIL_URL": "smtp+tls://mailer:secret@smtp.internal:587",
            "SITE_URL": "https://partners.example.org/",
            "PROGRAM_NAME": "Example Cloud Program",
            "ENTRA_CLIENT_ID": "client",
            "ENTRA_CLIENT_SECRET": "secret",
        },
        tmp_path,
    )
    assert values["DB_ENGINE"] == "django.db.backends.postgresql"
    assert values["BROKER"] == "redis://cache.internal:6379/0"
    assert values["CACHE"] == "portal.cache.ResilientRedisCache"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["EMAIL_HOST"] == "smtp.internal"
    assert values["SITE_URL"] == "https://partners.example.org"
    assert values["PROGRAM_NAME"] == "Example Cloud Program"
    assert values["ENTRA_ENABLED"] is True


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ALLOWED_HOSTS": "portal.example.org"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 60}, "ALLOWED_HOSTS"),
        (
            {"SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "p.example.org", "REDIS_URL": "redis://r:6379/0"},
            "DATABASE_URL",
        ),
        (
            {"SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "p.example.org", "DATABASE_URL": "postgres://d/p"},
            "REDIS_URL",
        ),
        (
            {
                "SECRET_KEY": "x" * 60,
                "ALLOWED_HOSTS": "p.example.org",
                "DATABASE_URL": "postgres://d/p",
                "REDIS_URL": "redis://r:6379/0",
            },
            "EMAIL_URL",
        ),
    ],
)
def test_production_refuses_to_start_without_its_secrets(tmp_path, env, missing):
    result = run_python(PRINT_SETTINGS, {"DJANGO_ENV": "production", **env}, tmp_path)
    assert result.returncode != 0
    assert missing in result.stderr
    assert result.stdout == ""


def test_production_passes_the_deployment_checks(tmp_path):
    result = run_python("", PRODUCTION, tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_hardened(tmp_path):
    code = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "SESSION_COOKIE_NAME": settings.SESSION_COOKIE_NAME,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "HSTS": settings.SECURE_HSTS_SECONDS,
    "SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "DEV_MAILBOX_ENABLED": settings.DEV_MAILBOX_ENABLED,
    "CSP": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["frame-ancestors"],
    "STATICFILES": settings.STORAGES["staticfiles"]["BACKEND"],
}))
"""
    result = run_python(code, PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_NAME": "__Host-sessionid",
        "CSRF_COOKIE_SECURE": True,
        "HSTS": 31536000,
        "SSL_REDIRECT": True,
        "DEV_MAILBOX_ENABLED": False,
        "CSP": ["'none'"],
        "STATICFILES": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    }


def test_unknown_environment_name_is_refused(tmp_path):
    result = run_python(PRINT_SETTINGS, {"DJANGO_ENV": "staging"}, tmp_path)
    assert result.returncode != 0
    assert "DJANGO_ENV" in result.stderr


def test_debug_only_when_asked_for_and_never_in_production(tmp_path):
    assert settings_under({"DEBUG": "true"}, tmp_path)["DEBUG"] is True
    production = settings_under({**PRODUCTION, "DEBUG": "true"}, tmp_path)
    assert production["DEBUG"] is False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_get(url: str, **headers):
    """One request, redirects not followed; an error status is returned like any other."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (the test's own servers)
    try:
        return urllib.request.build_opener(NoRedirect).open(request, timeout=30)
    except urllib.error.HTTPError as error:
        return error


@pytest.mark.django_db(transaction=True)
def test_production_mode_serves_pages_through_gunicorn(tmp_path):
    """gunicorn + whitenoise with the manifest storage, behind a TLS-terminating proxy of ours."""
    env = production_environment(tmp_path, collect_static(tmp_path), TRUSTED_PROXY_COUNT="1")
    with Gunicorn(env, tmp_path) as server:
        # Plain HTTP is sent to HTTPS, on the canonical host.
        plain = http_get(f"{server.url}/healthz")
        assert plain.status == 301
        assert plain.headers["Location"] == "https://127.0.0.1/healthz"
        proxied = {"X-Forwarded-Proto": "https"}
        health = http_get(f"{server.url}/healthz", **proxied)
        assert health.status == 200
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        home = http_get(f"{server.url}/", **proxied)
        assert home.status == 200
        page = home.read().decode()
        stylesheet = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', page).group(1)
        assert http_get(f"{server.url}{stylesheet}", **proxied).status == 200
        assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]


def test_embedded_defaults_serve_the_portals_own_pages_and_static_files(tmp_path):
    """What bin/run serves with nothing configured: gunicorn, DEBUG off, the portal's translated error
    pages (not Django's technical page with its URL list), static files served by whitenoise."""
    with Gunicorn({}, tmp_path) as server:
        missing = http_get(f"{server.url}/no-such-page/", **{"Accept-Language": "ja"})
        page = missing.read().decode()
        assert missing.status == 404
        assert missing.headers["Content-Type"] == "text/html; charset=utf-8"
        assert '<html lang="ja">' in page
        assert "<h1>ページが見つかりません</h1>" in page
        assert "ページが存在しないか、ページへのアクセス権がありません。" in page
        assert "URLconf" not in page
        assert "DEBUG = True" not in page

        stylesheet = http_get(f"{server.url}/static/css/portal.css")
        assert stylesheet.status == 200
        assert stylesheet.headers["Content-Type"].startswith("text/css")
        assert stylesheet.read() == (ROOT / "static" / "css" / "portal.css").read_bytes()
    # Served by gunicorn with the repository's configuration: its access log names both requests.
    assert '"GET /no-such-page/ HTTP/1.1" 404' in server.stdout
    assert '"GET /static/css/portal.css HTTP/1.1" 200' in server.stdout

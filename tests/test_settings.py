"""Settings come from the environment; development runs on embedded defaults, production refuses to
start without its secrets and passes Django's deployment checks."""

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT

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

CONFIG_VARIABLES = [
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "PROGRAM_NAME",
    "DJANGO_ENV",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "PORT",
    "ENTRA_CLIENT_ID",
    "ENTRA_CLIENT_SECRET",
]


def run_python(code: str, env: dict, tmp_path, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    clean |= {"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp_path / "var")}
    clean |= env
    command = [sys.executable, "-c", code] if code else [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def settings_under(env: dict, tmp_path) -> dict:
    result = run_python(PRINT_SETTINGS, env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_set_gives_the_embedded_defaults(tmp_path):
    values = settings_under({}, tmp_path)
    assert values["DEBUG"] is True
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
    assert values["CACHE"] == "django.core.cache.backends.redis.RedisCache"
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


PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "kR7#vQ2!mZ9@pL4$wX8^nB3&hJ6*tY1(cF5)sD0-gA-long-random-production-secret",
    "ALLOWED_HOSTS": "partners.example.org",
    "SITE_URL": "https://partners.example.org",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/portal",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "EMAIL_URL": "smtp://127.0.0.1:1",
}


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


@pytest.mark.django_db(transaction=True)
def test_production_mode_serves_pages_through_gunicorn(tmp_path):
    """gunicorn + whitenoise with the manifest storage, behind a TLS-terminating proxy."""
    import time
    import urllib.error

    from django.db import connection

    from tests.conftest import free_port

    database = connection.settings_dict
    env = {
        **PRODUCTION,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://127.0.0.1",
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}"
            f"/{database['NAME']}"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    assert run_python("", env, tmp_path, "collectstatic", "--noinput", "-v0").returncode == 0
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES} | env
    clean |= {"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp_path / "var")}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def get(path, **headers):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
            opener = urllib.request.build_opener(NoRedirect)
            try:
                return opener.open(request, timeout=5)
            except urllib.error.HTTPError as error:
                return error

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                get("/healthz")
                break
            except OSError:
                time.sleep(0.2)

        # Plain HTTP is sent to HTTPS.
        assert get("/healthz").status == 301
        proxied = {"X-Forwarded-Proto": "https"}
        health = get("/healthz", **proxied)
        assert health.status == 200
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        home = get("/", **proxied)
        assert home.status == 200
        page = home.read().decode()
        stylesheet = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', page).group(1)
        assert get(stylesheet, **proxied).status == 200
        assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]
    finally:
        server.terminate()
        server.wait(timeout=20)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

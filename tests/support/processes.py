"""The portal run as another process — ``python -c``, ``manage.py``, gunicorn — configured the way an
operator does it: only through its environment."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

# Every variable the portal reads: none of this process's values leak into the one started.
CONFIG_VARIABLES = [
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DATABASE_URL",
    "DATABASE_PREPARED_STATEMENTS",
    "DATABASE_PREPARE_THRESHOLD",
    "TEMPLATE_MEMO_ENTRIES",
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
    "TRUSTED_PROXY_COUNT",
    "FORWARDED_ALLOW_IPS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "STATIC_ROOT",
    "CACHE_URL",
    "WEB_CONCURRENCY",
    "WEB_THREADS",
    "SECURE_SSL_REDIRECT",
]

# A complete production configuration; its services are unreachable unless a test points them elsewhere.
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "kR7#vQ2!mZ9@pL4$wX8^nB3&hJ6*tY1(cF5)sD0-gA-long-random-production-secret",
    "ALLOWED_HOSTS": "partners.example.org",
    "SITE_URL": "https://partners.example.org",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/portal",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "EMAIL_URL": "smtp://127.0.0.1:1",
}


def configured_environment(env: dict, tmp_path) -> dict:
    """This process's environment without any portal configuration, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    clean |= {"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp_path / "var")}
    return clean | env


def run_python(code: str, env: dict, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """``python -c code``, or ``manage.py *args`` when ``code`` is empty, under ``env`` only."""
    command = [sys.executable, "-c", code] if code else [sys.executable, "manage.py", *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=configured_environment(env, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def shared_database_url() -> str:
    """The URL of the test database, for a server in another process (the test must commit its data)."""
    from django.db import connection

    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}"
    )


def production_environment(tmp_path: Path, static_root: Path, **overrides: str) -> dict:
    """Production settings against the test database and Redis, serving 127.0.0.1."""
    return {
        **PRODUCTION,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://127.0.0.1",
        "STATIC_ROOT": str(static_root),
        "DATABASE_URL": shared_database_url(),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),
        **overrides,
    }


def collect_static(tmp_path: Path) -> Path:
    static_root = tmp_path / "static"
    env = {**PRODUCTION, "STATIC_ROOT": str(static_root)}
    result = run_python("", env, tmp_path, "collectstatic", "--noinput", "-v0")
    assert result.returncode == 0, result.stderr
    return static_root


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Until something listens on ``port``; fails at once, with ``log``, if ``process`` stops."""

    def listening() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the server stopped (status {process.returncode}):\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    wait_until(listening, timeout, lambda: f"nothing listens on port {port}:\n{log.read_text()}")


class Gunicorn:
    """The portal served by gunicorn with the repository's gunicorn.conf.py, in a subprocess. The flags
    set only the address and the worker count (and TLS when asked for); stdout and stderr go to files."""

    def __init__(
        self,
        env: dict,
        tmp_path: Path,
        *,
        tls: tuple[Path, Path] | None = None,
        port: int | None = None,
        workers: int = 1,
    ):
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.env = configured_environment({"PYTHONUNBUFFERED": "1", **env}, tmp_path)
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
        ]
        if tls:
            self.command += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
        self.stdout_path = tmp_path / f"gunicorn-{self.port}.stdout"
        self.stderr_path = tmp_path / f"gunicorn-{self.port}.stderr"

    def __enter__(self) -> "Gunicorn":
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=stdout, stderr=stderr
            )
        wait_for_port(self.port, self.process, self.stderr_path)
        return self

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

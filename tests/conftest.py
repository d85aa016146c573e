import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from portal.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and used TOTP codes live in the cache: every test starts clean."""
    cache.clear()
    yield
    cache.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.original_content, policy=default))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_sink(settings):
    sink = SmtpSink()
    sink.controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    yield sink
    sink.controller.stop()


def _require_real_redis() -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.fail("This test needs the real Redis: run it through bin/test")
    return url


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker, in a thread of this process, consuming from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    _require_real_redis()
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"
    ) as worker:
        yield worker


class RedisServer:
    """Stops and starts the test command's Redis server, to stage a real broker outage."""

    def __init__(self):
        self.port = int(os.environ["TEST_REDIS_PORT"])
        self.directory = Path(os.environ["TEST_REDIS_DIR"])

    def ping(self) -> bool:
        result = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
        return result.stdout.strip() == "PONG"

    def stop(self):
        pid = int((self.directory / "redis.pid").read_text())
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while self.ping() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.ping()

    def start(self):
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--pidfile",
                str(self.directory / "redis.pid"),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not self.ping() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.ping()


@pytest.fixture
def redis_server():
    if "TEST_REDIS_PORT" not in os.environ:
        pytest.fail("This test needs the Redis server of bin/test")
    server = RedisServer()
    yield server
    if not server.ping():
        server.start()

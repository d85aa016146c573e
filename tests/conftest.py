import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from portal.celery import app as celery_app
from tests.support.services import RedisServer, SmtpSink, TaskLog


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and used TOTP codes live in the cache: every test starts clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in Japanese leaves Japanese active in the test's thread (the locale middleware activates
    a language and never switches it back): every test starts, and ends, in the default language."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


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


@pytest.fixture
def finished_tasks():
    """``finished_tasks.wait_for(name, *args)``: the tasks this process's worker finished (see TaskLog)."""
    with TaskLog() as log:
        yield log


@pytest.fixture
def redis_server():
    if "TEST_REDIS_PORT" not in os.environ:
        pytest.fail("This test needs the Redis server of bin/test")
    server = RedisServer()
    yield server
    if not server.ping():
        server.start()

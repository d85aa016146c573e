"""A service the portal depends on is down: the database answers a translated 503 page, fast; the cache
(Redis) becomes a cache that misses, and the rate limits fail open until it returns (portal/cache.py)."""

import logging
import os
import uuid

import pytest
import requests
from django.core.cache import cache

from portal.cache import ResilientRedisCache
from portal.ratelimit import rate_limit_hit
from tests.support.processes import Gunicorn, production_environment
from tests.support.services import free_port
from tests.support.stack import stack_static_root  # noqa: F401 (fixture: the static files, collected once)
from tests.support.waiting import wait_until


def resilient_cache() -> ResilientRedisCache:
    """The production cache backend on bin/test's Redis, under keys of its own."""
    return ResilientRedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": f"unavailable-{uuid.uuid4().hex}"})


@pytest.fixture
def redis_url():
    if not os.environ.get("REDIS_URL", "").startswith("redis://"):
        pytest.fail("This test needs the real Redis: run it through bin/test")
    return os.environ["REDIS_URL"]


@pytest.mark.services
def test_the_cache_misses_and_skips_writes_while_redis_is_down(redis_url, redis_server, caplog):
    cache = resilient_cache()
    cache.set("kept", "before")
    assert cache.get("kept") == "before"

    redis_server.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="portal.cache"):
            results = {
                "get": cache.get("kept"),
                "get with default": cache.get("kept", "default"),
                "set": cache.set("new", 1),
                "add": cache.add("new", 1),
                "touch": cache.touch("kept"),
                "delete": cache.delete("kept"),
                "has_key": cache.has_key("kept"),
                "get_many": cache.get_many(["kept", "new"]),
                "set_many": cache.set_many({"a": 1, "b": 2}),
                "delete_many": cache.delete_many(["a", "b"]),
                "get_or_set": cache.get_or_set("computed", "fresh"),
                "clear": cache.clear(),
            }
            with pytest.raises(ValueError, match="not found"):
                cache.incr("counter")
    finally:
        redis_server.start()

    assert results == {
        "get": None,
        "get with default": "default",
        "set": None,
        "add": False,
        "touch": False,
        "delete": False,
        "has_key": False,
        "get_many": {},
        "set_many": ["a", "b"],
        "delete_many": None,
        "get_or_set": "fresh",
        "clear": False,
    }
    # One warning for the whole outage, naming no key or value.
    warnings = [record for record in caplog.records if record.name == "portal.cache"]
    assert [(record.levelname, record.getMessage()) for record in warnings] == [
        (
            "WARNING",
            "The cache (Redis) is unavailable: reads miss and writes are skipped until it returns",
        )
    ]
    # Back with Redis (the restarted server is empty: nothing from before the outage is served).
    wait_until(lambda: cache.add("after", "back") and cache.get("after") == "back", 10, "no cache")
    assert cache.get("kept") is None
    cache.set("after-counter", 0)
    assert cache.incr("after-counter") == 1


@pytest.mark.services
def test_rate_limits_fail_open_while_the_cache_is_down_and_hold_again_after(
    redis_url, redis_server, settings
):
    """The conscious choice of portal/cache.py: availability over the limit for the outage's length."""
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"unavailable-{uuid.uuid4().hex}",
        }
    }

    def three_attempts(key: str) -> list[bool]:
        return [rate_limit_hit(scope="test", key=key, limit=1, window_seconds=60) for _ in range(3)]

    assert three_attempts("up") == [True, False, False]
    redis_server.stop()
    try:
        during_outage = three_attempts("down")
    finally:
        redis_server.start()

    assert during_outage == [True, True, True]
    wait_until(lambda: cache.add("probe", 1), 10, "the cache does not answer after Redis returned")
    assert three_attempts("back") == [True, False, False]


def test_an_unreachable_database_answers_the_translated_503_page(tmp_path, redis_url, request):
    """gunicorn in production, its database on a port where nothing listens: every page that needs the
    database (here: reading a session) answers 503 with Retry-After; pages that do not still answer."""
    env = production_environment(
        tmp_path,
        request.getfixturevalue("stack_static_root"),
        TRUSTED_PROXY_COUNT="1",
        DATABASE_URL=f"postgres://portal:portal@127.0.0.1:{free_port()}/portal",
    )
    proxied = {"X-Forwarded-Proto": "https"}
    with Gunicorn(env, tmp_path) as server:
        signed_in = {**proxied, "Cookie": "__Host-sessionid=abcdefghijklmnopqrstuvwxyz012345"}
        health = requests.get(f"{server.url}/healthz", headers=proxied, timeout=30)
        english = requests.get(f"{server.url}/dashboard/", headers=signed_in, timeout=30)
        japanese = requests.get(
            f"{server.url}/dashboard/", headers={**signed_in, "Accept-Language": "ja"}, timeout=30
        )
        form = requests.post(f"{server.url}/accounts/login/", headers=signed_in, timeout=30)

    assert health.status_code == 200
    assert english.status_code == 503, server.stderr
    assert english.headers["Retry-After"] == "10"
    assert english.headers["Content-Type"] == "text/html; charset=utf-8"
    assert english.headers["Content-Language"] == "en"
    assert '<html lang="en">' in english.text
    assert "<h1>Temporarily unavailable</h1>" in english.text
    assert "The portal cannot complete your request at the moment." in english.text
    assert "Sign in" in english.text  # the page reads no user: the anonymous top bar
    assert (japanese.status_code, japanese.headers["Content-Language"]) == (503, "ja")
    assert '<html lang="ja">' in japanese.text
    # A refused form post too (its CSRF page would show the signed-in user).
    assert (form.status_code, form.headers["Retry-After"]) == (503, "10")
    # The cause is logged (a 503, not a 500), with the error that made it.
    assert "Service Unavailable: /dashboard/" in server.stderr
    assert "OperationalError" in server.stderr

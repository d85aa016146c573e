"""Django's Redis cache, made safe to lose: with Redis unreachable, reads miss and writes do nothing.

The cache holds nothing that is not also somewhere else or that cannot be lost: sessions are
``cached_db`` (the database has them), rate-limit counters and used TOTP codes expire anyway. So a Redis
outage must not turn every request into a 500. What it costs, deliberately: while Redis is down the
rate limits (sign-in, sign-up, invitations) count nothing and let every attempt through (they "fail
open"), and a TOTP code could be used twice within its 30-second step. The portal stays available; the
limits come back with Redis. A warning is logged, at most once per ``WARNING_INTERVAL_SECONDS``.

After a failure the cache does not try Redis again for ``RETRY_AFTER_SECONDS``: a Redis that times out
(rather than refusing connections) costs each request at most one socket timeout per that interval.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)

#: Socket timeouts (seconds) unless the cache's OPTIONS set them: a sick Redis must fail fast.
SOCKET_TIMEOUT_SECONDS = 0.5
WARNING_INTERVAL_SECONDS = 60.0
RETRY_AFTER_SECONDS = 1.0


class ResilientRedisCache(RedisCache):
    """RedisCache whose every operation, when Redis cannot be reached, is a miss or a no-op."""

    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT_SECONDS)
        options.setdefault("retry", Retry(NoBackoff(), 0))  # this class's fallback replaces retries
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._lock = threading.Lock()
        self._unavailable_until = 0.0
        self._warned_at = float("-inf")

    def _available(self) -> bool:
        return time.monotonic() >= self._unavailable_until

    def _failed(self, operation: str, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self._unavailable_until = now + RETRY_AFTER_SECONDS
            warn = now - self._warned_at >= WARNING_INTERVAL_SECONDS
            if warn:
                self._warned_at = now
        if warn:
            logger.warning(
                "The cache (Redis) is unavailable: reads miss and writes are skipped until it returns",
                extra={"operation": operation, "error": type(error).__name__},
            )

    def _call(self, operation: str, fallback, method, *args, **kwargs):
        if not self._available():
            return fallback
        try:
            return method(*args, **kwargs)
        except UNAVAILABLE as error:
            self._failed(operation, error)
            return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        if not self._available():
            raise ValueError(f"Key '{key}' not found.")  # what a miss means to incr's callers
        try:
            return super().incr(key, delta, version)
        except UNAVAILABLE as error:
            self._failed("incr", error)
            raise ValueError(f"Key '{key}' not found.") from error

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Nothing was stored: every key "failed", as set_many reports it.
        return self._call("set_many", list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, super().delete_many, keys, version)

    def clear(self):
        return self._call("clear", False, super().clear)

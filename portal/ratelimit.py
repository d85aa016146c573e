"""A sliding-window rate limit over the shared cache (Redis in production).

Two fixed windows are counted and the previous one is weighted by how much of it still lies inside the
sliding window (the estimate most edge limiters use). A plain fixed window would let twice the limit
through around a boundary: the limit in the last second of one window, again in the first of the next.
"""

import time

from django.core.cache import cache


def _count_one(cache_key: str, timeout: int) -> int:
    cache.add(cache_key, 0, timeout=timeout)
    try:
        return cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, timeout=timeout)
        return 1


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt; return True while the attempts in the last ``window_seconds`` (estimated)
    are within the limit."""
    window, elapsed = divmod(time.time(), window_seconds)
    prefix = f"ratelimit:{scope}:{key}"
    current = _count_one(f"{prefix}:{int(window)}", timeout=window_seconds * 2)
    previous = cache.get(f"{prefix}:{int(window) - 1}", 0)
    still_inside = 1 - elapsed / window_seconds
    return previous * still_inside + current <= limit

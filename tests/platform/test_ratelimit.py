import itertools

import pytest

from portal import ratelimit
from portal.ratelimit import rate_limit_hit

_keys = itertools.count()


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = 6_000_000.0  # a multiple of 60: the start of a window

    monkeypatch.setattr(ratelimit.time, "time", lambda: Clock.now)
    return Clock


def _hits(count: int, key: str, *, limit: int = 10) -> list[bool]:
    return [rate_limit_hit(scope="test", key=key, limit=limit, window_seconds=60) for _ in range(count)]


def test_the_limit_holds_within_one_window(clock):
    key = f"within-{next(_keys)}"
    clock.now += 30

    assert _hits(11, key) == [True] * 10 + [False]


def test_a_window_boundary_does_not_double_the_limit(clock):
    key = f"boundary-{next(_keys)}"
    clock.now += 59.9
    assert _hits(10, key) == [True] * 10

    clock.now += 0.2  # just past the boundary
    assert _hits(1, key) == [False]


def test_attempts_come_back_as_the_window_slides(clock):
    key = f"slides-{next(_keys)}"
    clock.now += 59.0
    assert _hits(10, key) == [True] * 10

    clock.now += 31  # half of the previous window has slid out: about five attempts remain
    assert _hits(6, key) == [True] * 5 + [False]

    clock.now += 90  # a whole window later: no attempt is inside any more
    assert _hits(2, key, limit=1) == [True, False]


def test_keys_and_scopes_are_counted_apart(clock):
    key = f"apart-{next(_keys)}"
    assert _hits(10, key) == [True] * 10
    assert rate_limit_hit(scope="other", key=key, limit=10, window_seconds=60)
    assert rate_limit_hit(scope="test", key=f"{key}-b", limit=10, window_seconds=60)

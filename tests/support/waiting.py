"""Waiting for something that happens in another thread or process."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.05


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, message: str | Callable[[], str] = "") -> T:
    """Call ``predicate`` until it returns something true, and return that; fail after ``timeout`` seconds.

    ``message`` says what did not happen (a callable is asked only then, e.g. to read a log file). The
    predicate may fail the test itself to stop waiting early (say, when the server it waits for died).

    Wait for the positive signal only: to show that something did *not* happen, wait for a later thing
    that could only happen after it would have (a task that finished, a later message), then assert."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text or 'condition not met'} (after {timeout:g} s)")
        time.sleep(POLL_INTERVAL)

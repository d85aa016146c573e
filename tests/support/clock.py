"""Time-based one-time passwords that cannot fall across a 30-second step boundary.

allauth accepts only the code of the current step (``MFA_TOTP_TOLERANCE`` is 0) and each code once. A code
computed a moment before a step ends is refused when the server checks it a moment after. So compute the
code *and* submit it inside one ``frozen_clock()`` block::

    with frozen_clock():
        response = client.post(url, {"code": totp_code(secret)})
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pyotp
import time_machine

TOTP_PERIOD = 30


@contextmanager
def frozen_clock(at: float | datetime | None = None) -> Iterator[time_machine.Traveller]:
    """This process's wall clock stands still at ``at`` (default: now) until the block ends.

    time-machine patches the clock of the whole process (``time.time``, ``datetime.now``, Django's
    ``timezone.now``): every thread sees the frozen instant, the live server of the browser tests included.
    It leaves ``time.monotonic`` alone (timeouts and waits still run) and cannot reach other processes
    (Chromium, a gunicorn subprocess)."""
    with time_machine.travel(time.time() if at is None else at, tick=False) as traveller:
        yield traveller


def totp_code(secret: str) -> str:
    """The code an authenticator app shows for ``secret`` at this process's current time (pyotp: an
    implementation apart from allauth's, so the test does not check allauth against itself). Call it inside
    ``frozen_clock()``, together with the request that submits it."""
    return pyotp.TOTP(secret, interval=TOTP_PERIOD).now()


def next_totp_step(after: float) -> float:
    """The first instant of the step after the one ``after`` falls in: its code differs from any code used
    before (allauth refuses a code used once, for one step)."""
    return (int(after) // TOTP_PERIOD + 1) * TOTP_PERIOD

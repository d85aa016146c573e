"""The fault suite: the portal's real processes on loopback (tests/support/stack.py), parts of it killed."""

import os

import pytest

from tests.support.stack import portal_stack, stack_static_root  # noqa: F401 (fixtures)

#: ``short`` (the default, run by bin/test) or ``full`` (FAULTS_PROFILE=full bin/test -m faults).
PROFILE = os.environ.get("FAULTS_PROFILE", "short")
if PROFILE not in {"short", "full"}:
    raise pytest.UsageError(f"FAULTS_PROFILE must be short or full, not {PROFILE!r}")


def profile(short, full):
    """The figure of the running profile."""
    return full if PROFILE == "full" else short

"""Does sign-up tell whether an address is registered by how long it takes? Run on demand:

    .venv/bin/python bench/signup_timing.py [--samples 100]

Posts the sign-up form alternately with a new address and with one that already has an account (real
settings: Argon2 hashing, the outbox, allauth's enumeration protection; rate limits off for the run) and
prints the median time of each path and the gap between them. Goal: a median gap under 10 ms.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import User  # noqa: E402

PASSWORD = "a-long-and-unusual-passphrase-42"  # noqa: S105 - a benchmark's throwaway password


def sign_up(email: str) -> float:
    client = Client()
    started = time.perf_counter()
    response = client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 302:
        raise SystemExit(f"Sign-up answered {response.status_code}, not 302: is the database migrated?")
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:8]
    existing = f"bench-existing-{run}@example.com"
    User.objects.create_user(email=existing, password=PASSWORD)
    new_times, existing_times = [], []
    with override_settings(ACCOUNT_RATE_LIMITS=False):
        sign_up(f"bench-warmup-{run}@example.com")
        for index in range(args.samples):
            new_times.append(sign_up(f"bench-new-{run}-{index}@example.com"))
            existing_times.append(sign_up(existing))
    User.objects.filter(email__startswith="bench-").delete()
    new_median, existing_median = statistics.median(new_times), statistics.median(existing_times)
    gap = abs(new_median - existing_median)
    rows = [
        ("new address", new_median, statistics.quantiles(new_times, n=10)[-1]),
        ("registered address", existing_median, statistics.quantiles(existing_times, n=10)[-1]),
    ]
    print(f"{'path':<20} {'median ms':>10} {'p90 ms':>10}")
    for name, median, p90 in rows:
        print(f"{name:<20} {median:>10.1f} {p90:>10.1f}")
    print(f"{'median gap':<20} {gap:>10.1f}   goal < 10 ms: {'met' if gap < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()

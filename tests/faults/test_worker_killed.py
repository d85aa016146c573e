"""A Celery worker killed with SIGKILL mid-send: no email is lost, and an email goes out twice only when
the kill came after the SMTP server had accepted it, with the same Message-ID both times.

Two workers run. Each run sends one email through a slow SMTP server and kills at a moment that rotates
through the phases of a send: just claimed (before SMTP), during DATA before the server keeps the
message, and after the server kept it but before its 250 reached the worker. Mostly the pool processes
(the ones running tasks: what the kernel's OOM killer picks) are killed; every fifth run a whole worker
too, main process included, and a new worker is started. The outbox sweep (beat, every half second) rescues
the claimed row once OUTBOX_SENDING_TIMEOUT_SECONDS has passed."""

import contextlib
import os
import random
import signal
import time
from dataclasses import dataclass

import pytest
from django.db import transaction

from portal.mail.models import OutboxEmail
from portal.mail.services import email_enqueue_rendered
from tests.faults.conftest import profile
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(profile(short=300, full=2400))]

RUNS = profile(short=10, full=100)
PHASES = ("claimed", "data", "accepted")
# The slow server (first attempt of each email only; the rescued send is fast).
DELAY_BEFORE_ACCEPT = 0.8
DELAY_BEFORE_REPLY = 0.8
# Kills land at least this far from the moment the server decides, so each run's phase is certain.
MARGIN = 0.35


@dataclass
class Run:
    phase: str
    whole_worker: bool
    killed_at: float
    email: OutboxEmail | None = None


def email_enqueued(number: int) -> OutboxEmail:
    with transaction.atomic():
        return email_enqueue_rendered(
            to=f"recipient{number}@example.com",
            subject=f"Run {number}",
            body_text=f"Message of run {number}.",
            language="en",
        )


def test_a_worker_killed_mid_send_loses_no_email(portal_stack):
    stack = portal_stack(
        web=False,
        celery_workers=2,
        beat=True,
        env={
            "OUTBOX_SENDING_TIMEOUT_SECONDS": "2",
            "OUTBOX_SWEEP_GRACE_SECONDS": "0",
            "OUTBOX_SWEEP_INTERVAL_SECONDS": "0.5",
        },
    )
    sink = stack.sink
    randomness = random.Random(12)
    runs: list[Run] = []
    started = time.monotonic()

    for number in range(RUNS):
        phase = PHASES[number % len(PHASES)]
        whole_worker = number % 5 == 4
        sink.delay_before_accept, sink.delay_before_reply = DELAY_BEFORE_ACCEPT, DELAY_BEFORE_REPLY
        data_before, accepted_before = len(sink.data_received_at), len(sink.accepted_at)
        email = email_enqueued(number)

        wait_until(
            lambda email=email: OutboxEmail.objects.filter(pk=email.pk, status="sending").exists(),
            60,
            lambda: f"the email was never claimed\n{stack.logs()}",
        )
        if phase == "data":
            wait_until(lambda n=data_before: len(sink.data_received_at) > n, 30, "no DATA")
            time.sleep(randomness.uniform(0, DELAY_BEFORE_ACCEPT - MARGIN))
        elif phase == "accepted":
            wait_until(lambda n=accepted_before: len(sink.accepted_at) > n, 30, "nothing accepted")
            time.sleep(randomness.uniform(0, DELAY_BEFORE_REPLY - MARGIN))
        alive = [worker for worker in stack.workers if worker.alive()]
        pool = [pid for worker in alive for pid in worker.children()]
        killed_at = time.monotonic()
        if whole_worker:
            alive[0].kill()
        for pid in pool:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        sink.delay_before_accept = sink.delay_before_reply = 0.0
        if whole_worker:
            stack.worker_add(wait=False)  # boots while the other worker carries on
        runs.append(Run(phase, whole_worker, killed_at, email))
        stack.outbox_wait_sent(count=number + 1, timeout=60)

    rows = {row.pk: row for row in stack.outbox_wait_sent(count=RUNS, timeout=60)}
    counts = sink.message_id_counts()
    accepted = {}  # Message-ID → when the server first kept it
    for message, at in zip(list(sink.messages), list(sink.accepted_at), strict=True):
        accepted.setdefault(message["Message-ID"], at)

    # Every email arrived, none more than twice, no message the outbox does not know.
    assert set(counts) == {stack.message_id(run.email) for run in runs}
    assert all(rows[run.email.pk].status == OutboxEmail.Status.SENT for run in runs)
    duplicates = [run for run in runs if counts[stack.message_id(run.email)] > 1]
    for run in runs:
        message_id = stack.message_id(run.email)
        assert counts[message_id] in {1, 2}, (run, counts[message_id])
        if counts[message_id] == 2:
            # The second copy carries the first one's Message-ID (counted by it), and it exists only
            # because the server had kept the first before the worker died.
            assert accepted[message_id] < run.killed_at, run
        if run.phase in {"claimed", "data"}:
            # Killed before the server kept anything: exactly one copy, sent by the rescue.
            assert counts[message_id] == 1, run
            assert rows[run.email.pk].attempts == 2, run

    by_phase = {phase: [run for run in runs if run.phase == phase] for phase in PHASES}
    print(
        f"\nfaults/worker killed mid-send ({RUNS} runs, {sum(run.whole_worker for run in runs)} whole "
        f"workers, {time.monotonic() - started:.0f} s): "
        + ", ".join(
            f"{phase}: {len(items)} runs, "
            f"{sum(counts[stack.message_id(run.email)] > 1 for run in items)} duplicated"
            for phase, items in by_phase.items()
        )
        + f"; lost 0, duplicates {len(duplicates)} (all after the server accepted, same Message-ID)"
    )

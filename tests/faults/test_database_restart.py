"""PostgreSQL restarted (``pg_ctl restart -m immediate``, a crash and recovery) while people invite
resellers through gunicorn: requests fail fast with the 503 page, no state change is half-written, and the
portal serves everyone again within 10 s of the database being back.

Each simulated person loops: issue a partnership invitation (the invitation and its audit row), then have
the portal email it (the outbox row, ``emailed_at`` and its audit row). Afterwards SQL checks that every
invitation has exactly its rows: one creation audit row; and the email's outbox row with its audit row,
or neither."""

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
import requests
from django.db import connections

from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import PartnershipInvitation
from tests.factories.accounts import MembershipFactory
from tests.factories.providers import ProviderFactory
from tests.faults.conftest import profile

pytestmark = [pytest.mark.faults, pytest.mark.timeout(profile(short=300, full=2400))]

PEOPLE = profile(short=4, full=8)
LOAD_BEFORE_SECONDS = profile(short=3, full=10)
LOAD_AFTER_RECOVERY_SECONDS = profile(short=13, full=30)
FAIL_WITHIN_SECONDS = 5
FULL_SERVICE_WITHIN_SECONDS = 10


@dataclass
class Answer:
    started: float
    seconds: float
    status: int  # 0: no HTTP answer at all
    retry_after: str | None


def database_restart() -> None:
    """``pg_ctl restart -m immediate`` of bin/test's cluster, waiting until it accepts connections."""
    if "TEST_PG_DATA" not in os.environ:
        pytest.fail("This test needs the PostgreSQL cluster of bin/test (TEST_PG_DATA, TEST_PG_BIN)")
    data = Path(os.environ["TEST_PG_DATA"])
    command = [
        str(Path(os.environ["TEST_PG_BIN"]) / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(data.parent / "server.log"),
        "-m",
        "immediate",
        "-w",
        "-t",
        "60",
        "restart",
    ]
    if os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=90)


def field(page: str, pattern: str) -> str:
    return unescape(re.search(pattern, page, re.S).group(1))


def test_a_database_restart_fails_fast_with_503_and_writes_nothing_half(portal_stack):
    provider = ProviderFactory()
    admins = [MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN]) for _ in range(PEOPLE)]
    stack = portal_stack(web_workers=2, celery_workers=1, env={"INVITATIONS_PER_HOUR": "1000000"})
    answers: list[Answer] = []
    lock = threading.Lock()
    stop = threading.Event()
    base = f"/o/{provider.public_id}/resellers"

    def timed(call, *args, **kwargs):
        started = time.monotonic()
        try:
            response = call(*args, **kwargs)
        except requests.RequestException:
            response = None
        answer = Answer(
            started,
            time.monotonic() - started,
            response.status_code if response is not None else 0,
            response.headers.get("Retry-After") if response is not None else None,
        )
        with lock:
            answers.append(answer)
        return response

    clients = [stack.client(admin.user, client_ip=f"198.51.100.{n + 1}") for n, admin in enumerate(admins)]
    for client in clients:
        assert client.get(f"{base}/invite/").status_code == 200  # signed in; the form sets the CSRF cookie

    failures: list[str] = []

    def person(number: int) -> None:
        try:
            work(number)
        except Exception as error:  # a thread's failure fails the test, below
            failures.append(f"person {number}: {error!r}")
            raise

    def work(number: int) -> None:
        client = clients[number]
        sequence = 0
        while not stop.is_set():
            sequence += 1
            email = f"person{number}-{sequence}@reseller.example"
            draft = timed(client.post, f"{base}/invite/", {"email": email, "language": "en"})
            if draft is None or draft.status_code != 200:
                time.sleep(0.2)
                continue
            invitation_id = field(draft.text, r'action="/o/[^/]+/resellers/invitations/([0-9a-f-]{36})/send/')
            timed(
                client.post,
                f"{base}/invitations/{invitation_id}/send/",
                {
                    "subject": field(draft.text, r'<input type="text" name="subject" value="([^"]*)"'),
                    "body": field(draft.text, r'<textarea name="body"[^>]*>\n?(.*?)</textarea>'),
                    "token": field(draft.text, r'<input type="hidden" name="token" value="([^"]*)"'),
                },
            )

    threads = [threading.Thread(target=person, args=(number,)) for number in range(PEOPLE)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(LOAD_BEFORE_SECONDS)
        down_at = time.monotonic()
        database_restart()
        up_at = time.monotonic()
        time.sleep(LOAD_AFTER_RECOVERY_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    connections.close_all()  # this process's connections died with the server: open new ones
    assert failures == []

    # Every request got an HTTP answer: a success, or the 503 page (with Retry-After) within 5 s.
    statuses = sorted({answer.status for answer in answers})
    assert set(statuses) <= {200, 302, 503}, statuses
    unavailable = [answer for answer in answers if answer.status == 503]
    assert all(answer.retry_after == "10" for answer in unavailable)
    assert max((answer.seconds for answer in unavailable), default=0) < FAIL_WITHIN_SECONDS
    # Full service within 10 s of the database accepting connections again.
    late = [a for a in unavailable if a.started + a.seconds > up_at + FULL_SERVICE_WITHIN_SECONDS]
    assert late == []
    after = [a for a in answers if a.started > up_at + FULL_SERVICE_WITHIN_SECONDS]
    assert after and all(answer.status in {200, 302} for answer in after)

    # No partial writes: each invitation with its creation audit row; emailed ones with exactly one outbox
    # row and one "emailed" audit row, the others with neither.
    invitations = list(PartnershipInvitation.objects.filter(organization=provider))
    audit = {}  # public id → actions
    invitation_events = AuditEvent.objects.filter(target_type="providers.partnershipinvitation")
    for target_id, action in invitation_events.values_list("target_id", "action"):
        audit.setdefault(target_id, []).append(action)
    outbox = {}  # primary key → dedupe keys
    emails = OutboxEmail.objects.filter(template="partnership_invitation")
    for key in emails.values_list("dedupe_key", flat=True):
        outbox.setdefault(key.split(":")[1], []).append(key)
    emailed = [invitation for invitation in invitations if invitation.emailed_at]
    for invitation in invitations:
        actions = sorted(audit.get(str(invitation.public_id), []))
        expected_emailed = ["partnership_invitation.emailed"] if invitation.emailed_at else []
        assert [a for a in actions if a.endswith(".emailed")] == expected_emailed, (invitation.pk, actions)
        assert len([a for a in actions if not a.endswith(".emailed")]) == 1, (invitation.pk, actions)
        assert len(outbox.get(str(invitation.pk), [])) == (1 if invitation.emailed_at else 0), invitation.pk
    assert set(audit) == {str(invitation.public_id) for invitation in invitations}
    assert sum(len(keys) for keys in outbox.values()) == len(emailed)
    rows = stack.outbox_wait_sent(count=len(emailed), timeout=120)
    assert stack.sink.message_id_counts() == {stack.message_id(row): 1 for row in rows}

    first_503 = min((a.started for a in unavailable), default=None)
    last_503 = max((a.started + a.seconds for a in unavailable), default=None)
    print(
        f"\nfaults/database restart ({PEOPLE} people, {len(answers)} POSTs): restart took "
        f"{up_at - down_at:.1f} s; 503 answers {len(unavailable)}, slowest "
        f"{max((a.seconds for a in unavailable), default=0):.2f} s"
        + (
            f", from {first_503 - down_at:+.1f} s to {last_503 - up_at:+.1f} s after recovery"
            if unavailable
            else ""
        )
        + f"; invitations {len(invitations)} ({len(emailed)} emailed), partial writes 0"
    )

"""The mail pipeline's figures (issue 12), printed as a table. Run on demand, never in the test suite:

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... \\
        .venv/bin/python bench/outbox.py [--emails 1000] [--backlog 10000] [--rounds 3] [--concurrency 0]
        [--producers 1]

Everything is real: PostgreSQL, the Redis broker, a ``celery -A portal worker`` process (solo pool, or
prefork with ``--concurrency N``) and an aiosmtpd server on loopback, in a process of its own, that
counts what it accepts. ``--backlog 100000`` is the issue's size (about ten minutes on two cores).

(a) reference: a raw smtplib loop on one connection, building and sending N messages from rendered parts;
(b) delivery only: N rendered rows already in the outbox, one task published per row, until all are sent;
(c) end to end: N ``email_enqueue`` calls, each in its own transaction (from ``--producers`` threads, as
    several web workers would), until all are sent;
(d) backlog: M rows left pending by a broker outage (due long ago, nothing queued); the sweep task is sent
    as beat sends it (at once, then every ``OUTBOX_SWEEP_INTERVAL_SECONDS``) until every row is sent;
(e) the worker's peak RSS (VmHWM of the worker process and of each pool child).

(a), (b) and (c) take turns for ``--rounds`` rounds (a busy machine slows them alike); the table shows each
one's median round. The bench's rows use templates named ``bench-*`` and are deleted before and after.
"""

import argparse
import multiprocessing
import os
import re
import signal
import smtplib
import socket
import statistics
import sys
import threading
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import worker_start
from tests.support.services import free_port

SINK_PORT = int(os.environ.get("BENCH_SINK_PORT") or free_port())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))
# The worker process inherits this environment: it sends to the sink below.
os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{SINK_PORT}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from portal.celery import app  # noqa: E402
from portal.mail import services  # noqa: E402
from portal.mail.models import OutboxEmail  # noqa: E402

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class CountingSink:
    """An aiosmtpd server in a process of its own (as a real mail server is: it takes no CPU time from
    the sender's process) that keeps no message, only what the figures need: how many messages, how many
    distinct Message-IDs (a duplicate delivery shows as the difference), how many sessions (EHLO)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self.counters = {name: context.Value("q", 0) for name in ("messages", "unique", "sessions")}
        self.stopping = context.Event()
        self.process = context.Process(target=self._serve, daemon=True)
        self.base = dict.fromkeys(self.counters, 0)

    def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", SINK_PORT), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the SMTP sink did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.process.join(10)

    def _serve(self) -> None:
        from aiosmtpd.controller import Controller

        controller = Controller(_CountingHandler(self.counters), hostname="127.0.0.1", port=SINK_PORT)
        controller.start()
        self.stopping.wait()
        controller.stop()

    def reset(self) -> None:
        """Count from zero from here on."""
        self.base = {name: value.value for name, value in self.counters.items()}

    def count(self, name: str) -> int:
        return self.counters[name].value - self.base[name]

    @property
    def messages(self) -> int:
        return self.count("messages")

    @property
    def unique(self) -> int:
        return self.count("unique")


class _CountingHandler:
    def __init__(self, counters) -> None:
        self.counters = counters
        self.message_ids: set[bytes] = set()

    def _add(self, name: str) -> None:
        with self.counters[name].get_lock():
            self.counters[name].value += 1

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self._add("sessions")
        return responses

    async def handle_DATA(self, server, session, envelope):
        found = MESSAGE_ID.search(envelope.original_content[:4096])
        self._add("messages")
        if found and found.group(1) not in self.message_ids:
            self.message_ids.add(found.group(1))
            self._add("unique")
        return "250 Message accepted for delivery"


def wait_for_messages(sink: CountingSink, count: int, timeout: float, worker=None) -> None:
    deadline = time.monotonic() + timeout
    while sink.unique < count:
        if worker is not None and worker.poll() is not None:
            raise SystemExit(f"the worker exited ({worker.returncode}); see var/bench/outbox-worker.log")
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sink.unique} of {count} messages arrived in {timeout:g} s")
        time.sleep(0.02)


def wait_queue_drained(timeout: float = 600.0) -> None:
    """Until the worker has taken every task (the tasks of emails that went out with an earlier task
    remain queued after the emails are sent) and acknowledged it: phases must not overlap."""
    deadline = time.monotonic() + timeout
    with app.connection_for_write() as broker:
        client = broker.default_channel.client
        while client.llen("celery") or client.hlen("unacked"):
            if time.monotonic() > deadline:
                raise SystemExit("the worker's queue was not drained")
            time.sleep(0.05)


def wait_all_sent(template: str, count: int, timeout: float = 60.0) -> None:
    """The sink has them all; the rows are marked right after the server's 250."""
    deadline = time.monotonic() + timeout
    while OutboxEmail.objects.filter(template=template, status=OutboxEmail.Status.SENT).count() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"rows of {template} not all marked sent")
        time.sleep(0.05)


def rows_create(template: str, count: int, *, due_long_ago: bool = False) -> list:
    """``count`` rendered rows, as ``email_enqueue`` stores them, without publishing anything."""
    rendered = services.email_render(template="test_message", context={}, language="ja")
    next_attempt_at = timezone.now() - timedelta(hours=1) if due_long_ago else timezone.now()
    rows = [
        OutboxEmail(
            to=f"{template}-{number}@example.com",
            subject=rendered.subject,
            body_text=rendered.body_text,
            body_html=rendered.body_html,
            language="ja",
            template=template,
            from_email=settings.DEFAULT_FROM_EMAIL,
            next_attempt_at=next_attempt_at,
        )
        for number in range(count)
    ]
    created = []
    for start in range(0, count, 5000):
        created += OutboxEmail.objects.bulk_create(rows[start : start + 5000])
    return [row.pk for row in created]


def bench_rows_delete() -> None:
    OutboxEmail.objects.filter(template__startswith="bench-").delete()


def reference(sink: CountingSink, count: int) -> float:
    """(a) A raw smtplib loop reusing one connection: build each message from the rendered parts, send."""
    rendered = services.email_render(template="test_message", context={}, language="ja")
    sink.reset()
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", SINK_PORT) as smtp:
        for number in range(count):
            message = EmailMessage()
            message["Subject"] = rendered.subject
            message["From"] = settings.DEFAULT_FROM_EMAIL
            message["To"] = f"reference-{number}@example.com"
            message["Message-ID"] = f"<reference-{uuid.uuid4()}@portal.invalid>"
            message["Content-Language"] = "ja"
            message.set_content(rendered.body_text)
            message.add_alternative(rendered.body_html, subtype="html")
            smtp.send_message(message)
    elapsed = time.perf_counter() - started
    if sink.messages != count:
        raise SystemExit(f"the reference loop sent {sink.messages} messages, not {count}")
    return elapsed


def delivery_only(sink: CountingSink, count: int, worker) -> tuple[float, float]:
    """(b) Rows already stored; one task per row published (as after each commit); until all are sent,
    and until the worker has also taken the tasks of the emails that went out with an earlier task."""
    ids = rows_create("bench-delivery", count)
    sink.reset()
    started = time.perf_counter()
    for email_id in ids:
        services.outbox_email_publish(email_id=email_id)
    wait_for_messages(sink, count, 300, worker)
    elapsed = time.perf_counter() - started
    wait_all_sent("bench-delivery", count)
    wait_queue_drained()
    drained = time.perf_counter() - started
    bench_rows_delete()
    return elapsed, drained


def end_to_end(sink: CountingSink, count: int, worker, producers: int = 1) -> float:
    """(c) ``email_enqueue`` in N transactions (render, store, publish after commit); until all are sent.
    With ``producers`` > 1, that many threads share the N (as web workers would), each its own connection."""

    def produce(numbers) -> None:
        for number in numbers:
            with transaction.atomic():
                services.email_enqueue(
                    to=f"bench-e2e-{number}@example.com", template="test_message", context={}, language="ja"
                )
        if producers > 1:
            connection.close()

    sink.reset()
    started = time.perf_counter()
    if producers == 1:
        produce(range(count))
    else:
        threads = [
            threading.Thread(target=produce, args=(range(first, count, producers),))
            for first in range(producers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    wait_for_messages(sink, count, 300, worker)
    elapsed = time.perf_counter() - started
    OutboxEmail.objects.filter(to__startswith="bench-e2e-").update(template="bench-e2e")
    wait_all_sent("bench-e2e", count)
    wait_queue_drained()
    bench_rows_delete()
    return elapsed


def backlog(sink: CountingSink, count: int, worker) -> tuple[float, int, int]:
    """(d) The rows a broker outage left: pending, due long ago, no task queued. Beat sends the sweep."""
    wait_queue_drained()  # no task is left that could take backlog rows along before the clock starts
    sink.reset()
    rows_create("bench-backlog", count, due_long_ago=True)
    interval = settings.CELERY_BEAT_SCHEDULE["outbox-sweep"]["schedule"]
    sweeps = 0
    started = time.perf_counter()
    next_sweep = started
    while sink.unique < count:
        if worker.poll() is not None:
            raise SystemExit("the worker exited; see var/bench/outbox-worker.log")
        if time.perf_counter() >= next_sweep:
            app.send_task("portal.mail.tasks.outbox_sweep")
            sweeps += 1
            next_sweep += interval
        if time.perf_counter() - started > 3600:
            raise SystemExit(f"the backlog was not drained in an hour ({sink.unique} of {count})")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    wait_all_sent("bench-backlog", count, timeout=120)
    duplicates = sink.messages - sink.unique
    bench_rows_delete()
    return elapsed, sweeps, duplicates


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    for candidate in Path("/proc").iterdir():
        if candidate.name.isdigit():
            try:
                fields = (candidate / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(candidate.name))
    return pids


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emails", type=int, default=1000, help="N for (a), (b) and (c)")
    parser.add_argument("--backlog", type=int, default=10000, help="M for (d); 100000 is the issue's size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--producers", type=int, default=1, help="threads calling email_enqueue in (c)")
    parser.add_argument("--concurrency", type=int, default=0, help="0: solo pool; N: prefork with N children")
    options = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        raise SystemExit("bench/outbox.py needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")

    sink = CountingSink()
    sink.start()  # forked before this process opens any connection
    call_command("migrate", verbosity=0)
    bench_rows_delete()
    with app.connection_for_write() as broker:
        broker.default_channel.client.delete("celery")  # no task left over from an interrupted run
    # Without --pool, celery's default pool is prefork: "--concurrency=N" alone selects it.
    pool = "--pool=solo" if options.concurrency == 0 else f"--concurrency={options.concurrency}"
    worker = worker_start("outbox-worker.log", pool=pool)
    try:
        # Warm up: the worker is consuming, has its database and mail connections, templates are loaded.
        end_to_end(sink, 20, worker)
        references, deliveries, drains, end_to_ends = [], [], [], []
        worker_sessions = 0
        for _ in range(options.rounds):
            references.append(reference(sink, options.emails))
            delivered, drained = delivery_only(sink, options.emails, worker)
            deliveries.append(delivered)
            drains.append(drained)
            worker_sessions += sink.count("sessions")
            end_to_ends.append(end_to_end(sink, options.emails, worker, options.producers))
            worker_sessions += sink.count("sessions")
        backlog_seconds, sweeps, duplicates = backlog(sink, options.backlog, worker)
        peaks = {pid: peak_rss_mib(pid) for pid in process_tree(worker.pid)}
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except Exception:
            worker.kill()
        sink.stop()
        bench_rows_delete()

    n = options.emails
    reference_rate = n / statistics.median(references)
    delivery_rate = n / statistics.median(deliveries)
    end_to_end_rate = n / statistics.median(end_to_ends)
    backlog_rate = options.backlog / backlog_seconds
    pool_label = "solo" if options.concurrency == 0 else f"prefork x{options.concurrency}"
    rows = [
        ("(a) raw smtplib loop, one connection (msg/s)", f"{reference_rate:.0f}", ""),
        ("(b) delivery only (msg/s)", f"{delivery_rate:.0f}", ""),
        ("(b) ... until the queue is drained too (msg/s)", f"{n / statistics.median(drains):.0f}", ""),
        ("(c) end to end (msg/s)", f"{end_to_end_rate:.0f}", ""),
        (
            "(b)+(c) SMTP sessions the worker opened anew / emails",
            f"{worker_sessions} / {2 * n * options.rounds}",
            "",
        ),
        ("(b)/(a) delivery only vs raw loop", f"{delivery_rate / reference_rate:.2f}", ">= 0.6"),
        ("(c)/(a) end to end vs raw loop", f"{end_to_end_rate / reference_rate:.2f}", ">= 0.6"),
        (f"(d) backlog of {options.backlog} rows drained (s)", f"{backlog_seconds:.1f}", ""),
        ("(d) backlog rate (msg/s)", f"{backlog_rate:.0f}", ""),
        ("(d) 100,000 rows at that rate (min)", f"{100000 / backlog_rate / 60:.1f}", "<= 10"),
        ("(d) sweeps sent / duplicate deliveries", f"{sweeps} / {duplicates}", ""),
        ("(e) peak RSS of the worker process (MiB)", f"{peaks[worker.pid]:.0f}", "<= 150"),
    ]
    rows += [
        ("(e) peak RSS of a pool child (MiB)", f"{peak:.0f}", "<= 150")
        for pid, peak in peaks.items()
        if pid != worker.pid
    ]
    print(
        f"PostgreSQL + Redis + celery worker ({pool_label}) + aiosmtpd sink (own process); N={n}, "
        f"rounds={options.rounds}, producers in (c)={options.producers}"
    )
    print(f"{'figure':<58} {'value':>14} {'goal':>8}")
    for label, value, goal in rows:
        print(f"{label:<58} {value:>14} {goal:>8}")


if __name__ == "__main__":
    main()

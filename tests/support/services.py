"""The real services of the test command (bin/test): an SMTP server on loopback, its Redis server, and a
record of the tasks the in-process Celery worker finished."""

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from celery.signals import task_postrun

from tests.support.waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts.

    It also counts the sessions clients open (``connections``), can refuse chosen recipients with a reply
    of the test's choosing (``refuse``), and can drop every open session, as a server that closes idle
    connections does (``drop_connections``)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.sessions: list = []  # the server side of every session that said EHLO, in order
        self.refuse: dict[str, str] = {}  # recipient address → the reply to its RCPT, e.g. "451 4.3.0 Busy"
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        # A slow server, to stage faults mid-send: seconds waited after DATA before the message is kept
        # (``delay_before_accept``) and after it is kept, before the 250 goes out (``delay_before_reply``).
        self.delay_before_accept = 0.0
        self.delay_before_reply = 0.0
        # When each message was kept (time.monotonic()), in the order of ``messages``; when each DATA
        # command's content had arrived (kept or not).
        self.accepted_at: list[float] = []
        self.data_received_at: list[float] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.sessions.append(server)
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    @property
    def connections(self) -> int:
        """How many sessions clients have opened so far."""
        return len(self.sessions)

    def open_connections(self) -> int:
        return sum(1 for server in list(self.sessions) if server.transport is not None)

    def drop_connections(self) -> None:
        """Close every open session from the server's side, without a word (then wait until they are)."""

        def close_all():
            for server in self.sessions:
                if server.transport is not None:
                    server.transport.close()

        self.controller.loop.call_soon_threadsafe(close_all)
        wait_until(lambda: self.open_connections() == 0, 10, "the SMTP sessions are still open")

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import time
        from email import message_from_bytes
        from email.policy import default

        self.data_received_at.append(time.monotonic())
        if self.delay_before_accept:
            await asyncio.sleep(self.delay_before_accept)
            if server.transport is None or server.transport.is_closing():
                # The sender went away before the server took the message: like a real server, it
                # aborts the transaction and keeps nothing.
                return "451 Sender gone, message not accepted"
        # Kept before the reply: a sender that got its 250 finds its message here.
        self.messages.append(message_from_bytes(envelope.original_content, policy=default))
        self.accepted_at.append(time.monotonic())
        if self.delay_before_reply:
            await asyncio.sleep(self.delay_before_reply)
        return "250 Message accepted for delivery"

    def message_id_counts(self) -> dict[str, int]:
        """How many times each Message-ID arrived (a duplicate delivery shows as a count of 2 or more)."""
        counts: dict[str, int] = {}
        for message in list(self.messages):
            counts[message["Message-ID"]] = counts.get(message["Message-ID"], 0) + 1
        return counts

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        """The messages, once at least ``count`` have arrived."""
        wait_until(
            lambda: len(self.messages) >= count,
            timeout,
            lambda: f"the SMTP server got {len(self.messages)} message(s), not {count}",
        )
        return self.messages


class RedisServer:
    """Stops and starts the test command's Redis server, to stage a real broker outage."""

    def __init__(self):
        self.port = int(os.environ["TEST_REDIS_PORT"])
        self.directory = Path(os.environ["TEST_REDIS_DIR"])

    def ping(self) -> bool:
        result = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
        return result.stdout.strip() == "PONG"

    def stop(self):
        pid = int((self.directory / "redis.pid").read_text())
        os.kill(pid, 15)
        wait_until(lambda: not self.ping(), 10, "Redis still answers after SIGTERM")

    def start(self):
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--pidfile",
                str(self.directory / "redis.pid"),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            check=True,
        )
        wait_until(self.ping, 10, "Redis does not answer after starting")


@dataclass(frozen=True)
class FinishedTask:
    name: str
    args: tuple
    retval: object


class TaskLog:
    """Every Celery task that finished in this process (the worker of ``celery_worker_thread`` runs here),
    in order, with what it returned: the positive signal to wait for before asserting that a task did
    nothing, or that none ran for something.

    The worker takes one task at a time (solo pool, prefetch 1) from a Redis list, first in first out: once
    a task published later has finished, every task published before it has finished too."""

    def __init__(self):
        self.finished: list[FinishedTask] = []

    def _record(self, sender=None, args=None, retval=None, **_kwargs):
        self.finished.append(FinishedTask(sender.name, tuple(args or ()), retval))

    def __enter__(self) -> "TaskLog":
        task_postrun.connect(self._record, weak=False)
        return self

    def __exit__(self, *exc_info) -> None:
        task_postrun.disconnect(self._record)

    def of(self, name: str, *args) -> list[FinishedTask]:
        """The finished runs of task ``name`` with exactly these arguments."""
        return [task for task in list(self.finished) if task.name == name and task.args == args]

    def wait_for(self, name: str, *args, count: int = 1, timeout: float = 20.0) -> list[FinishedTask]:
        """The runs of ``name(*args)``, once at least ``count`` of them have finished."""
        return wait_until(
            lambda: len(self.of(name, *args)) >= count and self.of(name, *args),
            timeout,
            lambda: f"{name}{args} finished {len(self.of(name, *args))} time(s), not {count}",
        )

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
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        # Kept before the reply: a sender that got its 250 finds its message here.
        self.messages.append(message_from_bytes(envelope.original_content, policy=default))
        return "250 Message accepted for delivery"

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

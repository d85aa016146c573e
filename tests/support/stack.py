"""The portal as deployed, on loopback, for the fault and load tests: gunicorn with the production settings,
Celery workers (prefork, one child each) and optionally beat as subprocesses, a real SMTP sink, and
signed-in HTTP clients. Everything shares the test database (the test must use ``transactional_db``)
and bin/test's Redis; every process is stopped by its own PID.

    def test_something(portal_stack, user):
        stack = portal_stack(web_workers=2, celery_workers=1)
        client = stack.client(user)
        response = client.post("/some/form/", {"field": "value"})   # CSRF token added
        stack.outbox_wait_sent(count=1)
        assert stack.sink.message_id_counts() == {...}

Import the fixtures in a conftest.py: ``from tests.support.stack import portal_stack, stack_static_root``.
"""

import contextlib
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tests.support.processes import (
    PRODUCTION,
    ROOT,
    Gunicorn,
    collect_static,
    configured_environment,
    production_environment,
)
from tests.support.services import SmtpSink
from tests.support.waiting import wait_until

SECRET_KEY = PRODUCTION["SECRET_KEY"]
SESSION_COOKIE = "__Host-sessionid"
CSRF_COOKIE = "__Host-csrftoken"
# gunicorn serves plain HTTP on loopback; the portal believes one proxy of ours (TRUSTED_PROXY_COUNT=1),
# which these headers stand for: the request came over HTTPS, from the page's own origin.
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "Origin": "https://127.0.0.1"}


class PortalClient(requests.Session):
    """A browser on the portal: relative URLs, the proxy headers, redirects not followed, and the CSRF
    token (from the cookie a GET of the form's page set) added to every POST."""

    def __init__(self, base_url: str, *, client_ip: str = "203.0.113.10", timeout: float = 30):
        super().__init__()
        self.trust_env = False
        self.base_url = base_url
        self.timeout = timeout
        self.headers.update({**PROXY_HEADERS, "X-Forwarded-For": client_ip})

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        response = super().request(method, url, *args, **kwargs)
        # The production cookies are ``Secure``; the proxy that would speak HTTPS is left out here.
        for cookie in self.cookies:
            cookie.secure = False
        return response

    def get(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return super().get(url, **kwargs)

    @property
    def csrf_token(self) -> str | None:
        return self.cookies.get(CSRF_COOKIE)

    def post(self, url, data=None, *, form_page: str | None = None, **kwargs):
        """POST ``data`` with the CSRF token; without a token yet, GET ``form_page`` (default: ``url``)
        first, as a browser shows the form before it submits it."""
        if self.csrf_token is None:
            self.get(form_page or url)
        if self.csrf_token is None:
            raise AssertionError(f"GET {form_page or url} set no CSRF cookie")
        data = dict(data or {})
        data.setdefault("csrfmiddlewaretoken", self.csrf_token)
        kwargs.setdefault("allow_redirects", False)
        return super().post(url, data=data, **kwargs)


def production_secret_key():
    """Run code of this process as the deployed portal would (its SECRET_KEY): what it writes for the
    stack's processes to read — sealed email secrets, signed values — opens there."""
    from django.test import override_settings

    return override_settings(SECRET_KEY=SECRET_KEY)


def session_create(user) -> str:
    """A signed-in session for ``user`` in the shared database, as the production settings read it
    (signed with their SECRET_KEY); returns the session key. No Argon2 sign-in form: it costs ~0.1 s.
    Safe from any thread: the key is passed explicitly (override_settings would be process-wide)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS
    from django.contrib.sessions.models import Session
    from django.contrib.sessions.serializers import JSONSerializer
    from django.core import signing
    from django.utils import timezone
    from django.utils.crypto import get_random_string, salted_hmac

    auth_hash = salted_hmac(
        "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
        user.password,
        secret=SECRET_KEY,
        algorithm="sha256",
    ).hexdigest()
    data = {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
        HASH_SESSION_KEY: auth_hash,
    }
    session = Session.objects.create(
        session_key=get_random_string(32, VALID_KEY_CHARS),
        # What SessionStore.encode() writes (its salt is "django.contrib.sessions." + the class's name).
        session_data=signing.dumps(
            data,
            key=SECRET_KEY,
            salt="django.contrib.sessions.SessionStore",
            serializer=JSONSerializer,
            compress=True,
        ),
        expire_date=timezone.now() + timedelta(hours=8),
    )
    return session.session_key


class CeleryWorker:
    """``celery -A portal worker --pool prefork -c N`` in a subprocess; its PID and its children's."""

    def __init__(self, env: dict, tmp_path: Path, name: str, *, concurrency: int = 1, queues: str = ""):
        self.name = name
        self.env = env
        self.log_path = tmp_path / f"celery-{name}.log"
        self.command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            "prefork",
            "-c",
            str(concurrency),
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ]
        if queues:
            self.command += ["-Q", queues]
        self.process: subprocess.Popen | None = None

    def start(self, *, wait: bool = True) -> "CeleryWorker":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        def ready():
            if self.process.poll() is not None:
                pytest.fail(f"celery worker {self.name} stopped ({self.process.returncode}):\n{self.log}")
            return " ready." in self.log and self.children()

        wait_until(ready, timeout, lambda: f"celery worker {self.name} not ready:\n{self.log}")

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        """The PIDs of the pool's processes (the ones that run the tasks)."""
        pids = []
        task_dir = Path(f"/proc/{self.pid}/task")
        try:
            for thread in task_dir.iterdir():
                pids += [int(pid) for pid in (thread / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            return []
        return pids

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, the main process and its pool's processes: what an OOM killer or a lost node does."""
        if not self.alive():
            return
        children = self.children()
        os.kill(self.pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Cold shutdown (SIGQUIT: a task in progress goes back to the broker); SIGKILL after 20 s."""
        if not self.alive():
            return
        children = self.children()
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        for pid in children:  # a pool process whose parent is gone
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class CeleryBeat:
    """``celery -A portal beat`` in a subprocess, its schedule file in the test's folder."""

    def __init__(self, env: dict, tmp_path: Path):
        self.env = env
        self.log_path = tmp_path / "celery-beat.log"
        self.command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "beat",
            "-s",
            str(tmp_path / "beat-schedule"),
            "--pidfile",
            str(tmp_path / "beat.pid"),
            "--loglevel",
            "INFO",
        ]
        self.process: subprocess.Popen | None = None

    def start(self) -> "CeleryBeat":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class Stack:
    """The deployed portal: ``web`` (gunicorn), ``workers`` (Celery), ``beat`` (or None), ``sink`` (SMTP).

    ``env`` overrides the production settings of every process (e.g. ``OUTBOX_SWEEP_GRACE_SECONDS``)."""

    def __init__(
        self,
        tmp_path: Path,
        static_root: Path | None,
        *,
        web: bool = True,
        web_workers: int = 1,
        celery_workers: int = 1,
        beat: bool = False,
        env: dict | None = None,
    ):
        self.tmp_path = tmp_path
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.sink = SmtpSink()
        self.env = production_environment(
            tmp_path,
            static_root or tmp_path / "static",
            TRUSTED_PROXY_COUNT="1",
            EMAIL_URL=f"smtp://127.0.0.1:{self.sink.port}",
            EMAIL_TIMEOUT="10",
            CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", ""),
            LOG_FORMAT="text",
            # PostgreSQL as production runs it: a commit waits for its WAL (bin/test's cluster does not,
            # for speed, so a crash there could forget the last commits, which no deployment would).
            # libpq reads PGOPTIONS only when the portal passes no "options" of its own.
            DATABASE_JIT_OFF="false",
            PGOPTIONS="-c synchronous_commit=on -c jit=off",
            **(env or {}),
        )
        if not self.env["CELERY_BROKER_URL"].startswith("redis://"):
            pytest.fail("The stack needs the real Redis: run it through bin/test")
        self.web = Gunicorn(self.env, tmp_path, workers=web_workers) if web else None
        self.process_env = configured_environment({"PYTHONUNBUFFERED": "1", **self.env}, tmp_path)
        self._celery_workers = celery_workers
        self.workers: list[CeleryWorker] = []
        self.clients: list[PortalClient] = []
        self.beat = CeleryBeat(self.process_env, tmp_path) if beat else None
        self._worker_count = 0

    @property
    def url(self) -> str:
        if self.web is None:
            raise AssertionError("This stack was started with web=False")
        return self.web.url

    def __enter__(self) -> "Stack":
        self.sink.controller.start()
        try:
            self.broker_purge()
            if self.web:
                self.web.__enter__()
            for _ in range(self._celery_workers):
                self.worker_add(wait=False)
            for worker in self.workers:
                worker.wait_ready()
            if self.beat:
                self.beat.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        for client in self.clients:
            client.close()  # no keep-alive connection holds gunicorn's graceful shutdown
        stops = [worker.stop for worker in self.workers]
        if self.beat:
            stops.append(self.beat.stop)
        if self.web and getattr(self.web, "process", None) is not None and self.web.process.poll() is None:
            stops.append(self.web.__exit__)
        with ThreadPoolExecutor(max_workers=len(stops) or 1) as pool:  # all at once: shutdowns take seconds
            for stopped in [pool.submit(stop) for stop in stops]:
                stopped.result()
        self.sink.controller.stop()
        from django.db import connections

        connections.close_all()  # the test's own connections: the database may have been restarted

    def broker_purge(self) -> None:
        """Drop the tasks earlier tests left in the broker's queue (their rows are gone)."""
        import redis

        from portal.celery import queue_names

        client = redis.Redis.from_url(self.env["CELERY_BROKER_URL"])
        try:
            client.delete(*queue_names(), "unacked", "unacked_index")
        finally:
            client.close()

    def worker_add(self, *, wait: bool = True, concurrency: int = 1) -> CeleryWorker:
        """One more Celery worker (also how a killed one is replaced)."""
        self._worker_count += 1
        worker = CeleryWorker(
            self.process_env, self.tmp_path, f"worker{self._worker_count}", concurrency=concurrency
        )
        self.workers.append(worker)
        return worker.start(wait=wait)

    def client(self, user=None, *, client_ip: str = "203.0.113.10") -> PortalClient:
        """A browser on the portal, signed in as ``user`` when given."""
        client = PortalClient(self.url, client_ip=client_ip)
        self.clients.append(client)
        if user is not None:
            client.cookies.set(SESSION_COOKIE, session_create(user), domain="127.0.0.1", path="/")
        return client

    def publish(self, task_name: str, *args) -> None:
        """Publish task ``task_name`` to the broker the workers consume from (e.g. a periodic sweep)."""
        from portal.celery import app

        app.send_task(task_name, args=list(args))

    @staticmethod
    def message_id(email) -> str:
        """The Message-ID the deployed portal (SITE_URL https://127.0.0.1) gives outbox row ``email``."""
        return f"<outbox-{email.pk}@127.0.0.1>"

    def outbox_wait_sent(self, *, count: int | None = None, timeout: float = 60.0) -> list:
        """The outbox rows, once none is pending or being sent (and at least ``count`` exist); fails on a
        dead (failed for good) row."""
        from portal.mail.models import OutboxEmail

        Status = OutboxEmail.Status

        def settled():
            rows = list(OutboxEmail.objects.order_by("created_at", "id"))
            dead = [row for row in rows if row.status == Status.DEAD]
            if dead:
                pytest.fail(f"outbox rows failed for good: {[(row.pk, row.last_error) for row in dead]}")
            done = all(row.status == Status.SENT for row in rows)
            return done and (count is None or len(rows) >= count) and (rows or count == 0) and rows

        def describe():
            statuses: dict[str, int] = {}
            for status in OutboxEmail.objects.values_list("status", flat=True):
                statuses[status] = statuses.get(status, 0) + 1
            return f"the outbox is not empty: {statuses} (wanted {count} sent)"

        result = wait_until(settled, timeout, describe)
        return result if isinstance(result, list) else []

    def logs(self) -> str:
        """Every process's log, for a failure message."""
        parts = [f"--- gunicorn stderr\n{self.web.stderr}"] if self.web else []
        parts += [f"--- {worker.name}\n{worker.log}" for worker in self.workers]
        if self.beat:
            parts.append(f"--- beat\n{self.beat.log_path.read_text(errors='replace')}")
        return "\n".join(parts)


@pytest.fixture(scope="session")
def stack_static_root(tmp_path_factory) -> Path:
    """The production static files (hashed manifest), collected once per run."""
    return collect_static(tmp_path_factory.mktemp("stack-static"))


@pytest.fixture
def portal_stack(transactional_db, tmp_path, request):
    """``portal_stack(**options)`` starts a Stack (options as Stack's); all are stopped after the test."""
    stacks: list[Stack] = []

    def start(*, web: bool = True, **options) -> Stack:
        static_root = request.getfixturevalue("stack_static_root") if web else None
        stack = Stack(tmp_path / f"stack{len(stacks)}", static_root, web=web, **options)
        stacks.append(stack)
        return stack.__enter__()

    yield start
    for stack in reversed(stacks):
        stack.__exit__()

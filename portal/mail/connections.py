"""One mail-server connection per worker process, reused from email to email.

Opening an SMTP session (TCP, greeting, EHLO, STARTTLS, AUTH) costs more than sending a message on it, so
the worker keeps its connection open between emails. It is opened again when the settings changed, after
an error that may have left the session in an unknown state, once it has been idle for
``OUTBOX_SMTP_IDLE_SECONDS`` (closed then by a small reaper thread, so that no idle session lingers on the
server), and it is closed when the worker process shuts down.
"""

import logging
import os
import smtplib
import threading
import time

from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.core.mail import get_connection

logger = logging.getLogger(__name__)


def _settings_key() -> tuple:
    names = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD")
    names += ("EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_TIMEOUT", "EMAIL_SSL_CERTFILE", "EMAIL_SSL_KEYFILE")
    return tuple(getattr(settings, name, None) for name in names)


def is_dropped_connection(error: Exception) -> bool:
    """The server closed the session (an idle timeout, a restart): nothing was said about the message."""
    if isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError):
        return True
    # 421: "service not available, closing transmission channel", what servers answer on an idle timeout.
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421


def _keeps_session_usable(error: Exception) -> bool:
    """A refusal the server gave inside a healthy session (smtplib has already sent RSET)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code != 421


class ReusedConnection:
    """The process's mail connection. ``send`` is safe to call from several threads (one at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._connection = None
        self._key: tuple | None = None
        self._last_used = 0.0
        self._reaper: threading.Thread | None = None
        self.opened = 0  # connections opened by this process, for the benchmarks

    def _forget_after_fork(self) -> None:
        # A forked child must not talk on (or quit) its parent's socket: it starts without one.
        if self._pid != os.getpid():
            self._lock = threading.Lock()
            self._pid = os.getpid()
            self._connection, self._key, self._reaper = None, None, None

    def send(self, message) -> None:
        """Send one message on the reused connection; raise what the server (or the network) said.

        A reused session that the server dropped while it was idle is opened again once and the message
        sent on the new one: that is no failed attempt, the server never had the message."""
        self._forget_after_fork()
        with self._lock:
            fresh = self._ensure_open()
            try:
                self._send(message)
            except Exception as error:
                if fresh or not is_dropped_connection(error):
                    raise
                logger.info("The mail server dropped the idle connection; opening a new one")
                self._ensure_open()
                self._send(message)
            finally:
                self._last_used = time.monotonic()

    def _send(self, message) -> None:
        try:
            self._connection.send_messages([message])
        except Exception as error:
            if not _keeps_session_usable(error):
                self._close_locked()
            raise

    def _ensure_open(self) -> bool:
        """Open the connection unless a usable one is there; say whether a new one was opened."""
        key = _settings_key()
        idle_limit = settings.OUTBOX_SMTP_IDLE_SECONDS
        if self._connection is not None and (
            key != self._key or time.monotonic() - self._last_used >= idle_limit
        ):
            self._close_locked()
        if self._connection is not None:
            return False
        connection = get_connection(fail_silently=False)
        connection.open()
        self._connection, self._key = connection, key
        self._last_used = time.monotonic()
        self.opened += 1
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="outbox-smtp-reaper", daemon=True)
            self._reaper.start()
        return True

    def _reap(self) -> None:
        """Close the connection once it has been idle long enough; end with it."""
        while True:
            idle_limit = settings.OUTBOX_SMTP_IDLE_SECONDS
            time.sleep(max(min(idle_limit / 4, 5.0), 0.05))
            with self._lock:
                if self._connection is None:
                    self._reaper = None
                    return
                if time.monotonic() - self._last_used >= idle_limit:
                    self._close_locked()
                    self._reaper = None
                    return

    def close(self) -> None:
        self._forget_after_fork()
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        connection, self._connection, self._key = self._connection, None, None
        if connection is None:
            return
        try:
            connection.close()
        except Exception:
            # A session that is already gone has nothing left to close.
            logger.debug("Closing the mail connection failed", exc_info=True)


smtp_connection = ReusedConnection()


@worker_process_shutdown.connect
@worker_shutdown.connect
def _close_on_shutdown(**_kwargs) -> None:
    smtp_connection.close()

"""Per-request (or per-task) context: the request id and client IP that logs and audit rows carry."""

import contextvars
import re
import uuid

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """Keep an incoming X-Request-ID only when it is harmless to log; otherwise mint one."""
    if candidate and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return new_request_id()


def bind(*, request_id: str | None, ip: str | None) -> None:
    _request_id.set(request_id)
    _client_ip.set(ip)


def clear() -> None:
    _request_id.set(None)
    _client_ip.set(None)


def get_request_id() -> str | None:
    return _request_id.get()


def get_client_ip() -> str | None:
    return _client_ip.get()

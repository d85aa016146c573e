"""Structured logging: one JSON object per line, carrying the request id, and no link secrets.

URLs carry secrets: invitation tokens, password-reset keys, email-confirmation keys. Every line our
formatters write, and every line gunicorn writes (``portal.gunicorn_logging``), goes through ``redact``
last, so that a path printed by anyone (an access log, Django's "Not Found: ..." warning, a request's
repr, a traceback) never shows one.
"""

import json
import logging
import re
from datetime import UTC, datetime

from portal import request_context

REDACTED = "[redacted]"

_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# A slash, also URL-encoded (as in ?next=%2Finvitations%2F...).
_SLASH = r"(?:/|%2[Ff])"
# One path segment: up to the next slash, query, fragment, quote, space or log punctuation.
_SEGMENT = r"(?:(?!%2[Ff]|%3[Ff]|%26)[^/?#&\s\"'\\<>])+"
# What may follow a segment that is a plain word, not a secret.
_SEGMENT_END = rf"(?:{_SLASH}|[?#&\s\"'\\<>]|$)"
# Query parameters whose value is a secret: token, key, code, secret, password, signature, alone or as
# the end of a longer name (reset_key, access_token).
_SENSITIVE_PARAMETER = r"(?:[A-Za-z0-9.]*[_-])?(?:token|key|code|secret|password|signature)"

SECRET_PATTERNS: list[re.Pattern[str]] = [
    # /invitations/<kind>/<token>/: membership today; partnership and customer invitations share the
    # shape. The token-free action URLs below it stay readable.
    re.compile(
        rf"(?P<keep>{_SLASH}invitations{_SLASH}[A-Za-z0-9_-]+{_SLASH})"
        rf"(?!(?:accept|decline){_SEGMENT_END})(?P<secret>{_SEGMENT})"
    ),
    # allauth's password reset: /accounts/password/reset/key/<uidb36>-<key>/ (its token-free
    # <uidb36>-set-password/ stays readable).
    re.compile(
        rf"(?P<keep>{_SLASH}password{_SLASH}reset{_SLASH}key{_SLASH})"
        rf"(?![0-9A-Za-z]+-set-password{_SEGMENT_END})(?P<secret>{_SEGMENT})"
    ),
    # A built-in directory user's set-up link: /directory/setup/<token>/ (its token-free set-password/
    # stays readable).
    re.compile(
        rf"(?P<keep>{_SLASH}directory{_SLASH}setup{_SLASH})"
        rf"(?!set-password{_SEGMENT_END})(?P<secret>{_SEGMENT})"
    ),
    # allauth's email confirmation link: /accounts/confirm-email/<key>/
    re.compile(rf"(?P<keep>{_SLASH}confirm-email{_SLASH})(?P<secret>{_SEGMENT})"),
    # ?token=..., &key=..., ?code=... (also URL-encoded inside another parameter).
    re.compile(
        rf"(?P<keep>(?:[?&]|%3[Ff]|%26){_SENSITIVE_PARAMETER}(?:=|%3[Dd]))"
        r"(?P<secret>(?:(?!%26)[^&#\s\"'\\<>])+)",
        re.IGNORECASE,
    ),
]


def redact(text: str) -> str:
    """The text with every link secret (see SECRET_PATTERNS) replaced by REDACTED."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(rf"\g<keep>{REDACTED}", text)
    return text


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_context.get_request_id() or "-"
        return True


class TextFormatter(logging.Formatter):
    """Plain lines for development; redacted like every other line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_context.get_request_id(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


class RedactingFormatter(logging.Formatter):
    """Wraps another formatter (gunicorn's) and redacts what it writes."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))

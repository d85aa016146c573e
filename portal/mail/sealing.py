"""Secrets inside outgoing email (link tokens, reset keys, verification codes) are never stored readable.

An email is rendered with a placeholder where each secret goes; the secrets themselves are stored
encrypted beside it (a key derived from SECRET_KEY, so a database dump alone opens nothing) and put back
only in the message handed to the mail server. Once the email is sent the sealed secrets are erased, so a
sent row, the review site or a backup holds nothing that would open an account.
"""

import base64
import json
import re
import secrets
from collections.abc import Iterable, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.html import escape
from django.utils.translation import gettext

PLACEHOLDER_PREFIX = "sealed-secret-"
_PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"[0-9a-f]{16}")
# Secrets shorter than this are not searched for in rendered text (too likely to match by accident).
_MIN_SEARCHED_LENGTH = 6


class SealedSecretsUnreadable(RuntimeError):
    """The sealed secrets cannot be opened (SECRET_KEY changed without a fallback)."""


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    derived = [
        salted_hmac("portal.mail.sealing", "outbox-secrets", secret=key, algorithm="sha256").digest()
        for key in keys
    ]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(raw)) for raw in derived])


def placeholder_new() -> str:
    return PLACEHOLDER_PREFIX + secrets.token_hex(8)


def context_sealed(context: Mapping, secret_keys: Iterable[str]) -> tuple[dict, dict[str, str]]:
    """Swap each secret value of ``context`` for a placeholder; return the new context and the mapping
    placeholder → secret."""
    sealed_context = dict(context)
    mapping: dict[str, str] = {}
    for key in secret_keys:
        value = context.get(key)
        if value is None or value == "":
            continue
        placeholder = placeholder_new()
        mapping[placeholder] = str(value)
        sealed_context[key] = placeholder
    return sealed_context, mapping


def text_sealed(text: str, mapping: Mapping[str, str]) -> str:
    """Belt and braces: a secret that reached the text by another path is replaced by its placeholder."""
    for placeholder, value in mapping.items():
        if len(value) >= _MIN_SEARCHED_LENGTH:
            text = text.replace(value, placeholder)
            text = text.replace(escape(value), placeholder)
    return text


def seal(mapping: Mapping[str, str]) -> str:
    if not mapping:
        return ""
    return _fernet().encrypt(json.dumps(dict(mapping)).encode()).decode()


def unseal(sealed: str) -> dict[str, str]:
    if not sealed:
        return {}
    try:
        return json.loads(_fernet().decrypt(sealed.encode()))
    except InvalidToken as error:
        raise SealedSecretsUnreadable("The email's sealed secrets cannot be opened") from error


def restored(text: str, mapping: Mapping[str, str], *, html: bool = False) -> str:
    """The text as the recipient gets it."""
    for placeholder, value in mapping.items():
        text = text.replace(placeholder, escape(value) if html else value)
    return text


def redacted(text: str) -> str:
    """The text as staff may read it: every placeholder says that a secret stood there."""
    if PLACEHOLDER_PREFIX not in text:
        return text
    label = gettext("[hidden: sent only to the recipient]")
    return _PLACEHOLDER.sub(label, text)

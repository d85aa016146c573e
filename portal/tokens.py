"""Link tokens: 256-bit random, shown once in an email, stored only as a SHA-256 hash."""

import hashlib
import secrets

TOKEN_BYTES = 32


def token_new() -> tuple[str, str]:
    """Return (raw token for the link, hash to store)."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    return raw, token_hash(raw)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()

"""Sign-in to the portal's own credential stores (the built-in directory's users, the membership center's
accounts): passwords kept only as Django hashes, and one sign-in rule for all of them.

- ``PasswordCredential``: the abstract model of something that signs in with a password, with
  ``password_hashed_constraint`` as a guard against a raw password written by mistake;
- ``credentials_sign_in``: both rate limits (per client and per name) counted on every attempt, and one
  password hash whatever happens (unknown name, wrong password, inactive holder), so that neither the
  answer nor its timing tells which names exist.
"""

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.errors import DomainError
from portal.ratelimit import rate_limit_hit

Holder = TypeVar("Holder", bound="PasswordCredential")

TOO_MANY_ATTEMPTS = _("Too many sign-in attempts. Wait a few minutes and try again.")
SIGN_IN_WINDOW_SECONDS = 15 * 60


class PasswordCredential(models.Model):
    password = models.CharField(_("password"), max_length=128)

    class Meta:
        abstract = True

    def set_password(self, raw_password: str) -> None:
        self.password = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        """One password hash; a hash made with an older hasher is upgraded on success."""

        def upgrade(raw: str) -> None:
            self.set_password(raw)
            self.save(update_fields=["password"])

        return check_password(raw_password, self.password, upgrade)


def password_hashed_constraint(label: str) -> models.CheckConstraint:
    """Every Django hash reads "<algorithm>$...": a guard against a raw password written by mistake, not a
    proof."""
    return models.CheckConstraint(
        condition=models.Q(password__regex=r"^[a-z0-9_]+\$"),  # noqa: S106 - a pattern
        name=f"{label}_password_hashed",
    )


class SignInRefused(DomainError):
    """``invalid_credentials`` or ``rate_limited``; ``reason`` (for a log line, never shown) says which
    case it was, ``holder`` the known holder (its name right) when there is one."""

    def __init__(self, message, *, code: str, reason: str, holder=None):
        super().__init__(message, code=code)
        self.reason = reason
        self.holder = holder


def _rate_limit_key(value: str) -> str:
    # Cache keys of fixed length and alphabet, whatever a client typed.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def credentials_sign_in(
    *,
    scope: str,
    name: str,
    password: str,
    client_key: str,
    find: Callable[[str], Holder | None],
    is_active: Callable[[Holder], bool],
    attempts_per_client: int,
    attempts_per_name: int,
    invalid_message,
) -> Holder:
    """The active holder that ``name`` (already normalised) and ``password`` open, else SignInRefused."""
    password = password or ""
    # Both counters count every attempt, whichever refuses.
    within_client = rate_limit_hit(
        scope=f"{scope}_client",
        key=_rate_limit_key(client_key),
        limit=attempts_per_client,
        window_seconds=SIGN_IN_WINDOW_SECONDS,
    )
    within_name = rate_limit_hit(
        scope=f"{scope}_name",
        key=_rate_limit_key(name.lower()),
        limit=attempts_per_name,
        window_seconds=SIGN_IN_WINDOW_SECONDS,
    )
    if not (within_client and within_name):
        raise SignInRefused(TOO_MANY_ATTEMPTS, code="rate_limited", reason="rate_limited")
    holder = find(name) if name and password else None
    if holder is None:
        # The same one hash a known name costs: the answer's timing tells nothing. Discarded.
        make_password(password)
        raise SignInRefused(invalid_message, code="invalid_credentials", reason="unknown_user")
    # The password is checked before the status, so that an inactive holder costs the same.
    if not holder.check_password(password):
        raise SignInRefused(
            invalid_message, code="invalid_credentials", reason="wrong_password", holder=holder
        )
    if not is_active(holder):
        raise SignInRefused(invalid_message, code="invalid_credentials", reason="disabled", holder=holder)
    return holder

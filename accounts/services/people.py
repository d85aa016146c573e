"""Every write to a person's own account settings."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation

from accounts.models import User
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.validators import no_control_characters


def name_check(value: str, *, field: str) -> None:
    """Names are one line of visible text (they go into email subjects and bodies)."""
    try:
        no_control_characters(value)
    except ValidationError as error:
        raise DomainError(error.messages[0], code="control_characters", field=field) from error


def email_language(address: str, *, fallback: str | None = None) -> str:
    """The language of emails to this address: its owner's saved language; for an address nobody owns
    yet, ``fallback`` (the sender's language), else the language of the current page."""
    user = User.objects.filter(email__iexact=address).only("preferred_language").first()
    if user is not None:
        return user.preferred_language
    current = fallback or translation.get_language() or settings.LANGUAGE_CODE
    return current if current in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def canonical_email(address: str) -> str:
    """Email addresses compare case-insensitively (the whole address, as every mail provider does)."""
    return address.strip().lower()


@transaction.atomic
def user_profile_update(*, user: User, full_name: str, preferred_language: str) -> User:
    """Change a user's own name and language; the language is also the language of their emails."""
    name_check(full_name, field="full_name")
    user = User.objects.select_for_update().get(pk=user.pk)
    before = {"full_name": user.full_name, "preferred_language": user.preferred_language}
    after = {"full_name": full_name, "preferred_language": preferred_language}
    if before == after:
        return user
    user.full_name = full_name
    user.preferred_language = preferred_language
    user.save(update_fields=["full_name", "preferred_language"])
    audit_record(action="user.profile_updated", actor=user, target=user, before=before, after=after)
    return user

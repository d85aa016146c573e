"""Whether a directory tenant may still be enrolled: the rule both directory modes share.

The issue's rule: "a tenant already linked to an enrolled or enrolling organization cannot be used
again". The wizard asks ``tenant_check_available`` when a mode has verified a tenant (the built-in mode
asks it itself, in ``builtin_sign_in``), and again when the applicant submits; the database has the last
word — ``Organization.directory_tenant`` is one-to-one, so approval can link a tenant to one organization
only.
"""

from __future__ import annotations

import uuid

from accounts.models import Organization
from enrollment.directory.base import TenantInUse


def tenant_available(tenant_id: uuid.UUID | str) -> bool:
    """Whether no organization holds this tenant. An application being enrolled holds its tenant too:
    ``enrollment.services.applications`` adds that check for the asking application, and the
    application table's conditional unique constraint (``enrollment_app_tenant_held``) has the last word
    when two submissions race."""
    return not Organization.objects.filter(directory_tenant__tenant_id=_as_uuid(tenant_id)).exists()


def tenant_check_available(tenant_id: uuid.UUID | str) -> None:
    """Raise ``TenantInUse`` unless ``tenant_available``."""
    if not tenant_available(tenant_id):
        raise TenantInUse(reason="tenant_linked")


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

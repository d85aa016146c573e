"""The audit actions every kind of link invitation writes, with labels an app can reuse or override."""

from django.utils.translation import gettext_lazy as _

#: suffix → label; the services write ``<AUDIT_PREFIX>.<suffix>``
LINK_INVITATION_ACTIONS = {
    "sent": _("Invitation sent"),
    "superseded": _("Invitation replaced by a new one"),
    "revoked": _("Invitation revoked"),
    "accepted": _("Invitation accepted"),
    "declined": _("Invitation declined"),
    "expired": _("Invitation expired"),
}


def link_invitation_action_labels(prefix: str, **overrides) -> dict:
    """The audit actions of one invitation model (``prefix`` is its AUDIT_PREFIX), labelled."""
    return {
        f"{prefix}.{suffix}": overrides.get(suffix, label)
        for suffix, label in LINK_INVITATION_ACTIONS.items()
    }

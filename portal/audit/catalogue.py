"""What each audit action means, in words a person reads in the activity log (both languages).

Apps register the labels of their own actions (``register`` in their AppConfig.ready), so this
cross-cutting app never imports a domain app. The catalogue is also what the activity log offers to
filter by: a fixed list in memory, never a scan of the audit rows.
"""

from django.utils.translation import gettext_lazy as _

_LABELS = {
    "outbox.dead": _("Email could not be delivered"),
    "outbox.requeued": _("Email queued to be sent again"),
}


def register(labels: dict) -> None:
    _LABELS.update(labels)


def action_label(action: str) -> str:
    """The readable label, or the action code itself for an action nobody registered."""
    return str(_LABELS.get(action, action))


def action_choices() -> list[tuple[str, str]]:
    """Every registered action as (code, label in the active language), by code."""
    return [(action, str(label)) for action, label in sorted(_LABELS.items())]

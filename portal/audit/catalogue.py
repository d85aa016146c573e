"""What each audit action means, in words a person reads in the activity log (both languages).

Every app declares the actions it writes, with their labels, in its ``audit_actions.py`` and registers
them in its AppConfig.ready (``register``), so this cross-cutting app never imports a domain app.
``tests/platform/test_audit_actions.py`` fails when code writes an action nobody declared. The catalogue
is also what the activity log offers to filter by: a fixed list in memory, never a scan of the rows.
"""

_LABELS: dict = {}


def register(labels: dict) -> None:
    for action, label in labels.items():
        if action in _LABELS and _LABELS[action] != label:
            raise ValueError(f"Audit action {action!r} is declared twice with different labels")
        _LABELS[action] = label


def is_declared(action: str) -> bool:
    return action in _LABELS


def action_label(action: str) -> str:
    """The readable label, or the action code itself for an action nobody registered."""
    return str(_LABELS.get(action, action))


def action_choices() -> list[tuple[str, str]]:
    """Every registered action as (code, label in the active language), by code."""
    return [(action, str(label)) for action, label in sorted(_LABELS.items())]

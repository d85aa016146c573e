"""What each audit action means, in words a person reads in the activity log (both languages).

Every app declares the actions it writes, with their labels, in its ``audit_actions.py`` and registers
them in its AppConfig.ready (``register``), so this cross-cutting app never imports a domain app.
``tests/platform/test_audit_actions.py`` fails when code writes an action nobody declared. The catalogue
is also what the activity log offers to filter by: a fixed list in memory, never a scan of the rows.
"""

import functools

_LABELS: dict = {}
#: target type ("app_label.model") -> how its stored labels are shown (``register_target_labels``)
_TARGET_LABELS: dict = {}


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


def register_target_labels(shown: dict) -> None:
    """``{"app_label.model": shown}``: how the activity log shows a stored target label of that type in the
    reader's language. A label is stored once, in the words of the language active when the change was
    made (``str()`` of its object, such as an order's "New subscription: Cloud Backup"); ``shown(label)``
    returns it with those words in the active language and leaves the names in it as they are."""
    for target_type, function in shown.items():
        if _TARGET_LABELS.get(target_type, function) is not function:
            raise ValueError(f"Audit target type {target_type!r} is declared twice")
        _TARGET_LABELS[target_type] = function


def target_label_shown(target_type: str, label: str) -> str:
    """A stored target label as the activity log shows it in the active language (as stored when nobody
    registered its type)."""
    shown = _TARGET_LABELS.get(target_type)
    return label if shown is None or not label else shown(label)


@functools.cache
def labels_in_every_language(choices) -> dict[str, object]:
    """``{label in any of the portal's languages: choice}`` of these choices (a ``TextChoices`` class):
    what a stored label may hold, whichever language it was written in. Worked out once per process."""
    from django.conf import settings
    from django.utils import translation

    found: dict[str, object] = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for choice in choices:
                found.setdefault(str(choice.label), choice)
    return found

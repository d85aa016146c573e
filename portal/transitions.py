"""State machines: one transition table per status field, one helper that applies a move.

An app declares, next to its model, which moves its status field allows::

    MEMBERSHIP_STATUS = Transitions(
        Membership.Status,
        {Membership.Status.ACTIVE: {Membership.Status.DEACTIVATED}, ...},
    )

and a service moves a row with ``transition_apply`` (row locked, move checked against the table, saved
with ``update_fields``, audit row with before/after), or, for single-use things consumed by a conditional
``UPDATE ... WHERE status = ...``, with ``transition_claim``. The database refuses unknown values through
``status_constraint``, built from ``Status.values`` so no status list is ever copied by hand.

``tests/platform/test_transitions.py`` fails when a status field is assigned anywhere but an app's
services, so these two helpers (and the services that call them) are the only writers of a status.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.db.models import TextChoices

from portal.audit.services import audit_record
from portal.errors import InvalidTransition


class Transitions:
    """The allowed moves of one status field: ``allowed[current]`` is the set of statuses it may become."""

    def __init__(
        self, choices: type[TextChoices], allowed: Mapping[str, Iterable[str]], *, field: str = "status"
    ):
        self.choices = choices
        self.field = field
        table = {str(current): frozenset(str(new) for new in news) for current, news in allowed.items()}
        unknown = (set(table) | set().union(*table.values())) - set(choices.values)
        if unknown:
            raise ValueError(f"Transition table names statuses that {choices.__name__} lacks: {unknown}")
        self._allowed = {value: table.get(value, frozenset()) for value in choices.values}

    def allows(self, current: str, new: str) -> bool:
        return new in self._allowed.get(str(current), frozenset())

    def sources_of(self, new: str) -> frozenset[str]:
        """The statuses from which ``new`` can be reached."""
        return frozenset(current for current, news in self._allowed.items() if str(new) in news)

    def label(self, value: str) -> str:
        return str(dict(self.choices.choices).get(value, value))

    def check(self, current: str, new: str) -> None:
        """Raise InvalidTransition (with translated labels) unless the table allows current → new."""
        if not self.allows(current, new):
            raise InvalidTransition(self.label(current), self.label(new))


def status_constraint(model_label: str, choices: type[TextChoices], field_name: str = "status"):
    """The check constraint that keeps a status column within ``choices`` (built from its values)."""
    return models.CheckConstraint(
        condition=models.Q(**{f"{field_name}__in": list(choices.values)}),
        name=f"{model_label}_{field_name}_valid",
    )


def transition_apply(
    instance: models.Model,
    new: str,
    *,
    transitions: Transitions,
    action: str,
    actor=None,
    organization_id: int | None = None,
    changes: Mapping[str, Any] | None = None,
    audit_before: Mapping[str, Any] | None = None,
    audit_after: Mapping[str, Any] | None = None,
) -> models.Model:
    """Lock the row, refuse a move the table does not allow, save the new status (and ``changes``) with
    ``update_fields`` and write the audit row. Call inside the service's transaction; returns the locked,
    updated row."""
    model = type(instance)
    locked = model.objects.select_for_update().get(pk=instance.pk)
    current = getattr(locked, transitions.field)
    transitions.check(current, new)
    setattr(locked, transitions.field, new)
    for name, value in (changes or {}).items():
        setattr(locked, name, value)
    locked.save(update_fields=[transitions.field, *(changes or {})])
    audit_record(
        action=action,
        actor=actor,
        organization_id=organization_id,
        target=locked,
        before={transitions.field: current, **(audit_before or {})},
        after={transitions.field: new, **(audit_after or {})},
    )
    return locked


def transition_claim(
    model: type[models.Model],
    pk: int,
    current: str,
    new: str,
    *,
    transitions: Transitions,
    conditions: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> bool:
    """Move one row from ``current`` to ``new`` with a conditional UPDATE (``WHERE status = current`` and
    ``conditions``): True only for the one caller whose update changed the row. No audit row: the caller
    writes it once it knows it won, with what it knows of the move."""
    transitions.check(current, new)
    claimed = model.objects.filter(pk=pk, **{transitions.field: current}, **(conditions or {})).update(
        **{transitions.field: new}, **(changes or {})
    )
    return claimed == 1

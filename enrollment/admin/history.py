"""An application's history on the review site: each audit row's before and after, as a reviewer reads
them (Yes or No, a code by its label, a dash for nothing) rather than as they are stored."""

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenantSource
from enrollment.models import CheckStatus, EnrollmentApplication, InformationItem, RejectionReason

#: a value that is not there: never recorded, or empty
EMPTY = "—"

#: the audit rows' names for coded values that are not the application's field of that name
_AUDIT_CHOICES = {
    "reason": RejectionReason.choices,
    "items": InformationItem.choices,
    "source": DirectoryTenantSource.choices,
}


def audit_changes(event) -> list[tuple[str, str, str]]:
    """An audit event's before/after as (name, before, after) rows, in the order they were written; a
    mapping (the checks' results) gives a row per key."""
    before, after = _flat(event.before or {}), _flat(event.after or {})
    names = list(dict.fromkeys([*before, *after]))
    return [(name, value_text(name, before.get(name)), value_text(name, after.get(name))) for name in names]


def _flat(values: dict) -> dict:
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{key}": inner for key, inner in value.items()})
        else:
            flat[name] = value
    return flat


def value_text(name: str, value) -> str:
    """One value of an audit row named ``name``, as the review site shows it."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, dict):  # a check's result: its status and its reason code
        texts = [value_text(f"{name}.{key}", inner) for key, inner in value.items()]
        return ", ".join(text for text in texts if text != EMPTY) or EMPTY
    if isinstance(value, list | tuple):
        return ", ".join(value_text(name, item) for item in value)
    return str(_labels(name).get(value, value))


def _labels(name: str) -> dict:
    """The labels of the codes a value named ``name`` holds (none: it is shown as it is)."""
    if name.startswith("checks.") and name.endswith(".status"):  # checks.<kind>.status
        return dict(CheckStatus.choices)
    if name == "fields":  # the fields a step changed, by their names
        return {field.name: field.verbose_name for field in EnrollmentApplication._meta.fields}
    if name in _AUDIT_CHOICES:
        return dict(_AUDIT_CHOICES[name])
    try:
        field = EnrollmentApplication._meta.get_field(name)
    except FieldDoesNotExist:
        return {}
    return dict(field.flatchoices) if field.concrete else {}

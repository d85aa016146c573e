"""Domain errors: raised by services, shown by views next to the field they concern."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A rule of the domain said no. ``message`` is translated; ``field`` names the form field, if any."""

    def __init__(self, message, *, code: str, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field


class InvalidTransition(DomainError):
    def __init__(self, current: str, requested: str):
        super().__init__(
            _("This action is no longer possible: the item is %(status)s.") % {"status": current},
            code="invalid_transition",
        )
        self.current = current
        self.requested = requested


def form_add_domain_error(form, error: DomainError) -> None:
    field = error.field if error.field in getattr(form, "fields", {}) else None
    form.add_error(field, error.message)

"""The program's name: the operator's own (PROGRAM_NAME), or the default name in the page's language."""

from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext


def program_name() -> str:
    return settings.PROGRAM_NAME or gettext("Cloud Solution Provider program")


# Evaluated each time it is turned into text, so it follows the language active at that moment.
program_name_lazy = lazy(program_name, str)()

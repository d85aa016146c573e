"""Validators shared by every app."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Bidirectional overrides and isolates make a name read differently from what it is.
_BIDI_CONTROLS = {chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


@deconstructible
class NoControlCharacters:
    """A name is one line of visible text: no line breaks, tabs, NULs or direction overrides, which
    would inject lines into emails and logs or disguise the name."""

    message = _("Use one line of ordinary text: line breaks and control characters are not allowed.")
    code = "control_characters"

    def __call__(self, value: str) -> None:
        for character in str(value):
            category = unicodedata.category(character)
            if category in ("Cc", "Zl", "Zp") or character in _BIDI_CONTROLS:
                raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, NoControlCharacters)


no_control_characters = NoControlCharacters()


# Spaces people type: the ordinary space and the ideographic (full-width) space of Japanese text.
_ORDINARY_SPACES = {" ", "\u3000"}


@deconstructible
class VisibleText(NoControlCharacters):
    """An exact legal name: one line of visible characters. On top of the control characters, refuses
    invisible format characters (zero-width spaces and joiners, direction marks, the byte-order mark),
    private-use and unassigned code points, and unusual spaces, which make two names look alike."""

    message = _(
        "Use one line of visible text: invisible characters, direction marks and unusual spaces are not "
        "allowed."
    )
    code = "invisible_characters"

    def __call__(self, value: str) -> None:
        for character in str(value):
            category = unicodedata.category(character)
            if category in ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp") or character in _BIDI_CONTROLS:
                raise ValidationError(self.message, code=self.code)
            if category == "Zs" and character not in _ORDINARY_SPACES:
                raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, VisibleText)


visible_text = VisibleText()

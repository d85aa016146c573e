"""Template fragments rendered once per process for each set of values: ``{% memo %}`` (the tag lives in
``portal/templatetags/memo.py``).

The page shell (top bar, organization switcher, side navigation), the dashboard's cards and a long
list's rows print the same HTML for the same values again and again; Django's template engine took most
of those pages' time to print it (20-40 microseconds a variable, 50 rows of ten). A memo keeps the HTML
a fragment printed, keyed by

- the fragment (a number given to each ``{% memo %}`` tag when its template is compiled),
- every value the tag names, *frozen* (below), and
- what else changes what a template prints: the language, the time zone, the URL prefix and URLconf,
  autoescaping.

What a fragment prints is a function of its key and nothing else: its body is rendered in a context that
holds the named values only (as ``{% include ... only %}`` does), so a fragment cannot read the request,
the user or any other variable that the key would not hold. A CSRF token changes on every response and
never belongs in a memo: the tag refuses a body with ``{% csrf_token %}``.

Freezing. A value is keyed by what it is, never by identity: strings (a ``SafeString`` apart from a
``str``: they print differently), numbers, booleans, ``None``, dates and times (with their offset and
zone name), UUIDs, choices (an enum member by its class and value), lazily translated strings (translated: the
language is in the key), and tuples, lists, dictionaries, frozensets, ``SimpleNamespace``s, frozen
dataclasses and named tuples of those (a dictionary or a namespace by what it holds when the fragment is
looked up, which is what the fragment then prints), and ``Derived`` values (by the function that builds
them and what they are built from: see ``Derived``).
Anything else (a model instance would be keyed by its primary key while printing its other fields) is
refused: ``TEMPLATE_MEMO_STRICT`` (the tests) raises, otherwise the fragment is rendered without the memo
and a warning is logged once per fragment.

Memory: at most ``TEMPLATE_MEMO_ENTRIES`` fragments and 16 million characters of HTML per process (a
member typing new filter values cannot make it hold more), the least recently used dropped first.
Nothing is kept across processes, so nothing can go stale after a deploy.
"""

import dataclasses
import enum
import itertools
import logging
import threading
import uuid
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise, SimpleLazyObject, empty
from django.utils.safestring import SafeString

logger = logging.getLogger(__name__)

_ids = itertools.count(1)


def fragment_id() -> int:
    """A number for one ``{% memo %}`` tag of a compiled template (never reused within a process, unlike
    ``id()`` of a node whose template was compiled again)."""
    return next(_ids)


class Unfreezable(TypeError):
    """A value a memo cannot key by what it is."""


#: Types whose equal values print alike (a float and a Decimal do not: -0.0 == 0.0, 1.0 == 1.00).
_PLAIN = frozenset({str, SafeString, int, bool, type(None), date, timedelta, uuid.UUID})


def freeze(value):
    """A hashable key that equals another value's exactly when both print the same in any template."""
    kind = type(value)
    if kind in _PLAIN:
        return (kind, value)
    freezer = _freezers.get(kind)
    if freezer is None:
        freezer = _freezers.setdefault(kind, _freezer_for(kind))
    return freezer(value)


def _items(values) -> tuple:
    """The frozen items of a sequence: a plain item inline, without a call (most of a row's items are)."""
    return tuple([(kind, item) if (kind := type(item)) in _PLAIN else freeze(item) for item in values])


# How each type of value freezes, worked out once per type: a page's rows are a few types many times.
_freezers: dict = {}


def _freezer_for(kind: type):
    if kind is float:
        return lambda value: (kind, repr(value))  # -0.0 and nan as they print
    if kind is Decimal:
        return lambda value: (kind, value.as_tuple())  # its digits and exponent: 1.0 is not 1.00
    if kind is datetime or kind is time:
        # the instant with its offset and zone name: the same instant prints otherwise in another zone
        return lambda value: (kind, value, value.utcoffset(), value.tzname())
    if issubclass(kind, enum.Enum):
        return lambda value: (kind, value.value)
    if issubclass(kind, Promise):  # gettext_lazy: the key holds the language it is translated into
        return lambda value: (str, str(value))
    if kind is tuple or kind is list or (issubclass(kind, tuple) and hasattr(kind, "_fields")):
        return lambda value: (kind, _items(value))  # a named tuple by its class and items
    if kind is dict:
        return lambda value: (dict, tuple((freeze(name), freeze(item)) for name, item in value.items()))
    if kind is SimpleNamespace:  # by its attributes, like a dictionary
        return lambda value: (kind, tuple((name, freeze(item)) for name, item in vars(value).items()))
    if kind is frozenset:
        return lambda value: (kind, frozenset(freeze(item) for item in value))
    if dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen:
        names = tuple(field.name for field in dataclasses.fields(kind))
        return lambda value: (kind, _items([getattr(value, name) for name in names]))
    if issubclass(kind, SimpleLazyObject):
        return _unwrapped
    if kind is Derived:  # by what it is built from and how, never by what it built
        return lambda value: (kind, value.build, _items(value.sources))
    return _refused


def _unwrapped(value):
    if value._wrapped is empty:
        value._setup()
    return freeze(value._wrapped)


def _refused(value):
    kind = type(value)
    raise Unfreezable(f"a memo cannot key a {kind.__module__}.{kind.__qualname__}")


_UNBUILT = object()


class Derived:
    """``Derived(build, *sources)``: a value a memo keys by what it is built from, built only when the
    fragment renders (on a miss; on a hit, never). A list's rows, say: the raw rows its queries read are
    cheap to key, while the objects its template reads cost a page as much to build as to key.

    ``build(*sources)`` returns the value. The memo keys it by ``build`` itself and the frozen sources, so
    ``build`` is a module-level function whose result depends on its sources alone (and on what every key
    holds: the language, the time zone, the URL prefix), never on the time or the database: whatever it
    would read there belongs in its sources. A closure is refused (its values would not be keyed).
    Iterating it, its length and its truth are those of the value it builds."""

    __slots__ = ("_value", "build", "sources")

    def __init__(self, build, *sources):
        if getattr(build, "__closure__", None) or "<locals>" in getattr(build, "__qualname__", "<locals>"):
            raise TypeError(f"Derived needs a module-level function, not {build!r}: its values are not keyed")
        self.build = build
        self.sources = sources
        self._value = _UNBUILT

    @property
    def value(self):
        if self._value is _UNBUILT:
            self._value = self.build(*self.sources)
        return self._value

    def __iter__(self):
        return iter(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)


class Key:
    """A memo key that hashes its (large, nested) tuple once: a tuple computes its hash anew each time,
    and a lookup, the move to the end of the LRU order and a store each asked for it."""

    __slots__ = ("_hash", "value")

    def __init__(self, value):
        self.value = value
        self._hash = hash(value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, Key) and self._hash == other._hash and self.value == other.value


class FragmentMemo:
    """The HTML of fragments by key, at most ``entries`` of them and ``characters`` of HTML in all, the
    least recently used dropped first; safe across threads."""

    def __init__(self, entries: int, characters: int = 16_000_000):
        self.entries = entries
        self.characters = characters
        self._html: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key) -> SafeString | None:
        if not isinstance(key, Key):
            key = Key(key)
        with self._lock:
            html = self._html.get(key)
            if html is None:
                self.misses += 1
            else:
                self.hits += 1
                self._html.move_to_end(key)
            return html

    def put(self, key, html: SafeString) -> None:
        if self.entries <= 0 or len(html) > self.characters:
            return
        if not isinstance(key, Key):
            key = Key(key)
        with self._lock:
            previous = self._html.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._html[key] = html
            self._size += len(html)
            while len(self._html) > self.entries or self._size > self.characters:
                _key, dropped = self._html.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._html.clear()
            self._size = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._html)


memo = FragmentMemo(getattr(settings, "TEMPLATE_MEMO_ENTRIES", 4000))

_warned: set[int] = set()


def unfreezable(fragment: int, where: str, error: Unfreezable) -> None:
    """A fragment whose values cannot be keyed: an error under ``TEMPLATE_MEMO_STRICT``, else a warning
    (once per fragment) and the fragment rendered as if it had no memo."""
    if getattr(settings, "TEMPLATE_MEMO_STRICT", False):
        raise error
    if fragment not in _warned:
        _warned.add(fragment)
        logger.warning("template memo at %s not used: %s", where, error)


@receiver(setting_changed)
def _settings_changed(*, setting, **kwargs):
    # any setting may change what a fragment prints (languages, formats, time zone, static files...)
    if setting == "TEMPLATE_MEMO_ENTRIES":
        memo.entries = getattr(settings, "TEMPLATE_MEMO_ENTRIES", 4000)
    memo.clear()

"""Times read from PostgreSQL by psycopg's compiled loader instead of Django's pure-Python one.

Django reads every ``timestamptz`` value through its own loader (``psycopg_any.BaseTzLoader``): psycopg's
Python ``TimestamptzLoader`` parses the text, then the result's time zone is replaced with the
connection's (UTC with ``USE_TZ``). psycopg's compiled loader (psycopg[binary]) parses the same text into
the same aware datetime, in the connection's time zone, about ten times faster: a Customers page reads
about 140 times (its rows, their delegated access and subscriptions), a quarter of a millisecond of
Python per request.

``UtcTimestamptzLoader`` hands each value to the compiled loader. It is registered on a new connection
only when what it returns is exactly what Django's would: the connection's time zone is UTC, Django's
time zone for it is UTC too (``USE_TZ``, no ``TIME_ZONE`` of the database's own), and the compiled
module is there. It says so to Django (``timezone``), which otherwise registers its own loader again on
every cursor whose connection disagrees with it. Anywhere else Django's loader stays.
"""

import datetime

from django.db.backends.signals import connection_created
from django.dispatch import receiver


def _compiled_loader():
    """psycopg's compiled ``TimestamptzLoader``, or None (pure-Python psycopg, or not psycopg 3)."""
    try:
        from psycopg import _cmodule
    except ImportError:  # pragma: no cover - psycopg 3 is a dependency
        return None
    module = getattr(_cmodule, "_psycopg", None)
    return getattr(module, "TimestamptzLoader", None)


_COMPILED = _compiled_loader()

if _COMPILED is not None:
    from psycopg.adapt import Loader

    class UtcTimestamptzLoader(Loader):
        """A ``timestamptz`` in UTC, parsed by psycopg's compiled loader (see the module's docstring)."""

        #: what Django compares with the connection's time zone before it registers a loader of its own
        timezone = datetime.UTC

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._compiled = _COMPILED(oid, context)
            # the compiled loader's own method in place of the one below: psycopg calls it for each
            # value, with no Python frame between
            self.load = self._compiled.load

        def load(self, data):
            return self._compiled.load(data)

else:  # pragma: no cover - psycopg[binary] is a dependency
    UtcTimestamptzLoader = None


def use_compiled_loader(connection) -> bool:
    """Register ``UtcTimestamptzLoader`` on this Django connection if it returns what Django's would."""
    if (
        UtcTimestamptzLoader is None
        or connection.vendor != "postgresql"
        or connection.timezone is not datetime.UTC
    ):
        return False
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return False
    raw.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
    return True


@receiver(connection_created)
def _connection_created(sender, connection, **kwargs):
    use_compiled_loader(connection)

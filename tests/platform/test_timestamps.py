"""portal.timestamps: PostgreSQL's times are read by psycopg's compiled loader, and read exactly as
Django's own loader reads them."""

import datetime

import psycopg
import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.postgres import types
from psycopg.pq import Format

from accounts.models import User
from portal import timestamps
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db

TIMESTAMPTZ = types["timestamptz"].oid

VALUES = [
    "2026-11-25 05:12:33.123456+00",
    "2026-11-25 14:12:33+09",  # another offset: PostgreSQL sends it in the connection's UTC
    "2026-03-08 01:30:00-05",
    "2024-02-29 23:59:59.999999+00",
    "1970-01-01 00:00:00+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "1899-12-31 23:59:59+09:18:59",  # a historical offset with seconds
]


def _read(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _djangos(text: str) -> datetime.datetime:
    """What Django's own loader makes of PostgreSQL's text for a time on this connection."""
    context = psycopg.adapt.AdaptersMap(connection.connection.adapters)
    register_tzloader(connection.timezone, context)
    loader_class = context.get_loader(TIMESTAMPTZ, Format.TEXT)
    return loader_class(TIMESTAMPTZ, connection.connection).load(text.encode())


def test_the_connection_reads_times_with_the_compiled_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    assert loader is timestamps.UtcTimestamptzLoader
    with connection.cursor() as cursor:  # Django keeps it: it agrees with Django's time zone
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ, Format.TEXT) is timestamps.UtcTimestamptzLoader


@pytest.mark.parametrize("value", VALUES)
def test_a_time_is_read_exactly_as_djangos_loader_reads_it(value):
    [read] = _read("SELECT %s::timestamptz", [value])
    [text] = _read("SELECT %s::timestamptz::text", [value])

    expected = _djangos(text)
    assert read == expected
    assert read.tzinfo is expected.tzinfo is datetime.UTC
    assert (read.year, read.microsecond, read.utcoffset()) == (
        expected.year,
        expected.microsecond,
        expected.utcoffset(),
    )


def test_a_time_python_cannot_hold_fails_as_it_does_with_djangos_loader():
    with pytest.raises(DataError) as compiled:  # psycopg's DataError, as Django's cursor wraps it
        _read("SELECT 'infinity'::timestamptz")
    with pytest.raises(psycopg.DataError) as djangos:
        _djangos("infinity")
    assert isinstance(compiled.value.__cause__, psycopg.DataError)
    assert str(compiled.value) == str(djangos.value)


def test_a_model_reads_back_the_time_it_wrote():
    moment = datetime.datetime(2026, 11, 25, 5, 12, 33, 123456, tzinfo=datetime.UTC)
    user = UserFactory(date_joined=moment)
    again = User.objects.get(pk=user.pk)
    assert again.date_joined == moment and again.date_joined.tzinfo is datetime.UTC
    assert User.objects.filter(date_joined=again.date_joined).count() == 1


def test_a_connection_in_another_time_zone_keeps_djangos_loader():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Asia/Tokyo'")
    assert timestamps.use_compiled_loader(connection) is False
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'UTC'")
    assert timestamps.use_compiled_loader(connection) is True

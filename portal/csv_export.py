"""CSV exports, streamed: the one way a page hands a list to a spreadsheet.

``csv_response(filename, header, rows)`` sends the byte order mark and the header at once, then the rows
``EXPORT_LINES_PER_CHUNK`` lines at a time as ``rows`` yields them. ``rows`` is any iterable of value
sequences: a generator over ``queryset.values_list(...).iterator(chunk_size=EXPORT_FETCH_ROWS)`` walks a
server-side cursor (PostgreSQL), so an export is never in memory at once, never counted, never sorted
again. A QuerySet given as such is walked that way. Every cell goes through ``csv_safe``.

The rows are read inside one transaction: outside of one, Django declares the cursor ``WITH HOLD``, which
PostgreSQL materialises whole at the implicit commit, before the first row comes back (1.5 s for a
million audit events, bench/scale.py); and a held cursor does not survive PgBouncer's transaction mode.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

#: Rows per fetch from the export's server-side cursor, and CSV lines per chunk sent to the client.
EXPORT_FETCH_ROWS = 2000
EXPORT_LINES_PER_CHUNK = 500
#: Spreadsheet programs read a CSV file as UTF-8 (and Japanese as Japanese) only after this mark.
BYTE_ORDER_MARK = "\ufeff"


class _Echo:
    """A file for csv.writer that hands each line back instead of storing it."""

    def write(self, value):
        return value


def csv_safe(value) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: neutralise them."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    if "\r" in text or "\n" in text:  # called for every cell of an export: skip the copies when it can
        text = text.replace("\r", " ").replace("\n", " ")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]):
    """The file's text, in chunks: the mark and the header first (before ``rows`` runs any query)."""
    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK + writer.writerow(header)
    if isinstance(rows, QuerySet):
        rows = rows.iterator(chunk_size=EXPORT_FETCH_ROWS)
    lines = []
    with transaction.atomic():  # a cursor WITHOUT HOLD: the first rows come as soon as they are found
        for values in rows:
            lines.append(writer.writerow([csv_safe(value) for value in values]))
            if len(lines) == EXPORT_LINES_PER_CHUNK:
                yield "".join(lines)
                lines = []
    if lines:
        yield "".join(lines)


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    """A streamed CSV download named ``filename``."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

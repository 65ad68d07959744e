"""A CSV file download, streamed: rows are written as they are read, so an export of years of
payments never sits whole in memory."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask import Response, stream_with_context

_CHUNK = 16_384


def csv_download(rows: Iterable[list[str]], filename: str) -> Response:
    """``rows`` may be a generator that reads the database: give it plain values, because it runs
    after the request's database session is closed."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        yield "\ufeff"  # spreadsheet programs then read the file as UTF-8 (masked numbers use •)
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > _CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})

"""CSV downloads: every export goes through `csv_response`, which makes each cell safe to open.

A spreadsheet reads a cell that starts with `=`, `+`, `-` or `@` (or a TAB or CR before one of
them) as a formula, so a plan named `=HYPERLINK(...)` would become a live link in a manager's
spreadsheet. Such a text cell is written with a leading single quote, which spreadsheets show as
text (OWASP's advice on CSV injection). Only text is changed: numbers (int, Decimal, float) are
written as they are, so a refund's -30 stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """The value to write in a cell: text that a spreadsheet would run as a formula gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(rows: Iterable[Iterable[Any]], filename: str) -> Response:
    """A CSV download of `rows` (header first), every cell through `spreadsheet_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([spreadsheet_cell(value) for value in row])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
    )

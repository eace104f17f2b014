"""A table the page shows, as an XLSX workbook (issue 14: an XLSX button beside every CSV one).

The page sends the table it drew (caption, column names, cell values as numbers or text);
this writes them to one sheet with openpyxl, numbers as numbers. Nothing is looked up: the
caller gets back exactly the figures it already had.
"""

from __future__ import annotations

import io
import math
from typing import Any

from geo.errors import InvalidRequest

MAX_ROWS = 20_000
MAX_COLUMNS = 100
#: Characters a spreadsheet would read as the start of a formula (CSV/XLSX injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any, row: int, col: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRequest(f"row {row}, column {col}: {value!r} is not a finite number")
        return value
    text = str(value)
    if len(text) > 1000:
        raise InvalidRequest(f"row {row}, column {col}: text of {len(text)} characters, at most 1000")
    # a string that looks like a formula is written as text, with a leading apostrophe's effect
    if text.startswith(_FORMULA):
        return "'" + text
    return text


def table_xlsx(title: str, columns: list[str], rows: list[list[Any]]) -> bytes:
    """One sheet: the title in A1, the column names in row 3, the rows below."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    if not columns or len(columns) > MAX_COLUMNS:
        raise InvalidRequest(f"`columns` held {len(columns)} names but 1 to {MAX_COLUMNS} are expected")
    if len(rows) > MAX_ROWS:
        raise InvalidRequest(f"`rows` held {len(rows)} rows but at most {MAX_ROWS} are allowed")
    for i, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise InvalidRequest(f"row {i} has {len(row)} cells but {len(columns)} columns are named")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "table"
    sheet.append([_cell(title, 0, 1)])
    sheet["A1"].font = Font(bold=True)
    sheet.append([])
    sheet.append([_cell(c, 0, j) for j, c in enumerate(columns, start=1)])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for i, row in enumerate(rows, start=1):
        sheet.append([_cell(v, i, j) for j, v in enumerate(row, start=1)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

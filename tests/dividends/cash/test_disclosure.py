"""The disclosure sheet (公示): renders to PDF and XLSX with no unmasked personal data."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dividends.cash.disclosure import disclosure, write_disclosure_pdf, write_disclosure_xlsx
from dividends.cash.ledger import record_receipt
from dividends.cash.plans import (
    PlanLine,
    approve_plan_payout,
    create_plan_payout,
    draft_plan,
    file_plan,
    review_plan,
)
from dividends.runs import approve_run, compute_run
from tests.dividends.cash.helpers import village_station
from tests.dividends.conftest import World

_POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")


@pytest.mark.skipif(not _POPPLER, reason="pdftoppm/pdftotext (Debian poppler-utils) not installed")
def test_disclosure_renders_and_shows_no_personal_data(world: World, tmp_path: Path) -> None:
    conn = world.conn
    v = world.villages[0]
    station, households = village_station(world, "VS1", v, slots=12)
    world.feed("2025", {station: 150_000})
    run = compute_run(conn, period="2025", created_by="clerk")
    approve_run(conn, run, approved_by="chief")
    record_receipt(
        conn, county="LY", reference="SUB-1", received_on=date(2025, 12, 1), covers="2025",
        amount_fen=5_000_000, coverage="partial", recorded_by="clerk",
    )  # fmt: skip
    plan = draft_plan(
        conn, village="V1", year=2025, drafted_by="村委",
        lines=[PlanLine("welfare_job_wages", "张1三", 240_000, household_id=households[0]),
               PlanLine("public_works", "李四光", 500_000)],
    )  # fmt: skip
    review_plan(conn, plan, by="镇")
    file_plan(conn, plan, by="县")
    approve_plan_payout(
        conn, create_plan_payout(conn, plan, created_by="clerk"), approved_by="chief"
    )

    sheet = disclosure(conn, village="V1", period="2025")
    assert sheet.stations[0][1] == 150_000_000 and sheet.stations[0][5] == 5_000_000
    pdf = write_disclosure_pdf(sheet, tmp_path / "gongshi.pdf")
    xlsx = write_disclosure_xlsx(sheet, tmp_path / "gongshi.xlsx")

    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    from PIL import Image

    with Image.open(png) as img:
        lo, hi = img.convert("L").getextrema()
    assert hi - lo > 100, "first page is blank"
    shutil.copy(png, Path("/tmp/pvmon-disclosure-page1.png"))
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    wb = load_workbook(xlsx)
    cells = " ".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row)
    people = conn.execute(
        "SELECT name, id_number, bank_account FROM households WHERE village_id = %s", (v,)
    ).fetchall()
    assert len(people) == 12
    for body in (text, cells):
        assert "张*三" in body or "张**三" in body
        for name, id_number, account in people:
            assert name not in body and id_number not in body and account not in body
            assert id_number[-6:] not in body and account[-6:] not in body
        assert "李四光" not in body and "李*光" in body

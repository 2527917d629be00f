"""The disclosure sheet (公示): renders to PDF and XLSX with no unmasked personal data."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from dividends.cash.disclosure import (
    DisclosurePayee,
    DisclosureStation,
    disclosure,
    write_disclosure_pdf,
    write_disclosure_xlsx,
)
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
from dividends.schemes import add_deduction, enrol
from pvmon.cli import app
from pvmon.errors import NotFoundError
from tests.dividends.cash.helpers import village_station
from tests.dividends.conftest import World, finance_keys

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
    assert sheet.stations[0].energy_wh == 150_000_000 and sheet.stations[0].kind == "村级"
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


def _joint_county(world: World) -> tuple[int, int, int]:
    """A joint station J1 of villages 2 (weight 1) and 3 (weight 3), one household each;
    2025 approved; a 2025-Q4 draft beside it. Returns (station, household 2, household 3)."""
    conn = world.conn
    _, v2, v3, _ = world.villages
    station = world.station("J1", "joint", v2, shares={v2: "1", v3: "3"})
    h2 = world.household(v2, served_by=station)
    h3 = world.household(v3, served_by=station)
    for slot_no, (v, hh) in enumerate(((v2, h2), (v3, h3)), start=1):
        slot = world.slot(station, slot_no=slot_no, village=v)
        enrol(conn, slot_id=slot, scheme="village_slot", household_id=hh,
              starts_on=date(2017, 1, 1))  # fmt: skip
    world.feed("2025", {station: 10_000})  # 400,000 fen benchmark + 600,000 fen subsidy
    add_deduction(conn, county_id=world.county, seq=1, kind="other", yearly_fen=365)
    approve_run(conn, compute_run(conn, period="2025", created_by="clerk"), approved_by="chief")
    world.feed("2025-Q4", {station: 9_000})
    compute_run(conn, period="2025-Q4", created_by="clerk")  # a draft: never disclosed
    return station, h2, h3


def test_disclosure_of_a_joint_village_golden(world: World) -> None:
    _joint_county(world)
    sheet = disclosure(world.conn, village="V2", period="2025", posted_on=date(2026, 1, 5))
    # by hand: a quarter of the station; the 365 fen deduction split so the columns
    # reconcile (100,000 + 150,000 - 91 = 249,909 available; 100,000 paid; 149,909 left)
    assert sheet.stations == [
        DisclosureStation(
            code="J1", kind="联村", energy_wh=2_500_000, estimated_wh=0, basis="应收",
            benchmark_fen=100_000, subsidy_fen=150_000, deductions_fen=91,
            dividends_fen=100_000, residual_fen=149_909,
        )
    ]  # fmt: skip
    name = world.conn.execute(
        "SELECT name FROM households WHERE village_id = %s", (world.villages[1],)
    ).fetchone()[0]
    assert sheet.payees == [
        DisclosurePayee(name[0] + "*" * (len(name) - 2) + name[-1], "分红", 90_000),
        DisclosurePayee("2村集体", "村集体收益", 10_000),
    ]
    assert sheet.payee_total_fen == sheet.station_total("dividends_fen") == 100_000
    assert sheet.issuer == "2村村民委员会" and sheet.until == date(2026, 1, 12)
    v3 = disclosure(world.conn, village="V3", period="2025")
    assert [(s.benchmark_fen, s.subsidy_fen, s.deductions_fen, s.residual_fen)
            for s in v3.stations] == [(300_000, 450_000, 274, 649_726)]  # fmt: skip
    with pytest.raises(NotFoundError, match="no approved dividend run of exactly 2025-Q4"):
        disclosure(world.conn, village="V2", period="2025-Q4")
    with pytest.raises(NotFoundError, match="no approved dividend run of exactly 2025-H2"):
        disclosure(world.conn, village="V2", period="2025-H2")


@pytest.mark.skipif(not _POPPLER, reason="pdftoppm/pdftotext (Debian poppler-utils) not installed")
def test_disclosure_cli_pdf_embeds_its_font_and_reads_back(
    world: World, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _joint_county(world)
    monkeypatch.setenv("PVMON_DATABASE_URL", db_url)
    monkeypatch.setenv("PVMON_DATA_DIR", str(tmp_path / "data"))
    key = finance_keys(world.conn, "clerk2")["clerk2"]
    res = CliRunner(env={"PVMON_API_KEY": key}).invoke(
        app,
        ["dividends", "disclose", "--village", "V2", "--period", "2025", "--out",
         str(tmp_path), "--posted-on", "2026-01-05", "--issuer", "城关镇2村村民委员会"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    from pvmon.api.auth import create_key

    world.conn.execute("INSERT INTO counties (code, name) VALUES ('QQ', '别县')")
    other = create_key(world.conn, name="qq-clerk", role="finance", county="QQ")[1]
    refused = CliRunner(env={"PVMON_API_KEY": other}).invoke(
        app, ["dividends", "disclose", "--village", "V2", "--period", "2025"]
    )
    assert refused.exit_code == 1 and "outside county 'QQ'" in refused.output, refused.output
    pdf = tmp_path / "gongshi-V2-2025.pdf"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    for expected in ("城关镇2村 光伏帮扶电站收益公示 (2025)", "公示单位：城关镇2村村民委员会",
                     "公示期：2026-01-05 至 2026-01-12", "电站发电与收益", "联村", "合计",
                     "1000.00", "1499.09", "2村集体", "900.00"):  # fmt: skip
        assert expected in text, (expected, text)
    wb = load_workbook(tmp_path / "gongshi-V2-2025.xlsx")
    rows = list(wb["电站收益"].iter_rows(values_only=True))
    assert rows[4][0] == "电站" and rows[-1][0] == "合计" and rows[-1][7] == 1000
    assert not any(c.data_type == "f" for ws in wb for row in ws.iter_rows() for c in row)

"""Exports (CSV, XLSX, bank file; masking by role), schedules and the CLI."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from dividends.bank import export_bank_file, load_layout
from dividends.errors import RunStateError
from dividends.exports import LINE_HEADINGS, export_csv, export_xlsx
from dividends.queries import payee_schedule, station_schedule
from dividends.runs import approve_run, compute_run, run_summary
from dividends.schedule import build_schedule
from dividends.schemes import add_deduction, enrol
from pvmon.cli import app
from pvmon.errors import ForbiddenError, ValidationError
from tests.dividends.conftest import World, finance_keys


def _setup(world: World) -> tuple[int, list[int]]:
    conn = world.conn
    v1, v2 = world.villages[:2]
    station = world.station("V1", "village", v1)
    hhs = []
    for i, v in enumerate((v1, v1, v2)):
        hh = world.household(v, served_by=station)
        enrol(
            conn,
            slot_id=world.slot(station, slot_no=i + 1),
            scheme="village_slot",
            household_id=hh,
            starts_on=date(2017, 1, 1),
        )
        hhs.append(hh)
    owner = world.household(v2)
    hs = world.station("H1", "household", v2, owner=owner, capacity="4.32")
    enrol(
        conn,
        slot_id=world.slot(hs),
        scheme="household_own",
        household_id=owner,
        starts_on=date(2017, 1, 1),
    )
    world.feed("2025", {station: 200_000, hs: 5_000})
    return station, [*hhs, owner]


@pytest.mark.parametrize("reveal", [False, True])
def test_csv_and_xlsx_carry_the_basis_and_mask_by_role(
    world: World, tmp_path: Path, reveal: bool
) -> None:
    _setup(world)
    run = compute_run(world.conn, period="2025", created_by="clerk")
    res = export_csv(world.conn, run, tmp_path / "r.csv", reveal=reveal)
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == LINE_HEADINGS and len(rows) == 1 + res.rows + 1 == 1 + 7 + 1
    assert res.total_fen == 3 * 100_000 + 110_000
    assert rows[-1][0] == "合计" and rows[-1][-1] == "4100.00"
    ids = [r[LINE_HEADINGS.index("身份证号")] for r in rows[1:-1] if r[7] == "household"]
    masked = all("*" in x for x in ids)
    assert masked == (not reveal)
    res = export_xlsx(world.conn, run, tmp_path / "r.xlsx", reveal=reveal)
    wb = load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames[0] == "合计" and set(wb.sheetnames[1:]) == {"1村", "2村"}
    totals_ws = wb["合计"]
    assert totals_ws.freeze_panes == "A3"
    totals = list(totals_ws.iter_rows(values_only=True))
    assert totals[1][0] == "乡镇" and totals[4][0] == "合计" and totals[4][6] == 4100
    assert totals_ws.cell(row=5, column=7).number_format == "#,##0.00"
    village1 = list(wb["1村"].iter_rows(values_only=True))
    assert village1[0] == LINE_HEADINGS and village1[-1][-1] == 2000
    amounts = [r[-1] for r in village1[1:-1]]
    assert sum(amounts) == 2000 and all(isinstance(a, int | float) for a in amounts)


def test_bank_file_layout_and_state(world: World, tmp_path: Path) -> None:
    _setup(world)
    conn = world.conn
    run = compute_run(conn, period="2025", created_by="clerk")
    with pytest.raises(RunStateError, match="a bank file needs an approved"):
        export_bank_file(conn, run, tmp_path / "b.csv", by="cashier", may_see_accounts=True)
    approve_run(conn, run, approved_by="chief")
    with pytest.raises(ForbiddenError, match="sees bank accounts"):
        export_bank_file(conn, run, tmp_path / "b.csv", by="viewer", may_see_accounts=False)
    assert not (tmp_path / "b.csv").exists() and run_summary(conn, run).status == "approved"
    last = conn.execute("SELECT max(id) FROM households").fetchone()[0]
    account = conn.execute(
        "UPDATE households h SET bank_account = NULL FROM households o"
        " WHERE h.id = %s AND o.id = h.id RETURNING o.bank_account, h.file_no",
        (last,),
    ).fetchone()
    with pytest.raises(ValidationError, match=f"household {account[1]}: account is missing"):
        export_bank_file(conn, run, tmp_path / "b.csv", by="cashier", may_see_accounts=True)
    assert not (tmp_path / "b.csv").exists() and run_summary(conn, run).status == "approved"
    conn.execute("UPDATE households SET bank_account = %s WHERE id = %s", (account[0], last))
    res = export_bank_file(conn, run, tmp_path / "b.csv", by="cashier", may_see_accounts=True)
    rows = list(csv.reader((tmp_path / "b.csv").open(encoding="utf-8-sig")))
    assert rows[0] == ["序号", "收款人姓名", "身份证号", "开户银行", "银行账号", "金额(元)", "用途"]
    assert sorted(r[5] for r in rows[1:-1]) == ["1100.00", "900.00", "900.00", "900.00"]
    assert rows[-1][:2] == ["合计", "4"] and rows[-1][5] == "3800.00" and res.rows == 4
    assert all("*" not in r[2] + r[4] for r in rows[1:-1])
    assert run_summary(conn, run).status == "exported"
    # the batch layout in GBK: its summary line first, counted and totalled
    gbk = export_bank_file(
        conn, run, tmp_path / "g.csv", by="cashier", may_see_accounts=True,
        layout=load_layout("cn-batch-gbk"),
    )  # fmt: skip
    lines = list(csv.reader((tmp_path / "g.csv").open(encoding="gbk")))
    assert lines[0][:4] == ["总笔数", "4", "总金额", "3800.00"] and lines[1][1] == "收款账号"
    assert len(lines) == 2 + 4 and gbk.sha256 != res.sha256
    events = conn.execute(
        "SELECT actor, detail FROM dividend_run_events WHERE run_id = %s AND event = 'exported'"
        " ORDER BY id",
        (run,),
    ).fetchall()
    assert [e[0] for e in events] == ["cashier", "cashier"]
    assert res.sha256 in events[0][1] and "cn-batch-gbk" in events[1][1]


def test_schedule_pure_golden() -> None:
    rows = build_schedule(
        first_year=2017,
        capacity_kwp=Decimal("4.32"),
        specific_yield_kwh_per_kwp=Decimal("1300"),
        degradation_per_year=Decimal("0.005"),
        tariff_yuan_per_kwh=Decimal("0.98"),
        obligations_fen_per_year=110_000,
    )
    assert len(rows) == 25 and rows[0].expected_kwh == Decimal("5616.0")
    assert rows[0].expected_revenue_fen == 550_368
    assert sum(r.obligations_fen for r in rows) == 2_200_000
    assert rows[19].obligations_fen == 110_000 and rows[20].obligations_fen == 0
    assert rows[0].coverage == Decimal("5.003") and not any(r.at_risk for r in rows)
    tight = build_schedule(
        first_year=2017,
        capacity_kwp=Decimal("4.32"),
        specific_yield_kwh_per_kwp=Decimal("300"),
        degradation_per_year=Decimal("0.01"),
        tariff_yuan_per_kwh=Decimal("0.98"),
        obligations_fen_per_year=110_000,
    )
    risky = [r.year for r in tight if r.at_risk]
    assert risky and risky == sorted(risky) and risky[-1] == 2036


def test_station_and_payee_schedules_show_actuals(world: World) -> None:
    _, people = _setup(world)
    conn = world.conn
    add_deduction(conn, county_id=world.county, seq=1, kind="om_fee", rate=Decimal("0.029"))
    approve_run(conn, compute_run(conn, period="2025", created_by="clerk"), approved_by="chief")
    sched = station_schedule(conn, "V1", today=date(2026, 1, 1))
    assert sched.first_year == 2017 and len(sched.years) == 25
    assert sched.years[0].obligations_fen == 300_000 and sched.deduction_rate == Decimal("0.029")
    y2025 = next(y for y in sched.years if y.year == 2025)
    assert y2025.actual is not None and y2025.actual.paid_fen == 300_000
    assert y2025.actual.energy_wh == 200_000_000
    owner_file = conn.execute(
        "SELECT file_no FROM households WHERE id = %s", (people[-1],)
    ).fetchone()[0]
    years = payee_schedule(conn, owner_file)
    assert len(years) == 20 and sum(y.expected_fen for y in years) == 2_200_000
    assert [(y.year, y.paid_fen) for y in years if y.paid_fen] == [(2025, 110_000)]


def test_cli_run_show_approve_export_schedule(
    world: World, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(world)
    monkeypatch.setenv("PVMON_DATABASE_URL", db_url)
    monkeypatch.setenv("PVMON_DATA_DIR", str(tmp_path / "data"))
    keys = finance_keys(world.conn, "clerk", "chief")
    clerk, chief = ({"PVMON_API_KEY": keys[n]} for n in ("clerk", "chief"))
    runner = CliRunner(env=clerk)
    res = runner.invoke(app, ["dividends", "run", "--period", "2025", "--scope", "county:LY"])
    assert res.exit_code == 0, res.output
    assert "4100.00" in res.output and "paid [yuan]" in res.output, res.output
    run = world.conn.execute("SELECT max(id) FROM dividend_runs").fetchone()[0]
    res = runner.invoke(app, ["dividends", "show", str(run)])
    assert res.exit_code == 0 and "4100.00" in res.output and "H1" in res.output, res.output
    res = runner.invoke(app, ["dividends", "approve", str(run)])
    assert res.exit_code == 1 and "may not approve it" in res.output
    res = runner.invoke(app, ["dividends", "approve", str(run)], env=chief)
    assert res.exit_code == 0, res.output
    out = tmp_path / "bank.csv"
    res = runner.invoke(
        app, ["dividends", "export", str(run), "--format", "bank", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8-sig")
    assert "*" not in text and "合计,4," in text  # a finance key: the real file
    res = runner.invoke(
        app, ["dividends", "export", str(run), "--format", "bank", "--layout", "nope"]
    )
    assert res.exit_code == 1 and "bank layout 'nope': not one of" in res.output
    res = runner.invoke(app, ["dividends", "export", str(run), "--format", "pdf"])
    assert res.exit_code == 1 and "expected csv, xlsx or bank" in res.output
    res = runner.invoke(app, ["dividends", "run", "--period", "2025-Q5"])
    assert res.exit_code == 1 and "period '2025-Q5'" in res.output
    res = runner.invoke(app, ["dividends", "schedule", "H1"])
    assert res.exit_code == 0 and "2036" in res.output, res.output

"""``pvmon dividends cash ...`` and ``pvmon dividends disclose`` through typer's CliRunner,
against the real test database (the commands open their own connection from
``PVMON_DATABASE_URL``), as a finance clerk would use them for one county.

VS1: a 3-slot village station (``village_slot``, guaranteed: 3 x 1,000 yuan a year) that
settled 5,000 kWh in 2025 (2,000 yuan of benchmark at 0.40) and accrued 5,000 yuan."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pvmon.cli import app
from tests.dividends.cash.helpers import statement, village_station
from tests.dividends.conftest import World, finance_keys


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: World) -> CliRunner:
    monkeypatch.setenv("PVMON_DATABASE_URL", db_url)
    keys = finance_keys(world.conn, "clerk", "chief")
    monkeypatch.setenv("PVMON_API_KEY", keys["clerk"])
    _KEYS.update(keys)
    monkeypatch.setenv("PVMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped
    return CliRunner()


_KEYS: dict[str, str] = {}


def _ok(cli: CliRunner, *args: str, who: str = "clerk") -> str:
    res = cli.invoke(app, ["dividends", *args], env={"PVMON_API_KEY": _KEYS[who]})
    assert res.exit_code == 0, res.output
    return res.output


def _err(cli: CliRunner, *args: str) -> Result:
    res = cli.invoke(app, ["dividends", *args])
    assert res.exit_code == 1, res.output
    assert "error:" in res.output and "Traceback" not in res.output, res.output
    return res


def _count(world: World, table: str) -> int:
    row = world.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row
    return int(row[0])


def test_county_cash_from_the_terminal(world: World, cli: CliRunner, tmp_path: Path) -> None:
    village_station(world, "VS1", world.villages[0], slots=3)
    grid = statement(tmp_path / "grid-2025.csv", {"VS1": {"2025": 5_000}})

    out = _ok(cli, "cash", "import-settlements", str(grid))
    assert "grid-2025.csv: 12 rows, 12 new, 0 changed, 0 unchanged" in out
    out = _ok(cli, "cash", "import-settlements", str(grid))
    assert "12 rows, 0 new, 0 changed, 12 unchanged" in out
    out = _ok(cli, "cash", "reconcile", "--from", "2025-01-01", "--to", "2026-01-01")
    assert "12 of 12 flagged" in out  # nothing metered by the inverters

    # the county pays from cash received
    out = _ok(cli, "cash", "basis", "received", "--county", "LY", who="chief")
    assert "county LY: allocation basis received" in out
    out = _ok(cli, "cash", "basis")
    assert "county" in out and "LY" in out and "received" in out and "chief" in out

    out = _ok(cli, "run", "--period", "2025", "--scope", "county:LY")
    # revenue is the 2,000 yuan of cash (not the 5,000 accrued); guaranteed: all 3,000 yuan
    # paid, the 1,000 beyond the cash is the guarantor's
    figures = {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("│") for line in out.splitlines())
        if len(cells) == 4
    }
    assert figures["revenue [yuan]"] == "2000.00", out
    assert figures["paid [yuan]"] == "3000.00"
    assert figures["guarantor shortfall [yuan]"] == "1000.00"
    run = world.conn.execute("SELECT max(id) FROM dividend_runs").fetchone()
    assert run
    _ok(cli, "approve", str(run[0]), who="chief")

    out = _ok(
        cli, "cash", "receipt", "--county", "LY", "--ref", "SUB-2025-1",
        "--received-on", "2026-04-15", "--covers", "2025", "--amount", "1800.00",
    )  # fmt: skip
    assert "1800.00 yuan over 1 station-periods, repaid 0.00 yuan of advances" in out
    out = _ok(
        cli, "cash", "receipt", "--county", "LY", "--ref", "SUB-2025-1",
        "--received-on", "2026-04-15", "--covers", "2025", "--amount", "1800.00",
    )  # fmt: skip
    assert "SUB-2025-1 already recorded, nothing changed" in out
    assert "outstanding: 0.00 yuan" in _ok(cli, "cash", "advances", "--county", "LY")

    out = _ok(cli, "cash", "position", "--county", "LY", "--period", "2025")
    assert "cash position LY 2025 (yuan)" in out
    # V1: accrued 5,000; received 2,000 settled + 1,800 subsidy; 1,200 subsidy outstanding;
    # no advances; 3,000 paid; nothing owed
    (v1,) = [line for line in out.splitlines() if " V1 " in line]
    cells = [c.strip() for c in v1.split("│")[3:9]]
    assert cells == ["5000.00", "3800.00", "1200.00", "0.00", "3000.00", "0.00"], v1
    assert any(line.lstrip("│ ").startswith("total") for line in out.splitlines())

    folder = tmp_path / "gongshi"
    out = _ok(cli, "disclose", "--village", "V1", "--period", "2025", "--out", str(folder))
    assert "wrote" in out
    assert sorted(p.name for p in folder.iterdir()) == [
        "gongshi-V1-2025.pdf",
        "gongshi-V1-2025.xlsx",
    ]


def test_a_bad_statement_is_refused_by_row_and_field_and_nothing_is_written(
    world: World, cli: CliRunner, tmp_path: Path
) -> None:
    village_station(world, "VS1", world.villages[0], slots=1)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "station,period,energy_kwh,price,amount\n"
        "VS1,2025-01,1000,0.40,400.00\n"
        "VS1,2025-02,abc,0.40,400.00\n"
        "VS1,2025-13,1000,0.40,400.00\n"
        "VS1,2025-04,1000,0.40,999.00\n",
        encoding="utf-8",
    )
    res = _err(cli, "cash", "import-settlements", str(bad))
    for problem in (
        "bad.csv: row 3: energy: 'abc': not a number",
        "bad.csv: row 4: period:",
        "bad.csv: row 5: amount: 999.00 yuan differs from energy × price",
    ):
        assert problem in res.output, res.output
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(
        "station,period,energy_kwh,price,amount\nNOPE,2025-01,1000,0.40,400.00\n",
        encoding="utf-8",
    )
    res = _err(cli, "cash", "import-settlements", str(unknown))
    assert "unknown.csv: row 2: station: unknown station 'NOPE'" in res.output
    res = _err(cli, "cash", "import-settlements", str(tmp_path / "missing.csv"))
    assert "missing.csv: no such file" in res.output
    assert _count(world, "grid_settlements") == _count(world, "revenue_lines") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cash", "basis", "sideways", "--county", "LY"), "'sideways' is not one of"),
        (("cash", "basis", "received"), "give either a county or a scheme"),
        (("cash", "basis", "received", "--scheme", "nope"), "scheme 'nope': not found"),
        (("cash", "basis", "received", "--county", "NOPE"), "county 'NOPE': not found"),
        (("cash", "basis", "--county", "LY"), "give accrued or received"),
        (
            ("cash", "receipt", "--county", "LY", "--ref", "R", "--received-on", "2026-04-15",
             "--covers", "2025", "--amount", "12.345"),
            "--amount '12.345': at most 2 decimals",
        ),
        (
            ("cash", "receipt", "--county", "LY", "--ref", "R", "--received-on", "2026-13-01",
             "--covers", "2025", "--amount", "12.34"),
            "--received-on '2026-13-01': expected a date",
        ),
        (
            ("cash", "receipt", "--county", "LY", "--ref", "R", "--received-on", "2026-04-15",
             "--covers", "2025", "--amount", "12.34"),
            "receipt R: 1234 fen exceeds the 0 fen outstanding for 2025",
        ),
        (("cash", "reconcile", "--from", "2025", "--to", "2026-01-01"), "--from '2025'"),
        (("cash", "position", "--county", "NOPE"), "county 'NOPE': not found"),
        (("cash", "position", "--county", "LY", "--level", "province"), "level 'province'"),
        (("disclose", "--village", "NOPE", "--period", "2025"), "village 'NOPE': not found"),
        (("disclose", "--village", "V1", "--period", "2025-Q5"), "period '2025-Q5'"),
    ],
)  # fmt: skip
def test_errors_exit_non_zero_with_the_reason(
    world: World, cli: CliRunner, args: tuple[str, ...], message: str
) -> None:
    res = _err(cli, *args)
    assert message in res.output, res.output
    assert _count(world, "cash_allocation_basis") == _count(world, "subsidy_receipts") == 0


def test_a_county_key_acts_on_its_own_county_only(world: World, cli: CliRunner) -> None:
    from pvmon.api.auth import create_key

    village_station(world, "VS1", world.villages[0], slots=1)
    world.conn.execute(
        "INSERT INTO counties (code, name, province) VALUES ('XX', '别县', '辽宁省')"
    )
    _KEYS["xx"] = create_key(world.conn, name="xx-clerk", role="finance", county="XX")[1]
    for args in (
        ("cash", "receipt", "--county", "LY", "--ref", "S-1", "--received-on", "2026-04-15",
         "--covers", "2025", "--amount", "1.00"),
        ("cash", "advances", "--county", "LY"),
        ("run", "--period", "2025", "--scope", "county:LY"),
        ("enrolments", "--station", "VS1"),
    ):  # fmt: skip
        res = cli.invoke(app, ["dividends", *args], env={"PVMON_API_KEY": _KEYS["xx"]})
        assert res.exit_code == 1 and "outside county" in res.output, (args, res.output)
    assert _count(world, "subsidy_receipts") == 0 and _count(world, "dividend_runs") == 0

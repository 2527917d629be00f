"""Settlement import (validation, all or nothing, idempotent) and reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from dividends.cash.errors import SettlementImportError
from dividends.cash.settlements import import_settlements, reconciliation
from pvmon.db.readings import Reading, write_readings
from pvmon.db.rollups import refresh_rollups
from tests.dividends.conftest import World


def _csv(path: Path, *rows: str) -> Path:
    path.write_text("station,period,energy_kwh,price,amount\n" + "\n".join(rows) + "\n")
    return path


def test_import_names_file_row_and_field_and_writes_nothing(world: World, tmp_path: Path) -> None:
    world.station("S1", "village", world.villages[0])
    bad = _csv(
        tmp_path / "bad.csv",
        "S1,2025-01,1000,0.40,400.00",
        "S1,2025-13,1000,0.40,400.00",
        "S1,2025-02,-5,0.40,0",
        "S1,2025-03,1000,0.40,900.00",
    )
    with pytest.raises(SettlementImportError) as err:
        import_settlements(world.conn, bad)
    assert err.value.problems[0].startswith("bad.csv: row 3: period:")
    assert any(p.startswith("bad.csv: row 4: energy:") for p in err.value.problems)
    assert any(p.startswith("bad.csv: row 5: amount:") for p in err.value.problems)
    unknown = _csv(
        tmp_path / "unknown.csv", "S1,2025-01,1000,0.40,400.00", "NOPE,2025-01,1,0.4,0.40"
    )
    with pytest.raises(SettlementImportError, match=r"unknown.csv: row 3: station: unknown"):
        import_settlements(world.conn, unknown)
    assert world.conn.execute("SELECT count(*) FROM grid_settlements").fetchone() == (0,)


def test_reimport_changes_nothing_and_xlsx_is_read(world: World, tmp_path: Path) -> None:
    world.station("S1", "village", world.villages[0])
    good = _csv(tmp_path / "g.csv", "S1,2025-01,1000,0.40,400.00", "S1,2025-Q2,3000.5,0.40,1200.20")
    first = import_settlements(world.conn, good)
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = import_settlements(world.conn, good)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["电站编号", "结算期", "上网电量", "电价", "金额"])
    ws.append(["S1", "2025-01", 1001, "0.40", "400.40"])
    wb.save(tmp_path / "g.xlsx")
    changed = import_settlements(world.conn, tmp_path / "g.xlsx")
    assert (changed.inserted, changed.updated) == (0, 1)
    assert world.conn.execute(
        "SELECT energy_wh, amount_fen FROM grid_settlements WHERE period_start = '2025-01-01'"
    ).fetchone() == (1_001_000, 40_040)


@pytest.mark.parametrize(
    ("month", "settled_kwh", "flagged"),
    [
        ("2025-07", "3007", True),  # 3 % below 3,100 kWh metered
        ("2025-08", "3084.5", False),  # 0.5 % below
    ],
)
def test_reconciliation_flags_beyond_tolerance(
    world: World, tmp_path: Path, month: str, settled_kwh: str, flagged: bool
) -> None:
    conn = world.conn
    station = world.station("S1", "village", world.villages[0])
    inv = conn.execute(
        "INSERT INTO inverters (serial, station_id, vendor, model, rated_ac_w, phases, host,"
        " port, unit_id, register_map) VALUES ('I1', %s, 'x', 'y', 50000, 3, 'h', 502, 1,"
        " 'sunspec') RETURNING id",
        (station,),
    ).fetchone()[0]  # type: ignore[index]
    # one reading a day at midnight CST from 1 July: each day's 100 kWh rise is read at
    # the next midnight and counted in the day that produced it
    midnight = datetime(2025, 6, 30, 16, 0, tzinfo=UTC)
    write_readings(
        conn,
        [
            Reading(time=midnight + timedelta(days=d), inverter_id=inv, ac_power_w=0.0,
                    energy_wh=5_000_000 + d * 100_000)
            for d in range(63)
        ],
    )  # fmt: skip
    refresh_rollups(conn)
    amount = (Decimal(settled_kwh) * Decimal("0.40")).quantize(Decimal("0.01"))
    import_settlements(conn, _csv(tmp_path / "s.csv", f"S1,{month},{settled_kwh},0.40,{amount}"))
    (rec,) = reconciliation(
        conn, start=date(2025, 1, 1), end=date(2026, 1, 1), tolerance=Decimal("0.01")
    )
    assert rec.metered_wh == 3_100_000
    assert rec.difference_wh == int(Decimal(settled_kwh) * 1000) - 3_100_000
    assert rec.flagged is flagged

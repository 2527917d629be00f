"""Cash position per village, township and county on the golden 60/40 scenario
(``test_golden_cash``): before the subsidy receipts, after the first and after the second."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dividends.cash.ledger import record_receipt
from dividends.cash.position import FIGURES, CashPosition, cash_position
from dividends.cash.settlements import apply_settled_basis, import_settlements
from dividends.runs import approve_run, compute_run
from dividends.schemes import enrol
from pvmon.errors import NotFoundError, ValidationError
from tests.dividends.cash.helpers import statement, village_station
from tests.dividends.conftest import World, finance_keys

Figures = tuple[int, int, int, int, int, int]
ZERO: Figures = (0, 0, 0, 0, 0, 0)


def _figures(p: CashPosition) -> Figures:
    return (
        p.accrued_fen, p.received_fen, p.outstanding_subsidy_fen,
        p.advances_outstanding_fen, p.paid_fen, p.owed_fen,
    )  # fmt: skip


def _by_code(rows: list[CashPosition]) -> dict[str, Figures]:
    return {p.code: _figures(p) for p in rows}


def _sum(rows: list[CashPosition]) -> Figures:
    return tuple(sum(col) for col in zip(*(_figures(p) for p in rows), strict=True))  # type: ignore[return-value]


def _assert_levels_agree(world: World, period: str | None = None) -> None:
    villages = cash_position(world.conn, county="LY", level="village", period=period)
    townships = cash_position(world.conn, county="LY", level="township", period=period)
    county = cash_position(world.conn, county="LY", level="county", period=period)
    assert [p.code for p in county] == ["LY"] and len(villages) == 4
    assert _figures(county[0]) == _sum(townships) == _sum(villages)
    # a township is the sum of its villages (V2 alone in T2)
    t = _by_code(townships)
    v = _by_code(villages)
    assert t["T2"] == v["V2"]
    assert t["T1"] == _sum([p for p in villages if p.code != "V2"])


def _golden(world: World, tmp_path: Path) -> int:
    """The accrued-basis golden set-up: V1 (town T1) and V2 (moved to a second town T2),
    100-slot village stations, 2025 settled and paid, the county's advances recorded."""
    conn = world.conn
    v1, v2 = world.villages[:2]
    t2 = conn.execute(
        "INSERT INTO townships (code, name, county_id) VALUES ('T2', '二镇', %s) RETURNING id",
        (world.county,),
    ).fetchone()
    assert t2
    conn.execute("UPDATE villages SET township_id = %s WHERE id = %s", (t2[0], v2))
    village_station(world, "VS1", v1, slots=100)
    village_station(world, "VS2", v2, slots=100)
    energy = {"VS1": {"2025": 123_457}, "VS2": {"2025": 111_111}}
    import_settlements(conn, statement(tmp_path / "grid-2025.csv", energy))
    apply_settled_basis(conn, "2025")
    run = compute_run(conn, period="2025", created_by="clerk")
    approve_run(conn, run, approved_by="chief", today=date(2026, 1, 20))  # advances too
    return run


def test_cash_position_before_between_and_after_the_subsidy_batches(
    world: World, tmp_path: Path
) -> None:
    conn = world.conn
    _golden(world, tmp_path)
    # accrued = 100 fen/kWh; received = settled benchmark 40 fen/kWh; subsidy 60 fen/kWh
    # outstanding; advances = 10,000,000 paid − settled benchmark; nothing owed
    before = _by_code(cash_position(conn, county="LY"))
    assert before == {
        "V1": (12_345_700, 4_938_280, 7_407_420, 5_061_720, 10_000_000, 0),
        "V2": (11_111_100, 4_444_440, 6_666_660, 5_555_560, 10_000_000, 0),
        "V3": ZERO,
        "V4": ZERO,
    }
    assert _by_code(cash_position(conn, county="LY", period="2025")) == before
    assert _by_code(cash_position(conn, county="LY", period="2024")) == {
        f"V{i}": ZERO for i in range(1, 5)
    }
    _assert_levels_agree(world)
    (county,) = cash_position(conn, county="LY", level="county")
    assert county == CashPosition(
        "county", "LY", "凌源", 23_456_800, 9_382_720, 14_074_080, 10_617_280, 20_000_000, 0
    )

    record_receipt(
        conn, county="LY", reference="SUB-2025-1", received_on=date(2026, 4, 15),
        covers="2025", amount_fen=8_444_449, coverage="partial", recorded_by="clerk",
    )  # fmt: skip
    first = _by_code(cash_position(conn, county="LY", period="2025"))
    assert first["V1"] == (
        12_345_700, 4_938_280 + 4_444_453, 7_407_420 - 4_444_453, 5_061_720 - 4_444_453,
        10_000_000, 0,
    )  # fmt: skip
    assert first["V2"] == (
        11_111_100, 4_444_440 + 3_999_996, 6_666_660 - 3_999_996, 5_555_560 - 3_999_996,
        10_000_000, 0,
    )  # fmt: skip
    _assert_levels_agree(world, "2025")
    (county,) = cash_position(conn, county="LY", level="county", period="2025")
    assert (county.outstanding_subsidy_fen, county.advances_outstanding_fen) == (
        14_074_080 - 8_444_449,
        2_172_831,
    )

    record_receipt(
        conn, county="LY", reference="SUB-2025-2", received_on=date(2026, 11, 2),
        covers="2025", amount_fen=14_074_080 - 8_444_449, coverage="full", recorded_by="clerk",
    )  # fmt: skip
    after = _by_code(cash_position(conn, county="LY"))
    assert after["V1"] == (12_345_700, 12_345_700, 0, 0, 10_000_000, 0)
    assert after["V2"] == (11_111_100, 11_111_100, 0, 0, 10_000_000, 0)
    _assert_levels_agree(world)
    (county,) = cash_position(conn, county="LY", level="county")
    assert _figures(county) == (23_456_800, 23_456_800, 0, 0, 20_000_000, 0)
    assert county.yuan("accrued") == county.yuan("received_fen") == "234568.00"
    assert county.to_dict()["paid_fen"] == 20_000_000


def test_joint_station_is_apportioned_by_share_weight_and_levels_agree(world: World) -> None:
    """Accrued revenue is the approved run's units, per village (a third each here); a
    draft of a shorter period beside it is never counted."""
    conn = world.conn
    v1, v2, v3 = world.villages[:3]
    joint = world.station("J1", "joint", v1, shares={v1: "1", v2: "1", v3: "1"})
    for slot_no, v in enumerate((v1, v2, v3), start=1):
        hh = world.household(v, served_by=joint)
        slot = world.slot(joint, slot_no=slot_no, village=v)
        enrol(conn, slot_id=slot, scheme="village_slot", household_id=hh,
              starts_on=date(2017, 1, 1))  # fmt: skip
    world.feed("2025", {joint: 10_001})  # 400,040 fen benchmark + 600,060 fen subsidy
    approve_run(conn, compute_run(conn, period="2025", created_by="clerk"), approved_by="chief")
    world.feed("2025-Q4", {joint: 5_000})
    compute_run(conn, period="2025-Q4", created_by="clerk")  # a draft: never counted
    for period in ("2025", None):
        rows = _by_code(cash_position(conn, county="LY", period=period))
        accrued = {code: f[0] for code, f in rows.items()}
        outstanding = {code: f[2] for code, f in rows.items()}
        assert outstanding == {"V1": 200_020, "V2": 200_020, "V3": 200_020, "V4": 0}
        assert sorted(accrued.values()) == [0, 333_366, 333_367, 333_367]
        assert {code: f[4] for code, f in rows.items()} == {
            "V1": 100_000, "V2": 100_000, "V3": 100_000, "V4": 0}  # fmt: skip
    (county,) = cash_position(conn, county="LY", level="county", period="2025")
    assert (county.accrued_fen, county.outstanding_subsidy_fen) == (1_000_100, 600_060)
    assert _by_code(cash_position(conn, county="LY", period="2025-Q4")) == {
        f"V{i}": ZERO for i in range(1, 5)
    }


def test_cash_position_rejects_unknown_county_level_and_figure(world: World) -> None:
    with pytest.raises(NotFoundError):
        cash_position(world.conn, county="NOPE")
    with pytest.raises(ValidationError):
        cash_position(world.conn, county="LY", level="province")  # type: ignore[arg-type]
    (county,) = cash_position(world.conn, county="LY", level="county")
    assert _figures(county) == ZERO
    with pytest.raises(ValidationError):
        county.yuan("nothing")
    assert set(FIGURES) <= set(county.to_dict())


def test_position_command_prints_places_and_totals(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import nullcontext

    import dividends.cash.cli as cli

    _golden(world, tmp_path)
    monkeypatch.setattr(cli, "_db", lambda: nullcontext(world.conn))
    monkeypatch.setattr(cli, "_console", Console(width=200))
    key = finance_keys(world.conn, "clerk")["clerk"]
    result = CliRunner(env={"PVMON_API_KEY": key}).invoke(
        cli.cash_app, ["position", "--county", "LY", "--level", "township", "--period", "2025"]
    )
    assert result.exit_code == 0, result.output
    assert "T1" in result.output and "T2" in result.output and "total" in result.output
    assert "234568.00" in result.output and "106172.80" in result.output

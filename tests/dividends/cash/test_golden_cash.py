"""Golden tests of the county cash side: a year whose subsidy arrives the next year in two
batches (about 60 % then the rest), under the ``accrued`` and the ``received`` basis.

Prices as in ``tests/dividends/conftest.py``: benchmark 0.40, tariff 1.00 yuan/kWh, so a
kWh earns 40 fen benchmark (settled by the grid) and 60 fen subsidy (late)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg

from dividends.cash.ledger import (
    advance_ledger,
    outstanding_advances,
    rebase_on_cash,
    record_advances,
    record_receipt,
    set_basis,
    subsidy_status,
)
from dividends.cash.settlements import apply_settled_basis, import_settlements
from dividends.runs import approve_run, compute_run
from dividends.schemes import STANDARD_SCHEMES, SchemeSpec, define_scheme
from tests.dividends.cash.helpers import statement, village_station
from tests.dividends.conftest import World


def _payee_totals(conn: psycopg.Connection, runs: list[int]) -> dict[tuple[str, int], int]:
    rows = conn.execute(
        "SELECT payee_kind, payee_id, sum(amount_fen) FROM dividend_lines WHERE run_id = ANY(%s)"
        " GROUP BY 1, 2",
        (runs,),
    ).fetchall()
    return {(k, int(i)): int(f) for k, i, f in rows}


def test_accrued_pays_every_household_on_time_and_the_advance_is_repaid_to_zero(
    world: World, tmp_path: Path
) -> None:
    conn = world.conn
    v1, v2 = world.villages[:2]
    _s1, hh1 = village_station(world, "VS1", v1, slots=100)
    _s2, hh2 = village_station(world, "VS2", v2, slots=100)
    energy = {"VS1": {"2025": 123_457}, "VS2": {"2025": 111_111}}
    csv = statement(tmp_path / "grid-2025.csv", energy)
    assert import_settlements(conn, csv).inserted == 24
    assert apply_settled_basis(conn, "2025") == 2
    run = compute_run(conn, period="2025", created_by="clerk")
    approve_run(conn, run, approved_by="chief")
    # every household gets its 900 yuan and every collective its 100 per slot, on time
    paid = _payee_totals(conn, [run])
    assert all(paid[("household", h)] == 90_000 for h in hh1 + hh2)
    assert paid[("collective", v1)] == paid[("collective", v2)] == 1_000_000

    # the county advances what the settled benchmark part (40 fen/kWh) does not cover
    b1, b2 = 123_457 * 40, 111_111 * 40  # 4,938,280 and 4,444,440 fen
    total = record_advances(conn, run, advanced_on=date(2026, 1, 20))
    assert total == (10_000_000 - b1) + (10_000_000 - b2) == 10_617_280
    assert record_advances(conn, run, advanced_on=date(2026, 1, 20)) == total  # idempotent
    assert outstanding_advances(conn, "LY") == 10_617_280

    # 2025 subsidy: 7,407,420 + 6,666,660 = 14,074,080 fen accrued
    first = record_receipt(
        conn, county="LY", reference="SUB-2025-1", received_on=date(2026, 4, 15),
        covers="2025", amount_fen=8_444_449, coverage="partial", recorded_by="clerk",
    )  # fmt: skip
    # largest remainder by accrued subsidy: 4,444,452 + 3,999,996 floors, the spare fen to
    # VS1 (remainder 7,407,420 > 6,666,660)
    status = {s.station_code: s for s in subsidy_status(conn, county="LY", covers="2025")}
    assert (status["VS1"].received_fen, status["VS2"].received_fen) == (4_444_453, 3_999_996)
    assert first.repaid_fen == 4_444_453 + 3_999_996  # both advances exceed the shares
    assert outstanding_advances(conn, "LY") == 10_617_280 - 8_444_449 == 2_172_831

    second = record_receipt(
        conn, county="LY", reference="SUB-2025-2", received_on=date(2026, 11, 2),
        covers="2025", amount_fen=14_074_080 - 8_444_449, coverage="full", recorded_by="clerk",
    )  # fmt: skip
    assert second.repaid_fen == (5_061_720 - 4_444_453) + (5_555_560 - 3_999_996) == 2_172_831
    assert outstanding_advances(conn, "LY") == 0
    status = {s.station_code: s for s in subsidy_status(conn, county="LY", covers="2025")}
    assert [(s.accrued_fen, s.received_fen, s.outstanding_fen) for s in status.values()] == [
        (7_407_420, 7_407_420, 0),
        (6_666_660, 6_666_660, 0),
    ]
    ledger = advance_ledger(conn, "LY")
    assert [(e["kind"], e["station"], e["amount_fen"]) for e in ledger] == [
        ("advance", "VS1", 5_061_720),
        ("advance", "VS2", 5_555_560),
        ("repayment", "VS1", 4_444_453),
        ("repayment", "VS2", 3_999_996),
        ("repayment", "VS1", 617_267),
        ("repayment", "VS2", 1_555_564),
    ]
    assert ledger[-1]["balance_fen"] == 0
    # recording the same batch again changes nothing
    again = record_receipt(
        conn, county="LY", reference="SUB-2025-2", received_on=date(2026, 11, 2),
        covers="2025", amount_fen=5_629_631, coverage="full", recorded_by="clerk",
    )  # fmt: skip
    assert not again.created and outstanding_advances(conn, "LY") == 0


def test_received_pays_the_shortfall_when_the_cash_arrives(world: World, tmp_path: Path) -> None:
    conn = world.conn
    base = next(s for s in STANDARD_SCHEMES if s.code == "village_slot")
    define_scheme(
        conn,
        SchemeSpec(code="village_slot_cf", components=base.components,
                   policy="pro_rata_carry_forward"),
    )  # fmt: skip
    set_basis(conn, county="LY", basis="received", set_by="chief")
    v1 = world.villages[0]
    _station, households = village_station(world, "VS1", v1, slots=100, scheme="village_slot_cf")
    halves = {"2025-H1": 74_321, "2025-H2": 76_543, "2026-H1": 74_321, "2026-H2": 76_543}
    import_settlements(conn, statement(tmp_path / "grid.csv", {"VS1": halves}))

    def half(label: str) -> int:
        apply_settled_basis(conn, label)
        run = compute_run(conn, period=label, created_by="clerk")
        assert rebase_on_cash(conn, run) == 1
        approve_run(conn, run, approved_by="chief")
        return run

    def sums(run: int) -> tuple[int, int, int, int]:
        row = conn.execute(
            "SELECT sum(obligation_fen), sum(paid_fen), sum(arrears_added_fen),"
            " sum(arrears_paid_fen) FROM dividend_lines WHERE run_id = %s",
            (run,),
        ).fetchone()
        assert row
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    # 2025: only the benchmark part arrives; obligations 4,958,900 (H1) and 5,041,100 (H2)
    h1, h2 = half("2025-H1"), half("2025-H2")
    assert sums(h1) == (4_958_900, 2_972_840, 1_986_060, 0)
    assert sums(h2) == (5_041_100, 3_061_720, 1_979_380, 0)
    # the 2025 subsidy (150,864 kWh x 60 fen = 9,051,840 fen) arrives in 2026: 60 %, then 40 %
    record_receipt(
        conn, county="LY", reference="SUB-2025-1", received_on=date(2026, 3, 15),
        covers="2025", amount_fen=5_431_104, coverage="partial", recorded_by="clerk",
    )  # fmt: skip
    record_receipt(
        conn, county="LY", reference="SUB-2025-2", received_on=date(2026, 9, 10),
        covers="2025", amount_fen=3_620_736, coverage="full", recorded_by="clerk",
    )  # fmt: skip
    # 2026-H1: cash 2,972,840 + 5,431,104; the period is paid in full and the surplus
    # 3,445,044 pays arrears; 2026-H2: the remaining 520,396 of arrears are paid
    h3 = half("2026-H1")
    assert sums(h3) == (4_958_900, 4_958_900, 0, 8_403_944 - 4_958_900)
    h4 = half("2026-H2")
    assert sums(h4) == (5_041_100, 5_041_100, 0, 3_965_440 - 3_445_044)
    residual = conn.execute(
        "SELECT residual_fen FROM dividend_run_units WHERE run_id = %s", (h4,)
    ).fetchone()
    assert residual == (3_061_720 + 3_620_736 - 5_041_100 - 520_396,)
    # to the fen: every payee received exactly its two years' obligations
    totals = _payee_totals(conn, [h1, h2, h3, h4])
    assert all(totals[("household", h)] == 180_000 for h in households)
    assert totals[("collective", v1)] == 100 * 20_000
    owed = conn.execute(
        "SELECT sum(arrears_added_fen - arrears_paid_fen) FROM dividend_lines"
        " WHERE run_id = ANY(%s)",
        ([h1, h2, h3, h4],),
    ).fetchone()
    assert owed == (0,)
    assert outstanding_advances(conn, "LY") == 0  # nothing advanced under 'received'

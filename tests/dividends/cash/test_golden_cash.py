"""Golden tests of the county cash side: a year whose subsidy arrives the next year in two
batches (about 60 % then the rest), under the ``accrued`` and the ``received`` basis.

Prices as in ``tests/dividends/conftest.py``: benchmark 0.40, tariff 1.00 yuan/kWh, so a
kWh earns 40 fen benchmark (settled by the grid) and 60 fen subsidy (late).

Under ``received`` the engine allocates from the cash of the run period by itself: the
runs here are made with :func:`compute_run` only, recomputing a draft reproduces it, and
adjusting an approved run with nothing changed changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from dividends.cash.ledger import (
    advance_ledger,
    outstanding_advances,
    record_advances,
    record_receipt,
    set_basis,
    subsidy_status,
)
from dividends.cash.settlements import apply_settled_basis, import_settlements
from dividends.periods import parse_period
from dividends.runs import approve_run, compute_run, create_adjustment, run_summary
from dividends.schemes import STANDARD_SCHEMES, SchemeSpec, add_deduction, define_scheme
from tests.dividends.cash.helpers import statement, village_station
from tests.dividends.conftest import World

Snapshot = tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]


def _snapshot(conn: psycopg.Connection, run: int) -> Snapshot:
    """A run's lines, units and deductions without their ids (a recompute renumbers)."""
    lines = conn.execute(
        """SELECT line_kind, station_id, unit_village_id, enrolment_id, component, payee_kind,
                  payee_id, days_enrolled, obligation_fen, factor, paid_fen, arrears_added_fen,
                  arrears_paid_fen, amount_fen, policy, energy_wh, revenue_benchmark_fen,
                  revenue_subsidy_fen, deductions_fen
             FROM dividend_lines WHERE run_id = %s ORDER BY enrolment_id, component""",
        (run,),
    ).fetchall()
    units = conn.execute(
        "SELECT * FROM dividend_run_units WHERE run_id = %s ORDER BY station_id, village_id",
        (run,),
    ).fetchall()
    deductions = conn.execute(
        "SELECT * FROM dividend_run_deductions WHERE run_id = %s ORDER BY station_id, seq, kind",
        (run,),
    ).fetchall()
    return lines, units, deductions


def _run_and_recompute(conn: psycopg.Connection, label: str) -> int:
    """The period's draft by ``compute_run`` alone; recomputing it (found by period and
    scope, and by id) gives the same lines, units and deductions; then approved."""
    apply_settled_basis(conn, label)
    run = compute_run(conn, period=label, created_by="clerk")
    first = _snapshot(conn, run)
    assert first[0]
    assert compute_run(conn, period=label, created_by="clerk") == run
    assert _snapshot(conn, run) == first
    assert compute_run(conn, period=label, created_by="clerk", run_id=run) == run
    assert _snapshot(conn, run) == first
    approve_run(conn, run, approved_by="chief", today=parse_period(label).end + timedelta(days=9))
    return run


def _assert_adjustment_changes_nothing(conn: psycopg.Connection, run: int) -> None:
    adj = create_adjustment(conn, run, created_by="auditor", note="check")
    summary = run_summary(conn, adj)
    assert (summary.kind, summary.lines) == ("adjustment", 0), summary
    assert (summary.paid_fen, summary.arrears_paid_fen) == _unit_paid(conn, run)


def _unit_paid(conn: psycopg.Connection, run: int) -> tuple[int, int]:
    row = conn.execute(
        "SELECT sum(paid_fen), sum(arrears_paid_fen) FROM dividend_run_units WHERE run_id = %s",
        (run,),
    ).fetchone()
    assert row
    return int(row[0]), int(row[1])


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
    approve_run(conn, run, approved_by="chief", today=date(2026, 1, 20))
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


def _carry_forward_scheme(conn: psycopg.Connection) -> None:
    """``village_slot_cf``: the village slot's components under pro rata with carry-forward."""
    base = next(s for s in STANDARD_SCHEMES if s.code == "village_slot")
    define_scheme(
        conn,
        SchemeSpec(code="village_slot_cf", components=base.components,
                   policy="pro_rata_carry_forward"),
    )  # fmt: skip


def test_received_pays_the_shortfall_when_the_cash_arrives(world: World, tmp_path: Path) -> None:
    conn = world.conn
    _carry_forward_scheme(conn)
    set_basis(conn, county="LY", basis="received", set_by="chief")
    v1 = world.villages[0]
    _station, households = village_station(world, "VS1", v1, slots=100, scheme="village_slot_cf")
    halves = {"2025-H1": 74_321, "2025-H2": 76_543, "2026-H1": 74_321, "2026-H2": 76_543}
    import_settlements(conn, statement(tmp_path / "grid.csv", {"VS1": halves}))

    def half(label: str) -> int:
        return _run_and_recompute(conn, label)

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
    # 2026-H1: the first batch pays 2025's for 2025 first: all 3,965,440 of 2025's arrears,
    # the other 1,465,664 is 2025's surplus (the collective's residual, as under accrued);
    # 2026-H1's own cash (2,972,840 settled) pays its obligations pro rata
    h3 = half("2026-H1")
    assert sums(h3) == (4_958_900, 2_972_840, 1_986_060, 3_965_440)
    # the unit's revenue is the cash of the period: settled benchmark + subsidy received
    unit = conn.execute(
        "SELECT revenue_benchmark_fen, revenue_subsidy_fen, available_fen, residual_fen"
        " FROM dividend_run_units WHERE run_id = %s",
        (h3,),
    ).fetchone()
    assert unit == (2_972_840, 5_431_104, 8_403_944, 5_431_104 - 3_965_440)
    # 2026-H2: the second 2025 batch finds 2025 paid up: all of it is 2025's surplus; it
    # never pays 2026's arrears, which wait for 2026's own subsidy
    h4 = half("2026-H2")
    assert sums(h4) == (5_041_100, 3_061_720, 1_979_380, 0)
    residual = conn.execute(
        "SELECT residual_fen FROM dividend_run_units WHERE run_id = %s", (h4,)
    ).fetchone()
    assert residual == (3_620_736,)
    # to the fen, once all of 2025's cash is in: every payee got its 2025 obligations, and
    # the collective 2025's surplus: 150,864 kWh x 100 fen - 10,000,000 fen, as accrued pays
    year_2025 = conn.execute(
        """SELECT payee_kind, payee_id, sum(obligation_fen), sum(paid_fen + arrears_added_fen)
             FROM dividend_lines WHERE run_id = ANY(%s) GROUP BY 1, 2""",
        ([h1, h2],),
    ).fetchall()
    assert {(k, p) for k, p, _ob, _pd in year_2025} == {
        *(("household", h) for h in households),
        ("collective", v1),
    }
    arrears_2025 = sums(h1)[2] + sums(h2)[2]
    assert sums(h3)[3] == arrears_2025  # every fen owed for 2025, paid by 2025's cash
    assert 1_465_664 + 3_620_736 == 150_864 * 100 - 10_000_000
    owed = conn.execute(
        "SELECT sum(arrears_added_fen - arrears_paid_fen) FROM dividend_lines"
        " WHERE run_id = ANY(%s)",
        ([h1, h2, h3, h4],),
    ).fetchone()
    assert owed == (1_986_060 + 1_979_380,)  # 2026's, until 2026's subsidy comes
    assert outstanding_advances(conn, "LY") == 0  # nothing advanced under 'received'
    for run in (h1, h2, h3, h4):
        assert record_advances(conn, run, advanced_on=date(2027, 1, 10)) == 0
    # adjusting any of the approved runs, with nothing changed, changes nothing
    for run in (h1, h2, h3, h4):
        _assert_adjustment_changes_nothing(conn, run)


def test_received_by_scheme_with_deductions_and_a_late_batch(world: World, tmp_path: Path) -> None:
    """The basis set for one scheme only: VS1 (carry-forward scheme, ``received``) and VS2
    (``village_slot``, the county's default ``accrued``) in the same runs, with a 2.9 % O&M
    fee. The 2025 subsidy of VS1 arrives in one batch in May 2026, after both 2025 runs
    were approved: adjusting them changes nothing, and the 2026-H1 run pays it out to the
    fen (the period in full, then both halves' arrears, the rest to the collective)."""
    conn = world.conn
    _carry_forward_scheme(conn)
    set_basis(conn, scheme="village_slot_cf", basis="received", set_by="chief")
    add_deduction(conn, county_id=world.county, seq=1, kind="om_fee", rate=Decimal("0.029"))
    v1, v2 = world.villages[:2]
    s1, hh1 = village_station(world, "VS1", v1, slots=100, scheme="village_slot_cf")
    s2, _hh2 = village_station(world, "VS2", v2, slots=100)
    energy = {
        "VS1": {"2025-H1": 74_321, "2025-H2": 76_543, "2026-H1": 74_321},
        "VS2": {"2025-H1": 80_000, "2025-H2": 80_000, "2026-H1": 80_000},
    }
    import_settlements(conn, statement(tmp_path / "grid.csv", energy))

    def unit(run: int, station: int) -> tuple[int, ...]:
        row = conn.execute(
            """SELECT revenue_benchmark_fen + revenue_subsidy_fen, deductions_fen,
                      available_fen, obligations_fen, paid_fen, arrears_paid_fen, residual_fen,
                      (SELECT coalesce(sum(arrears_added_fen), 0) FROM dividend_lines l
                        WHERE l.run_id = u.run_id AND l.station_id = u.station_id)
                 FROM dividend_run_units u WHERE run_id = %s AND station_id = %s""",
            (run, station),
        ).fetchone()
        assert row
        return tuple(int(x) for x in row)

    h1 = _run_and_recompute(conn, "2025-H1")
    # VS1 on cash: 74,321 kWh x 40 fen settled; O&M 2.9 % of that, on the same basis
    assert unit(h1, s1) == (
        2_972_840, 86_212, 2_886_628, 4_958_900, 2_886_628, 0, 0, 4_958_900 - 2_886_628,
    )  # fmt: skip
    # VS2 on accrual: 80,000 kWh x 100 fen earned, paid in full
    assert unit(h1, s2) == (
        8_000_000, 232_000, 7_768_000, 4_958_900, 4_958_900, 0, 7_768_000 - 4_958_900, 0,
    )  # fmt: skip
    deductions = conn.execute(
        "SELECT station_id, basis, due_fen, amount_fen FROM dividend_run_deductions"
        " WHERE run_id = %s ORDER BY station_id",
        (h1,),
    ).fetchall()
    assert deductions == [
        (s1, "2.9000% of 2972840 fen received", 86_212, 86_212),
        (s2, "2.9000% of 8000000 fen gross", 232_000, 232_000),
    ]
    # only the accrued station is advanced: 4,958,900 paid - (3,200,000 settled - 232,000)
    assert record_advances(conn, h1, advanced_on=date(2025, 7, 10)) == 1_990_900
    h2 = _run_and_recompute(conn, "2025-H2")
    assert unit(h2, s1) == (
        3_061_720, 88_790, 2_972_930, 5_041_100, 2_972_930, 0, 0, 5_041_100 - 2_972_930,
    )  # fmt: skip
    arrears = (4_958_900 - 2_886_628) + (5_041_100 - 2_972_930)  # 4,140,442

    # VS1's 2025 subsidy, (74,321 + 76,543) kWh x 60 fen, arrives in May 2026 in full
    record_receipt(
        conn, county="LY", reference="SUB-VS1-2025", received_on=date(2026, 5, 20),
        covers="2025", amount_fen=9_051_840, coverage="full", recorded_by="clerk",
        stations=["VS1"],
    )  # fmt: skip
    # the approved 2025 runs were paid from the cash of their periods: adjusting changes nothing
    _assert_adjustment_changes_nothing(conn, h1)
    _assert_adjustment_changes_nothing(conn, h2)

    h3 = _run_and_recompute(conn, "2026-H1")
    cash = 2_972_840 + 9_051_840
    fee = 348_716  # 2.9 % of 12,024,680 fen, rounded
    # the late batch bears its share of the fee (262,504, rounded up) and pays 2025's
    # arrears first; the rest of it is 2025's surplus (residual). 2026-H1's own cash, less
    # its share of the fee (86,212, exactly 2.9 % of it), pays 2026-H1 pro rata
    late_net = 9_051_840 - 262_504
    own_net = cash - fee - late_net
    assert own_net == 2_886_628
    assert unit(h3, s1) == (
        cash, fee, cash - fee, 4_958_900, own_net, arrears, late_net - arrears,
        4_958_900 - own_net,
    )  # fmt: skip
    # to the fen: each payee of VS1 got exactly its 2025 obligations from 2025's cash
    rows = conn.execute(
        """SELECT payee_kind, payee_id, sum(obligation_fen) FROM dividend_lines
            WHERE run_id = ANY(%s) AND station_id = %s GROUP BY 1, 2""",
        ([h1, h2], s1),
    ).fetchall()
    owed = {(str(kind), int(pid)): int(fen) for kind, pid, fen in rows}
    paid_2025 = _payee_totals(conn, [h1, h2])
    arrears_now = conn.execute(
        """SELECT payee_kind, payee_id, sum(arrears_paid_fen) FROM dividend_lines
            WHERE run_id = %s AND station_id = %s GROUP BY 1, 2""",
        (h3, s1),
    ).fetchall()
    for kind, pid, fen in arrears_now:
        paid_2025[(str(kind), int(pid))] += int(fen)
    assert len(owed) == len(hh1) + 1
    for key, fen in owed.items():
        assert paid_2025[key] == fen, key
    assert sum(owed.values()) == 4_958_900 + 5_041_100
    left = conn.execute(
        "SELECT sum(arrears_added_fen - arrears_paid_fen) FROM dividend_lines"
        " WHERE run_id = ANY(%s)",
        ([h1, h2, h3],),
    ).fetchone()
    assert left == (4_958_900 - own_net,)  # 2026-H1's, until 2026's subsidy comes
    _assert_adjustment_changes_nothing(conn, h3)

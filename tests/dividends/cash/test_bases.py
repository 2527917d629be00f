"""The same stations under both bases, with a rate and a fixed deduction and the 2024
subsidy arriving in random batches at random times in 2025: once all of 2024's cash is
in, ``received`` has deducted for 2024 exactly what ``accrued`` deducted, and paid every
payee its 2024 obligations as ``accrued`` did (random data from a fixed seed: twelve
station pairs in one database)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from dividends.cash.ledger import record_receipt, set_basis
from dividends.cash.settlements import import_settlements
from dividends.periods import parse_period
from dividends.runs import approve_run, compute_run
from dividends.schemes import STANDARD_SCHEMES, SchemeSpec, add_deduction, define_scheme
from tests.dividends.cash.helpers import statement, village_station
from tests.dividends.conftest import World

_PAIRS = 12


def _county(world: World, code: str) -> int:
    """A county with one village (returned) and its two deductions."""
    conn = world.conn
    county = conn.execute(
        "INSERT INTO counties (code, name, province) VALUES (%s, %s, '辽宁省') RETURNING id",
        (code, code),
    ).fetchone()[0]  # type: ignore[index]
    town = conn.execute(
        "INSERT INTO townships (code, name, county_id) VALUES (%s, %s, %s) RETURNING id",
        (f"{code}-T", code, county),
    ).fetchone()[0]  # type: ignore[index]
    village = conn.execute(
        "INSERT INTO villages (code, name, township_id) VALUES (%s, %s, %s) RETURNING id",
        (f"{code}-V", code, town),
    ).fetchone()[0]  # type: ignore[index]
    add_deduction(conn, county_id=county, seq=1, kind="om_fee", rate=Decimal("0.029"))
    add_deduction(conn, county_id=county, seq=2, kind="land_rent", yearly_fen=120_001)
    return int(village)


def test_received_deducts_and_pays_for_a_year_what_accrued_does(
    world: World, tmp_path: Path
) -> None:
    conn = world.conn
    base = next(s for s in STANDARD_SCHEMES if s.code == "village_slot")
    define_scheme(conn, SchemeSpec(code="village_slot_cf", components=base.components,
                                   policy="pro_rata_carry_forward"))  # fmt: skip
    acc_village, rec_village = _county(world, "AC"), _county(world, "RC")
    set_basis(conn, county="RC", basis="received", set_by="chief")
    rng = random.Random(2016)
    energy: dict[str, dict[str, int]] = {}
    for i in range(_PAIRS):
        kwh = rng.randint(5_000, 20_000)  # enough for 3 slots after the deductions
        for prefix, village in (("A", acc_village), ("R", rec_village)):
            village_station(world, f"{prefix}{i}", village, slots=3, scheme="village_slot_cf")
            energy[f"{prefix}{i}"] = {"2024": kwh, "2025-H1": kwh // 2, "2025-H2": kwh // 2}
    import_settlements(conn, statement(tmp_path / "grid.csv", energy))

    def run(label: str, county: str) -> int:
        rid = compute_run(conn, period=label, scope_kind="county", scope_codes=[county],
                          created_by="clerk")  # fmt: skip
        approve_run(conn, rid, approved_by="chief", today=parse_period(label).end)
        return rid

    y2024 = {c: run("2024", c) for c in ("AC", "RC")}
    # each received station's 2024 subsidy (kWh x 60 fen) in 1-3 batches during 2025
    for i in range(_PAIRS):
        subsidy = energy[f"R{i}"]["2024"] * 60
        cuts = sorted(rng.sample(range(1, subsidy), rng.randint(0, 2)))
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, subsidy], strict=True)]
        for n, part in enumerate(parts):
            on = date(2025, 1, 15) + timedelta(days=rng.randint(0, 320))
            record_receipt(
                conn, county="RC", reference=f"R{i}-{n}", received_on=on, covers="2024",
                amount_fen=part, coverage="partial", recorded_by="clerk", stations=[f"R{i}"],
            )  # fmt: skip
    later = [run(label, "RC") for label in ("2025-H1", "2025-H2")]

    def per_station(query: str, runs: list[int]) -> dict[str, int]:
        rows = conn.execute(
            f"""SELECT substr(s.code, 2), sum(x.v)::bigint FROM ({query}) x
                  JOIN stations s ON s.id = x.station_id
                 WHERE x.run_id = ANY(%s) GROUP BY 1""",
            (runs,),
        ).fetchall()
        return {code: int(v) for code, v in rows}

    deducted = "SELECT run_id, station_id, amount_fen AS v FROM dividend_run_deductions"
    earlier = "SELECT run_id, station_id, earlier_fen AS v FROM dividend_run_deductions"
    accrued = per_station(deducted, [y2024["AC"]])
    received = per_station(deducted, [y2024["RC"]])
    for code, fen in per_station(earlier, later).items():
        received[code] += fen
    assert received == accrued  # to the fen, per station
    assert any(v for v in per_station(earlier, later).values())

    # every payee got its 2024 obligations under both bases; received left no 2024 arrears
    paid = conn.execute(
        """SELECT r.id, sum(l.paid_fen), sum(l.obligation_fen), sum(l.arrears_added_fen)
             FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
            WHERE r.id = ANY(%s) GROUP BY r.id""",
        ([y2024["AC"], y2024["RC"]],),
    ).fetchall()
    by_run = {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in paid}
    assert by_run[y2024["AC"]][0] == by_run[y2024["AC"]][1]
    added_2024 = by_run[y2024["RC"]][2]
    assert added_2024 > 0  # 2024's run had only the benchmark
    repaid = conn.execute(
        "SELECT sum(arrears_paid_fen) FROM dividend_lines WHERE run_id = ANY(%s)", (later,)
    ).fetchone()
    assert repaid is not None and int(repaid[0]) >= added_2024
    owed = conn.execute(
        """SELECT l.enrolment_id, l.component,
                  sum(l.arrears_added_fen) FILTER (WHERE l.period_end <= '2025-01-01')
                  - sum(l.arrears_paid_fen)
             FROM dividend_lines l WHERE l.run_id = ANY(%s) GROUP BY 1, 2""",
        ([y2024["RC"], *later],),
    ).fetchall()
    assert all(int(v or 0) <= 0 for _e, _c, v in owed)  # oldest first: 2024's all paid

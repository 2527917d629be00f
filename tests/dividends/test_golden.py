"""Golden tests from the programme's numbers, against a real database (both flavours)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest

from dividends.runs import approve_run, compute_run, run_summary
from dividends.schemes import (
    Component,
    SchemeSpec,
    add_deduction,
    define_scheme,
    enrol,
    reassign_slot,
)
from tests.dividends.conftest import World

# these runs look decades ahead: approved as if every period had ended
_LATER = date(2100, 1, 1)


def _lines(conn: psycopg.Connection, run_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT payee_kind, payee_id, component, days_enrolled, obligation_fen, paid_fen,"
        " arrears_added_fen, arrears_paid_fen, amount_fen FROM dividend_lines WHERE run_id = %s"
        " ORDER BY enrolment_id, component",
        (run_id,),
    ).fetchall()


def _unit(conn: psycopg.Connection, run_id: int) -> dict[str, int]:
    row = conn.execute(
        "SELECT available_fen, obligations_fen, paid_fen, arrears_paid_fen, shortfall_fen,"
        " residual_fen, deductions_fen FROM dividend_run_units WHERE run_id = %s",
        (run_id,),
    ).fetchall()
    assert len(row) == 1
    keys = ("available", "obligations", "paid", "arrears_paid", "shortfall", "residual", "ded")
    return dict(zip(keys, row[0], strict=True))


def test_household_station_pays_22000_yuan_over_20_years_and_nothing_after(world: World) -> None:
    conn = world.conn
    owner = world.household(world.villages[0])
    station = world.station("H1", "household", world.villages[0], owner=owner, capacity="4.32")
    slot = world.slot(station, first=date(2017, 1, 1))
    enrol(
        conn, slot_id=slot, scheme="household_own", household_id=owner, starts_on=date(2017, 1, 1)
    )
    paid_by_year = {}
    for year in range(2017, 2044):
        world.feed(str(year), {station: 5_000})  # 5,000 kWh = 5,000 yuan a year
        run = compute_run(conn, period=str(year), created_by="clerk")
        approve_run(conn, run, approved_by="chief", today=_LATER)
        paid_by_year[year] = sum(line[-1] for line in _lines(conn, run))
    assert all(paid_by_year[y] == 110_000 for y in range(2017, 2037))
    assert sum(paid_by_year.values()) == 2_200_000  # 22,000 yuan
    assert all(paid_by_year[y] == 0 for y in range(2037, 2044))
    transfer = conn.execute(
        "SELECT household_id, transferred_on FROM station_transfers WHERE station_id = %s",
        (station,),
    ).fetchone()
    assert transfer == (owner, date(2042, 1, 1))
    # after the transfer the station is out of every run: no units, no residual to the owner
    last = conn.execute(
        "SELECT count(*) FROM dividend_run_units u JOIN dividend_runs r ON r.id = u.run_id"
        " WHERE r.period_label IN ('2042', '2043')"
    ).fetchone()
    assert last == (0,)


def test_village_slot_pays_900_plus_100_a_year(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    station = world.station("V1", "village", v)
    hh = world.household(v, served_by=station)
    slot = world.slot(station)
    enrol(conn, slot_id=slot, scheme="village_slot", household_id=hh, starts_on=date(2017, 1, 1))
    world.feed("2025", {station: 200_000})
    run = compute_run(conn, period="2025", created_by="clerk")
    assert _lines(conn, run) == [
        ("collective", v, "collective", 365, 10_000, 10_000, 0, 0, 10_000),
        ("household", hh, "household", 365, 90_000, 90_000, 0, 0, 90_000),
    ]
    unit = _unit(conn, run)
    assert unit["available"] == 20_000_000 and unit["residual"] == 20_000_000 - 100_000
    owner = conn.execute(
        "SELECT residual_owner FROM dividend_run_units WHERE run_id = %s", (run,)
    ).fetchone()
    assert owner == ("village_collective",)


def test_slot_reassigned_on_1_july_is_split_by_days_to_the_fen(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    station = world.station("V1", "village", v)
    a = world.household(v, served_by=station)
    b = world.household(v)
    slot = world.slot(station)
    enrol(conn, slot_id=slot, scheme="village_slot", household_id=a, starts_on=date(2017, 1, 1))
    reassign_slot(conn, slot_id=slot, to_household_id=b, on=date(2025, 7, 1), reason="left_poverty")
    world.feed("2025", {station: 200_000})
    run = compute_run(conn, period="2025", created_by="clerk")
    lines = _lines(conn, run)
    assert lines == [
        ("collective", v, "collective", 181, 4_959, 4_959, 0, 0, 4_959),
        ("household", a, "household", 181, 44_630, 44_630, 0, 0, 44_630),
        ("collective", v, "collective", 184, 5_041, 5_041, 0, 0, 5_041),
        ("household", b, "household", 184, 45_370, 45_370, 0, 0, 45_370),
    ]
    assert sum(line[-1] for line in lines) == 100_000
    reason = conn.execute(
        "SELECT end_reason, ends_on FROM dividend_enrolments WHERE household_id = %s", (a,)
    ).fetchone()
    assert reason == ("left_poverty", date(2025, 7, 1))


def test_half_years_add_up_to_the_yearly_amount(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    station, _hh = world.enrolled_village_household(v)
    total = 0
    for half in ("2025-H1", "2025-H2"):
        world.feed(half, {station: 100_000})
        run = compute_run(conn, period=half, created_by="clerk")
        total += sum(line[-1] for line in _lines(conn, run))
    assert total == 100_000


def test_joint_station_splits_by_shares(world: World) -> None:
    conn = world.conn
    _, v2, v3, _ = world.villages
    station = world.station("J1", "joint", v2, shares={v2: "1", v3: "3"})
    h2 = world.household(v2, served_by=station)
    h3 = world.household(v3, served_by=station)
    enrol(
        conn,
        slot_id=world.slot(station, slot_no=1, village=v2),
        scheme="village_slot",
        household_id=h2,
        starts_on=date(2017, 1, 1),
    )
    enrol(
        conn,
        slot_id=world.slot(station, slot_no=2, village=v3),
        scheme="village_slot",
        household_id=h3,
        starts_on=date(2017, 1, 1),
    )
    conn.execute("UPDATE benchmark_prices SET yuan_per_kwh = 0.40")
    world.feed("2025", {station: 10_000})  # 1,000,000 fen
    add_deduction(conn, county_id=world.county, seq=1, kind="other", yearly_fen=365 - 1 + 1)
    # 1,000,000 - 365 = 999,635 fen net: 1/4 and 3/4 by largest remainder
    run = compute_run(conn, period="2025", created_by="clerk")
    units = conn.execute(
        "SELECT village_id, available_fen, paid_fen, residual_fen, residual_owner"
        " FROM dividend_run_units WHERE run_id = %s ORDER BY village_id",
        (run,),
    ).fetchall()
    assert units == [
        (v2, 249_909, 100_000, 149_909, "village_collective"),
        (v3, 749_726, 100_000, 649_726, "village_collective"),
    ]
    payees = {(k, p): amt for k, p, *_rest, amt in _lines(conn, run)}
    assert payees == {
        ("collective", v2): 10_000,
        ("household", h2): 90_000,
        ("collective", v3): 10_000,
        ("household", h3): 90_000,
    }


def _village_with_three(world: World, policy: str) -> tuple[int, list[int]]:
    conn = world.conn
    v = world.villages[0]
    define_scheme(
        conn,
        SchemeSpec(
            code=f"flat_{policy}",
            policy=policy,
            components=(Component("household", yearly_fen=100_000),),
        ),
    )
    station = world.station("V1", "village", v)
    hhs = [world.household(v, served_by=station) for _ in range(3)]
    for i, hh in enumerate(hhs):
        enrol(
            conn,
            slot_id=world.slot(station, slot_no=i + 1),
            scheme=f"flat_{policy}",
            household_id=hh,
            starts_on=date(2017, 1, 1),
        )
    return station, hhs


@pytest.mark.parametrize(
    ("policy", "paid", "shortfall", "arrears"),
    [
        ("guaranteed", [100_000] * 3, 150_000, [0] * 3),
        ("pro_rata", [50_000] * 3, 0, [0] * 3),
        ("pro_rata_carry_forward", [50_000] * 3, 0, [50_000] * 3),
    ],
)
def test_each_policy_handles_a_revenue_shortfall(
    world: World, policy, paid, shortfall, arrears
) -> None:
    conn = world.conn
    station, _ = _village_with_three(world, policy)
    world.feed("2025", {station: 1_500})  # 150,000 fen against 300,000 fen of obligations
    run = compute_run(conn, period="2025", created_by="clerk")
    lines = _lines(conn, run)
    assert [line[5] for line in lines] == paid
    assert [line[6] for line in lines] == arrears
    unit = _unit(conn, run)
    assert unit["shortfall"] == shortfall and unit["residual"] == 0
    factor = conn.execute(
        "SELECT DISTINCT factor FROM dividend_lines WHERE run_id = %s", (run,)
    ).fetchall()
    assert factor == [(Decimal(1) if policy == "guaranteed" else Decimal("0.5"),)]


def test_carry_forward_arrears_are_paid_first_from_later_surplus(world: World) -> None:
    conn = world.conn
    station, _ = _village_with_three(world, "pro_rata_carry_forward")
    world.feed("2024", {station: 1_500})
    approve_run(
        conn,
        compute_run(conn, period="2024", created_by="clerk"),
        approved_by="chief",
        today=_LATER,
    )
    world.feed("2025", {station: 4_000})  # 400,000: 300,000 current + 100,000 of 150,000 arrears
    run = compute_run(conn, period="2025", created_by="clerk")
    lines = _lines(conn, run)
    assert [line[5] for line in lines] == [100_000] * 3
    assert [line[7] for line in lines] == [33_334, 33_333, 33_333]
    assert _unit(conn, run)["residual"] == 0
    approve_run(conn, run, approved_by="chief", today=_LATER)
    world.feed("2026", {station: 10_000})
    run = compute_run(conn, period="2026", created_by="clerk")
    assert [line[7] for line in _lines(conn, run)] == [16_666, 16_667, 16_667]
    assert _unit(conn, run)["residual"] == 1_000_000 - 300_000 - 50_000


def test_deductions_come_off_before_dividends(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    station, _hh = world.enrolled_village_household(v)
    add_deduction(conn, county_id=world.county, seq=1, kind="land_rent", yearly_fen=50_000)
    add_deduction(conn, county_id=world.county, seq=2, kind="om_fee", rate=Decimal("0.029"))
    add_deduction(conn, county_id=world.county, seq=3, kind="reserve", rate=Decimal("0.02"))
    add_deduction(conn, county_id=world.county, seq=4, kind="insurance", yearly_fen=3_000)
    add_deduction(conn, station_id=station, seq=1, kind="land_rent", yearly_fen=80_000)
    world.feed("2025", {station: 2_000})  # 200,000 fen gross
    run = compute_run(conn, period="2025", created_by="clerk")
    ded = conn.execute(
        "SELECT seq, kind, due_fen, amount_fen, basis FROM dividend_run_deductions"
        " WHERE run_id = %s ORDER BY seq",
        (run,),
    ).fetchall()
    assert [(s, k, d, a) for s, k, d, a, _ in ded] == [
        (1, "land_rent", 80_000, 80_000),  # the station's rule replaces the county's
        (2, "om_fee", 5_800, 5_800),
        (3, "reserve", 4_000, 4_000),
        (4, "insurance", 3_000, 3_000),
    ]
    assert "2.9000% of 200000 fen gross" in ded[1][4]
    unit = _unit(conn, run)
    assert unit["ded"] == 92_800 and unit["available"] == 200_000 - 92_800
    assert unit["paid"] == 100_000 and unit["residual"] == 7_200
    line = conn.execute(
        "SELECT deductions_fen, revenue_benchmark_fen, revenue_subsidy_fen"
        " FROM dividend_lines WHERE run_id = %s LIMIT 1",
        (run,),
    ).fetchone()
    assert line == (92_800, 80_000, 120_000)


def test_deductions_are_capped_at_what_revenue_covers(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    station = world.station("V1", "village", v)
    add_deduction(conn, county_id=world.county, seq=1, kind="land_rent", yearly_fen=50_000)
    add_deduction(conn, county_id=world.county, seq=2, kind="insurance", yearly_fen=50_000)
    world.feed("2025", {station: 700})
    run = compute_run(conn, period="2025", created_by="clerk")
    ded = conn.execute(
        "SELECT kind, due_fen, amount_fen FROM dividend_run_deductions"
        " WHERE run_id = %s ORDER BY seq",
        (run,),
    ).fetchall()
    assert ded == [("land_rent", 50_000, 50_000), ("insurance", 50_000, 20_000)]
    assert run_summary(conn, run).residual_fen == 0


def test_a_joint_stations_village_columns_reconcile_to_the_fen(world: World) -> None:
    """Seven share villages with awkward weights, a fixed and a rate deduction: for every
    village's unit, benchmark + subsidy - deductions = available (each column used to be
    split on its own, and about half the villages were a fen off)."""
    conn = world.conn
    town = conn.execute("SELECT id FROM townships LIMIT 1").fetchone()[0]  # type: ignore[index]
    villages = list(world.villages[:3]) + [
        conn.execute(
            "INSERT INTO villages (code, name, township_id) VALUES (%s, %s, %s) RETURNING id",
            (f"JV{i}", f"联村{i}", town),
        ).fetchone()[0]  # type: ignore[index]
        for i in range(4)
    ]
    weights = ["0.137", "0.2", "0.061", "0.3", "0.113", "0.071", "0.118"]
    station = world.station(
        "J7", "joint", villages[0], shares=dict(zip(villages, weights, strict=True))
    )
    for n, v in enumerate(villages, start=1):
        enrol(
            conn,
            slot_id=world.slot(station, slot_no=n, village=v),
            scheme="village_slot",
            household_id=world.household(v, served_by=station),
            starts_on=date(2017, 1, 1),
        )
    world.feed("2025", {station: 123_458})
    add_deduction(conn, county_id=world.county, seq=1, kind="land_rent", yearly_fen=100_001)
    add_deduction(conn, county_id=world.county, seq=2, kind="om_fee", rate=Decimal("0.029"))
    run = compute_run(conn, period="2025", created_by="clerk")
    rows = conn.execute(
        """SELECT revenue_benchmark_fen, revenue_subsidy_fen, deductions_fen, available_fen
             FROM dividend_run_units WHERE run_id = %s""",
        (run,),
    ).fetchall()
    assert len(rows) == 7
    assert all(b + s - d == a for b, s, d, a in rows), rows
    assert sum(r[0] + r[1] for r in rows) == 12_345_800  # 123,458 kWh x 100 fen

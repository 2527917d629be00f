"""Runs and ledger: four eyes, frozen approved runs, no double payment, enrolment overlap,
identical re-runs, adjustment runs, estimates flagged; the migration goes up and down."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dividends.errors import (
    DividendError,
    DoublePaymentError,
    EstimatesNotAcknowledgedError,
    FourEyesError,
    RunStateError,
)
from dividends.runs import (
    approve_run,
    compute_run,
    create_adjustment,
    discard_run,
    mark_exported,
    mark_paid,
    run_history,
    run_summary,
)
from dividends.schemes import add_deduction, end_enrolment, enrol
from pvmon.db.migrate import downgrade, load_migrations, upgrade
from pvmon.db.readings import Reading, write_readings
from pvmon.db.rollups import refresh_rollups
from tests.dividends.conftest import World

_LINE = (
    "station_id, unit_village_id, enrolment_id, scheme_id, component, payee_kind, payee_id,"
    " period_start, period_end, days_enrolled, obligation_fen, factor, paid_fen,"
    " arrears_added_fen, arrears_paid_fen, amount_fen, policy, energy_wh, estimated_days,"
    " revenue_benchmark_fen, revenue_subsidy_fen, deductions_fen"
)


def _village(world: World, households: int = 3, kwh: int = 200_000) -> tuple[int, list[int]]:
    v = world.villages[0]
    station = world.station("V1", "village", v)
    hhs = []
    for i in range(households):
        hh = world.household(v, served_by=station)
        enrol(
            world.conn,
            slot_id=world.slot(station, slot_no=i + 1),
            scheme="village_slot",
            household_id=hh,
            starts_on=date(2017, 1, 1),
        )
        hhs.append(hh)
    world.feed("2025", {station: kwh})
    return station, hhs


def _lines(conn: psycopg.Connection, run: int) -> list[tuple]:
    return conn.execute(
        f"SELECT {_LINE} FROM dividend_lines WHERE run_id = %s ORDER BY enrolment_id, component",
        (run,),
    ).fetchall()


def test_approval_needs_a_second_person(world: World) -> None:
    _village(world)
    run = compute_run(world.conn, period="2025", created_by="clerk")
    with pytest.raises(FourEyesError, match="'clerk' computed or recomputed it"):
        approve_run(world.conn, run, approved_by="clerk")
    with pytest.raises(FourEyesError, match="'clerk' computed or recomputed it"):
        approve_run(world.conn, run, approved_by=" Clerk ")  # the same person
    # whoever recomputes a draft becomes one of its makers
    compute_run(world.conn, period="2025", created_by="chief", run_id=run)
    with pytest.raises(FourEyesError, match="makers: chief, clerk"):
        approve_run(world.conn, run, approved_by="chief")
    # the database refuses it too
    with pytest.raises(psycopg.errors.CheckViolation):
        world.conn.execute(
            "UPDATE dividend_runs SET status = 'approved', approved_by = 'clerk' WHERE id = %s",
            (run,),
        )
    approve_run(world.conn, run, approved_by="auditor")
    assert run_summary(world.conn, run).status == "approved"
    assert [(e.event, e.actor) for e in run_history(world.conn, run)] == [
        ("created", "clerk"),
        ("recomputed", "chief"),
        ("approved", "auditor"),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE dividend_lines SET amount_fen = amount_fen + 1 WHERE run_id = %(run)s",
        "DELETE FROM dividend_lines WHERE run_id = %(run)s",
        "UPDATE dividend_run_units SET residual_fen = 0 WHERE run_id = %(run)s",
        "DELETE FROM dividend_run_deductions WHERE run_id = %(run)s",
        "INSERT INTO dividend_lines (run_id, station_id, unit_village_id, enrolment_id,"
        " scheme_id, component, payee_kind, payee_id, period_start, period_end, days_enrolled,"
        " obligation_fen, factor, paid_fen, amount_fen, policy, energy_wh, estimated_days,"
        " revenue_benchmark_fen, revenue_subsidy_fen, deductions_fen)"
        " SELECT run_id, station_id, unit_village_id, enrolment_id, scheme_id, component,"
        " payee_kind, payee_id, period_start, period_end, 1, 1, 1, 1, 1, policy, 0, 0, 0, 0, 0"
        " FROM dividend_lines WHERE run_id = %(run)s LIMIT 1",
        "DELETE FROM dividend_runs WHERE id = %(run)s",
        "UPDATE dividend_runs SET period_label = '2024' WHERE id = %(run)s",
        "UPDATE dividend_runs SET status = 'draft', approved_by = NULL WHERE id = %(run)s",
    ],
)
def test_an_approved_run_cannot_change_in_the_database(world: World, statement: str) -> None:
    _village(world)
    conn = world.conn
    run = compute_run(conn, period="2025", created_by="clerk")
    conn.execute(
        "INSERT INTO dividend_run_deductions VALUES (%s, (SELECT station_id FROM"
        " dividend_run_units WHERE run_id = %s LIMIT 1), 9, 'other', 'fixed', 'x', 0, 0)",
        (run, run),
    )
    approve_run(conn, run, approved_by="chief")
    before = _lines(conn, run)
    # refused by the freeze trigger (or, for deleting claimed lines, by the claims' key)
    with pytest.raises(
        (psycopg.errors.RaiseException, psycopg.errors.ForeignKeyViolation),
        match=r"dividend run|dividend_payout_claims",
    ):
        conn.execute(statement, {"run": run})
    assert _lines(conn, run) == before
    with pytest.raises(RunStateError):
        compute_run(conn, period="2025", created_by="clerk", run_id=run)


_COPY_LINE = (
    "INSERT INTO dividend_lines (run_id, station_id, unit_village_id, enrolment_id, scheme_id,"
    " component, payee_kind, payee_id, period_start, period_end, days_enrolled,"
    " obligation_fen, factor, paid_fen, amount_fen, policy, energy_wh, estimated_days,"
    " revenue_benchmark_fen, revenue_subsidy_fen, deductions_fen, line_kind, reverses_line_id)"
    " SELECT {run}, station_id, unit_village_id, {enrolment}, scheme_id, component, payee_kind,"
    " payee_id, period_start, period_end, 1, 0, 0, 0, 0, policy, 0, 0, 0, 0, 0, {kind},"
    " {reverses} FROM dividend_lines WHERE run_id = %(draft)s LIMIT 1"
)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            _COPY_LINE.format(
                run="999999", enrolment="enrolment_id", kind="'dividend'", reverses="NULL"
            ),
            "dividend_lines rows for dividend run 999999, which does not exist",
        ),
        (
            "INSERT INTO dividend_run_units SELECT 999999, station_id, village_id + 1,"
            " share_weight, energy_wh, estimated_wh, estimated_days, revenue_benchmark_fen,"
            " revenue_subsidy_fen, deductions_fen, available_fen, obligations_fen, paid_fen,"
            " arrears_paid_fen, shortfall_fen, residual_fen, residual_owner, factor,"
            " energy_source, revenue_basis FROM dividend_run_units WHERE run_id = %(draft)s",
            "dividend_run_units rows for dividend run 999999",
        ),
        (
            "UPDATE dividend_run_deductions SET run_id = 999999 WHERE run_id = %(draft)s",
            "dividend_run_deductions rows for dividend run 999999",
        ),
        (
            _COPY_LINE.format(run="run_id", enrolment="999999", kind="'dividend'", reverses="NULL"),
            "is for enrolment 999999, which does not exist",
        ),
        (  # a reversal reverses a line of an approved run, never a draft's
            _COPY_LINE.format(
                run="run_id", enrolment="enrolment_id", kind="'reversal'", reverses="id"
            ),
            "which is not a line of an approved run",
        ),
        (
            "INSERT INTO dividend_payout_claims SELECT id, run_id, payee_kind, payee_id,"
            " enrolment_id, component, daterange('2030-01-01', '2031-01-01')"
            " FROM dividend_lines WHERE run_id = %(draft)s",
            "payout claims for dividend run \\d+, which is draft",
        ),
        (
            "INSERT INTO dividend_payout_claims SELECT id + 100000, run_id, payee_kind,"
            " payee_id, enrolment_id, component, daterange('2030-01-01', '2031-01-01')"
            " FROM dividend_lines WHERE run_id = %(approved)s",
            "payout claim for line \\d+, which is not a line of run",
        ),
        (
            "INSERT INTO revenue_lines SELECT 999999, period_start, period_end, part, source,"
            " energy_wh, yuan_per_kwh, amount_fen FROM revenue_lines LIMIT 1",
            "revenue line for station 999999, which does not exist",
        ),
        (
            "DELETE FROM dividend_enrolments WHERE id IN (SELECT enrolment_id FROM"
            " dividend_lines WHERE run_id = %(draft)s)",
            "dividend_enrolments row \\d+ has dividend or revenue lines",
        ),
        (
            "DELETE FROM stations WHERE id = %(bare)s",
            "stations row \\d+ has dividend or revenue lines",
        ),
    ],
)
def test_references_are_checked_once_per_statement(
    world: World, statement: str, message: str
) -> None:
    """The bulk tables' keys are checked over each statement's rows (migration 0021):
    what a foreign key refused is still refused, as a foreign key violation."""
    _village(world)
    conn = world.conn
    county = conn.execute("SELECT min(id) FROM counties").fetchone()
    add_deduction(
        conn, county_id=county[0] if county else 0, seq=1, kind="om_fee", rate=Decimal("0.03")
    )
    approved = compute_run(conn, period="2025", created_by="clerk")
    approve_run(conn, approved, approved_by="chief")
    world.feed("2025-Q3", {world.conn.execute("SELECT min(id) FROM stations").fetchone()[0]: 1})
    draft = compute_run(conn, period="2025-Q3", created_by="clerk")
    bare = world.station("B1", "village", world.villages[0])  # nothing but a revenue line
    conn.execute(
        "INSERT INTO revenue_lines SELECT %s, period_start, period_end, part, source,"
        " energy_wh, yuan_per_kwh, amount_fen FROM revenue_lines LIMIT 1",
        (bare,),
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match=message):
        conn.execute(statement, {"draft": draft, "approved": approved, "bare": bare})


def test_status_moves_forward_only(world: World) -> None:
    _village(world)
    conn = world.conn
    run = compute_run(conn, period="2025", created_by="clerk")
    with pytest.raises(RunStateError, match="exported needs approved"):
        mark_exported(conn, run, by="cashier")
    approve_run(conn, run, approved_by="chief")
    with pytest.raises(RunStateError, match="paid needs exported"):
        mark_paid(conn, run, by="cashier")
    mark_exported(conn, run, by="cashier")
    mark_paid(conn, run, by="cashier")
    with pytest.raises(RunStateError):
        approve_run(conn, run, approved_by="other")
    assert run_summary(conn, run).status == "paid"


@pytest.mark.parametrize("second", ["2025", "2025-Q3"])
def test_the_same_period_and_payee_cannot_be_paid_twice(world: World, second: str) -> None:
    station, _ = _village(world)
    conn = world.conn
    approve_run(conn, compute_run(conn, period="2025", created_by="clerk"), approved_by="chief")
    world.feed(second, {station: 50_000})
    again = compute_run(
        conn, period=second, scope_kind="stations", scope_codes=["V1"], created_by="clerk"
    )
    with pytest.raises(DoublePaymentError, match="already paid"):
        approve_run(conn, again, approved_by="chief")
    assert run_summary(conn, again).status == "draft"
    # and directly in the database
    with pytest.raises(psycopg.errors.ExclusionViolation):
        conn.execute(
            "INSERT INTO dividend_payout_claims SELECT id, run_id, payee_kind, payee_id,"
            " enrolment_id, component, daterange(period_start, period_end) FROM dividend_lines"
            " WHERE run_id = %s",
            (again,),
        )


def test_a_household_cannot_hold_the_same_slot_twice(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    station = world.station("V1", "village", v)
    hh = world.household(v)
    slot = world.slot(station)
    enrol(
        conn,
        slot_id=slot,
        scheme="village_slot",
        household_id=hh,
        starts_on=date(2017, 1, 1),
        ends_on=date(2020, 1, 1),
        end_reason="moved",
    )
    with pytest.raises(DividendError, match=f"household {hh} on slot {slot}"):
        enrol(
            conn, slot_id=slot, scheme="village_slot", household_id=hh, starts_on=date(2019, 6, 1)
        )
    with pytest.raises(psycopg.errors.ExclusionViolation, match="enrolments_no_overlap"):
        conn.execute(
            "INSERT INTO dividend_enrolments (slot_id, scheme_id, household_id, starts_on)"
            " SELECT %s, scheme_id, household_id, '2018-01-01' FROM dividend_enrolments",
            (slot,),
        )
    # back-to-back is fine
    enrol(conn, slot_id=slot, scheme="village_slot", household_id=hh, starts_on=date(2020, 1, 1))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kwh=st.integers(0, 400_000),
    reassign=st.dates(date(2025, 1, 2), date(2025, 12, 31)),
    period=st.sampled_from(["2025", "2025-H2", "2025-Q3", "2025-Q1"]),
)
def test_rerunning_a_draft_gives_identical_lines(world: World, kwh, reassign, period) -> None:
    conn = world.conn
    if conn.execute("SELECT count(*) FROM stations").fetchone() == (0,):
        _village(world)
    station = conn.execute("SELECT id FROM stations WHERE code = 'V1'").fetchone()[0]
    world.feed(period, {station: kwh})
    first = compute_run(conn, period=period, created_by="clerk")
    lines = _lines(conn, first)
    again = compute_run(conn, period=period, created_by="clerk")
    assert again == first  # the draft is replaced, not duplicated
    assert _lines(conn, again) == lines
    assert sum(r[15] for r in lines) == run_summary(conn, first).paid_fen
    assert all(r[15] >= 0 for r in lines)


def test_adjustment_run_reverses_and_corrects_without_touching_the_original(world: World) -> None:
    station, _ = _village(world, kwh=1_500)  # 150,000 fen against 300,000 of obligations
    conn = world.conn
    conn.execute("UPDATE dividend_schemes SET policy = 'pro_rata'")
    run = compute_run(conn, period="2025", created_by="clerk")
    approve_run(conn, run, approved_by="chief")
    original = _lines(conn, run)
    world.feed("2025", {station: 2_400})  # the meter was read short: 240,000 fen
    adj = create_adjustment(conn, run, created_by="clerk", note="meter re-read")
    assert adj != run and _lines(conn, run) == original  # the approved run is untouched
    rows = conn.execute(
        "SELECT line_kind, payee_kind, payee_id, amount_fen, reverses_line_id IS NOT NULL"
        " FROM dividend_lines WHERE run_id = %s ORDER BY line_kind, enrolment_id, component",
        (adj,),
    ).fetchall()
    assert {r[0] for r in rows} == {"reversal", "correction"}
    assert all(r[4] for r in rows if r[0] == "reversal")
    total_after = sum(r[15] for r in original) + sum(r[3] for r in rows)
    assert total_after == 240_000
    with pytest.raises(FourEyesError):
        approve_run(conn, adj, approved_by="clerk")
    approve_run(conn, adj, approved_by="chief")  # adjustments claim nothing new
    assert run_summary(conn, adj).kind == "adjustment"


def test_missing_days_are_estimated_and_flagged(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    station, _hh = world.enrolled_village_household(v)
    inv = conn.execute(
        "INSERT INTO inverters (serial, station_id, vendor, model, rated_ac_w, phases, host,"
        " port, unit_id, register_map) VALUES ('S1', %s, 'x', 'y', 50000, 3, 'h', 502, 1,"
        " 'sunspec') RETURNING id",
        (station,),
    ).fetchone()[0]
    # 2025-Q3 (92 days): readings on 1..10 July only, 100 kWh a day
    day0 = datetime(2025, 6, 30, 16, 0, tzinfo=UTC)  # 1 July 00:00 CST
    readings = []
    for d in range(11):
        t = day0 + timedelta(days=d, hours=12)
        readings.append(
            Reading(time=t, inverter_id=inv, ac_power_w=1000.0, energy_wh=1_000_000 + d * 100_000)
        )
        readings.append(
            Reading(
                time=t + timedelta(hours=1),
                inverter_id=inv,
                ac_power_w=10.0,
                energy_wh=1_000_000 + d * 100_000 + 1,
            )
        )
    write_readings(conn, readings)
    refresh_rollups(conn)
    run = compute_run(conn, period="2025-Q3", created_by="clerk")
    energy = conn.execute(
        "SELECT metered_wh, estimated_wh, metered_days, estimated_days, source"
        " FROM station_period_energy WHERE station_id = %s",
        (station,),
    ).fetchone()
    assert energy[2] == 11 and energy[3] == 81 and energy[4] == "readings"
    assert energy[1] > 0
    rev = conn.execute(
        "SELECT source, bool_and(estimated) FROM revenue_lines WHERE station_id = %s"
        " GROUP BY source ORDER BY source",
        (station,),
    ).fetchall()
    assert rev == [("estimated", True), ("metered", False)]
    flagged = conn.execute(
        "SELECT DISTINCT estimated_days FROM dividend_lines WHERE run_id = %s", (run,)
    ).fetchall()
    assert flagged == [(81,)]
    assert conn.execute(
        "SELECT kwh_per_kwp_year > 800 FROM station_expected_yield WHERE station_id = %s",
        (station,),
    ).fetchone() == (True,)


def test_scope_errors_are_named(world: World) -> None:
    _village(world)
    from pvmon.errors import ValidationError

    with pytest.raises(ValidationError, match=r"unknown station code\(s\) NOPE"):
        compute_run(
            world.conn,
            period="2025",
            scope_kind="stations",
            scope_codes=["NOPE"],
            created_by="clerk",
        )
    with pytest.raises(ValidationError, match="scope: unknown kind 'planet'"):
        compute_run(world.conn, period="2025", scope_kind="planet", created_by="clerk")
    world.conn.execute("DELETE FROM station_tariffs")
    with pytest.raises(ValidationError, match="station V1: no station_tariffs for tariff_ref 'T1'"):
        compute_run(world.conn, period="2025", created_by="clerk")
    world.conn.execute(
        "INSERT INTO station_tariffs (tariff_ref, effective_from, yuan_per_kwh)"
        " VALUES ('T1', '2025-06-01', 1.00)"
    )  # in force only after the period starts
    with pytest.raises(ValidationError, match=r"station V1: no station_tariffs .* 2025-01-01"):
        compute_run(world.conn, period="2025", created_by="clerk")
    compute_run(world.conn, period="2026", created_by="clerk")  # in force by then
    # a county elsewhere, with no price of its own, stops a run of every station
    world.conn.execute(
        "INSERT INTO counties (code, name, province) VALUES ('XX', '外县', 'Elsewhere')"
    )
    compute_run(world.conn, period="2026", created_by="clerk")  # no station there: no matter
    world.conn.execute("UPDATE counties SET province = 'Elsewhere'")
    with pytest.raises(
        ValidationError, match="station V1: no benchmark_prices for province 'Elsewhere'"
    ):
        compute_run(world.conn, period="2026", created_by="clerk")


def test_migration_0006_goes_down_and_up(empty_db_url: str) -> None:
    newest = load_migrations()[-1].version
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        upgrade(conn, timescaledb="off")
        assert downgrade(conn, target=5) == list(range(newest, 5, -1))
        assert conn.execute("SELECT to_regclass('dividend_lines')").fetchone() == (None,)
        upgrade(conn, timescaledb="off")
        assert conn.execute("SELECT to_regclass('dividend_lines')").fetchone() != (None,)


_MONEY_COLUMNS = (
    "obligation_fen", "paid_fen", "amount_fen", "arrears_added_fen", "arrears_paid_fen",
    "days_enrolled", "payee_id", "energy_wh", "deductions_fen",
)  # fmt: skip


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    column=st.sampled_from(_MONEY_COLUMNS),
    delta=st.integers(-(10**6), 10**6).filter(lambda d: d != 0),
    table=st.sampled_from(["dividend_lines", "dividend_run_units"]),
)
def test_property_an_approved_run_cannot_change(world: World, column, delta, table) -> None:
    conn = world.conn
    row = conn.execute("SELECT id FROM dividend_runs WHERE status = 'approved'").fetchone()
    if row is None:
        _village(world)
        run = compute_run(conn, period="2025", created_by="clerk")
        approve_run(conn, run, approved_by="chief")
    else:
        run = row[0]
    before = _lines(conn, run)
    target = column if table == "dividend_lines" else "paid_fen"
    # refused by the freeze trigger, or earlier by a row check (e.g. paid above obligation)
    with pytest.raises(
        (psycopg.errors.RaiseException, psycopg.errors.CheckViolation),
        match=rf"dividend run {run} is approved|dividend_lines_check",
    ):
        conn.execute(
            f"UPDATE {table} SET {target} = greatest(0, {target} + %s) WHERE run_id = %s",
            (delta, run),
        )
    assert _lines(conn, run) == before


def test_a_second_adjustment_corrects_the_first_not_the_original_again(world: World) -> None:
    station, _ = _village(world, kwh=1_500)  # 150,000 fen against 300,000 of obligations
    conn = world.conn
    conn.execute("UPDATE dividend_schemes SET policy = 'pro_rata'")
    run = compute_run(conn, period="2025", created_by="clerk")
    approve_run(conn, run, approved_by="chief")
    paid = sum(r[15] for r in _lines(conn, run))

    def adjusted_total() -> int:
        row = conn.execute(
            "SELECT coalesce(sum(l.amount_fen), 0) FROM dividend_lines l"
            " JOIN dividend_runs r ON r.id = l.run_id"
            " WHERE r.corrects_run_id = %s AND r.status <> 'draft'",
            (run,),
        ).fetchone()
        return paid + int(row[0])

    world.feed("2025", {station: 2_400})
    first = create_adjustment(conn, run, created_by="clerk", note="meter re-read")
    approve_run(conn, first, approved_by="chief")
    assert adjusted_total() == 240_000
    # nothing changed since: an adjustment of the run is empty; an adjustment is not
    # adjusted itself (the API and the CLI both refuse it here, in the engine)
    empty = create_adjustment(conn, run, created_by="clerk")
    assert _lines(conn, empty) == []
    with pytest.raises(RunStateError, match=f"is an adjustment; adjust run {run}"):
        create_adjustment(conn, first, created_by="clerk")
    with pytest.raises(RunStateError, match="an adjustment run is not recomputed"):
        compute_run(conn, period="2025", created_by="clerk", run_id=empty)
    world.feed("2025", {station: 2_800})
    second = create_adjustment(conn, run, created_by="clerk", note="settled energy")
    # the empty draft above was discarded (kept, with its history), not left beside the new one
    drafts = conn.execute(
        "SELECT id, status FROM dividend_runs WHERE corrects_run_id = %s AND status <> 'approved'",
        (run,),
    ).fetchall()
    assert drafts == [(empty, "discarded"), (second, "draft")]
    assert [e.event for e in run_history(conn, empty)] == ["created", "discarded"]
    approve_run(conn, second, approved_by="chief")
    assert adjusted_total() == 280_000  # not 280,000 + what the first already corrected


def test_much_estimated_energy_needs_an_acknowledgement(world: World) -> None:
    station, _household = world.enrolled_village_household(world.villages[0])
    world.feed("2025", {station: 3_000}, estimated={station: (1_000, 90)})  # 25 % estimated
    conn = world.conn
    run = compute_run(conn, period="2025", created_by="clerk")
    with pytest.raises(EstimatesNotAcknowledgedError, match=r"1 station\(s\) .* \(V1 25 %\)"):
        approve_run(conn, run, approved_by="chief")
    approve_run(conn, run, approved_by="chief", estimated_share_limit=Decimal("0.25"))
    assert run_summary(conn, run).status == "approved"
    assert [e.detail for e in run_history(conn, run) if e.event == "approved"] == [""]


def test_a_recompute_rewrites_only_the_revenue_lines_that_changed(world: World) -> None:
    """A recompute on the same energy writes no revenue line again; new energy rewrites
    that station's lines, and lines the energy no longer produces (an estimate that went
    away) are deleted."""
    conn = world.conn
    one, _ = _village(world)
    two = world.station("V2", "village", world.villages[1])
    world.feed("2025", {one: 200_000, two: 100_000}, estimated={two: (5_000, 10)})

    def lines() -> dict[tuple[int, str, str], tuple[int, str]]:
        rows = conn.execute(
            "SELECT station_id, part, source, amount_fen, xmin::text FROM revenue_lines"
            " WHERE period_start = '2025-01-01' ORDER BY 1, 2, 3"
        ).fetchall()
        return {(s, p, src): (fen, xmin) for s, p, src, fen, xmin in rows}

    run = compute_run(conn, period="2025", created_by="clerk")
    first = lines()
    assert len(first) == 6  # two parts metered for both, and estimated for two
    assert compute_run(conn, period="2025", created_by="clerk") == run
    assert lines() == first  # nothing written again (same row versions)
    locked = conn.execute("SELECT count(*) FROM revenue_lines WHERE xmax::text <> '0'").fetchone()
    assert locked == (0,)  # nor locked: unchanged lines never reach ON CONFLICT

    world.feed("2025", {one: 210_000, two: 100_000})  # one's energy up, two's estimate gone
    compute_run(conn, period="2025", created_by="clerk")
    after = lines()
    assert sorted(after) == sorted(k for k in first if k[2] == "metered")
    for part in ("benchmark", "subsidy"):
        assert after[(one, part, "metered")][0] == first[(one, part, "metered")][0] * 21 // 20
        assert after[(one, part, "metered")][1] != first[(one, part, "metered")][1]
        assert after[(two, part, "metered")] == first[(two, part, "metered")]  # untouched


def test_a_recompute_replaces_only_the_rows_that_changed(world: World) -> None:
    """Recomputing a draft writes only the deductions, units and lines whose figures
    changed: on the same data none (same row versions, same line ids); with one
    station's energy changed, that station's rows alone, and the draft then holds what a
    run computed afresh holds. A recompute that leaves no line deletes the old ones."""
    conn = world.conn
    one, households = _village(world)
    two, _ = world.enrolled_village_household(world.villages[1], code="V2")
    county = conn.execute("SELECT id FROM counties LIMIT 1").fetchone()
    assert county is not None
    add_deduction(conn, county_id=county[0], seq=1, kind="om_fee", rate=Decimal("0.03"))
    world.feed("2025", {one: 200_000, two: 100_000})

    def rows(run: int) -> dict[str, dict[tuple[object, ...], tuple[object, ...]]]:
        """Per table, each row's station and its figures -> (row version, line id)."""
        out: dict[str, dict[tuple[object, ...], tuple[object, ...]]] = {}
        for table, figures, ident in (
            ("dividend_run_deductions", "station_id, seq, kind, basis, amount_fen", "0"),
            ("dividend_run_units", "station_id, village_id, paid_fen, residual_fen", "0"),
            ("dividend_lines", _LINE, "id"),
        ):
            found = conn.execute(
                f"SELECT {figures}, xmin::text, {ident} FROM {table} WHERE run_id = %s", (run,)
            ).fetchall()
            out[table] = {tuple(r[:-2]): tuple(r[-2:]) for r in found}
            assert len(out[table]) == len(found)  # no row twice
        return out

    run = compute_run(conn, period="2025", created_by="clerk")
    first = rows(run)
    assert all(first.values()) and len(first["dividend_lines"]) == 8  # 4 households x 2
    assert compute_run(conn, period="2025", created_by="clerk") == run
    assert rows(run) == first  # nothing written again: same versions, same line ids

    world.feed("2025", {one: 260_000, two: 100_000})
    assert compute_run(conn, period="2025", created_by="clerk", run_id=run) == run
    after = rows(run)
    for table, figures in after.items():
        untouched = {k: v for k, v in first[table].items() if k[0] == two}
        assert untouched and all(after[table].get(k) == v for k, v in untouched.items())
        changed = [k for k in figures if k[0] == one]
        assert changed and not set(changed) & set(first[table]), table
    # the same rows as a run computed afresh
    discard_run(conn, run, by="clerk", reason="check")
    fresh = rows(compute_run(conn, period="2025", created_by="clerk"))
    assert {t: set(r) for t, r in fresh.items()} == {t: set(r) for t, r in after.items()}

    # nobody holds a slot in 2025 any more: the recompute leaves no line
    for (enrolment,) in conn.execute("SELECT id FROM dividend_enrolments").fetchall():
        end_enrolment(conn, enrolment, ends_on=date(2024, 6, 1), reason="moved")
    draft = compute_run(conn, period="2025", created_by="clerk")
    assert rows(draft)["dividend_lines"] == {}
    assert len(households) == 3

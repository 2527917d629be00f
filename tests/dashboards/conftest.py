"""A demo database per flavour, loaded once per module: fleet, backfilled readings,
rollups, health, alarms, a fault reading and one approved dividend run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml

from pvmon.availability import store_days
from pvmon.backfill import backfill_readings
from pvmon.db.embedded import EmbeddedPostgres
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, load_fleet_files, store_fleet
from tests.conftest import _template, _timescaledb_ready, new_database

# 14:00 China time on a summer day: inverters produce, "today" has energy.
END = datetime(2024, 6, 15, 6, 0, tzinfo=UTC)
DAYS = 3


@dataclass(frozen=True)
class Demo:
    """A loaded demo database."""

    url: str
    flavour: str
    county_id: int
    station_id: int
    inverter_id: int


def _load(conn: psycopg.Connection, tmp: Path) -> Demo:
    fleet = generate_fleet(households=8, village_stations=2, joint_villages=2, seed=7)
    path = tmp / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    store_fleet(conn, load_fleet_files([path]))
    backfill_readings(conn, days=DAYS, end=END, seed=7, interval_min=10)
    refresh_rollups(conn)
    county_id, station_id, inverter_id = conn.execute(
        """
        SELECT t.county_id, s.id, min(i.id)
          FROM stations s JOIN villages v ON v.id = s.village_id
          JOIN townships t ON t.id = v.township_id JOIN inverters i ON i.station_id = s.id
         WHERE s.kind = 'village'
         GROUP BY 1, 2 ORDER BY 2 LIMIT 1
        """
    ).fetchone()  # type: ignore[misc]
    # health: most online, one offline, one in fault
    conn.execute(
        """
        INSERT INTO inverter_health (inverter_id, state, since, last_poll_at)
        SELECT id, CASE WHEN id = %(inv)s THEN 'fault'
                        WHEN id %% 5 = 0 THEN 'offline' ELSE 'online' END, %(end)s, %(end)s
          FROM inverters
        """,
        {"inv": inverter_id, "end": END},
    )
    conn.execute(
        """
        INSERT INTO alarms (inverter_id, station_id, kind, opened_at, closed_at, reason)
        VALUES (%(inv)s, %(st)s, 'fault_code', %(t1)s, NULL, 'event 0x0040: ground fault'),
               (%(inv)s, %(st)s, 'offline', %(t0)s, %(t2)s, 'no answer for 15 min')
        """,
        {
            "inv": inverter_id,
            "st": station_id,
            "t0": END - timedelta(hours=20),
            "t1": END - timedelta(hours=1),
            "t2": END - timedelta(hours=19),
        },
    )
    conn.execute(
        """
        UPDATE readings SET state = 7, event_code = 64
         WHERE inverter_id = %s AND time > %s
        """,
        (inverter_id, END - timedelta(hours=1)),
    )
    _dividend_run(conn, station_id=station_id)
    refresh_rollups(conn)
    # the collector keeps availability per station-day; here, the demo's days at once
    end_day = END.astimezone(ZoneInfo("Asia/Shanghai")).date()
    store_days(conn, first=end_day - timedelta(days=DAYS), last=end_day, now=END)
    return Demo(
        url="",
        flavour="",
        county_id=county_id,
        station_id=station_id,
        inverter_id=inverter_id,
    )


def _dividend_run(conn: psycopg.Connection, *, station_id: int) -> None:
    """One approved run for 2023 with one household line that was paid short."""
    conn.execute(
        """
        WITH sch AS (
            INSERT INTO dividend_schemes (code, version, effective_from, years, policy)
            VALUES ('village-900', 1, '2016-01-01', 20, 'pro_rata_carry_forward') RETURNING id
        ), comp AS (
            INSERT INTO dividend_scheme_components (scheme_id, component, payee_role, basis,
                                                    yearly_fen)
            SELECT id, 'household', 'enrollee', 'fixed', 90000 FROM sch RETURNING scheme_id
        ), slot AS (
            INSERT INTO station_slots (station_id, slot_no, village_id, first_dividend_on)
            SELECT id, 1, village_id, '2017-01-01' FROM stations WHERE id = %(st)s
            RETURNING id, village_id
        ), hh AS (
            SELECT h.id FROM households h ORDER BY h.id LIMIT 1
        ), enr AS (
            INSERT INTO dividend_enrolments (slot_id, scheme_id, household_id, starts_on)
            SELECT slot.id, (SELECT scheme_id FROM comp), hh.id, '2017-01-01' FROM slot, hh
            RETURNING id, scheme_id, household_id
        ), run AS (
            INSERT INTO dividend_runs (period_label, period_start, period_end, scope_kind,
                                       created_by)
            VALUES ('2023', '2023-01-01', '2024-01-01', 'all', 'clerk') RETURNING id
        ), unit AS (
            INSERT INTO dividend_run_units (run_id, station_id, village_id, share_weight,
                energy_wh, estimated_wh, estimated_days, revenue_benchmark_fen,
                revenue_subsidy_fen, deductions_fen, available_fen, obligations_fen, paid_fen,
                arrears_paid_fen, shortfall_fen, residual_fen, residual_owner, factor)
            SELECT run.id, %(st)s, slot.village_id, 1, 200000000, 0, 0, 7000000, 5000000,
                   500000, 80000, 90000, 80000, 0, 0, 0, 'village_collective', 0.888888889
              FROM run, slot RETURNING run_id
        )
        INSERT INTO dividend_lines (run_id, station_id, unit_village_id, enrolment_id,
            scheme_id, component, payee_kind, payee_id, period_start, period_end,
            days_enrolled, obligation_fen, factor, paid_fen, arrears_added_fen,
            arrears_paid_fen, amount_fen, policy, energy_wh, estimated_days,
            revenue_benchmark_fen, revenue_subsidy_fen, deductions_fen)
        SELECT (SELECT run_id FROM unit), %(st)s, slot.village_id, enr.id, enr.scheme_id,
               'household', 'household', enr.household_id, '2023-01-01', '2024-01-01', 365,
               90000, 0.888888889, 80000, 10000, 0, 80000, 'pro_rata_carry_forward',
               200000000, 0, 7000000, 5000000, 500000
          FROM slot, enr
        """,
        {"st": station_id},
    )
    conn.execute(
        "UPDATE dividend_runs SET status = 'approved', approved_by = 'head', approved_at = now()"
    )


@pytest.fixture(scope="module", params=["postgres", "timescaledb"])
def demo(
    request: pytest.FixtureRequest,
    pg_server: EmbeddedPostgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Demo]:
    """A migrated database of one flavour with demo data."""
    flavour = str(request.param)
    if flavour == "timescaledb" and not _timescaledb_ready(pg_server):
        pytest.skip("timescaledb extension not installed on this machine")
    url = new_database(pg_server, template=_template(pg_server, flavour))
    with psycopg.connect(url, autocommit=True) as conn:
        loaded = _load(conn, tmp_path_factory.mktemp("fleet"))
    yield Demo(
        url=url,
        flavour=flavour,
        county_id=loaded.county_id,
        station_id=loaded.station_id,
        inverter_id=loaded.inverter_id,
    )

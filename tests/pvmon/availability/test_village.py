"""A simulated village through the API and the CLI: one inverter fails at 09:00, one
logger loses only its communication at 10:00 (issue 23's acceptance test).

Readings come from the simulator's device model (its physics; the faulted inverter's
register image shows state 7 and a non-grid event code from 09:00), sampled every 5
minutes as a collector would store them, nothing while the logger is silent; the alarms
are those the collector's health tracker opens for that (fault_code at the first poll
showing the fault, offline for the silent logger's inverters). The hand figures come
from the simulator's truth: what each inverter produced, and what the failed one would
have produced had it not failed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg
import pvlib
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dividends.schemes import set_benchmark_price, set_tariff
from pvmon.api import create_app
from pvmon.api.auth import create_key
from pvmon.backfill import registry_sites
from pvmon.cli import app
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import store_fleet
from pvmon.registry.models import FleetFile
from simulators.device import DeviceSpec, SimulatedInverter
from simulators.faults import Fault
from simulators.physics import energy_between_wh

LOCAL = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 6, 10)
NOW = datetime(2025, 7, 2, tzinfo=UTC)
SEED = 11
FAULT_AT = datetime(2025, 6, 10, 9, 0, tzinfo=LOCAL)
SILENT = (datetime(2025, 6, 10, 10, 0, tzinfo=LOCAL), datetime(2025, 6, 10, 14, 0, tzinfo=LOCAL))
NOT_GRID = 1 << 2  # an inverter fault: any event bit but the grid disconnect (bit 4)


def _fleet() -> FleetFile:
    inverters = [
        {
            "serial": f"INV-V1-{k}",
            "vendor": "SunSpec",
            "model": "SS-50K-3P",
            "rated_ac_w": 50000,
            "phases": 3,
            "host": "127.0.0.1",
            "port": 21001 if k <= 2 else 21002,  # two loggers, two inverters each
            "unit_id": 1 + (k - 1) % 2,
            "register_map": "sunspec",
        }
        for k in range(1, 5)
    ]
    return FleetFile.model_validate(
        {
            "counties": [
                {
                    "code": "AV",
                    "name": "可用县",
                    "province": "辽宁省",
                    "townships": [
                        {
                            "code": "AV-T1",
                            "name": "一镇",
                            "villages": [{"code": "AV-V1", "name": "一村"}],
                        }
                    ],
                }
            ],
            "stations": [
                {
                    "code": "AV-S1",
                    "name": "一村电站",
                    "kind": "village",
                    "capacity_kwp": "240",
                    "village": "AV-V1",
                    "latitude": 41.2,
                    "longitude": 119.6,
                    "tilt_deg": 30,
                    "azimuth_deg": 180,
                    "commissioned_on": "2018-05-01",
                    "tariff_ref": "LN-2017-village",
                    "om_contractor": "Acme O&M",
                    "inverters": inverters,
                }
            ],
        }
    )


def _village(conn: psycopg.Connection) -> dict[str, SimulatedInverter]:
    """Store the fleet, its readings of the day and the collector's alarms; the devices."""
    store_fleet(conn, _fleet())
    day0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=LOCAL)
    devices: dict[str, SimulatedInverter] = {}
    ids: dict[str, int] = {}
    for inverter_id, serial, site, phases in registry_sites(conn):
        ids[serial] = inverter_id
        faults = [Fault("grid_outage", FAULT_AT, None, {"event_code": NOT_GRID})]
        devices[serial] = SimulatedInverter(
            DeviceSpec(serial, site, "sunspec", phases, "127.0.0.1", 21001, 1),
            seed=SEED,
            start=day0,
            faults=faults if serial == "INV-V1-1" else (),
        )
    rows = []
    for serial, device in devices.items():
        for k in range(0, 24 * 12 + 1):
            at = day0 + timedelta(minutes=5 * k)
            silent = serial in ("INV-V1-3", "INV-V1-4") and SILENT[0] <= at < SILENT[1]
            values = device.values_at(at)  # the device runs on, whether polled or not
            if silent:
                continue
            rows.append(
                (at, ids[serial], values["ac_power_w"], values["energy_wh"], values["state"],
                 values["event_code"], 1)
            )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (time, inverter_id, ac_power_w, energy_wh, state, event_code,"
            " quality) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    station = conn.execute("SELECT id FROM stations WHERE code = 'AV-S1'").fetchone()[0]  # type: ignore[index]
    conn.execute(
        "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, reason, details)"
        " VALUES (%s, %s, 'fault_code', %s, 'inverter reports state 7', %s)",
        (ids["INV-V1-1"], station, FAULT_AT, json.dumps({"state": 7, "event_code": NOT_GRID})),
    )
    for serial in ("INV-V1-3", "INV-V1-4"):
        conn.execute(
            "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, closed_at, reason,"
            " close_reason) VALUES (%s, %s, 'offline', %s, %s, 'no reply', 'answering again')",
            (ids[serial], station, SILENT[0] + timedelta(minutes=10), SILENT[1]),
        )
    refresh_rollups(conn)  # as the collector does after writing
    set_benchmark_price(
        conn, province="辽宁省", effective_from=date(2015, 1, 1), yuan_per_kwh=Decimal("0.3749")
    )
    set_tariff(
        conn,
        tariff_ref="LN-2017-village",
        effective_from=date(2015, 1, 1),
        yuan_per_kwh=Decimal("0.85"),
    )
    return devices


def _daylight_s() -> float:
    """The day's hours with the sun above 4 degrees at the site, by pvlib [s]."""
    times = pd.date_range(f"{DAY} 00:00", periods=24 * 60, freq="1min", tz="Asia/Shanghai")
    sun = pvlib.solarposition.get_solarposition(times, 41.2, 119.6)
    up = times[sun["apparent_elevation"].to_numpy() > 4]
    return (up[-1] - up[0]).total_seconds() + 60, up[-1]


def test_a_failed_inverter_loses_energy_and_a_silent_logger_none(db_url: str, flavour: str) -> None:
    if flavour == "timescaledb":
        pytest.skip("storage does not matter here; the energy views are tested on both")
    with psycopg.connect(db_url, autocommit=True) as conn:
        devices = _village(conn)
        viewer = create_key(conn, name="viewer", role="viewer")[1]
    # the truth
    day0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=LOCAL)
    day1 = day0 + timedelta(days=1)
    actual = {s: d.true_energy_between_wh(day0, day1) for s, d in devices.items()}
    failed = devices["INV-V1-1"]
    lost = energy_between_wh(
        failed.spec.site, FAULT_AT, day1, seed=SEED, device_key=failed.spec.serial
    )
    daylight_s, sunset = _daylight_s()
    down_s = (sunset - pd.Timestamp(FAULT_AT)).total_seconds()
    time_availability = 1 - down_s / (4 * daylight_s)
    energy_availability = sum(actual.values()) / (sum(actual.values()) + lost)

    with TestClient(create_app(database_url=db_url), raise_server_exceptions=False) as client:
        got = client.get(
            "/v1/stations/AV-S1/availability",
            params={"from": str(DAY), "to": str(DAY)},
            headers={"X-API-Key": viewer},
        )
        assert got.status_code == 200, got.text
        body = got.json()
        month = client.get(
            "/v1/availability/contractors",
            params={"month": "2025-06", "county": "AV"},
            headers={"X-API-Key": viewer},
        )
        assert month.status_code == 200, month.text
    assert body["actual_wh"] == pytest.approx(sum(actual.values()), rel=0.02)
    assert body["lost_wh_by_cause"]["inverter_fault"] == pytest.approx(lost, rel=0.02)
    assert body["lost_wh_by_cause"]["communication"] == 0
    assert body["lost_wh_by_cause"]["grid"] == 0
    assert float(body["time_availability"]) == pytest.approx(time_availability, rel=0.02)
    assert float(body["energy_availability"]) == pytest.approx(energy_availability, rel=0.02)
    causes = {(x["inverter_id"], x["cause"]) for x in body["losses"]}
    assert {c for _, c in causes} == {"inverter_fault", "communication"}
    comm = [x for x in body["losses"] if x["cause"] == "communication"]
    assert len({x["inverter_id"] for x in comm}) == 2 and all(x["lost_wh"] == 0 for x in comm)
    # the contractor's month: the day's loss priced at the station's tariff
    (acme,) = month.json()["items"]
    assert acme["om_contractor"] == "Acme O&M" and acme["stations"] == 1
    fen = acme["lost_revenue_fen_by_cause"]["inverter_fault"]
    assert fen == round(body["lost_wh_by_cause"]["inverter_fault"] * Decimal("0.85") / 10)
    assert acme["penalty_base_fen"] == fen == acme["lost_revenue_fen"]
    # and the CLI prints the same month
    result = CliRunner().invoke(
        app,
        ["availability", "--county", "AV", "--month", "2025-06", "--store"],
        env={"PVMON_DATABASE_URL": db_url, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "AV-S1" in result.output and "Acme O&M" in result.output
    assert str(fen) in result.output
    # --store keeps each station-day for Grafana: the day is the API's day
    assert "stored 30 station-days" in result.output
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT available_s::float8 / period_s, actual_wh, lost_inverter_fault_wh,"
            " lost_communication_wh FROM station_availability_daily a"
            " JOIN stations s ON s.id = a.station_id WHERE s.code = 'AV-S1' AND a.day = %s",
            (DAY,),
        ).fetchone()
    assert stored is not None
    assert stored[0] == pytest.approx(float(body["time_availability"]), abs=1e-4)
    assert stored[1:] == (body["actual_wh"], body["lost_wh_by_cause"]["inverter_fault"], 0)

"""End to end over real Modbus TCP on loopback: simulated fleet → collector → database.

A small county (SunSpec and Huawei inverters, plain TCP and RTU-over-TCP loggers) is
simulated through a whole local day, with faults injected, and collected by the real
collector service into a real PostgreSQL. The test's clock steps the day a poll
interval at a time, and the collector polls every endpoint once per step: what happens
in simulated time does not depend on how fast the machine is. Daily energy per
inverter must match the simulator's ground truth within 0.1 %, and each fault must
show up as it should.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from collectors.service import Collector
from pvmon.db.rollups import refresh_rollups
from pvmon.quality import Quality
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.clock import SimClock
from simulators.faults import GRID_DISCONNECT, Fault
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.ports import fleet_base_port

LOCAL = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 6, 1)
START = datetime(2025, 5, 31, 23, 30, tzinfo=LOCAL)
END = datetime(2025, 6, 2, 0, 40, tzinfo=LOCAL)
SPEED = 3600.0  # the nominal speed: wall-clock parts (retries, guards) shrink by it
STEP_S = 120  # twice the fleet's poll interval [s]: a poll every other minute is plenty here


def _at(hour: float) -> datetime:
    return datetime(2025, 6, 1, tzinfo=LOCAL) + timedelta(hours=hour)


@pytest.fixture
def fleet() -> FleetFile:
    data = generate_fleet(
        households=6, village_stations=1, joint_villages=2, base_port=fleet_base_port()
    )
    return FleetFile.model_validate(data)


async def test_a_simulated_day_is_collected_exactly(
    db_url: str, fleet: FleetFile, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, fleet)
        ids = dict(conn.execute("SELECT serial, id FROM inverters").fetchall())
    specs = device_specs(fleet)
    serials = [s.serial for s in specs]
    maps = {s.serial: s.register_map for s in specs}
    assert {"sunspec", "huawei_sun2000"} <= set(maps.values())
    assert {"tcp", "rtu-over-tcp"} <= {s.framing for s in specs}
    outage, sentinel, raising, garbage = serials[0], serials[1], serials[2], serials[3]
    dark_logger = next(s for s in specs if s.framing == "rtu-over-tcp")
    faults = {
        outage: [Fault("grid_outage", _at(11), _at(13), {"event_code": GRID_DISCONNECT})],
        sentinel: [Fault("sentinel", _at(8), _at(20), {"points": ("temperature_c",)})],
        raising: [Fault("exception", _at(14), _at(15), {"code": 4})],
        garbage: [Fault("out_of_range", _at(9), _at(9.2))],
        dark_logger.serial: [Fault("unreachable", _at(10), _at(11))],
    }
    clock = SimClock(start=START, speed=SPEED, stepped=True)
    endpoints = build_endpoints(specs, seed=5, start=START, faults=faults)
    simulator = FleetServer(endpoints, clock=clock)
    await simulator.start()
    collector = Collector(
        url=db_url, spool_dir=tmp_path / "spool", speed=SPEED, timeout_s=1.0, clock=clock
    )
    try:
        while clock.now() < END:
            await collector.cycle()
            clock.advance(STEP_S)
            await simulator.sync()  # listeners open and close on the step, not on wall time
    finally:
        await collector.close()
        await simulator.stop()

    devices = {d.spec.serial: d for e in endpoints for d in e.devices.values()}
    with psycopg.connect(db_url, autocommit=True) as conn:
        refresh_rollups(conn)
        daily = dict(
            conn.execute(
                "SELECT inverter_id, energy_wh FROM energy_daily WHERE day = %s", (DAY,)
            ).fetchall()
        )
        for serial, device in devices.items():
            truth = device.true_daily_energy_wh(DAY)
            assert truth > 0
            assert daily[ids[serial]] == pytest.approx(truth, rel=0.001), serial

        # grid outage: zero output and fault state stored, fault alarm opened and closed
        row = conn.execute(
            "SELECT max(ac_power_w), min(state), max(state) FROM readings "
            "WHERE inverter_id = %s AND time >= %s AND time < %s",
            (ids[outage], _at(11.2), _at(12.8)),
        ).fetchone()
        assert row == (0.0, 7, 7)
        alarms = conn.execute(
            "SELECT kind, opened_at, closed_at FROM alarms WHERE inverter_id = %s", (ids[outage],)
        ).fetchall()
        assert [a[0] for a in alarms] == ["fault_code"]
        assert _at(11) <= alarms[0][1] < _at(11.2) and alarms[0][2] is not None

        # sentinel: NULL temperature, flagged, never 0
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE temperature_c IS NULL), "
            "count(*) FILTER (WHERE temperature_c = 0), bool_and(quality & %s <> 0) "
            "FROM readings WHERE inverter_id = %s AND time >= %s AND time < %s",
            (int(Quality.SENTINEL), ids[sentinel], _at(8.2), _at(19.8)),
        ).fetchone()
        assert row is not None and row[0] > 100 and row[1] == 0 and row[2] is True

        # garbage values: rejected with their raw value, nothing impossible stored
        row = conn.execute(
            "SELECT count(*) FROM readings WHERE inverter_id = %s AND quality & %s <> 0 "
            "AND raw ? 'ac_power_w'",
            (ids[garbage], int(Quality.OUT_OF_RANGE)),
        ).fetchone()
        assert row is not None and row[0] > 0
        worst = conn.execute(
            "SELECT max(r.ac_power_w / i.rated_ac_w) FROM readings r "
            "JOIN inverters i ON i.id = r.inverter_id"
        ).fetchone()
        assert worst is not None and worst[0] <= 1.2

        # an inverter answering exceptions and a logger that refuses connections in daylight
        for serial, start in ((raising, _at(14)), (dark_logger.serial, _at(10))):
            opened = conn.execute(
                "SELECT opened_at, closed_at FROM alarms WHERE inverter_id = %s "
                "AND kind = 'offline'",
                (ids[serial],),
            ).fetchall()
            assert len(opened) == 1, serial
            # failure times of a silent device are estimated from its last answer and the speed
            assert start + timedelta(minutes=14) <= opened[0][0] < start + timedelta(minutes=40)
            assert opened[0][1] is not None

        # nothing stored twice, health known for every inverter
        dupes = conn.execute(
            "SELECT count(*) - count(DISTINCT (inverter_id, time)) FROM readings"
        ).fetchone()
        assert dupes == (0,)
        health = conn.execute("SELECT count(*) FROM inverter_health").fetchone()
        assert health == (len(devices),)

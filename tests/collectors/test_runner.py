"""``pvmon collect --once``: every inverter polled once over real Modbus TCP, stored, the
summary printed, and the exit code saying whether every inverter answered."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.clock import SimClock
from simulators.faults import Fault
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.ports import fleet_base_port

NOON = datetime(2025, 6, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))


async def collect_once(db_url: str, root: Path) -> tuple[int, str]:
    """``pvmon collect --once`` as a subprocess (data directory ``root``): exit code, output."""
    env = {
        **os.environ,
        "PVMON_DATABASE_URL": db_url,
        "PVMON_DATA_DIR": str(root),
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pvmon.cli", "collect", "--once", "--timeout", "2",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_collect_once_polls_every_inverter_and_names_the_silent_ones(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    if flavour == "timescaledb":
        pytest.skip("one flavour is enough here: test_end_to_end covers both storage paths")
    fleet = FleetFile.model_validate(
        generate_fleet(households=4, village_stations=1, base_port=fleet_base_port())
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, fleet)
    specs = device_specs(fleet)
    simulator = FleetServer(build_endpoints(specs, seed=4, start=NOON), clock=SimClock(start=NOON))
    await simulator.start()
    try:
        code, out = await collect_once(db_url, tmp_path)
    finally:
        await simulator.stop()
    assert code == 0, out
    assert "did not answer" not in out and "Traceback" not in out
    # a logger gone dark
    dark = (specs[0].host, specs[0].port)
    silent = sorted(s.serial for s in specs if (s.host, s.port) == dark)
    gone = [Fault("unreachable", NOON - timedelta(hours=1), NOON + timedelta(days=1))]
    endpoints = build_endpoints(specs, seed=4, start=NOON, faults=dict.fromkeys(silent, gone))
    simulator = FleetServer(endpoints, clock=SimClock(start=NOON))
    await simulator.start()
    try:
        code, out = await collect_once(db_url, tmp_path)
    finally:
        await simulator.stop()
    assert code == 1, out
    assert f"{len(silent)} inverters did not answer" in out
    for serial in silent:
        assert serial in out
    assert "endpoint unreachable" in out and "Traceback" not in out
    with psycopg.connect(db_url, autocommit=True) as conn:
        answered = dict(
            conn.execute(
                "SELECT i.serial, count(r.time) FROM inverters i "
                "LEFT JOIN readings r ON r.inverter_id = i.id GROUP BY i.serial"
            ).fetchall()
        )
        failures = dict(
            conn.execute(
                "SELECT i.serial, h.consecutive_failures FROM inverter_health h "
                "JOIN inverters i ON i.id = h.inverter_id"
            ).fetchall()
        )
    # every inverter answered the first pass; the dark logger's missed the second
    assert all(answered[s] == (1 if s in silent else 2) for s in answered), answered
    assert {s for s, n in failures.items() if n} == set(silent)

"""``pvmon simulate --speed N --faults field`` beside ``pvmon collect --speed N``, as two
processes, as the README documents them: every inverter-day with a reading before and
after it within 0.5 % of the simulator's ground truth, as in the field end-to-end test.

A small field fleet (no per-logger options in the fleet file: the collector learns what
it must) runs at x3600 from noon through a full day and two nights. The simulator draws
its field behaviours and faults with their wall-clock parts divided by the speed, and the
collector divides its timeouts and connect delays alike, so what happens in simulated
time is what happens in the field; the ground truth is computed here from the same fleet,
seed and start. The wait is bounded by simulated progress (readings reaching the end
time), with an overall deadline only as a safety net; nothing asserts wall-clock timing.
``bench/field_speed.py`` runs the documented x600, three-day combination.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml

from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.fleet import build_endpoints, device_specs
from tests.ports import fleet_base_port
from tests.processes import FAULTHANDLER_ENV, interrupt

LOCAL = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 5, 31, 12, 0, tzinfo=LOCAL)  # hours of margin for slow start-ups
END = datetime(2025, 6, 2, 8, 0, tzinfo=LOCAL)  # after the second night: 1 June is whole
SPEED = 3600.0
SEED = 11
POLL_S = 600  # simulated seconds between polls (a sixth of a wall second)
SAFETY_S = 900.0  # a hung run fails after this long; not a measure of speed


def _start(args: list[str], *, env: dict[str, str], log: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pvmon.cli", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


async def test_simulate_and_collect_at_speed_give_every_day_within_half_a_percent(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    if flavour == "timescaledb":
        pytest.skip("one flavour is enough here: test_end_to_end covers both storage paths")
    fleet_data = generate_fleet(
        households=24, village_stations=2, joint_villages=2, base_port=fleet_base_port()
    )
    for station in fleet_data["stations"]:
        for inverter in station["inverters"]:
            inverter["poll_interval_s"] = POLL_S
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet_data, allow_unicode=True), encoding="utf-8")
    fleet = FleetFile.model_validate(fleet_data)
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, fleet)
        ids: dict[str, int] = dict(conn.execute("SELECT serial, id FROM inverters").fetchall())

    env = {
        **os.environ,
        "PVMON_DATABASE_URL": db_url,
        "PVMON_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
        **FAULTHANDLER_ENV,
    }
    speed = f"{SPEED:g}"
    with (
        (tmp_path / "collect.log").open("w") as collect_log,
        (tmp_path / "simulate.log").open("w") as simulate_log,
    ):
        collector = _start(
            ["collect", "--speed", speed, "--metrics-port", "0"], env=env, log=collect_log
        )
        simulator = _start(
            ["simulate", "--fleet", str(fleet_file), "--speed", speed,
             "--start", START.isoformat(), "--faults", "field", "--seed", str(SEED)],
            env=env, log=simulate_log,
        )  # fmt: skip
        try:
            reached = await _until_readings_reach(db_url, END, processes=(collector, simulator))
        finally:
            # docker stop's SIGTERM for the collector, Ctrl-C for the simulator; safety nets
            collected = interrupt(collector, signum=signal.SIGTERM, timeout_s=120)
            simulated = interrupt(simulator, timeout_s=120)
    outputs = {p.name: p.read_text() for p in tmp_path.glob("*.log")}
    assert reached, f"readings never reached {END}: {outputs}"
    assert collected == 0 and simulated == 0, outputs
    assert "Traceback" not in outputs["collect.log"] + outputs["simulate.log"], outputs

    # the simulator's truth, from the same fleet, seed, start, profile and speed
    endpoints = build_endpoints(
        device_specs(fleet), seed=SEED, start=START, fault_profile="field", speed=SPEED
    )
    devices = {d.spec.serial: d for e in endpoints for d in e.devices.values()}
    compared, worst, errors = 0, 0.0, []
    with psycopg.connect(db_url, autocommit=True) as conn:
        refresh_rollups(conn)
        daily = {
            (r[0], r[1]): (r[2], r[3])
            for r in conn.execute(
                "SELECT inverter_id, day, energy_wh, counter_reset FROM energy_daily"
            )
        }
        seen = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT inverter_id, min(time), max(time) FROM readings "
                "WHERE energy_wh IS NOT NULL GROUP BY inverter_id"
            )
        }
    day = START.date() + timedelta(days=1)  # the one whole day of the run
    begins = datetime(day.year, day.month, day.day, tzinfo=LOCAL)
    for serial, device in devices.items():
        first, last = seen.get(ids[serial], (None, None))
        if first is None or last is None or first > begins or last < begins + timedelta(days=1):
            continue  # nothing read before it or after it: what it produced is unknown
        energy, reset = daily.get((ids[serial], day), (None, False))
        if reset:  # an inverter replaced that day: flagged, not exact by design
            continue
        truth = device.true_daily_energy_wh(day)
        compared += 1
        if energy is not None and truth > 0:
            worst = max(worst, abs(energy - truth) / truth)
        if energy is None or abs(energy - truth) > max(0.005 * truth, 10):
            errors.append((serial, day, energy, round(truth)))
    print(f"compared {compared} of {len(devices)} inverter-days, worst {100 * worst:.3f} %")
    assert not errors, errors
    # most loggers answer through the run (some sleep at night, a few have a fault):
    # the comparison is not vacuous
    assert compared >= len(devices) // 2, (compared, len(devices), outputs)


async def _until_readings_reach(
    db_url: str, end: datetime, *, processes: tuple[subprocess.Popen[str], ...]
) -> bool:
    """Wait until a stored reading is timestamped ``end`` or later (simulated time):
    True; False when a process exits first or the safety deadline passes."""
    deadline = time.monotonic() + SAFETY_S
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                return False
            row = conn.execute("SELECT max(time) FROM readings").fetchone()
            if row is not None and row[0] is not None and row[0] >= end:
                return True
            await asyncio.sleep(1.0)
    return False

"""The documented accelerated field run, measured: ``pvmon simulate --speed 600 --faults
field`` beside ``pvmon collect --speed 600`` for three simulated days, then every
inverter-day with a reading before and after it compared with the simulator's truth.

Runs the commands as an operator would (``pvmon fleet import``, ``pvmon collect``,
``pvmon simulate``, each its own process) against a PostgreSQL of its own, on a
generated fleet with no per-logger options (the collector learns what it must), from
noon before the first day (``simulate --start``) until readings reach the morning after
the last day. The ground truth comes from the same fleet, seed, start, profile and
speed, in this process. Prints inverter-days compared (and how many were partly
estimated across a gap), the worst error and the share within 0.5 %; at x600 the run
takes about (``--days`` + 0.85) x 2.4 minutes of wall time.

    .venv/bin/python bench/field_speed.py [--speed 600] [--days 3] [--households 30]
        [--seed 2016] [--first-day 2025-06-01]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import IO
from zoneinfo import ZoneInfo

import psycopg
import yaml

from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet
from pvmon.registry.models import FleetFile
from simulators.device import SimulatedInverter
from simulators.fleet import build_endpoints, device_specs

__all__ = ["main"]

LOCAL = ZoneInfo("Asia/Shanghai")  # the generated fleet's stations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=float, default=600.0)
    parser.add_argument("--days", type=int, default=3, help="whole simulated days compared")
    parser.add_argument("--households", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--first-day", type=date.fromisoformat, default=date(2025, 6, 1))
    args = parser.parse_args()
    first = datetime.combine(args.first_day, datetime.min.time(), LOCAL)
    start = first - timedelta(hours=12)  # readings before the first day, by daylight
    # ... and after the last day, past the next dawn (loggers asleep at night answer again)
    end = first + timedelta(days=args.days, hours=8)
    fleet = generate_fleet(
        households=args.households,
        village_stations=2,
        joint_villages=2,
        base_port=20000 + free_port() % 12000,
    )
    root = Path(tempfile.mkdtemp(prefix="pvmon-bench-field-speed-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root_dir=root / "pg", port=free_port(), preload_timescaledb=False)
    server.start()
    try:
        _run(args, fleet=fleet, root=root, url=server.url(), start=start, end=end)
        _report(server.url(), fleet=fleet, args=args, start=start, first=first)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    *,
    fleet: dict[str, object],
    root: Path,
    url: str,
    start: datetime,
    end: datetime,
) -> None:
    """Import the fleet, then collect and simulate until readings reach ``end``."""
    fleet_file = root / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PVMON_DATABASE_URL": url, "PVMON_DATA_DIR": str(root / "data")}
    speed = f"{args.speed:g}"
    subprocess.run(
        [sys.executable, "-m", "pvmon.cli", "fleet", "import", str(fleet_file)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    inverters = len(device_specs(FleetFile.model_validate(fleet)))
    print(
        f"pvmon simulate --speed {speed} --faults field --start {start.isoformat()} "
        f"beside pvmon collect --speed {speed}: {inverters} inverters, "
        f"until {end.isoformat()} (simulated)",
        flush=True,
    )
    began = time.monotonic()
    with (root / "collect.log").open("w") as collect_log, (root / "simulate.log").open("w") as log:
        collector = _start(
            ["collect", "--speed", speed, "--metrics-port", "0"], env=env, log=collect_log
        )
        simulator = _start(
            ["simulate", "--fleet", str(fleet_file), "--speed", speed,
             "--start", start.isoformat(), "--faults", "field", "--seed", str(args.seed)],
            env=env, log=log,
        )  # fmt: skip
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                reached = None
                while reached is None or reached < end:
                    if collector.poll() is not None or simulator.poll() is not None:
                        raise SystemExit(f"a process exited early; logs in {root}")
                    time.sleep(2.0)
                    row = conn.execute("SELECT max(time) FROM readings").fetchone()
                    reached = row[0] if row else None
        finally:
            for process in (collector, simulator):
                process.send_signal(signal.SIGINT)
                process.wait(timeout=120)
    print(f"ran {time.monotonic() - began:.0f} s of wall time", flush=True)


def _start(args: list[str], *, env: dict[str, str], log: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pvmon.cli", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _report(
    url: str,
    *,
    fleet: dict[str, object],
    args: argparse.Namespace,
    start: datetime,
    first: datetime,
) -> None:
    """Compare every inverter-day with a reading before and after it with the truth."""
    endpoints = build_endpoints(
        device_specs(FleetFile.model_validate(fleet)),
        seed=args.seed,
        start=start,
        fault_profile="field",
        speed=args.speed,
    )
    devices: dict[str, SimulatedInverter] = {
        d.spec.serial: d for e in endpoints for d in e.devices.values()
    }
    with psycopg.connect(url, autocommit=True) as conn:
        refresh_rollups(conn)
        ids: dict[str, int] = dict(conn.execute("SELECT serial, id FROM inverters").fetchall())
        daily = {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in conn.execute(
                "SELECT inverter_id, day, energy_wh, counter_reset, estimated_wh FROM energy_daily"
            )
        }
        seen = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT inverter_id, min(time), max(time) FROM readings "
                "WHERE energy_wh IS NOT NULL GROUP BY inverter_id"
            )
        }
    errors: list[float] = []  # |stored - true| / true per inverter-day compared
    within = 0
    estimated = skipped = reset_days = missing = 0
    never: set[str] = set()  # inverters without one reading of their counter
    for serial, device in devices.items():
        read_from, read_to = seen.get(ids[serial], (None, None))
        for offset in range(args.days):
            begins = first + timedelta(days=offset)
            if read_from is None or read_to is None:
                never.add(serial)
                skipped += 1
                continue
            if read_from > begins or read_to < begins + timedelta(days=1):
                skipped += 1
                continue
            energy, reset, estimated_wh = daily.get((ids[serial], begins.date()), (None, 0, 0))
            if reset:
                reset_days += 1
                continue
            truth = device.true_daily_energy_wh(begins.date())
            if energy is None:
                missing += 1
                errors.append(float("inf"))
                continue
            estimated += bool(estimated_wh)
            off = abs(energy - truth)
            errors.append(off / max(truth, 1.0))
            # as the field end-to-end test: 0.5 %, or 10 Wh on a day of almost nothing
            within += off <= max(0.005 * truth, 10)
    print(
        f"compared {len(errors)} inverter-days ({estimated} partly estimated, {missing} "
        f"missing); not compared: {skipped} without a reading before and after, "
        f"{reset_days} with a counter reset; never read: {len(never)} of {len(devices)} "
        f"inverters {sorted(never)}"
    )
    if errors:
        print(
            f"worst error {100 * max(errors):.4f} %; median {100 * median(errors):.4f} %; "
            f"within 0.5 %: {within} of {len(errors)} "
            f"({100 * within / len(errors):.1f} %)"
        )


if __name__ == "__main__":
    main()

"""Simulator benchmark: one process serving 2,000 simulated inverters over Modbus TCP.

Starts ``pvmon simulate`` in a child process for a generated fleet, then drives it
with the raw asyncio client (one connection per data logger, as a collector would):
first a full poll of every device (every block of its register map), then as many
full polls as it can take for a while. Prints devices served, requests/s and the
simulator's CPU use (from /proc), and what a poll of every device every 60 s costs.

    .venv/bin/python bench/simulator.py [--households 2000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rawmodbus import RawModbusClient

from pvmon.db.embedded import free_port
from pvmon.registermaps import get_map
from pvmon.registry import generate_fleet


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _poll_endpoint(
    port: int, devices: list[tuple[int, list[tuple[int, int]]]], until: float | None
) -> int:
    client = RawModbusClient("127.0.0.1", port)
    await client.connect()
    requests = 0
    try:
        while True:
            for unit, blocks in devices:
                for start, count in blocks:
                    await client.read_holding(unit, start, count)
                    requests += 1
            if until is None or time.monotonic() >= until:
                return requests
    finally:
        client.close()


async def _drive(
    endpoints: dict[int, list[tuple[int, list[tuple[int, int]]]]], until: float | None
) -> int:
    counts = await asyncio.gather(
        *(_poll_endpoint(port, devices, until) for port, devices in endpoints.items())
    )
    return sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    fleet = generate_fleet(
        households=args.households, village_stations=0, base_port=20000 + free_port() % 8000
    )
    fleet["stations"] = [s for s in fleet["stations"] if s["kind"] == "household"]
    fleet["households"] = [h for h in fleet["households"] if "served_by_station" not in h]
    endpoints: dict[int, list[tuple[int, list[tuple[int, int]]]]] = {}
    for station in fleet["stations"]:
        for inverter in station["inverters"]:
            blocks = [
                (b.start, b.count)
                for b in get_map(inverter["register_map"], phases=inverter["phases"]).blocks
            ]
            endpoints.setdefault(inverter["port"], []).append((inverter["unit_id"], blocks))
    devices = sum(len(d) for d in endpoints.values())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.dump(fleet, Dumper=yaml.CSafeDumper, allow_unicode=True))
        child = subprocess.Popen(
            [sys.executable, "-m", "pvmon.cli", "simulate", "--fleet", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert child.stdout is not None
        while "serving" not in child.stdout.readline():
            if child.poll() is not None:
                raise SystemExit("simulator did not start")
        # keep reading the child's output, or it blocks once the pipe is full
        threading.Thread(target=child.stdout.read, daemon=True).start()
        time.sleep(1.0)
        try:
            cpu0, t0 = cpu_seconds(child.pid), time.perf_counter()
            requests = asyncio.run(_drive(endpoints, None))
            full_wall, full_cpu = time.perf_counter() - t0, cpu_seconds(child.pid) - cpu0
            cpu0, t0 = cpu_seconds(child.pid), time.perf_counter()
            sustained = asyncio.run(_drive(endpoints, time.monotonic() + args.seconds))
            wall, cpu = time.perf_counter() - t0, cpu_seconds(child.pid) - cpu0
        finally:
            child.send_signal(signal.SIGINT)
            child.wait(30)
    print(f"devices served: {devices} on {len(endpoints)} endpoints (one process)")
    print(
        f"one full poll of every device: {requests:,} requests in {full_wall:.2f} s, "
        f"simulator CPU {full_cpu:.2f} s -> a poll of every device every 60 s uses "
        f"{100 * full_cpu / 60:.1f} % of one core"
    )
    polls_per_s = sustained / wall / (requests / devices)
    print(
        f"sustained: {sustained / wall:,.0f} requests/s ({polls_per_s:,.0f} device polls/s) "
        f"for {wall:.1f} s, simulator CPU {100 * cpu / wall:.0f} % of one core"
    )


if __name__ == "__main__":
    main()

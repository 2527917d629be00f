"""Collector benchmark: the real collector against simulated fleets, beside the raw ceiling.

For each fleet, in one run:
- a simulated fleet in a child process (``pvmon simulate``), optionally answering every
  request ``--latency`` late (0.3 s: data loggers behind 4G);
- the raw ceiling: a minimal asyncio Modbus client (one connection per logger, no
  framework) polling every inverter's blocks, twice: flat out for ``--raw-seconds``
  (the machine's ceiling), and on the collector's own schedule (every inverter once per
  interval, for as many cycles, before and after the collector to even out the
  machine's drift; the mean is used): polls per CPU-second. The second is the like-for-like
  figure: at a low request rate each reply costs an event-loop wake-up of its own,
  while flat out one wake-up serves hundreds of replies;
- the collector (pymodbus clients, APScheduler, decoding, validation, COPY writes into
  its own PostgreSQL) for ``--cycles`` poll intervals: polls/s, collector CPU seconds per
  1,000 polls, p99 request latency, cycle overruns. The first cycle (every logger
  connected, every inverter's identity read) is a warm-up, not measured.

Fleets: ``loopback`` (2,000 household inverters, polled every second), ``county``
(17,062 household inverters, Lingyuan-sized, 0.3 s per reply, polled every 60 s) and
``county-field`` (the county under the simulator's ``field`` profile, every 300 s).

    .venv/bin/python bench/collector.py [--fleet loopback|county|county-field|all ...]
        [--cycles 3] [--interval SECONDS] [--loop auto|uvloop|asyncio] [--no-raw]

``--fleet county county-field --interval 300`` compares the field with the clean county
on one schedule (the ratio is printed when both run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rawmodbus import RawModbusClient

from collectors.poller import Target
from collectors.service import Collector
from pvmon.aio import loop_factory, run
from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.migrate import upgrade
from pvmon.registermaps import get_map
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.behaviour import draw_field_behaviours

FIELD_START = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)  # 11:00 in China

FLEETS = {
    "loopback": {"households": 2000, "latency": 0.0, "interval": 1, "faults": "none"},
    "county": {"households": 17062, "latency": 0.3, "interval": 60, "faults": "none"},
    # the county under the field profile (cellular latency 0.3-2.5 s with a tail, late
    # replies, one-client loggers, NAT drops, deaf periods, tid-0 and touchy loggers...),
    # in simulated daylight; polled every 300 s, the slow end of what fleets use
    "county-field": {"households": 17062, "latency": 0.0, "interval": 300, "faults": "field"},
}


def _household_fleet(households: int) -> dict:  # type: ignore[type-arg]
    fleet = generate_fleet(
        households=households, village_stations=0, base_port=20000 + free_port() % 8000
    )
    fleet["stations"] = [s for s in fleet["stations"] if s["kind"] == "household"]
    fleet["households"] = [h for h in fleet["households"] if "served_by_station" not in h]
    return fleet


async def _raw_endpoint(
    port: int,
    devices: list[tuple[int, list[tuple[int, int]]]],
    until: float,
    latencies: list[float],
    interval: float,
) -> int:
    """Poll ``devices`` flat out (``interval`` 0) or once per ``interval`` until ``until``."""
    client = RawModbusClient("127.0.0.1", port)
    await client.connect()
    polls = 0
    try:
        while time.monotonic() < until:
            cycle_start = time.monotonic()
            for unit, blocks in devices:
                for start, count in blocks:
                    began = time.perf_counter()
                    await client.read_holding(unit, start, count)
                    latencies.append(time.perf_counter() - began)
                polls += 1
                if time.monotonic() >= until:
                    break
            if interval:
                await asyncio.sleep(max(cycle_start + interval - time.monotonic(), 0.0))
    finally:
        client.close()
    return polls


def _raw_ceiling(
    fleet: dict,  # type: ignore[type-arg]
    seconds: float,
    *,
    interval: float = 0.0,
    loop: str = "auto",
) -> tuple[float, float, float]:
    """Raw client polls/s, CPU seconds per 1,000 polls and p99 request latency [s].

    ``interval`` 0 polls flat out (the ceiling); otherwise every inverter once per
    ``interval`` seconds from a common start, as the collector's cycles do (the same
    load, so the same event-loop wake-ups per poll).
    """
    endpoints: dict[int, list[tuple[int, list[tuple[int, int]]]]] = {}
    for station in fleet["stations"]:
        for inverter in station["inverters"]:
            # the same requests the collector makes on every poll (identity is read once)
            blocks = [
                (b.start, b.count)
                for b in Target(
                    0,
                    "",
                    0,
                    0,
                    0,
                    1.0,
                    get_map(inverter["register_map"], phases=inverter["phases"]),
                    0.0,
                    0.0,
                ).poll_blocks
            ]
            endpoints.setdefault(inverter["port"], []).append((inverter["unit_id"], blocks))
    latencies: list[float] = []

    async def drive() -> int:
        until = time.monotonic() + seconds
        return sum(
            await asyncio.gather(
                *(_raw_endpoint(p, d, until, latencies, interval) for p, d in endpoints.items())
            )
        )

    cpu0, wall0 = time.process_time(), time.perf_counter()
    polls = run(drive(), loop=loop)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    latencies.sort()
    return polls / wall, 1000 * cpu / polls, latencies[int(0.99 * (len(latencies) - 1))]


def _p99(histogram) -> float:  # type: ignore[no-untyped-def]
    samples = [
        (s.labels.get("le"), s.value)
        for s in next(iter(histogram.collect())).samples
        if s.name.endswith("_bucket")
    ]
    total = samples[-1][1]
    for bound, count in samples:
        if count >= 0.99 * total:
            return float(bound)
    return float("inf")


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, by thread name (from /proc)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        key = "event loop" if task.name == str(os.getpid()) else "worker threads"
        out[key] = out.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        del name
    return out


_FAILURES = ("timeout", "exception", "connect", "connection", "decode", "bad_frame")


class _GcClock:
    """Collections and the wall time spent in the garbage collector, by generation."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._began


_GC = _GcClock()


def _counts(collector: Collector) -> dict[str, float]:
    metrics = collector.metrics
    counts = {k: metrics.polls.labels(result=k)._value.get() for k in ("ok", *_FAILURES)}
    counts["overruns"] = metrics.overruns._value.get()
    counts["connects"] = metrics.connects._value.get()
    counts["requests"] = sum(metrics.request_seconds._counts)  # answered requests
    counts["full gc"] = _GC.count[2]
    counts["gc s"] = sum(_GC.seconds)
    counts["cpu"] = time.process_time()
    counts["kernel"] = os.times().system  # system calls: sends, receives, wake-ups
    counts["wall"] = time.perf_counter()
    return counts


async def _run_collector(
    url: str, spool: Path, *, warmup_s: float, seconds: float, daytime: bool = False
) -> tuple[Collector, dict[str, float], dict[str, float]]:
    """Run a collector for ``warmup_s`` + ``seconds``; measure only the second part.

    The first cycle connects to every logger and reads each inverter's identity blocks
    once; the steady state is what runs every cycle after it. Returns the collector, the
    measured deltas (polls by result, overruns, process CPU and wall seconds) and the
    CPU seconds by thread over the same window.
    """
    collector = Collector(url=url, spool_dir=spool, timeout_s=5.0, max_concurrent=1000)
    if daytime:  # the simulated fleet lives in daylight whatever the hour here
        for poller in collector.pollers:
            poller.daylight = lambda target, at: True
    collector.start()
    await asyncio.sleep(warmup_s)
    before, threads_before = _counts(collector), _thread_cpu()
    await asyncio.sleep(seconds)
    await collector.stop()
    after, threads_after = _counts(collector), _thread_cpu()
    return (
        collector,
        {k: after[k] - before[k] for k in after},
        {k: threads_after.get(k, 0.0) - threads_before.get(k, 0.0) for k in threads_after},
    )


def bench(
    name: str,
    *,
    cycles: int,
    raw_seconds: float,
    interval_s: int | None = None,
    loop: str = "auto",
    raw: bool = True,
) -> tuple[float, float]:
    """Run and print one fleet's figures; returns the collector's and the raw client's
    (on the same schedule; NaN when not run) CPU s per 1,000 polls."""
    spec = FLEETS[name]
    fleet = _household_fleet(int(spec["households"]))
    interval = interval_s or int(spec["interval"])
    quirks = {}
    if spec["faults"] == "field":
        # what an integrator writes into the fleet file once each logger's quirks are
        # known (the same draw the simulator makes from the same seed and start)
        keys = sorted(
            {f"{i['host']}:{i['port']}" for s in fleet["stations"] for i in s["inverters"]}
        )
        quirks, _ = draw_field_behaviours(keys, [], seed=2016, start=FIELD_START)
    for station in fleet["stations"]:
        for inverter in station["inverters"]:
            inverter["poll_interval_s"] = interval
            known = quirks.get(f"{inverter['host']}:{inverter['port']}")
            if known is not None:
                inverter["endpoint_options"] = {
                    "accept_tid_zero": known.tid_zero,
                    "min_gap_s": known.min_gap_s * 1.5,
                }
    root = Path(tempfile.mkdtemp(prefix="pvmon-bench-collector-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root_dir=root / "pg", port=free_port(), preload_timescaledb=False)
    server.start()
    fleet_file = root / "fleet.yaml"
    fleet_file.write_text(yaml.dump(fleet, Dumper=yaml.CSafeDumper, allow_unicode=True))
    field = spec["faults"] == "field"
    # the raw client cannot survive the field: the clean county's figures stand in
    no_raw = field or not raw
    daytime = ["--start", FIELD_START.isoformat()] if field else []
    command = [
        sys.executable,
        "-m",
        "pvmon.cli",
        "simulate",
        "--fleet",
        str(fleet_file),
        "--latency",
        str(spec["latency"]),
        "--faults",
        str(spec["faults"]),
        *daytime,
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            upgrade(conn, timescaledb="off")
            store_fleet(conn, FleetFile.model_validate(fleet))
        assert child.stdout is not None
        while "serving" not in child.stdout.readline():
            if child.poll() is not None:
                raise SystemExit("simulator did not start")
        # keep reading the child's output, or it blocks once the pipe is full
        threading.Thread(target=child.stdout.read, daemon=True).start()
        time.sleep(2.0)
        raw_rate, raw_cpu, raw_p99 = (
            (0.0, float("nan"), float("nan"))
            if no_raw
            else _raw_ceiling(fleet, raw_seconds, loop=loop)
        )
        paced_rate, paced_cpu, paced_p99 = (
            (0.0, float("nan"), float("nan"))
            if no_raw
            else _raw_ceiling(fleet, cycles * interval, interval=interval, loop=loop)
        )
        collector, measured, split = run(
            # the simulated fleet may be asleep at this hour in China: poll it as by day
            _run_collector(
                server.url(),
                root / "spool",
                warmup_s=interval,
                seconds=cycles * interval,
                daytime=True,
            ),
            loop=loop,
        )
        # the same schedule again after the collector: the machine drifts over a long
        # run (other processes, CPU clocks); the ratio uses the mean of both
        after_cpu = (
            float("nan")
            if no_raw
            else _raw_ceiling(fleet, cycles * interval, interval=interval, loop=loop)[1]
        )
        metrics = collector.metrics
        cpu, wall, ok = measured["cpu"], measured["wall"], measured["ok"]
        failed = sum(measured[k] for k in _FAILURES)
        overruns = collector.metrics.overruns._value.get()  # warm-up cycle included
        p99 = _p99(metrics.request_seconds)
        with psycopg.connect(server.url()) as conn:
            stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    inverters = sum(len(s["inverters"]) for s in fleet["stations"])
    print(
        f"== {name}: {inverters:,} inverters, reply latency {spec['latency']} s, "
        f"poll interval {interval} s, {cycles} cycles measured after one warm-up cycle "
        f"(connects, identity reads), event loop {loop_factory(loop).__module__.split('.')[0]}"
    )
    print(
        f"  raw asyncio client: {raw_rate:,.0f} polls/s, {raw_cpu:.3f} CPU s per 1,000 polls "
        f"({1000 / raw_cpu:,.0f} polls per CPU-second), p99 request {raw_p99 * 1000:.1f} ms"
    )
    print(
        f"  raw, same schedule: {paced_rate:,.0f} polls/s, {paced_cpu:.3f} CPU s per 1,000 "
        f"polls before the collector, {after_cpu:.3f} after "
        f"({2000 / (paced_cpu + after_cpu):,.0f} polls per CPU-second), p99 request "
        f"{paced_p99 * 1000:.1f} ms"
    )
    paced_cpu = (paced_cpu + after_cpu) / 2
    print(
        f"  collector:          {ok / wall:,.0f} polls/s ({ok:,.0f} ok, {failed:,.0f} failed, "
        f"{stored:,} rows stored), {1000 * cpu / max(ok, 1):.3f} CPU s per 1,000 polls "
        f"({ok / cpu:,.0f} polls per CPU-second), p99 request <= {p99 * 1000:.0f} ms "
        f"(histogram bucket), cycle overruns {overruns:.0f}"
    )
    print(
        f"  per answered poll: {measured['requests'] / max(ok, 1):.2f} requests, "
        f"{1000 * measured['connects'] / max(ok, 1):.1f} connects per 1,000 polls; "
        f"garbage collector {1000 * measured['gc s'] / max(ok, 1):.3f} s per 1,000 polls "
        f"({measured['full gc']:.0f} full collections); in the kernel (system calls) "
        f"{1000 * measured['kernel'] / max(ok, 1):.3f} s per 1,000 polls"
    )
    print(
        "  collector CPU by thread: "
        + ", ".join(
            f"{k} {1000 * v / max(ok, 1):.3f} s per 1,000 polls" for k, v in sorted(split.items())
        )
    )
    share = (ok / cpu) / (1000 / paced_cpu)
    print(
        f"  collector / raw polls per CPU-second: {share:.2f} on the same schedule "
        f"(target >= 0.7: {'met' if share >= 0.7 else 'NOT met'}), "
        f"{(ok / cpu) / (1000 / raw_cpu):.2f} against the raw client flat out"
    )
    return 1000 * cpu / max(ok, 1), paced_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fleet", choices=[*FLEETS, "all"], nargs="+", default=["all"], help="one or more"
    )
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--raw-seconds", type=float, default=10.0)
    parser.add_argument(
        "--interval",
        type=int,
        default=None,
        help="poll interval [s] instead of the fleet's own (to compare fleets on one schedule)",
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="event loop of the collector and the raw client (auto: uvloop if installed, as "
        "pvmon runs)",
    )
    parser.add_argument(
        "--no-raw",
        action="store_true",
        help="measure the collector only (skips the raw client's runs: half the time)",
    )
    args = parser.parse_args()
    names = list(FLEETS) if "all" in args.fleet else args.fleet
    costs = {
        name: bench(
            name,
            cycles=args.cycles,
            raw_seconds=args.raw_seconds,
            interval_s=args.interval,
            loop=args.loop,
            raw=not args.no_raw,
        )
        for name in names
    }
    cost = {name: collector for name, (collector, _) in costs.items()}
    if "county" in cost and "county-field" in cost:
        schedule = (
            f"both every {args.interval} s"
            if args.interval
            else f"every {FLEETS['county-field']['interval']} s and "
            f"{FLEETS['county']['interval']} s"
        )
        print(
            f"== county-field / county: {cost['county-field'] / cost['county']:.2f}x the clean "
            f"fleet's CPU per 1,000 polls ({schedule})"
        )
        raw = costs["county"][1]  # the raw client cannot poll the field: the clean county's
        if raw == raw:  # not NaN
            share = raw / cost["county-field"]
            print(
                f"== county-field against the clean county's raw client: {share:.2f} of its "
                f"polls per CPU-second (target >= 0.7: {'met' if share >= 0.7 else 'NOT met'})"
            )


if __name__ == "__main__":
    main()

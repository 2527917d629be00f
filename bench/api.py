# ruff: noqa: E402
"""API benchmark: p50/p99 latency of the fleet summary and of one station's daily energy
over a year, served by uvicorn on a database of 2,000+ inverters with 5-minute readings.

Starts its own PostgreSQL (the embedded server) in a temporary directory, loads a
generated county with at least ``--inverters`` inverters, writes ``--days`` days of
simulated 5-minute readings with the simulator's physics (``pvmon.backfill``, vectorised,
not collected in real time), refreshes the rollups, then times HTTP requests.

    .venv/bin/python bench/api.py                 # 2,000 inverters, 30 days (minutes)
    .venv/bin/python bench/api.py --full-year     # 365 days (112M rows: ~40 min on 2 cores)
    .venv/bin/python bench/api.py --clients 10,50,200 --seconds 20   # many users at once

With ``--clients``, each count of concurrent clients runs for ``--seconds`` [s] a mix of
what operators and finance staff ask (fleet summary, a station's day, month and year,
alarms, runs) and prints throughput, p50/p99 per endpoint, the statuses answered, and the
database connections and threads the API used, beside the targets (fleet summary p99
< 200 ms, station-year series p99 < 50 ms, no errors at 50 clients).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/dividends.py would shadow the dividends package when run as a script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx
import psycopg
import uvicorn

from pvmon.api import create_app
from pvmon.api.auth import ensure_demo_key
from pvmon.backfill import backfill_readings
from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.migrate import upgrade
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile


def _fleet(inverters: int) -> FleetFile:
    households = inverters
    while True:
        fleet = generate_fleet(households=households, seed=2016)
        count = sum(len(s["inverters"]) for s in fleet["stations"])
        if count >= inverters:
            return FleetFile.model_validate(fleet)
        households += inverters - count


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _time(client: httpx.Client, url: str, params: dict[str, str], n: int) -> list[float]:
    client.get(url, params=params).raise_for_status()  # warm
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.get(url, params=params).raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
    return out


# (label, share of requests, path, params) of the mix; {station}, {day}, {month}, {year}
# are filled in per run
_MIX: tuple[tuple[str, int, str, dict[str, str]], ...] = (
    ("fleet summary", 20, "/v1/fleet/summary", {}),
    ("station day", 25, "/v1/stations/{station}/series", {"bucket": "5min", "start": "{day}"}),
    ("station month", 15, "/v1/stations/{station}/series", {"bucket": "1d", "start": "{month}"}),
    ("station year", 15, "/v1/stations/{station}/series", {"bucket": "1d", "start": "{year}"}),
    ("alarms", 15, "/v1/alarms", {"limit": "50"}),
    ("runs", 10, "/v1/runs", {}),
)


async def _client(
    base: str,
    key: str,
    requests: list[tuple[str, str, dict[str, str]]],
    until: float,
    seed: int,
    samples: dict[str, list[float]],
    statuses: collections.Counter[str],
) -> None:
    rng = random.Random(seed)
    weights = [share for _label, share, _p, _q in _MIX]
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=60) as http:
        while time.perf_counter() < until:
            label, path, params = rng.choices(requests, weights=weights)[0]
            t = time.perf_counter()
            try:
                r = await http.get(path, params=params)
                statuses[f"{label}: {r.status_code}"] += 1
                if r.status_code == 200:
                    samples[label].append((time.perf_counter() - t) * 1000)
            except httpx.HTTPError as exc:
                statuses[f"{label}: {type(exc).__name__}"] += 1


async def _watch(pool: Any, until: float, peak: dict[str, int]) -> None:
    while time.perf_counter() < until:
        stats = pool.get_stats()
        peak["connections"] = max(peak["connections"], stats.get("pool_size", 0))
        peak["waiting"] = max(peak["waiting"], stats.get("requests_waiting", 0))
        peak["threads"] = max(peak["threads"], threading.active_count())
        await asyncio.sleep(0.1)


def _one_run(
    base: str,
    key: str,
    requests: list[tuple[str, str, dict[str, str]]],
    pool: Any,
    *,
    clients: int,
    seconds: float,
) -> None:
    samples: dict[str, list[float]] = collections.defaultdict(list)
    statuses: collections.Counter[str] = collections.Counter()
    peak = {"connections": 0, "threads": 0, "waiting": 0}

    async def run() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            _watch(pool, until, peak),
            *(_client(base, key, requests, until, i, samples, statuses) for i in range(clients)),
        )

    t = time.perf_counter()
    asyncio.run(run())
    wall = time.perf_counter() - t
    done = sum(len(v) for v in samples.values())
    bad = {k: c for k, c in sorted(statuses.items()) if not k.endswith(": 200")}
    print(
        f"\n{clients} clients for {seconds:.0f} s: {done / wall:,.0f} req/s answered 200, "
        f"{sum(bad.values())} not ({', '.join(f'{k} x{c}' for k, c in bad.items()) or 'none'}); "
        f"peak {peak['connections']} connections of {pool.max_size}, "
        f"{peak['waiting']} waiting for one, {peak['threads']} threads"
    )
    for label, *_ in _MIX:
        ms = samples.get(label) or [float("nan")]
        target = {"fleet summary": 200.0, "station year": 50.0}.get(label)
        verdict = ""
        if target is not None and clients <= 50:
            met = "met" if _pct(ms, 0.99) < target else "NOT met"
            verdict = f"  (target p99 < {target:.0f} ms: {met})"
        print(
            f"  {label:15s} n={len(samples.get(label, [])):6d}  "
            f"p50 {_pct(ms, 0.5):8.1f} ms  p99 {_pct(ms, 0.99):8.1f} ms{verdict}"
        )


def _concurrent(
    base: str,
    key: str,
    station: str,
    end: datetime,
    pool: Any,
    *,
    clients: list[int],
    seconds: float,
) -> None:
    fill = {
        "station": station,
        "day": (end - timedelta(days=1)).isoformat(),
        "month": (end - timedelta(days=30)).isoformat(),
        "year": (end - timedelta(days=365)).isoformat(),
    }
    requests = [
        (label, path.format(**fill), {k: v.format(**fill) for k, v in params.items()})
        for label, _share, path, params in _MIX
    ]
    for n in clients:
        _one_run(base, key, requests, pool, clients=n, seconds=seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inverters", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--full-year", action="store_true", help="365 days of readings")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--timescaledb", action="store_true", help="use the TimescaleDB flavour")
    parser.add_argument(
        "--clients", default="", help="concurrent clients, e.g. 10,50,200 (a run of each)"
    )
    parser.add_argument("--seconds", type=float, default=20, help="length of each run [s]")
    args = parser.parse_args()
    days = 365 if args.full_year else args.days
    root = Path(tempfile.mkdtemp(prefix="pvmon-bench-api-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root_dir=root / "pg", port=free_port())
    server.start()
    try:
        url = server.url("postgres")
        with psycopg.connect(url, autocommit=True) as conn:
            upgrade(conn, timescaledb="on" if args.timescaledb else "off")
            store_fleet(conn, _fleet(args.inverters))
            n_inv = conn.execute("SELECT count(*) FROM inverters").fetchone()[0]  # type: ignore[index]
            t = time.perf_counter()
            end = datetime.now(UTC).replace(microsecond=0)
            rows = backfill_readings(
                conn,
                days=days,
                end=end,
                seed=2016,
                interval_min=5,
                progress=lambda d, n: print(f"\r  backfill {d}/{n} inverters", end="", flush=True),
            )
            print()
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            refresh_rollups(conn)
            rollup_s = time.perf_counter() - t
            conn.execute("ANALYZE")
            station = conn.execute(
                "SELECT s.code FROM stations s WHERE kind = 'village' ORDER BY code LIMIT 1"
            ).fetchone()[0]  # type: ignore[index]
            key = ensure_demo_key(conn, name="bench")
        print(
            f"loaded {n_inv:,} inverters, {days} days of 5-min readings: {rows:,} rows "
            f"in {load_s:.0f} s ({rows / load_s:,.0f} rows/s); rollups {rollup_s:.0f} s"
        )
        port = free_port()
        app = create_app(database_url=url)
        api = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=api.run, daemon=True)
        thread.start()
        while not api.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        year_ago = (end - timedelta(days=365)).isoformat()
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as client:
            for label, path, params in (
                ("fleet summary", "/v1/fleet/summary", {}),
                (
                    f"station {station} daily energy, 1 year",
                    f"/v1/stations/{station}/series",
                    {"bucket": "1d", "start": year_ago, "end": end.isoformat()},
                ),
            ):
                ms = _time(client, path, params, args.requests)
                print(
                    f"{label:45s} p50 {_pct(ms, 0.5):8.1f} ms  p99 {_pct(ms, 0.99):8.1f} ms  "
                    f"(n={len(ms)}, mean {statistics.fmean(ms):.1f} ms)"
                )
        if args.clients:
            counts = [int(c) for c in args.clients.split(",") if c.strip()]
            _concurrent(
                base, key, station, end, app.state.pool, clients=counts, seconds=args.seconds
            )
        api.should_exit = True
        thread.join(timeout=10)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

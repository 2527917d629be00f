# ruff: noqa: E402
"""API benchmark: p50/p99 latency of the fleet summary and of one station's daily energy
over a year, served by uvicorn on a database of 2,000+ inverters with 5-minute readings.

Starts its own PostgreSQL (the embedded server) in a temporary directory, loads a
generated county with at least ``--inverters`` inverters, writes ``--days`` days of
simulated 5-minute readings with the simulator's physics (``pvmon.backfill``, vectorised,
not collected in real time), refreshes the rollups, then times HTTP requests.

    .venv/bin/python bench/api.py                 # 2,000 inverters, 30 days (minutes)
    .venv/bin/python bench/api.py --full-year     # 365 days (112M rows: ~40 min on 2 cores)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inverters", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--full-year", action="store_true", help="365 days of readings")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--timescaledb", action="store_true", help="use the TimescaleDB flavour")
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
        api = uvicorn.Server(
            uvicorn.Config(
                create_app(database_url=url), host="127.0.0.1", port=port, log_level="warning"
            )
        )
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
        api.should_exit = True
        thread.join(timeout=10)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

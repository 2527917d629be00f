# ruff: noqa: E402
"""API benchmark: p50/p99 latency of the fleet summary and of one station's daily energy
over a year, served by uvicorn on a database of 2,000+ inverters with 5-minute readings.

Starts its own PostgreSQL (the embedded server) in a temporary directory, loads a
generated county with at least ``--inverters`` inverters, writes ``--days`` days of
simulated 5-minute readings with the simulator's physics (``pvmon.backfill``, vectorised,
not collected in real time), refreshes the rollups, then times HTTP requests.

    .venv/bin/python bench/api.py                 # 2,000 inverters, 30 days (minutes)
    .venv/bin/python bench/api.py --full-year     # 365 days (113M rows: ~50 min on 2 cores)
    .venv/bin/python bench/api.py --clients 10,50,200 --seconds 20   # many users at once
    .venv/bin/python bench/api.py --full-year --data /tmp/apibench --clients 50
                                  # keep the loaded year in /tmp/apibench for the next run

The API is ``pvmon serve`` in its own process, as users run it (its limits from the
``PVMON_API_*`` environment), so the clients' work does not compete with it for the
interpreter. With ``--clients``, each count of concurrent clients runs for ``--seconds``
[s] a mix of what operators and finance staff ask (fleet summary, a station's day, month
and year, alarms, runs) and prints throughput, p50/p99 per endpoint, the statuses
answered, and the database connections and threads the API used, beside the targets
(fleet summary p99 < 200 ms, station-year series p99 < 50 ms, no errors at 50 clients).
A client is a person or a dashboard: between its requests it waits ``--think`` [s] on
average (exponential; ``--think 0`` sends back to back, to find where throughput levels
off). Each run's first 3 s are answered and counted for errors but not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import shutil
import statistics
import subprocess
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

from pvmon.api.auth import ensure_demo_key
from pvmon.backfill import backfill_readings
from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.migrate import upgrade
from pvmon.db.rollups import refresh_rollups, store_energy
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from pvmon.settings import load_settings


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


def _time(
    client: httpx.Client, url: str, params: dict[str, str], n: int
) -> tuple[float, list[float]]:
    """The first request's time [ms] (nothing kept yet), then ``n`` more."""
    t = time.perf_counter()
    client.get(url, params=params).raise_for_status()
    first = (time.perf_counter() - t) * 1000
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.get(url, params=params).raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
    return first, out


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


_WARMUP_S = 3.0  # [s] of each run answered but not timed


async def _client(
    base: str,
    key: str,
    requests: list[tuple[str, str, dict[str, str]]],
    until: float,
    seed: int,
    samples: dict[str, list[float]],
    statuses: collections.Counter[str],
    think_s: float,
    timed_from: float,
) -> None:
    rng = random.Random(seed)
    weights = [share for _label, share, _p, _q in _MIX]
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=60) as http:
        await asyncio.sleep(rng.uniform(0, think_s))  # people do not all start at once
        while time.perf_counter() < until:
            label, path, params = rng.choices(requests, weights=weights)[0]
            t = time.perf_counter()
            try:
                r = await http.get(path, params=params)
                statuses[f"{label}: {r.status_code}"] += 1
                if r.status_code == 200 and t >= timed_from:
                    samples[label].append((time.perf_counter() - t) * 1000)
            except httpx.HTTPError as exc:
                statuses[f"{label}: {type(exc).__name__}"] += 1
            if think_s > 0:  # a person reads the answer, a panel waits for its refresh
                await asyncio.sleep(rng.expovariate(1 / think_s))


class _Api:
    """``pvmon serve`` on ``url`` in its own process, and what it uses: its database
    connections (``application_name`` pvmon-api) and its threads."""

    def __init__(self, url: str, root: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.pool_size = load_settings().api_pool_size
        env = {**os.environ, "PVMON_DATABASE_URL": url, "PVMON_DATA_DIR": str(root / "serve")}
        self._log = (root / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pvmon.cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._url = url
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"pvmon serve did not start: see {root / 'serve.log'}")
            time.sleep(0.2)

    def threads(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        return 0

    def watch(self, until: float, peak: dict[str, int]) -> None:
        """Sample the API's connections (all, busy) and threads until ``until``."""
        with psycopg.connect(self._url, autocommit=True) as conn:
            while time.perf_counter() < until:
                total, busy = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE state = 'active')"
                    " FROM pg_stat_activity WHERE application_name = 'pvmon-api'"
                ).fetchone()  # type: ignore[misc]
                peak["connections"] = max(peak["connections"], total)
                peak["busy"] = max(peak["busy"], busy)
                peak["threads"] = max(peak["threads"], self.threads())
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def _one_run(
    api: _Api,
    key: str,
    requests: list[tuple[str, str, dict[str, str]]],
    *,
    clients: int,
    seconds: float,
    think_s: float,
) -> None:
    samples: dict[str, list[float]] = collections.defaultdict(list)
    statuses: collections.Counter[str] = collections.Counter()
    peak = {"connections": 0, "busy": 0, "threads": 0}
    # the first seconds (connections opened, threads started) are answered, not timed
    timed_from = time.perf_counter() + _WARMUP_S
    until = timed_from + seconds
    watcher = threading.Thread(target=api.watch, args=(until, peak), daemon=True)

    async def run() -> None:
        await asyncio.gather(
            *(
                _client(api.base, key, requests, until, i, samples, statuses, think_s, timed_from)
                for i in range(clients)
            )
        )

    t = time.perf_counter()
    watcher.start()
    asyncio.run(run())
    wall = time.perf_counter() - t - _WARMUP_S
    watcher.join()
    done = sum(len(v) for v in samples.values())
    bad = {k: c for k, c in sorted(statuses.items()) if not k.endswith(": 200")}
    print(
        f"\n{clients} clients (mean {think_s:g} s between a client's requests) for "
        f"{seconds:.0f} s: {done / wall:,.0f} req/s answered 200, "
        f"{sum(bad.values())} not ({', '.join(f'{k} x{c}' for k, c in bad.items()) or 'none'}); "
        f"API peak: {peak['connections']} database connections of "
        f"{api.pool_size} (PVMON_API_POOL_SIZE), {peak['busy']} busy at once; "
        f"{peak['threads']} threads"
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
    api: _Api,
    key: str,
    station: str,
    end: datetime,
    *,
    clients: list[int],
    seconds: float,
    think_s: float,
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
        _one_run(api, key, requests, clients=n, seconds=seconds, think_s=think_s)


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
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean time between one client's requests [s] (exponential; 0: back to back)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the loaded database here, and reuse it when it is already loaded",
    )
    args = parser.parse_args()
    days = 365 if args.full_year else args.days
    keep = args.data is not None
    root = args.data or Path(tempfile.mkdtemp(prefix="pvmon-bench-api-"))
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    marker = root / "loaded.json"
    wanted = {"inverters": args.inverters, "days": days, "timescaledb": args.timescaledb}
    loaded = json.loads(marker.read_text()) if marker.exists() else None
    if loaded is not None and {k: loaded.get(k) for k in wanted} != wanted:
        raise SystemExit(f"{root} holds another load ({loaded}); give another --data")
    server = EmbeddedPostgres(root_dir=root / "pg", port=free_port())
    server.start()
    api: _Api | None = None
    try:
        url = server.url("postgres")
        if loaded is None:
            loaded = _load(url, wanted, args)
            if keep:
                marker.write_text(json.dumps(loaded))
        else:
            print(f"reusing the load in {root}: {loaded['rows']:,} rows up to {loaded['end']}")
            with psycopg.connect(url, autocommit=True) as conn:  # a newer schema: upgrade
                upgrade(conn, timescaledb="on" if args.timescaledb else "off")
                t = time.perf_counter()
                kept = store_energy(conn)
                print(f"  final days of energy kept: {kept:,} in {time.perf_counter() - t:.1f} s")
        with psycopg.connect(url, autocommit=True) as conn:
            key = ensure_demo_key(conn, name="bench")  # a fresh key each run, kept nowhere
        end = datetime.fromisoformat(loaded["end"])
        api = _Api(url, root)
        year_ago = (end - timedelta(days=365)).isoformat()
        station = loaded["station"]
        with httpx.Client(base_url=api.base, headers={"X-API-Key": key}, timeout=120) as client:
            for label, path, params in (
                ("fleet summary", "/v1/fleet/summary", {}),
                (
                    f"station {station} daily energy, 1 year",
                    f"/v1/stations/{station}/series",
                    {"bucket": "1d", "start": year_ago, "end": end.isoformat()},
                ),
            ):
                first, ms = _time(client, path, params, args.requests)
                print(
                    f"{label:45s} p50 {_pct(ms, 0.5):8.1f} ms  p99 {_pct(ms, 0.99):8.1f} ms  "
                    f"(n={len(ms)}, mean {statistics.fmean(ms):.1f} ms; the first {first:.0f} ms)"
                )
        if args.clients:
            counts = [int(c) for c in args.clients.split(",") if c.strip()]
            _concurrent(
                api, key, station, end, clients=counts, seconds=args.seconds, think_s=args.think
            )
    finally:
        if api is not None:
            api.stop()
        server.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _load(url: str, wanted: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Migrate, store the fleet, write the readings, refresh the rollups; what was loaded."""
    with psycopg.connect(url, autocommit=True) as conn:
        upgrade(conn, timescaledb="on" if args.timescaledb else "off")
        store_fleet(conn, _fleet(args.inverters))
        n_inv = conn.execute("SELECT count(*) FROM inverters").fetchone()[0]  # type: ignore[index]
        t = time.perf_counter()
        end = datetime.now(UTC).replace(microsecond=0)
        rows = backfill_readings(
            conn,
            days=wanted["days"],
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
    print(
        f"loaded {n_inv:,} inverters, {wanted['days']} days of 5-min readings: {rows:,} rows "
        f"in {load_s:.0f} s ({rows / load_s:,.0f} rows/s); rollups {rollup_s:.0f} s"
    )
    return {**wanted, "rows": rows, "end": end.isoformat(), "station": station}


if __name__ == "__main__":
    main()

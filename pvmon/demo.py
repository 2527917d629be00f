"""The main job: simulated history, the simulated demo fleet, a collector and the API.

Application layer (it composes simulators, collectors and the API). Everything runs in
one asyncio loop: the fleet's Modbus servers, the collector polling them every 60 s,
and uvicorn serving the API. Stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import uvicorn
from prometheus_client import start_http_server
from rich.console import Console
from rich.progress import Progress

from collectors.service import Collector
from pvmon.api import create_app
from pvmon.api.auth import ensure_demo_key
from pvmon.backfill import backfill_readings
from pvmon.db.connect import open_database
from pvmon.db.rollups import refresh_rollups
from pvmon.registry.models import FleetFile
from pvmon.settings import Settings
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer

__all__ = ["run_demo"]


def _backfill_if_empty(
    url: str, *, days: int, seed: int, start: datetime, console: Console
) -> None:
    with open_database(url, autocommit=True) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM readings)").fetchone()
        if row and row[0]:
            console.print("readings already stored: no history written")
            return
        with Progress(console=console) as bar:
            task = bar.add_task(f"simulating {days} days of history", total=None)
            rows = backfill_readings(
                conn,
                days=days,
                end=start,
                seed=seed,
                interval_min=5,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
            bar.update(task, description="refreshing energy rollups")
            refresh_rollups(conn)
        console.print(f"wrote {rows:,} simulated readings of history")


async def run_demo(
    *,
    settings: Settings,
    url: str,
    owner_url: str,
    fleet: FleetFile,
    history_days: int,
    seed: int,
    console: Console,
    metrics_port: int = 9108,
) -> None:
    """Run until cancelled."""
    start = datetime.now(UTC).replace(microsecond=0)
    if history_days > 0:
        await asyncio.to_thread(
            _backfill_if_empty,
            owner_url,
            days=history_days,
            seed=seed,
            start=start,
            console=console,
        )
    clock = SimClock(start=start)
    simulator = FleetServer(
        build_endpoints(device_specs(fleet), seed=seed, start=start, fault_profile="demo"),
        clock=clock,
    )
    await simulator.start()
    totals = simulator.totals()
    console.print(
        f"simulated fleet: {totals['devices']} inverters on {totals['endpoints']} "
        f"Modbus endpoints (127.0.0.1:{min(s.endpoint.port for s in simulator.servers)}"
        f"-{max(s.endpoint.port for s in simulator.servers)})"
    )
    collector = Collector(
        url=url, spool_dir=settings.data_dir / "spool", spool_max_bytes=settings.spool_max_bytes
    )
    start_http_server(metrics_port, addr="127.0.0.1", registry=collector.metrics.registry)
    collector.start()
    console.print(
        f"collector: polling every 60 s; metrics at http://127.0.0.1:{metrics_port}/metrics"
    )
    api = uvicorn.Server(
        uvicorn.Config(
            create_app(
                database_url=url,
                db_wait_s=settings.api_db_wait_s,
                body_max_bytes=settings.api_body_max_bytes,
            ),
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
        )
    )
    with open_database(url, autocommit=True) as conn:
        demo_key = ensure_demo_key(conn)  # rotated on every start: only this run's works
    console.print(
        f"API: http://{settings.api_host}:{settings.api_port}/health  "
        "(OpenAPI at /docs); Ctrl-C stops everything"
    )
    console.print(f"demo admin key (send as 'X-API-Key'): {demo_key}")
    try:
        await api.serve()
    finally:
        await collector.stop()
        await simulator.stop()

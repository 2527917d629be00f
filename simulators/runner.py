"""Running a simulated fleet until interrupted, with a periodic summary."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from rich.console import Console

from pvmon.registry.models import FleetFile
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer

__all__ = ["run_fleet"]

log = logging.getLogger(__name__)


async def run_fleet(
    fleet: FleetFile,
    *,
    speed: float,
    start: datetime | None,
    faults: str,
    seed: int,
    console: Console,
    latency_s: float = 0.0,
    report_every_s: float = 30.0,
) -> None:
    """Serve ``fleet`` until cancelled; prints endpoints, then a summary every so often.

    Faults and field behaviours are drawn from ``start`` exactly (so a test or a bench
    computes the same ground truth in-process from the fleet, seed and start), and for
    ``speed``: their wall-clock parts shrink with it (:func:`build_endpoints`).
    """
    start = start or datetime.now(UTC)
    clock = SimClock(start=start, speed=speed)
    endpoints = build_endpoints(
        device_specs(fleet), seed=seed, start=start, fault_profile=faults, speed=speed
    )
    server = FleetServer(endpoints, clock=clock, on_change=log.info, latency_s=latency_s)
    await server.start()
    totals = server.totals()
    console.print(
        f"serving {totals['devices']} simulated inverters on {totals['endpoints']} "
        f"endpoints (speed x{speed:g}, faults: {faults}, seed {seed})"
    )
    for endpoint in endpoints:
        console.print(
            f"  {endpoint.framing:13s} {endpoint.host}:{endpoint.port}  "
            f"units {min(endpoint.devices)}-{max(endpoint.devices)}"
        )
    try:
        while True:
            await asyncio.sleep(report_every_s)
            t = server.totals()
            log.info(
                "simulated time %s; %d requests, %d exceptions, %d connections",
                clock.now().isoformat(timespec="seconds"),
                t["requests"],
                t["exceptions"],
                t["connections"],
            )
    finally:
        await server.stop()

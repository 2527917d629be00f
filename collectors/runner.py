"""Running the collector in the foreground with a live terminal summary."""

from __future__ import annotations

import asyncio
from collections import Counter

from prometheus_client import start_http_server
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from collectors.metrics import CollectorMetrics
from collectors.service import Collector, Shard
from pvmon.availability import AvailabilityOptions

__all__ = ["collect_once", "run_collector"]


def _summary(collector: Collector) -> Table:
    states = Counter(h.state for h in collector.health.states.values())
    table = Table(
        title=f"pvmon collect: {collector.inverter_count} inverters on "
        f"{len(collector.pollers)} endpoints"
    )
    for column in (
        "online",
        "sleeping",
        "offline",
        "fault",
        "unknown",
        "rows written",
        "spooled",
        "spool bytes",
        "dropped",
        "overruns",
    ):
        table.add_column(column, justify="right")
    stats = collector.writer.stats
    table.add_row(
        *(str(states.get(s, 0)) for s in ("online", "sleeping", "offline", "fault", "unknown")),
        f"{stats.rows_written + stats.rows_replayed:,}",
        f"{stats.rows_spooled:,}",
        f"{collector.writer.spool.depth_bytes:,}",
        f"{collector.writer.spool.dropped_rows:,}",
        f"{collector.metrics.overruns._value.get():.0f}",
    )
    return table


async def collect_once(
    *,
    url: str,
    spool_dir: object,
    spool_max_bytes: int,
    shard: Shard,
    timeout_s: float,
    console: Console,
) -> int:
    """Poll every inverter once, store the readings and health, print the summary and
    each inverter that did not answer; how many did not."""
    collector = Collector(
        url=url,
        spool_dir=spool_dir,
        spool_max_bytes=spool_max_bytes,
        shard=shard,
        timeout_s=timeout_s,
    )
    try:
        await collector.cycle()
    finally:
        await collector.close()
    if collector.from_snapshot:
        console.print(_snapshot_note(collector))
    console.print(_summary(collector))
    silent = [
        (target.serial, poller.name, collector.health.states[target.inverter_id].last_error)
        for poller in collector.pollers
        for target in poller.targets
        if collector.health.states[target.inverter_id].consecutive_failures
    ]
    if silent:
        table = Table(title=f"{len(silent)} inverters did not answer")
        for column in ("inverter", "endpoint", "error"):
            table.add_column(column)
        for serial, endpoint, error in silent:
            table.add_row(escape(serial), endpoint, escape(error or ""))
        console.print(table)
    return len(silent)


def _snapshot_note(collector: Collector) -> str:
    taken = collector.view.taken_at.isoformat(timespec="seconds")
    return (
        f"[yellow]the database is unreachable: polling the registry as of {taken} "
        f"({escape(str(collector.snapshot_path))}); readings wait in the spool[/]"
    )


async def run_collector(
    *,
    url: str,
    spool_dir: object,
    spool_max_bytes: int,
    shard: Shard,
    speed: float,
    metrics_port: int,
    timeout_s: float,
    batch_window_max_s: float,
    console: Console,
    availability: AvailabilityOptions | None = None,
) -> None:
    """Collect until cancelled; when the registry changes (or comes back after the
    collector started from its snapshot with another), stop and start again with it."""
    metrics = CollectorMetrics()
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
        console.print(f"metrics: http://127.0.0.1:{metrics_port}/metrics")
    while True:
        collector = Collector(
            url=url,
            spool_dir=spool_dir,
            spool_max_bytes=spool_max_bytes,
            shard=shard,
            speed=speed,
            timeout_s=timeout_s,
            wall_scale=1.0 / speed,  # a fleet N times faster answers N times sooner
            batch_window_max_s=batch_window_max_s,
            metrics=metrics,
            availability=availability,
        )
        if collector.from_snapshot:
            console.print(_snapshot_note(collector))
        collector.start()
        try:
            with Live(_summary(collector), console=console, refresh_per_second=1) as live:
                while not collector.registry_changed.is_set():
                    await asyncio.sleep(1)
                    live.update(_summary(collector))
        finally:
            await collector.stop()
        console.print("the registry changed: reloading it")

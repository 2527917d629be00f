"""The main job: simulated history, the simulated demo fleet, a collector and the API.

Application layer (it composes simulators, collectors and the API). Everything runs in
one asyncio loop: the fleet's Modbus servers, the collector polling them every 60 s,
and uvicorn serving the API. Stops cleanly on Ctrl-C.

Order: whether history is needed is decided first (the database has no readings yet),
then the simulated fleet, the collector and the API start, and only once the API is
serving is the history written, in a worker thread beside them: ``/health`` answers
within seconds while history is still being written (about 1.2 million readings for the
demo county), and progress is printed as lines to stderr, one per
:data:`PROGRESS_STEP_PERCENT` percent. The history ends at the demo's start, where the
live simulated inverters begin, so the collector's first readings continue it; the two
never write the same (inverter, time). Ctrl-C during the backfill stops it after the
batch being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import uvicorn
from prometheus_client import start_http_server
from rich.console import Console

from collectors.service import Collector
from pvmon.api.app import app_for
from pvmon.api.auth import ensure_demo_key
from pvmon.availability import AvailabilityOptions
from pvmon.backfill import backfill_readings
from pvmon.db.connect import open_database
from pvmon.db.rollups import refresh_rollups
from pvmon.registry.models import FleetFile
from pvmon.settings import Settings
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer

__all__ = ["PROGRESS_STEP_PERCENT", "HistoryProgress", "run_demo"]

PROGRESS_STEP_PERCENT = 10  # one progress line per this many percent of the inverters
_API_START_WAIT_S = 30.0  # longest wait for uvicorn to bind before history starts anyway [s]
_log = logging.getLogger(__name__)


class HistoryProgress:
    """Progress lines of the history backfill: one per :data:`PROGRESS_STEP_PERCENT`
    percent of the inverters, never one per inverter. Called from the backfill's thread.
    """

    def __init__(
        self, console: Console, *, days: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._console = console
        self._days = days
        self._clock = clock
        self._started = clock()
        self._next_percent = PROGRESS_STEP_PERCENT

    def __call__(self, done: int, total: int) -> None:
        """``done`` of ``total`` inverters' history stored."""
        percent = 100 * done // max(total, 1)
        if percent < self._next_percent and done < total:
            return
        self._next_percent = (percent // PROGRESS_STEP_PERCENT + 1) * PROGRESS_STEP_PERCENT
        elapsed = self._clock() - self._started
        self._console.print(
            f"history: {percent:3d} % ({done}/{total} inverters, {self._days} days) "
            f"after {elapsed:.0f} s",
            highlight=False,
        )


def _readings_empty(url: str) -> bool:
    with open_database(url, autocommit=True) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM readings)").fetchone()
    return not (row and row[0])


def _write_history(
    url: str,
    *,
    days: int,
    seed: int,
    end: datetime,
    progress: HistoryProgress,
    stop: threading.Event,
    console: Console,
) -> int:
    started = time.monotonic()
    with open_database(url, autocommit=True) as conn:
        rows = backfill_readings(
            conn, days=days, end=end, seed=seed, interval_min=5, progress=progress, stop=stop
        )
        if stop.is_set():
            console.print(f"history stopped early: {rows:,} simulated readings written")
            return rows
        refresh_rollups(conn)
    console.print(
        f"wrote {rows:,} simulated readings of history in {time.monotonic() - started:.0f} s",
        highlight=False,
    )
    return rows


def _report_failure(history: asyncio.Task[int]) -> None:
    if not history.cancelled() and history.exception() is not None:
        _log.error("writing history failed", exc_info=history.exception())


async def _until_serving(api: uvicorn.Server, serving: asyncio.Task[None]) -> bool:
    """Wait until uvicorn listens; False when it stopped (e.g. its port is taken)."""
    deadline = asyncio.get_running_loop().time() + _API_START_WAIT_S
    while not api.started:
        if serving.done():
            return False
        if asyncio.get_running_loop().time() > deadline:
            _log.warning(
                "the API did not start within %.0f s; writing history anyway", _API_START_WAIT_S
            )
            return True
        await asyncio.sleep(0.05)
    return True


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
    progress_console: Console | None = None,
) -> None:
    """Run until cancelled (or until the API stops, e.g. on Ctrl-C).

    ``progress_console``: where the history's progress lines go (default: stderr).
    """
    from pvmon.alarms_cli import load_notify_routes, notifier_for

    # a bad routing file stops the demo before anything starts
    routes = load_notify_routes(settings) if settings.notify_routes is not None else None
    start = datetime.now(UTC).replace(microsecond=0)
    write_history = history_days > 0 and await asyncio.to_thread(_readings_empty, owner_url)
    if history_days > 0 and not write_history:
        console.print("readings already stored: no history written")
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
        url=url,
        spool_dir=settings.data_dir / "spool",
        spool_max_bytes=settings.spool_max_bytes,
        availability=AvailabilityOptions.from_settings(settings),
    )
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1", registry=collector.metrics.registry)
    collector.start()
    notify_stop = asyncio.Event()
    notifying = None
    if routes is not None:  # its own task and threads: never in the collector's way
        notifier = notifier_for(
            settings, url=url, routes=routes, registry=collector.metrics.registry
        )
        notifying = asyncio.create_task(
            notifier.run(interval_s=settings.notify_interval_s, stop=notify_stop)
        )
        console.print(
            f"notifier: {len(routes.channels)} channels, {len(routes.rules)} rules "
            f"({settings.notify_routes}; pvmon_notifications_total with the collector's metrics)"
        )
    console.print(
        "collector: polling every 60 s"
        + (f"; metrics at http://127.0.0.1:{metrics_port}/metrics" if metrics_port else "")
    )
    api = uvicorn.Server(
        uvicorn.Config(
            app_for(settings, database_url=url),
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
        )
    )
    with open_database(url, autocommit=True) as conn:
        demo_key = ensure_demo_key(conn)  # rotated on every start: only this run's works
    serving = asyncio.create_task(api.serve())
    stop = threading.Event()
    history: asyncio.Task[int] | None = None
    try:
        if await _until_serving(api, serving):
            console.print(
                f"API: http://{settings.api_host}:{settings.api_port}/health  "
                "(OpenAPI at /docs); Ctrl-C stops everything"
            )
            console.print(f"demo admin key (send as 'X-API-Key'): {demo_key}")
            if fleet.counties:
                console.print(
                    f"monthly report in a browser: http://{settings.api_host}:"
                    f"{settings.api_port}/v1/reports/month.html?county={fleet.counties[0].code}"
                    f"&key={demo_key}",
                    soft_wrap=True,
                    highlight=False,
                )
            if write_history:
                out = progress_console or Console(stderr=True)
                out.print(
                    f"history: writing {history_days} days of simulated readings "
                    "while the API answers",
                    highlight=False,
                )
                history = asyncio.create_task(
                    asyncio.to_thread(
                        _write_history,
                        owner_url,
                        days=history_days,
                        seed=seed,
                        end=start,
                        progress=HistoryProgress(out, days=history_days),
                        stop=stop,
                        console=out,
                    )
                )
                history.add_done_callback(_report_failure)
        await asyncio.shield(serving)  # cancelled: uvicorn still shuts down in order below
    finally:
        stop.set()
        notify_stop.set()
        api.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await serving
        if history is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(history)  # the batch being written ends first
        if notifying is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await notifying
        await collector.stop()
        await simulator.stop()

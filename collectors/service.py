"""The collector service: targets from the registry, a schedule, health and alarms stored.

APScheduler runs one job per poll interval, which starts a pass of every endpoint polled
at that interval on the same tick, under a global bound on endpoints polled at once. An
endpoint whose pass is still running when its next is due is counted and logged as an
overrun, never silently skipped. Other jobs flush the writer, store health and alarms,
compare inverters with their village, and (on plain PostgreSQL) refresh the rollups.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import logging
import threading
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from psycopg.types.json import Jsonb
from pvlib.solarposition import sun_rise_set_transit_spa

from collectors.health import AlarmEvent, HealthTracker, InverterInfo
from collectors.metrics import CollectorMetrics
from collectors.modbus import reply_batching
from collectors.poller import Clock, EndpointOptions, EndpointPoller, Target, batch_window_s
from collectors.snapshot import (
    RegistryView,
    load_snapshot,
    read_registry,
    registry_digest,
    save_snapshot,
)
from collectors.spool import Spool
from collectors.writer import ReadingWriter
from pvmon.availability import AvailabilityOptions, store_days
from pvmon.db.connect import KeptConnection, open_database
from pvmon.db.migrate import load_migrations
from pvmon.db.rollups import refresh_rollups, store_energy
from pvmon.errors import ConfigError, DatabaseError, DatabaseUnavailableError, PvmonError
from pvmon.logs import Throttled
from pvmon.registermaps import RegisterMapError, get_map

__all__ = ["Collector", "Shard", "parse_shard"]

_CHINA = ZoneInfo("Asia/Shanghai")
_YOUNG_OBJECTS = 10_000  # the garbage collector's young generation while polling
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """This instance polls the endpoints whose stable hash falls in slot ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    def owns(self, host: str, port: int) -> bool:
        return zlib.crc32(f"{host}:{port}".encode()) % self.count == self.index


def parse_shard(text: str | None) -> Shard:
    """``"2/4"`` → the second of four shards."""
    if not text:
        return Shard()
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError as exc:
        raise ConfigError(f"--shard must look like K/N, got {text!r}") from exc
    if not 1 <= k <= n:
        raise ConfigError(f"--shard {text}: K must be between 1 and N")
    return Shard(k - 1, n)


@functools.lru_cache(maxsize=4096)
def _sun_window(lat_cell: float, lon_cell: float, day: date) -> tuple[float, float]:
    """Sunrise + 30 min and sunset - 30 min of a 0.1 degree cell [unix s]."""
    noon = pd.DatetimeIndex([pd.Timestamp(day.isoformat(), tz="Asia/Shanghai")])
    times = sun_rise_set_transit_spa(noon, lat_cell, lon_cell)
    sunrise, sunset = times["sunrise"].iloc[0], times["sunset"].iloc[0]
    if pd.isna(sunrise) or pd.isna(sunset):
        return (0.0, 0.0)
    return (sunrise.timestamp() + 1800, sunset.timestamp() - 1800)


def daylight(target: Target, at: datetime) -> bool:
    """True when the sun is well up at the target's station at ``at``."""
    local_day = (at + timedelta(hours=8)).date()
    rise, set_ = _sun_window(round(target.latitude, 1), round(target.longitude, 1), local_day)
    return rise <= at.timestamp() <= set_


@dataclass(frozen=True)
class Unpollable:
    """An inverter the collector cannot poll as registered, and why."""

    inverter_id: int
    station_id: int
    serial: str
    reason: str


def build_targets(
    rows: Iterable[tuple[Any, ...]], shard: Shard, *, unpollable: list[Unpollable] | None = None
) -> dict[tuple[str, int, str], list[Target]]:
    """The registry's inverters (rows of a :class:`RegistryView`) this shard owns, grouped
    by endpoint. An inverter whose register map cannot be built is left out (and added
    to ``unpollable``), never the others."""
    grouped: dict[tuple[str, int, str], list[Target]] = defaultdict(list)
    for row in rows:
        host, port, framing = row[10], row[11], row[12]
        if not shard.owns(host, port):
            continue
        try:
            register_map = get_map(row[6], phases=row[7])
        except RegisterMapError as exc:
            if unpollable is not None:
                unpollable.append(Unpollable(row[0], row[2], row[1], str(exc)))
            continue
        target = Target(
            inverter_id=row[0],
            serial=row[1],
            station_id=row[2],
            village_id=row[3],
            unit_id=row[4],
            rated_ac_w=float(row[5]),
            register_map=register_map,
            latitude=row[8],
            longitude=row[9],
            poll_interval_s=row[15],
        )
        target.counter.last_good_wh, target.counter.last_good_at = row[13], row[14]
        grouped[(host, port, framing)].append(target)
    return grouped


def report_unpollable(conn: psycopg.Connection, unpollable: Iterable[Unpollable]) -> None:
    """Each unpollable inverter's health becomes ``fault`` with the reason, and it gets
    an open ``misconfigured`` alarm (once: an open one is kept)."""
    with conn.transaction():
        for bad in unpollable:
            conn.execute(
                """INSERT INTO inverter_health (inverter_id, state, since, last_error)
                   VALUES (%s, 'fault', now(), %s)
                   ON CONFLICT (inverter_id) DO UPDATE SET state = 'fault',
                       since = CASE WHEN inverter_health.state = 'fault'
                                    THEN inverter_health.since ELSE now() END,
                       last_error = excluded.last_error, updated_at = now()""",
                (bad.inverter_id, bad.reason),
            )
            conn.execute(
                """INSERT INTO alarms (inverter_id, station_id, kind, opened_at, reason)
                   VALUES (%s, %s, 'misconfigured', now(), %s)
                   ON CONFLICT (inverter_id, kind) WHERE closed_at IS NULL DO NOTHING""",
                (bad.inverter_id, bad.station_id, f"not polled: {bad.reason}"),
            )


def _overrun_record(record: logging.LogRecord) -> bool:
    """False for APScheduler's own line per skipped run (counted by the collector)."""
    return "maximum number of running instances reached" not in record.getMessage()


def _quiet_apscheduler_overruns() -> None:
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if _overrun_record not in scheduler_log.filters:
        scheduler_log.addFilter(_overrun_record)


class Collector:
    """Everything one ``pvmon collect`` process runs.

    ``wall_scale`` multiplies every endpoint's wall-clock options (request timeouts,
    connect delays, the gap between requests; :meth:`EndpointOptions.scaled`):
    ``pvmon collect --speed N`` gives 1/N, as its simulated fleet answers N times
    faster. A test that drives a clock of its own gives options already scaled.
    """

    def __init__(
        self,
        *,
        url: str,
        spool_dir: Any,
        shard: Shard = Shard(),
        speed: float = 1.0,
        max_concurrent: int = 1000,
        timeout_s: float = 3.0,
        on_cycle: Callable[[], None] | None = None,
        batch_window_max_s: float = 0.05,
        clock: Clock | None = None,
        wall_scale: float = 1.0,
        spool_max_bytes: int = 512 * 1024 * 1024,
        snapshot_path: Path | None = None,
        metrics: CollectorMetrics | None = None,
        availability: AvailabilityOptions | None = None,
    ) -> None:
        self.url = url
        self.availability = availability or AvailabilityOptions()
        self.snapshot_path = snapshot_path or Path(spool_dir).parent / "collector-registry.json"
        self.registry_changed = asyncio.Event()  # the registry differs from what is polled
        self.batch_window_max_s = batch_window_max_s
        self.speed = speed
        self.metrics = metrics or CollectorMetrics()  # kept across reloads
        self._health_store = _HealthStore(url)
        dropped = self.metrics.readings_dropped
        spool = Spool(
            spool_dir,
            max_bytes=spool_max_bytes,
            on_dropped=lambda reason, rows: dropped.labels(reason=reason).inc(rows),
        )
        self.writer = ReadingWriter(
            url=url, spool=spool, on_rows_written=self.metrics.rows_written.inc
        )
        self.unpollable: list[Unpollable] = []
        self.view, self.from_snapshot = self._registry()
        grouped = build_targets(self.view.rows, shard, unpollable=self.unpollable)
        self.plain = self.view.flavour != "timescaledb"
        built: dict[tuple[str, int], EndpointOptions] = {}
        for host, port, framing in list(grouped):
            try:
                built[(host, port)] = EndpointOptions.from_registry(
                    self.view.options.get((host, port), {}), timeout_s=timeout_s
                ).scaled(wall_scale)
            except (TypeError, ValueError) as exc:
                reason = f"endpoint {host}:{port}: invalid endpoint_options ({exc})"
                self.unpollable += [Unpollable(t.inverter_id, t.station_id, t.serial, reason)
                                    for t in grouped.pop((host, port, framing))]  # fmt: skip
        for bad in self.unpollable:
            log.error("inverter %s is not polled: %s", bad.serial, bad.reason)
        if self.unpollable and not self.from_snapshot:  # else when the database returns
            with open_database(url) as conn:
                report_unpollable(conn, self.unpollable)
        targets = [t for ts in grouped.values() for t in ts]
        self.health = HealthTracker(
            [InverterInfo(t.inverter_id, t.station_id, t.village_id, t.rated_ac_w) for t in targets]
        )
        self.pollers = [
            EndpointPoller(
                host=host,
                port=port,
                framing=framing,
                targets=ts,
                writer=self.writer,
                health=self.health,
                metrics=self.metrics,
                daylight=daylight,
                speed=speed,
                options=built[(host, port)],
                clock=clock,
                learned=self.view.learned.get((host, port)),
            )
            for (host, port, framing), ts in grouped.items()
        ]
        self._bound = asyncio.Semaphore(max_concurrent)
        self._running: set[asyncio.Task[Any]] = set()
        self._polling: set[EndpointPoller] = set()  # endpoints whose pass is under way
        self._gc_thresholds = gc.get_threshold()
        self._stopping = False
        self.stop_grace_s = 30.0  # how long stop() lets running passes finish [s]
        self._on_cycle = on_cycle or (lambda: None)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_listener(self._overrun, EVENT_JOB_MAX_INSTANCES)
        self._overruns = Throttled(log, "poll cycles overran their interval")
        _quiet_apscheduler_overruns()

    def _registry(self) -> tuple[RegistryView, bool]:
        """The registry from the database (saved as the snapshot), or from the snapshot
        when the database cannot be reached; and whether it came from the snapshot."""
        try:
            with open_database(self.url) as conn:
                view = read_registry(conn, taken_at=datetime.now(UTC))
        except DatabaseUnavailableError as exc:
            view = load_snapshot(self.snapshot_path, schema_version=len(load_migrations()))
            log.warning(
                "database unreachable (%s): polling the registry as of %s (%s) and spooling",
                exc,
                view.taken_at.isoformat(timespec="seconds"),
                self.snapshot_path,
            )
            return view, True
        self._save(view)
        return view, False

    def _save(self, view: RegistryView) -> None:
        try:
            save_snapshot(view, self.snapshot_path)
        except OSError as exc:
            log.warning("registry snapshot not saved to %s: %s", self.snapshot_path, exc)

    async def check_registry(self) -> None:
        """Read the registry again (scheduled every minute); when it differs from what is
        polled, or was polled from the snapshot, save it and set ``registry_changed``
        (``pvmon collect`` then reloads). Nothing happens while the database is down.
        While the server's digest of the registry is the one read last, nothing more is
        read."""
        try:
            if not self.from_snapshot and self.view.digest:
                digest = await asyncio.to_thread(self._read_digest)
                if digest == self.view.digest:
                    return
            view = await asyncio.to_thread(self._read_registry)
        except DatabaseError:
            return
        if view.fingerprint == self.view.fingerprint and not self.from_snapshot:
            self.view = view  # the same registry (its digest kept for the next check)
            return
        self._save(view)
        if self.from_snapshot and self.unpollable:
            await asyncio.to_thread(self._report_unpollable)
        self.from_snapshot = False
        if view.fingerprint != self.view.fingerprint:
            log.warning("the registry changed: the collector reloads it")
            self.registry_changed.set()
        self.view = view

    def _read_registry(self) -> RegistryView:
        try:
            with open_database(self.url) as conn:
                return read_registry(conn, taken_at=datetime.now(UTC))
        except psycopg.Error as exc:  # the connection broke while reading
            raise DatabaseError(f"reading the registry failed: {exc}") from exc

    def _read_digest(self) -> str:
        try:
            with open_database(self.url) as conn:
                return registry_digest(conn)
        except psycopg.Error as exc:
            raise DatabaseError(f"reading the registry's digest failed: {exc}") from exc

    def _report_unpollable(self) -> None:
        with open_database(self.url) as conn:
            report_unpollable(conn, self.unpollable)

    @property
    def inverter_count(self) -> int:
        return sum(len(p.targets) for p in self.pollers)

    def _overrun(self, event: JobExecutionEvent) -> None:
        self._overran(event.job_id)

    def _overran(self, what: str) -> None:
        self.metrics.overruns.inc()
        self._overruns.add(what, detail="the previous cycle was still running")

    async def _job(self, work: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run one scheduled job, known to stop() (which lets it finish, not cancels it)."""
        if self._stopping:
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await work(*args)
        finally:
            if task is not None:
                self._running.discard(task)

    async def _start_polls(self, pollers: tuple[EndpointPoller, ...]) -> None:
        """Start a pass of each endpoint of ``pollers``, a task each (known to stop(),
        which lets them finish); one still polling since the last tick has overrun its
        interval: counted and logged, and left to finish."""
        for poller in pollers:
            if self._stopping:
                return
            if poller in self._polling:
                self._overran(poller.name)
                continue
            self._polling.add(poller)
            task = asyncio.create_task(self._poll(poller))
            self._running.add(task)
            task.add_done_callback(functools.partial(self._polled, poller))

    def _polled(self, poller: EndpointPoller, task: asyncio.Task[None]) -> None:
        self._polling.discard(poller)
        self._running.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("polling %s failed: %s", poller.name, exc, exc_info=exc)

    async def _poll(self, poller: EndpointPoller) -> None:
        async with self._bound:  # at most max_concurrent endpoints at once
            if self._stopping:
                return  # stop() came while this one waited for a place: not started
            await poller.poll()
        self._on_cycle()

    async def _flush(self) -> None:
        if self.writer.due():
            await self.writer.flush()
        self.metrics.spool_bytes.set(self.writer.spool.depth_bytes)

    async def cycle(self) -> None:
        """Poll every endpoint once, then write the readings, the health and the alarms.

        ``pvmon collect --once`` runs one; a test stepping an accelerated fleet with a
        clock of its own runs one per step (as fast as the machine goes: nothing then
        depends on how fast that is).
        """
        await asyncio.gather(*(self._poll(poller) for poller in self.pollers))
        await self._evaluate()
        await self.writer.flush()
        self.metrics.spool_bytes.set(self.writer.spool.depth_bytes)
        await self._store_health()

    async def close(self) -> None:
        """Close the endpoints' connections, write what is buffered and the health."""
        for poller in self.pollers:
            await poller.close()
        reply_batching().window_s = 0.0
        await self.writer.flush()
        await self._store_health()
        self.writer.close()
        self._health_store.close()

    def start(self) -> None:
        """Schedule every job (call inside a running event loop)."""
        # the fleet's long-lived objects (targets, maps, health records) leave the
        # garbage collector's view: a full collection no longer walks 17,000 inverters'
        # worth of them (stop() gives them back)
        gc.collect()
        gc.freeze()
        # and a young generation of a pass's worth: a collection every 700 allocations
        # found passes, futures and buffered readings still alive and carried them into
        # the old generations, whose collections then walked them again
        self._gc_thresholds = gc.get_threshold()
        gc.set_threshold(_YOUNG_OBJECTS, *self._gc_thresholds[1:])
        now = datetime.now(UTC)
        by_interval: dict[float, list[EndpointPoller]] = {}
        for poller in self.pollers:
            by_interval.setdefault(poller.interval_s, []).append(poller)
        for interval, pollers in by_interval.items():
            # one job per poll interval starts every endpoint's pass on the same tick, so
            # the fleet's requests overlap and the event loop serves many per wake-up (and
            # readings of one cycle share a moment); a job per endpoint cost the scheduler
            # more per poll than the poll itself
            self.scheduler.add_job(
                self._job,
                "interval",
                args=[self._start_polls, tuple(pollers)],
                seconds=interval,
                id=f"poll every {interval:g} s",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=now,
            )
        self._set_batch_window()
        self._every(self._flush, 1.0, "flush")
        self._every(self._batch, 10.0, "batching")  # latencies change: the window with them
        self._every(self._store_health, 10.0, "health")
        # outputs only change when polled: comparing villages more often than the
        # fleet's shortest poll interval finds nothing new (and costs a pass over
        # every inverter)
        shortest = min((t.poll_interval_s for p in self.pollers for t in p.targets), default=60)
        self._every(self._evaluate, max(max(60.0, shortest) / self.speed, 1.0), "evaluate")
        if self.plain:
            self._every(self._refresh, 60.0, "rollups")  # and the final days of energy
        else:  # the aggregates refresh by policy; the final days of energy are kept here
            self._every(self._store_energy, 600.0, "energy")
        # hourly on the wall clock, whatever the speed: figures for dashboards, and a pass
        # over every station that an accelerated run must not repeat every minute
        self._every(self._store_availability, 3600.0, "availability")
        self._every(self.check_registry, 60.0, "registry")
        self.scheduler.start()

    async def _batch(self) -> None:
        self._set_batch_window()

    def _set_batch_window(self) -> None:
        """Set the reply batching window from the endpoints' schedules and latencies."""
        window = batch_window_s(
            (poller.pace for poller in self.pollers), ceiling_s=self.batch_window_max_s
        )
        reply_batching().window_s = window
        self.metrics.batch_window.set(window)

    def _every(self, work: Callable[[], Awaitable[None]], seconds: float, job_id: str) -> None:
        """Schedule ``work`` every ``seconds`` [s] (one instance at a time, runs coalesced)."""
        self.scheduler.add_job(
            self._job,
            "interval",
            args=[work],
            seconds=seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
        )

    async def stop(self) -> None:
        """Stop scheduling, let running polls finish (their readings are kept), flush."""
        self._stopping = True
        # pause, not shut down: APScheduler's shutdown cancels the jobs still running
        self.scheduler.pause()
        if self._running:
            await asyncio.wait(set(self._running), timeout=self.stop_grace_s)
        # closing the connections ends the passes still running (a slow logger's
        # inverters not reached wait for the next start); what they read is kept
        for poller in self.pollers:
            await poller.close()
        if self._running:
            await asyncio.wait(set(self._running), timeout=5.0)
        self.scheduler.shutdown(wait=False)
        gc.set_threshold(*self._gc_thresholds)
        gc.unfreeze()
        await self.close()

    async def _evaluate(self) -> None:
        at = self.pollers[0].device_now() if self.pollers else datetime.now(UTC)
        by_cell: dict[tuple[float, float], bool] = {}  # one sun calculation per 0.1 degree cell
        lit = {}
        for poller in self.pollers:
            for target in poller.targets:
                cell = (round(target.latitude, 1), round(target.longitude, 1))
                up = by_cell.get(cell)
                if up is None:
                    up = by_cell[cell] = daylight(target, at)
                lit[target.station_id] = up
        self.health.evaluate_output(at=at, daylight=lit)

    async def _refresh(self) -> None:
        await asyncio.to_thread(self._maintain, refresh_rollups, "rollup refresh skipped")

    async def _store_energy(self) -> None:
        await asyncio.to_thread(self._maintain, store_energy, "final days of energy not kept")

    def _maintain(self, work: Callable[[psycopg.Connection], object], failed: str) -> None:
        """Run the database's upkeep ``work`` on a connection of its own; a failure is
        logged (``failed``: what was not done), the next run tries again."""
        try:
            with open_database(self.url, autocommit=True) as conn:
                work(conn)
        except PvmonError as exc:
            log.warning("%s: %s", failed, exc)

    async def _store_availability(self) -> None:
        """Keep yesterday's and today's availability per station for the dashboards."""
        now = self.pollers[0].device_now() if self.pollers else datetime.now(UTC)
        await asyncio.to_thread(self._store_availability_sync, now)

    def _store_availability_sync(self, now: datetime) -> None:
        today = now.astimezone(_CHINA).date()
        try:
            with open_database(self.url, autocommit=True) as conn:
                store_days(conn, first=today - timedelta(days=1), last=today,
                           options=self.availability, now=now)  # fmt: skip
        except PvmonError as exc:
            log.warning("availability not stored: %s", exc)

    async def _store_health(self) -> None:
        """Store the health of the inverters polled since the last time, and alarm events."""
        events = self.health.drain_events()
        dirty, self.health.dirty = self.health.dirty, set()
        rows = [
            (
                i,
                h.state,
                h.since or datetime.now(UTC),
                h.last_poll_at,
                h.last_good_at,
                h.last_energy_wh,
                h.consecutive_failures,
                h.last_error,
                h.device_clock_offset_s,
            )
            for i, h in ((i, self.health.states[i]) for i in dirty)
            if h.since is not None
        ]
        learned = [
            (p.host, p.port, setting, value, why)
            for p in self.pollers
            for setting, value, why in p.drain_learned()
        ]
        try:
            await asyncio.to_thread(self._health_store.store, rows, events, learned)
        except PvmonError as exc:
            log.warning("health not stored (kept for the next try): %s", exc)
            self.health.events[:0] = events
            self.health.dirty |= dirty
            for host, port, setting, value, why in learned:
                poller = next(p for p in self.pollers if (p.host, p.port) == (host, port))
                poller.learned_changes.insert(0, (setting, value, why))


_HEALTH_COLUMNS = (
    "inverter_id, state, since, last_poll_at, last_good_at, last_energy_wh, "
    "consecutive_failures, last_error, device_clock_offset_s"
)
_HEALTH_TYPES = (
    "int8", "text", "timestamptz", "timestamptz", "timestamptz", "int8", "int4", "text", "float4"
)  # fmt: skip


class _HealthStore:
    """Stores inverter health and alarm events on a connection of its own, kept open
    between stores (every 10 s: a new connection each time cost more than the store)."""

    def __init__(self, url: str) -> None:
        self._db = KeptConnection(url)
        self._lock = threading.Lock()  # stop() may store while a late job still runs

    def store(
        self,
        rows: list[tuple[Any, ...]],
        events: list[AlarmEvent],
        learned: Sequence[tuple[str, int, str, Any, str]] = (),
    ) -> None:
        """Upsert ``rows`` of inverter health, apply the alarm ``events`` and keep what
        was ``learned`` per endpoint (host, port, setting, value or None to forget, why),
        in one transaction; a database error drops the connection (the next store
        reconnects)."""
        with self._lock:
            try:
                conn = self._db.get()
                with conn.transaction():
                    _write_health(conn, rows, events)
                    _write_learned(conn, learned)
            except psycopg.OperationalError as exc:
                self._db.drop()
                raise DatabaseUnavailableError(f"storing inverter health failed: {exc}") from exc
            except psycopg.Error as exc:
                self._db.drop()
                raise DatabaseError(f"storing inverter health failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.drop()


def _write_learned(
    conn: psycopg.Connection, learned: Sequence[tuple[str, int, str, Any, str]]
) -> None:
    """Keep (or forget: value None) what was learned about endpoints, in order."""
    for host, port, setting, value, why in learned:
        if value is None:
            conn.execute(
                "DELETE FROM endpoint_learned WHERE host = %s AND port = %s AND setting = %s",
                (host, port, setting),
            )
        else:
            conn.execute(
                "INSERT INTO endpoint_learned (host, port, setting, value, why) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (host, port, setting) DO UPDATE "
                "SET value = EXCLUDED.value, why = EXCLUDED.why, learned_at = now()",
                (host, port, setting, Jsonb(value), why),
            )


def _write_health(
    conn: psycopg.Connection, rows: list[tuple[Any, ...]], events: list[AlarmEvent]
) -> None:
    """Upsert ``rows`` of inverter health (staged by COPY: every inverter polled since the
    last store, one row each, as often as every poll at county scale) and apply the alarm
    events in order (each run of openings or closings in one round trip)."""
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _health "
            "(LIKE inverter_health INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        # binary: formatting three timestamps as text cost ten times the rest per row
        with cur.copy(f"COPY _health ({_HEALTH_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_HEALTH_TYPES)
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"""
            INSERT INTO inverter_health ({_HEALTH_COLUMNS}, updated_at)
            SELECT {_HEALTH_COLUMNS}, now() FROM _health
            ON CONFLICT (inverter_id) DO UPDATE SET state = EXCLUDED.state,
                since = EXCLUDED.since, last_poll_at = EXCLUDED.last_poll_at,
                last_good_at = EXCLUDED.last_good_at, last_energy_wh = EXCLUDED.last_energy_wh,
                consecutive_failures = EXCLUDED.consecutive_failures,
                last_error = EXCLUDED.last_error,
                device_clock_offset_s = EXCLUDED.device_clock_offset_s, updated_at = now()
            """
        )
        for closing, run in itertools.groupby(events, key=lambda e: e.closed):
            if closing:
                cur.executemany(
                    "UPDATE alarms SET closed_at = %s, close_reason = %s "
                    "WHERE inverter_id = %s AND kind = %s AND closed_at IS NULL",
                    [(e.at, e.reason, e.inverter_id, e.kind) for e in run],
                )
            else:
                cur.executemany(
                    "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, "
                    "reason, details) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (inverter_id, kind) WHERE closed_at IS NULL "
                    "DO NOTHING",
                    [
                        (e.inverter_id, e.station_id, e.kind, e.at, e.reason, Jsonb(e.details))
                        for e in run
                    ],
                )
